"""tf.data's interleave order, the reference for DatasetStageTests.interleaveMatchesTFData.

Element x in 1...5 opens the dataset range(10 * x, 10 * x + x) (lengths 1 to 5), interleaved
with several cycle and block lengths. Run: /root/peers-venv/bin/python generate_interleave_fixture.py
"""
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf

cases = []
for cycle, block in [(1, 1), (2, 1), (2, 2), (3, 1), (3, 2), (4, 3), (6, 1)]:
    ds = tf.data.Dataset.range(1, 6).interleave(
        lambda x: tf.data.Dataset.range(10 * x, 10 * x + x), cycle_length=cycle, block_length=block)
    cases.append({"cycle": cycle, "block": block, "order": [int(v) for v in ds.as_numpy_iterator()]})
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "interleave_tfdata.json")
with open(out, "w") as f:
    json.dump({"tensorflow": tf.__version__, "cases": cases}, f)
print("wrote", out)
