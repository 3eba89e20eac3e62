"""Shared helpers for the peer benchmarks (torch_bench.py, keras_bench.py, numpy_bench.py).

Only numpy and the standard library are used here, so every benchmark script loads
MNIST and reports results in exactly the same way.
"""
import argparse
import datetime
import gzip
import json
import os
import platform
import socket
import struct
import sys
import time

import numpy as np

def _default_data_dir():
    """$LAMINA_DATA/mnist, else ~/.cache/lamina/mnist (Lamina's download cache), else the
    shared copy beside the repository."""
    candidates = []
    if os.environ.get("LAMINA_DATA"):
        candidates += [os.path.join(os.environ["LAMINA_DATA"], "mnist"), os.environ["LAMINA_DATA"]]
    candidates.append(os.path.expanduser("~/.cache/lamina/mnist"))
    here = os.path.dirname(os.path.abspath(__file__))
    candidates.append(os.path.join(here, "..", "..", "..", "shared", "data", "mnist"))
    for c in candidates:
        if os.path.exists(os.path.join(c, "t10k-labels-idx1-ubyte.gz")):
            return c
    return candidates[-1]


DEFAULT_DATA_DIR = _default_data_dir()
GEMM_SIZES = (256, 512, 1024, 2048)
SEED = 1234
BATCH = 128
LR = 1e-3
GAN_BATCH = 64
GAN_LATENT = 100
GAN_STEPS = 200
GAN_WARMUP_STEPS = 10
# warm-up for the 1-epoch workloads: 20 full batches plus one partial batch of 96,
# the same size as the last batch of the real epoch (60000 = 468*128 + 96), so
# every shape the timed epoch sees has been traced / allocated once.
WARMUP_SAMPLES = 20 * 128 + 96
# timed repetitions per workload: short ones are timed several times, each repetition
# starting again from the identical initial weights / optimizer state / shuffle seed;
# the reported time is the best repetition (median and all values are kept too).
REPS = {"mlp_mnist": 3, "cnn_mnist": 1, "lstm": 1, "gan": 3}
INFER_BATCH = 1000
LATENCY_CALLS = 200
LATENCY_WARMUP = 10

ALL_WORKLOADS = ("gemm", "mlp_mnist", "cnn_mnist", "lstm", "gan", "inference", "resnet50", "mobilenetv2", "transformer")
# workloads that do not read MNIST
NO_MNIST = ("gemm", "resnet50", "mobilenetv2", "transformer")

# ----------------------------------------------------------------------------- transformer
# The Keras example "Text classification with Transformer" (one encoder block over token +
# position embeddings), sized to be measurable: the same configuration in all three frameworks.
TF_VOCAB = 20000
TF_MAXLEN = 200
TF_EMBED = 64
TF_HEADS = 4
TF_KEY_DIM = TF_EMBED // TF_HEADS  # per-head size; torch's nn.MultiheadAttention fixes it to embed/heads
TF_FF = 128
TF_BATCH = 32
TF_TRAIN = 2048   # synthetic reviews per training epoch (64 batches of 32)
TF_TEST = 1000    # synthetic reviews for test accuracy and predict samples/s
TF_INFER_BATCH = 250
TF_MIN_LEN = 20


# ----------------------------------------------------------------------------- data
def _read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack(">I", data[:4])[0]
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    return arr.reshape(dims)


def load_mnist(data_dir=DEFAULT_DATA_DIR):
    """Returns (x_train uint8 [60000,28,28], y_train int64, x_test uint8 [10000,28,28], y_test int64)."""
    xtr = _read_idx(os.path.join(data_dir, "train-images-idx3-ubyte.gz"))
    ytr = _read_idx(os.path.join(data_dir, "train-labels-idx1-ubyte.gz")).astype(np.int64)
    xte = _read_idx(os.path.join(data_dir, "t10k-images-idx3-ubyte.gz"))
    yte = _read_idx(os.path.join(data_dir, "t10k-labels-idx1-ubyte.gz")).astype(np.int64)
    assert xtr.shape == (60000, 28, 28) and xte.shape == (10000, 28, 28)
    assert ytr.shape == (60000,) and yte.shape == (10000,)
    return xtr, ytr, xte, yte


