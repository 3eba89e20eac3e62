"""Writes MNIST tiled ten times (600,000 samples; x.npy float32 [600000, 28, 28, 1] in 0..1,
1.9 GB, and y.npy int32) for lamina-bench's cnn_mmap / cnn_in_memory workloads, writing
through a memory map so that this script itself needs little memory.

    python3 make_big_mnist.py [MNIST_DIR=../shared/data/mnist] [OUT=/tmp/lamina-big-mnist] [TIMES=10]
"""
import gzip
import os
import sys

import numpy as np

mnist = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "../../shared/data/mnist")
out = sys.argv[2] if len(sys.argv) > 2 else "/tmp/lamina-big-mnist"
times = int(sys.argv[3]) if len(sys.argv) > 3 else 10
os.makedirs(out, exist_ok=True)


def idx(name):
    with gzip.open(os.path.join(mnist, name)) as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


images, labels = idx("train-images-idx3-ubyte.gz"), idx("train-labels-idx1-ubyte.gz")
n = len(images)
x = np.lib.format.open_memmap(os.path.join(out, "x.npy"), mode="w+", dtype=np.float32, shape=(n * times, 28, 28, 1))
for t in range(times):
    x[t * n:(t + 1) * n, :, :, 0] = images.astype(np.float32) / 255.0
x.flush()
del x
np.save(os.path.join(out, "y.npy"), np.tile(labels.astype(np.int32), times))
print(f"{n * times} samples in {out}")
