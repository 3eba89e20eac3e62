"""Writes small copies of keras.datasets' files in their exact original formats, and what
Keras's own loaders return for them, for Tests/LaminaTests/Data/KerasDatasetsTests.swift.

    /root/peers-venv/bin/python Tests/LaminaTests/Fixtures/generate_keras_datasets.py

- cifar-10-python.tar.gz / cifar-100-python.tar.gz: tar archives (GNU format) of Python 2
  `cPickle` protocol-2 dicts, written opcode by opcode as Python 2 wrote the originals
  (byte strings as SHORT_BINSTRING/BINSTRING, `numpy.core.multiarray._reconstruct`, memo
  puts), checked by loading them with Keras's own `load_batch` (its RestrictedUnpickler).
- cifar_py3_batches.npz-free variants: the same batch pickled by Python 3 (protocols 2 and 4).
- imdb.npz: object arrays of lists of ints and int64 labels, as `numpy.savez` writes them;
  imdb_py2.npz: the object arrays pickled as Python 2's NumPy did (protocol 2, byte strings).
- expected.json: Keras's outputs (cifar100.load_data, cifar10's load_batch steps,
  imdb.load_data under several argument sets, with get_file pointed at these files) and
  NumPy's RandomState(seed).shuffle orders.
"""
import io
import json
import os
import pickle
import struct
import tarfile
import tempfile
import zipfile

import numpy as np
from unittest import mock

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "datasets")
os.makedirs(HERE, exist_ok=True)
rng = np.random.RandomState(20261202)


class Py2Pickler:
    """Emits protocol 2 the way Python 2's cPickle did for CIFAR's dicts."""

    def __init__(self):
        self.out = bytearray(b"\x80\x02")
        self.memo = 0

    def put(self):
        self.memo += 1
        self.out += b"q" + bytes([self.memo]) if self.memo < 256 else b"r" + struct.pack("<I", self.memo)

    def string(self, b):  # a Python 2 str: bytes
        self.out += (b"U" + bytes([len(b)]) if len(b) < 256 else b"T" + struct.pack("<i", len(b))) + b
        self.put()

    def int(self, n):
        if 0 <= n < 256:
            self.out += b"K" + bytes([n])
        elif 0 <= n < 65536:
            self.out += b"M" + struct.pack("<H", n)
        else:
            self.out += b"J" + struct.pack("<i", n)

    def glob(self, module, name):
        self.out += b"c" + module + b"\n" + name + b"\n"
        self.put()

    def ndarray(self, arr):
        self.glob(b"numpy.core.multiarray", b"_reconstruct")
        self.glob(b"numpy", b"ndarray")
        self.int(0); self.out += b"\x85"; self.put()
        self.string(b"b"); self.out += b"\x87"; self.put(); self.out += b"R"; self.put()
        self.out += b"("
        self.int(1)
        for d in arr.shape:
            self.int(d)
        self.out += {1: b"\x85", 2: b"\x86", 3: b"\x87"}[arr.ndim]; self.put()
        self.glob(b"numpy", b"dtype")
        obj = arr.dtype == object
        self.string(b"O8" if obj else arr.dtype.str[1:].encode()); self.int(0); self.int(1); self.out += b"\x87"; self.put()
        self.out += b"R"; self.put()
        self.out += b"("; self.int(3); self.string(arr.dtype.str[:1].encode()); self.out += b"NNN"
        self.out += b"J\xff\xff\xff\xffJ\xff\xff\xff\xff"; self.int(63 if obj else 0); self.out += b"t"; self.put(); self.out += b"b"
        self.out += b"\x89"
        if obj:
            self.value([list(x) for x in arr])
        else:
            self.string(arr.tobytes())
        self.out += b"t"; self.put(); self.out += b"b"

    def value(self, v):
        if isinstance(v, bytes):
            self.string(v)
        elif isinstance(v, int):
            self.int(v)
        elif isinstance(v, np.ndarray):
            self.ndarray(v)
        elif isinstance(v, list):
            self.out += b"]"; self.put(); self.out += b"("
            for item in v:
                self.value(item)
            self.out += b"e"
        else:
            raise TypeError(type(v))

    def dict(self, d):
        self.out += b"}"; self.put(); self.out += b"("
        for k, v in d.items():
            self.string(k)
            self.value(v)
        self.out += b"u."
        return bytes(self.out)


def batch(n, label_keys):
    d = {b"batch_label": b"testing batch 1 of 1"}
    for key, classes in label_keys:
        d[key] = [int(v) for v in rng.randint(0, classes, size=n)]
    d[b"data"] = rng.randint(0, 256, size=(n, 3072)).astype(np.uint8)
    d[b"filenames"] = [b"image_%05d.png" % i for i in range(n)]
    return d


def write_tar(path, folder, files):
    with tarfile.open(path, "w:gz", format=tarfile.GNU_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"{folder}/{name}")
            info.size = len(data)
            info.mtime = 1234567890
            tar.addfile(info, io.BytesIO(data))


expected = {}
from keras.src.datasets import cifar, cifar100, imdb  # noqa: E402