def to_float01(x_u8):
    return (x_u8.astype(np.float32) / np.float32(255.0))


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix64(key):
    """splitmix64's finaliser over (key + 1) * golden, elementwise on uint64 (wraps mod 2^64).
    Benchmarks/LaminaBench/TransformerBench.swift computes the identical stream."""
    with np.errstate(over="ignore"):
        z = (key.astype(np.uint64) + np.uint64(1)) * _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def synthetic_imdb(first, count, maxlen=TF_MAXLEN, vocab=TF_VOCAB):
    """Reviews first..first+count-1 of a deterministic IMDB-like stream: int32 ids [count, maxlen],
    zero padded at the end of a review of 20...maxlen tokens; labels 0/1. About 8% of the tokens
    carry the label (ids 1-50 for negative, 51-100 for positive), the rest are uniform in 1..vocab-1,
    so a model can learn it. Sample s uses keys (1<<40)+s (length), (2<<40)+s (label) and
    (3<<40)+s*maxlen+t (token t)."""
    s = np.arange(first, first + count, dtype=np.uint64)
    lengths = (TF_MIN_LEN + _mix64((np.uint64(1) << np.uint64(40)) + s) % np.uint64(maxlen - TF_MIN_LEN + 1)).astype(np.int64)
    labels = (_mix64((np.uint64(2) << np.uint64(40)) + s) % np.uint64(2)).astype(np.int64)
    t = np.arange(maxlen, dtype=np.uint64)
    u = _mix64((np.uint64(3) << np.uint64(40)) + s[:, None] * np.uint64(maxlen) + t[None, :])
    ids = (np.uint64(1) + u % np.uint64(vocab - 1)).astype(np.int64)
    signal = ((u >> np.uint64(32)) % np.uint64(100)) < np.uint64(8)
    sig_ids = 1 + labels[:, None] * 50 + ((u >> np.uint64(40)) % np.uint64(50)).astype(np.int64)
    ids = np.where(signal, sig_ids, ids)
    ids = np.where(np.arange(maxlen)[None, :] < lengths[:, None], ids, 0)
    return ids.astype(np.int32), labels


def transformer_data():
    """(x_train, y_train, x_test, y_test) of the transformer workload."""
    xtr, ytr = synthetic_imdb(0, TF_TRAIN)
    xte, yte = synthetic_imdb(TF_TRAIN, TF_TEST)
    return xtr, ytr, xte, yte


def transformer_param_count():
    """Closed form of the model's parameter count (every framework checks its own against it)."""
    e, h, k, f = TF_EMBED, TF_HEADS, TF_KEY_DIM, TF_FF
    emb = TF_VOCAB * e + TF_MAXLEN * e
    mha = 3 * (e * h * k + h * k) + (h * k * e + e)
    ffn = e * f + f + f * e + e
    norms = 2 * 2 * e
    head = e * 20 + 20 + 20 * 2 + 2
    return emb + mha + ffn + norms + head


# ----------------------------------------------------------------------------- machine load
def _proc_stat_cpu():
    """(busy_seconds, steal_seconds) summed over all CPUs since boot."""
    with open("/proc/stat") as f:
        fields = f.readline().split()
    assert fields[0] == "cpu"
    vals = [int(v) for v in fields[1:]]
    # user nice system idle iowait irq softirq steal guest guest_nice
    user, nice, system, idle, iowait, irq, softirq, steal = vals[:8]
    hz = os.sysconf("SC_CLK_TCK")
    busy = (user + nice + system + irq + softirq) / hz
    return busy, steal / hz


def cpu_busy_fraction(sample_s=1.0):
    """Fraction of all CPUs busy (anyone) during sample_s seconds; sampling itself is idle."""
    b0, _ = _proc_stat_cpu()
    time.sleep(sample_s)
    b1, _ = _proc_stat_cpu()
    return (b1 - b0) / (os.cpu_count() * sample_s)


def wait_for_quiet(threshold=0.10, max_wait_s=300.0, sample_s=1.0, log=sys.stderr):
    """Waits until the machine is idle (busy fraction < threshold over sample_s).
    Returns (waited_seconds, last_busy_fraction). Gives up after max_wait_s."""
    t0 = time.perf_counter()
    busy = cpu_busy_fraction(sample_s)
    while busy >= threshold and time.perf_counter() - t0 < max_wait_s:
        busy = cpu_busy_fraction(sample_s)
    waited = time.perf_counter() - t0
    if busy >= threshold:
        print(f"[wait_for_quiet] machine still busy ({busy:.2f}) after {waited:.0f}s; going on",
              file=log)
    return waited, busy


class LoadMeter:
    """Measures, over a window, how much CPU other processes used and how much the
    hypervisor stole, so that noisy runs can be recognised afterwards."""

    def __enter__(self):
        self.t0 = time.perf_counter()
        self.p0 = time.process_time()
        self.b0, self.s0 = _proc_stat_cpu()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.t0
        own = time.process_time() - self.p0
        b1, s1 = _proc_stat_cpu()
        ncpu = os.cpu_count()
        denom = max(self.wall * ncpu, 1e-9)
        self.own_cpu_frac = own / denom
        self.foreign_cpu_frac = max(0.0, ((b1 - self.b0) - own) / denom)
        self.steal_frac = (s1 - self.s0) / denom
        return False

    def fields(self):
        return {
            "own_cpu_frac": round(self.own_cpu_frac, 3),
            "foreign_cpu_frac": round(self.foreign_cpu_frac, 3),
            "steal_frac": round(self.steal_frac, 3),
        }


