"""Generates numpy_reference.json: forward results computed with NumPy for Lamina's
broadcasting, reduction and softmax tests. Run: python3 generate_numpy_fixtures.py"""
import json
import numpy as np

rng = np.random.default_rng(1234)
cases = []

def rand(shape):
    return rng.uniform(0.5, 2.0, size=shape).round(6)

binary = {
    "add": np.add, "subtract": np.subtract, "multiply": np.multiply, "divide": np.divide,
    "maximum": np.maximum, "minimum": np.minimum, "pow": np.power,
}
shape_pairs = [([2, 3], [2, 3]), ([2, 3], [3]), ([4, 1], [1, 5]), ([2, 1, 4], [3, 1]),
               ([3], [2, 1]), ([], [2, 2]), ([2, 3, 4], [2, 1, 4]), ([1, 3, 1], [2, 1, 5])]
for name, fn in binary.items():
    for sa, sb in shape_pairs:
        a, b = rand(sa), rand(sb)
        out = fn(a, b)
        cases.append({"op": name, "a": {"shape": sa, "values": np.ravel(a).tolist()},
                      "b": {"shape": sb, "values": np.ravel(b).tolist()},
                      "out": {"shape": list(out.shape), "values": np.ravel(out).tolist()}})

reductions = {"sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min}
for name, fn in reductions.items():
    for shape, axes, keep in [([2, 3, 4], [1], False), ([2, 3, 4], [0, 2], True),
                              ([5, 6], None, False), ([3, 4, 5, 2], [0, 1, 2], False), ([4, 3], [-1], True)]:
        a = rng.normal(size=shape).round(6)
        out = fn(a, axis=None if axes is None else tuple(axes), keepdims=keep)
        out = np.asarray(out)
        cases.append({"op": name, "axes": axes, "keepDims": keep,
                      "a": {"shape": shape, "values": np.ravel(a).tolist()},
                      "out": {"shape": list(out.shape), "values": np.ravel(out).tolist()}})

def softmax(x, axis):
    m = np.max(x, axis=axis, keepdims=True)
    e = np.exp(x - m)
    return e / e.sum(axis=axis, keepdims=True)

def log_softmax(x, axis):
    m = np.max(x, axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))

for shape, axis, scale in [([3, 5], -1, 1.0), ([2, 3, 4], 1, 1.0), ([2, 4], -1, 1000.0)]:
    a = (rng.normal(size=shape) * scale).round(3)
    for name, fn in [("softmax", softmax), ("logSoftmax", log_softmax)]:
        out = fn(a, axis)
        cases.append({"op": name, "axis": axis, "a": {"shape": shape, "values": np.ravel(a).tolist()},
                      "out": {"shape": list(out.shape), "values": np.ravel(out).tolist()}})

with open("numpy_reference.json", "w") as f:
    json.dump({"numpy": np.__version__, "cases": cases}, f)
print(len(cases), "cases")