# CIFAR-10: five training batches and a test batch.
sizes = {"data_batch_1": 3, "data_batch_2": 2, "data_batch_3": 1, "data_batch_4": 2, "data_batch_5": 3, "test_batch": 4}
c10 = {name: Py2Pickler().dict(batch(n, [(b"labels", 10)])) for name, n in sizes.items()}
c10["batches.meta"] = Py2Pickler().dict({b"label_names": [b"airplane"], b"num_cases_per_batch": 10000, b"num_vis": 3072})
write_tar(os.path.join(HERE, "cifar-10-python.tar.gz"), "cifar-10-batches-py", c10)
with tempfile.TemporaryDirectory() as tmp:
    for name, data in c10.items():
        open(os.path.join(tmp, name), "wb").write(data)
    parts = [cifar.load_batch(os.path.join(tmp, f"data_batch_{i}")) for i in range(1, 6)]
    x_train = np.concatenate([p[0] for p in parts]).transpose(0, 2, 3, 1)
    y_train = np.reshape(np.concatenate([np.array(p[1], dtype="uint8") for p in parts]), (-1, 1))
    x_test, y_test = cifar.load_batch(os.path.join(tmp, "test_batch"))
    expected["cifar10"] = {"x_train": x_train.ravel().tolist(), "y_train": y_train.ravel().tolist(),
                           "x_test": x_test.transpose(0, 2, 3, 1).ravel().tolist(), "y_test": list(y_test)}
    # The same first batch as Python 3 pickles it (protocols 2 and 4), for the reader's other spellings.
    b1 = pickle.loads(c10["data_batch_1"], encoding="bytes")
    for proto in (2, 4):
        open(os.path.join(HERE, f"cifar_batch_py3_protocol{proto}.pickle"), "wb").write(pickle.dumps(b1, protocol=proto))

# CIFAR-100: train and test with fine and coarse labels, read by Keras's load_data itself.
c100 = {"train": Py2Pickler().dict(batch(5, [(b"fine_labels", 100), (b"coarse_labels", 20)])),
        "test": Py2Pickler().dict(batch(3, [(b"fine_labels", 100), (b"coarse_labels", 20)])),
        "meta": Py2Pickler().dict({b"fine_label_names": [b"apple"], b"coarse_label_names": [b"fish"]})}
write_tar(os.path.join(HERE, "cifar-100-python.tar.gz"), "cifar-100-python", c100)
with tempfile.TemporaryDirectory() as tmp:
    os.makedirs(os.path.join(tmp, "cifar-100-python"))
    for name, data in c100.items():
        open(os.path.join(tmp, "cifar-100-python", name), "wb").write(data)
    for mode in ("fine", "coarse"):
        with mock.patch.object(cifar100, "get_file", return_value=tmp):
            (xa, ya), (xb, yb) = cifar100.load_data(label_mode=mode)
        expected[f"cifar100_{mode}"] = {"x_train": xa.ravel().tolist(), "y_train": ya.ravel().tolist(),
                                        "x_test": xb.ravel().tolist(), "y_test": yb.ravel().tolist(),
                                        "shapes": [list(xa.shape), list(ya.shape), list(xb.shape), list(yb.shape)]}

# IMDB: ragged reviews of word indices (1 most frequent), int64 labels.
def reviews(n):
    out = np.empty(n, dtype=object)
    for i in range(n):
        out[i] = [int(v) for v in rng.zipf(1.3, size=rng.randint(1, 15)) if v < 60] or [1]
    return out

arrays = {"x_train": reviews(17), "y_train": rng.randint(0, 2, 17).astype(np.int64),
          "x_test": reviews(13), "y_test": rng.randint(0, 2, 13).astype(np.int64)}
np.savez(os.path.join(HERE, "imdb.npz"), **arrays)

def py2_pickle(arr):
    p = Py2Pickler()
    p.value(arr)
    return bytes(p.out + b".")

def npy_protocol2(arr):
    header = "{'descr': '|O', 'fortran_order': False, 'shape': (%d,), }" % len(arr)
    header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + py2_pickle(arr)

with zipfile.ZipFile(os.path.join(HERE, "imdb_py2.npz"), "w") as z:
    for k, v in arrays.items():
        buf = io.BytesIO()
        np.save(buf, v)
        z.writestr(k + ".npy", npy_protocol2(v) if v.dtype == object else buf.getvalue())

cases = {"default": {}, "num_words": {"num_words": 20, "skip_top": 2}, "maxlen": {"maxlen": 8},
         "no_oov": {"num_words": 15, "oov_char": None}, "raw": {"start_char": None, "index_from": 0, "seed": 7}}
for file in ("imdb.npz", "imdb_py2.npz"):
    for case, kwargs in cases.items():
        with mock.patch.object(imdb, "get_file", return_value=os.path.join(HERE, file)):
            (xa, ya), (xb, yb) = imdb.load_data(**kwargs)
        expected[f"{file}:{case}"] = {"kwargs": kwargs, "x_train": [list(map(int, x)) for x in xa],
                                      "y_train": ya.tolist(), "x_test": [list(map(int, x)) for x in xb], "y_test": yb.tolist()}

expected["shuffle"] = {}
for seed, n in [(113, 1), (113, 2), (113, 10), (7, 1000), (0, 25000)]:
    idx = np.arange(n)
    np.random.RandomState(seed).shuffle(idx)
    expected["shuffle"][f"{seed}:{n}"] = idx[:50].tolist()

json.dump(expected, open(os.path.join(HERE, "expected.json"), "w"))
print("wrote", sorted(os.listdir(HERE)))