# ----------------------------------------------------------------------------- output
def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def base_record(framework, version, workload, extra_versions=None):
    rec = {
        "framework": framework,
        "version": version,
        "workload": workload,
        "threads": 2,
        "dtype": "float32",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "host": socket.gethostname(),
        "cpu": cpu_model(),
        "ncpu": os.cpu_count(),
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    if extra_versions:
        rec.update(extra_versions)
    return rec


def emit(rec, out_path=None):
    line = json.dumps(rec, sort_keys=False)
    print(line, flush=True)
    if out_path:
        with open(out_path, "a") as f:
            f.write(line + "\n")


def parse_args(description):
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--workloads", default=",".join(ALL_WORKLOADS),
                    help="comma-separated subset of: " + ",".join(ALL_WORKLOADS))
    ap.add_argument("--data-dir", default=DEFAULT_DATA_DIR)
    ap.add_argument("--out", default=None, help="also append the JSON lines to this file")
    ap.add_argument("--run-id", default=None, help="free-form tag copied into every record")
    ap.add_argument("--wait-quiet", type=float, default=0.0, metavar="SECONDS",
                    help="before each workload wait up to SECONDS for the machine to be idle "
                         "(other processes < 10%% CPU); 0 = don't wait")
    ap.add_argument("--max-foreign", type=float, default=0.05,
                    help="a timed section during which other processes used more than this "
                         "fraction of all CPUs counts as noisy (default 0.05)")
    ap.add_argument("--retries", type=int, default=0,
                    help="redo a noisy workload up to this many times (default 0); the "
                         "discarded attempts' headline numbers are kept in the record")
    ap.add_argument("--gemm-sizes", default=",".join(str(n) for n in GEMM_SIZES))
    args = ap.parse_args()
    args.workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    for w in args.workloads:
        if w not in ALL_WORKLOADS:
            ap.error(f"unknown workload {w}")
    args.gemm_sizes = [int(s) for s in args.gemm_sizes.split(",")]
    return args


def gemm_reps_plan(n, first_call_s):
    """How many calls per timed batch and how many batches, from one call's time:
    each batch lasts >= ~0.2 s, and we time >= 5 batches (>= 3 for the largest sizes)."""
    inner = max(1, int(0.2 / max(first_call_s, 1e-6)))
    outer = 5 if n < 2048 else 4
    return inner, outer


def time_gemm(mm, n, sync=lambda r: None):
    """mm() performs one n x n x n matmul and returns its result. Returns dict with
    best GFLOP/s (best batch average), median, and the plan used."""
    flop = 2.0 * n * n * n
    r = mm()
    sync(r)  # warm-up (allocations, thread pool start)
    t0 = time.perf_counter()
    r = mm()
    sync(r)
    first = time.perf_counter() - t0
    inner, outer = gemm_reps_plan(n, first)
    per_call = []
    for _ in range(outer):
        t0 = time.perf_counter()
        for _ in range(inner):
            r = mm()
        sync(r)
        per_call.append((time.perf_counter() - t0) / inner)
    best = min(per_call)
    med = sorted(per_call)[len(per_call) // 2]
    return {
        "n": n,
        "gflops": round(flop / best / 1e9, 2),
        "gflops_median": round(flop / med / 1e9, 2),
        "best_s": best,
        "calls_per_batch": inner,
        "batches": outer,
    }


HEADLINE_KEYS = ("gflops_by_n", "epoch_s", "samples_per_s", "steps_per_s",
                 "predict_samples_per_s", "latency_b1_median_ms")


def run_with_retries(workload_fn, args, log=sys.stderr):
    """Runs workload_fn() -> record; waits for a quiet machine first if asked, and
    repeats a run whose foreign_cpu_frac > args.max_foreign up to args.retries times."""
    discarded = []
    for attempt in range(args.retries + 1):
        if args.wait_quiet > 0:
            waited, busy = wait_for_quiet(max_wait_s=args.wait_quiet)
        rec = workload_fn()
        noisy = rec.get("foreign_cpu_frac", 0.0) > args.max_foreign
        if not noisy or attempt == args.retries:
            break
        print(f"[retry] {rec['workload']}: foreign_cpu_frac={rec['foreign_cpu_frac']} > "
              f"{args.max_foreign}; running it again", file=log)
        discarded.append({k: rec[k] for k in ("foreign_cpu_frac", "steal_frac", *HEADLINE_KEYS)
                          if k in rec})
    rec["noisy"] = rec.get("foreign_cpu_frac", 0.0) > args.max_foreign
    rec["discarded_noisy_attempts"] = discarded
    return rec


def rep_fields(prefix, times, digits=3):
    st = sorted(times)
    return {f"{prefix}_median": round(st[len(st) // 2], digits),
            f"{prefix}_all": [round(t, digits) for t in times], "reps": len(times)}


def argmax_accuracy(probs_or_logits, labels):
    return float((np.argmax(probs_or_logits, axis=1) == labels).mean())
