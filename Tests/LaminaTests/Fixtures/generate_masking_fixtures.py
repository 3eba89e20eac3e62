"""Generates masking_reference.json: Keras 3 (TensorFlow backend) models over zero-padded
sequences whose masks come from Embedding(mask_zero=True) or Masking(mask_value=0.0) and flow
through Dense, merge layers and GlobalAveragePooling1D into the loss and the metrics: for each,
the weights, inputs, labels, the outputs and the output's mask, evaluate()'s loss and metrics,
and three train_on_batch steps with Adam (logs and weights after). The tests read the JSON;
they need no Python.

    pip install tensorflow-cpu==2.21.0 keras==3.15.1 numpy
    KERAS_BACKEND=tensorflow python3 generate_masking_fixtures.py
"""
import json
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np
import keras
import tensorflow as tf
from keras import layers

keras.utils.set_random_seed(7)
rng = np.random.default_rng(2028)
HERE = os.path.dirname(os.path.abspath(__file__))


def arr(x):
    x = np.asarray(x, dtype=np.float64)
    return {"shape": list(x.shape), "values": x.ravel().tolist()}


def padded_ids(batch, steps, vocab, lengths):
    ids = np.zeros((batch, steps), dtype=np.int32)
    for b, n in enumerate(lengths):
        ids[b, :n] = rng.integers(1, vocab, size=n)
    return ids


def embed_gap():
    inp = keras.Input((6,), dtype="int32", name="ids")
    x = layers.Embedding(10, 4, mask_zero=True, name="emb")(inp)
    x = layers.GlobalAveragePooling1D(name="gap")(x)
    out = layers.Dense(3, activation="softmax", name="probs")(x)
    return keras.Model(inp, out, name="embed_gap")


def per_step():
    inp = keras.Input((6,), dtype="int32", name="ids")
    x = layers.Embedding(10, 4, mask_zero=True, name="emb")(inp)
    x = layers.Dense(5, activation="relu", name="hidden")(x)
    x = layers.Dropout(0.0, name="drop")(x)
    out = layers.Dense(3, activation="softmax", name="tags")(x)
    return keras.Model(inp, out, name="per_step")


def masking_mse():
    inp = keras.Input((5, 3), name="series")
    x = layers.Masking(mask_value=0.0, name="mask")(inp)
    out = layers.Dense(2, name="proj")(x)
    return keras.Model(inp, out, name="masking_mse")


def merged():
    a = keras.Input((6,), dtype="int32", name="a")
    b = keras.Input((6,), dtype="int32", name="b")
    ea = layers.Embedding(10, 4, mask_zero=True, name="emb_a")(a)
    eb = layers.Embedding(10, 4, mask_zero=True, name="emb_b")(b)
    s = layers.GlobalAveragePooling1D(name="gap_add")(layers.Add(name="add")([ea, eb]))
    t = layers.GlobalAveragePooling1D(name="gap_time")(layers.Concatenate(axis=1, name="cat_time")([ea, eb]))
    f = layers.GlobalAveragePooling1D(name="gap_feat")(layers.Concatenate(axis=-1, name="cat_feat")([ea, eb]))
    h = layers.Concatenate(name="joined")([s, t, f])
    out = layers.Dense(1, activation="sigmoid", name="score")(h)
    return keras.Model([a, b], out, name="merged")


def merged_partial():
    # One masked input and one without a mask: Keras 3.15.1's Add has no mask then (every step
    # counts), Concatenate fills ones for the unmasked input.
    a = keras.Input((6,), dtype="int32", name="a")
    c = keras.Input((6, 4), name="c")
    ea = layers.Embedding(10, 4, mask_zero=True, name="emb_a")(a)
    s = layers.GlobalAveragePooling1D(name="gap_add")(layers.Add(name="add")([ea, c]))
    t = layers.GlobalAveragePooling1D(name="gap_time")(layers.Concatenate(axis=1, name="cat_time")([ea, c]))
    out = layers.Dense(1, activation="sigmoid", name="score")(layers.Concatenate(name="joined")([s, t]))
    return keras.Model([a, c], out, name="merged_partial")


B = 4
specs = [
    ("embed_gap", embed_gap, [padded_ids(B, 6, 10, [6, 3, 1, 4])], np.array([0, 2, 1, 2], dtype=np.int32),
     "sparse_categorical_crossentropy", ["accuracy"]),
    ("per_step", per_step, [padded_ids(B, 6, 10, [6, 2, 4, 0])], rng.integers(0, 3, size=(B, 6)).astype(np.int32),
     "sparse_categorical_crossentropy", ["accuracy"]),
    ("masking_mse", masking_mse, [None], rng.normal(size=(B, 5, 2)).astype(np.float32), "mse", ["mae"]),
    ("merged", merged, [padded_ids(B, 6, 10, [5, 2, 6, 1]), padded_ids(B, 6, 10, [1, 4, 3, 6])],
     np.array([[1], [0], [1], [0]], dtype=np.float32), "binary_crossentropy", ["accuracy"]),
    ("merged_partial", merged_partial, [padded_ids(B, 6, 10, [5, 2, 6, 0]), rng.normal(size=(B, 6, 4)).astype(np.float32)],
     np.array([[0], [1], [1], [0]], dtype=np.float32), "binary_crossentropy", ["accuracy"]),
]

series = rng.normal(size=(B, 5, 3)).astype(np.float32)
series[0, 3:] = 0
series[1, 1] = 0
series[2, :] = 0          # a sample with no step that counts
series[3, 4, 0] = 0       # one zero feature does not mask a step
specs[2] = (specs[2][0], specs[2][1], [series]) + specs[2][3:]

# The compiled metric of each model, for the hand-written steps.
step_metric = {"embed_gap": keras.metrics.SparseCategoricalAccuracy, "per_step": keras.metrics.SparseCategoricalAccuracy,
               "masking_mse": keras.metrics.MeanAbsoluteError, "merged": keras.metrics.BinaryAccuracy,
               "merged_partial": keras.metrics.BinaryAccuracy}

cases = []
for name, build, inputs, labels, loss, metrics in specs:
    model = build()
    for w in model.weights:   # weights away from the initializers' small values
        w.assign(rng.normal(size=w.shape).astype(np.float32) * 0.5)
    outputs = model(inputs if len(inputs) > 1 else inputs[0])
    mask = getattr(outputs, "_keras_mask", None)
    case = {
        "name": name,
        "weights": [arr(w) for w in model.get_weights()],
        "inputs": [arr(x) for x in inputs],
        "labels": arr(labels),
        "output": arr(outputs),
        "outputMask": arr(mask) if mask is not None else None,
    }
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.05), loss=loss, metrics=metrics)
    x = inputs if len(inputs) > 1 else inputs[0]
    case["evaluate"] = {k: float(v) for k, v in model.evaluate(x, labels, batch_size=B, verbose=0, return_dict=True).items()}
    # Three steps as train_on_batch takes them, but with the embeddings' gradients made dense:
    # Keras on TensorFlow hands Adam an IndexedSlices per looked-up row and squares each slice
    # before summing repeated ids into the second moment (a TensorFlow-backend quirk; Keras on
    # JAX and PyTorch, and PyTorch's Adam, use the dense gradient, as Lamina does).
    optimizer = model.optimizer
    loss_fn = {"sparse_categorical_crossentropy": keras.losses.SparseCategoricalCrossentropy, "mse": keras.losses.MeanSquaredError,
               "binary_crossentropy": keras.losses.BinaryCrossentropy}[loss]()
    steps = []
    for _ in range(3):
        with tf.GradientTape() as tape:
            p = model(x, training=True)   # carries the output's mask, which the loss and metric read
            value = loss_fn(labels, p)
        grads = [tf.convert_to_tensor(g) for g in tape.gradient(value, model.trainable_weights)]
        metric = step_metric[name]()
        metric.update_state(labels, p)
        logs = {"loss": float(value), metrics[0]: float(metric.result())}
        optimizer.apply(grads, model.trainable_weights)
        steps.append(logs)
    case["steps"] = steps
    case["weightsAfter"] = [arr(w) for w in model.get_weights()]
    cases.append(case)

with open(os.path.join(HERE, "masking_reference.json"), "w") as f:
    json.dump({"keras": keras.__version__, "models": cases}, f)
print("wrote masking_reference.json:", [c["name"] for c in cases])
