"""Generates attention_reference.json: Keras 3 (TensorFlow backend) models with
MultiHeadAttention (self- and cross-attention, explicit attention masks, padding masks from
Embedding(mask_zero=True), use_causal_mask, return_attention_scores) and a Transformer
encoder block (token + position embeddings, MHA, residual, LayerNormalization, FFN,
GlobalAveragePooling1D over the padding mask, Dense). For each: the weights, the inputs, the
outputs, the gradients of sum(output * projection) with respect to the float inputs and the
weights, and for the encoder three Adam steps on sparse categorical cross-entropy (weights
after). The tests read the JSON; they need no Python.

    pip install tensorflow-cpu==2.21.0 keras==3.15.1 numpy
    KERAS_BACKEND=tensorflow python3 generate_attention_fixtures.py
"""
import json
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
import keras
import tensorflow as tf
from keras import layers

keras.utils.set_random_seed(11)
rng = np.random.default_rng(2031)
HERE = os.path.dirname(os.path.abspath(__file__))
B = 3


def arr(x):
    x = np.asarray(x, dtype=np.float64)
    return {"shape": list(x.shape), "values": x.ravel().tolist()}


def padded_ids(steps, vocab, lengths):
    ids = np.zeros((len(lengths), steps), dtype=np.int32)
    for b, n in enumerate(lengths):
        ids[b, :n] = rng.integers(1, vocab, size=n)
    return ids


def normal(*shape):
    return rng.normal(size=shape).astype(np.float32)


def self_padded():
    ids = keras.Input((5,), dtype="int32", name="ids")
    x = layers.Embedding(10, 4, mask_zero=True, name="emb")(ids)
    y = layers.MultiHeadAttention(num_heads=2, key_dim=3, name="mha")(x, x)
    return keras.Model(ids, y), [padded_ids(5, 10, [5, 3, 1])]


def cross_masked():
    q = keras.Input((4, 4), name="q")
    v = keras.Input((5, 6), name="v")
    k = keras.Input((5, 5), name="k")
    m = keras.Input((4, 5), name="m")
    y = layers.MultiHeadAttention(num_heads=2, key_dim=3, value_dim=2, name="mha")(q, v, key=k, attention_mask=m)
    mask = (rng.random((B, 4, 5)) > 0.35).astype(np.float32)
    mask[1, 2, :] = 0   # a query row that sees no key
    return keras.Model([q, v, k, m], y), [normal(B, 4, 4), normal(B, 5, 6), normal(B, 5, 5), mask]


def cross_plain():
    q = keras.Input((4, 4), name="q")
    v = keras.Input((6, 3), name="v")
    y = layers.MultiHeadAttention(num_heads=3, key_dim=2, output_shape=5, use_bias=False, name="mha")(q, v)
    return keras.Model([q, v], y), [normal(B, 4, 4), normal(B, 6, 3)]


def causal_scores():
    x = keras.Input((5, 4), name="x")
    y, s = layers.MultiHeadAttention(num_heads=2, key_dim=2, name="mha")(x, x, use_causal_mask=True, return_attention_scores=True)
    return keras.Model(x, [y, s]), [normal(B, 5, 4)]


def causal_padded():
    ids = keras.Input((5,), dtype="int32", name="ids")
    x = layers.Embedding(10, 4, mask_zero=True, name="emb")(ids)
    y = layers.MultiHeadAttention(num_heads=2, key_dim=2, name="mha")(x, x, use_causal_mask=True)
    return keras.Model(ids, y), [padded_ids(5, 10, [5, 2, 4])]


def encoder():
    T, D = 6, 8
    ids = keras.Input((T,), dtype="int32", name="ids")
    pos = keras.Input((T,), dtype="int32", name="positions")
    x = layers.Add(name="embed")([layers.Embedding(12, D, mask_zero=True, name="tokens")(ids),
                                   layers.Embedding(T, D, name="position")(pos)])
    a = layers.MultiHeadAttention(num_heads=2, key_dim=4, name="mha")(x, x)
    x = layers.LayerNormalization(epsilon=1e-6, name="ln1")(layers.Add(name="res1")([x, a]))
    f = layers.Dense(16, activation="relu", name="ff1")(x)
    f = layers.Dense(D, name="ff2")(f)
    x = layers.LayerNormalization(epsilon=1e-6, name="ln2")(layers.Add(name="res2")([x, f]))
    x = layers.GlobalAveragePooling1D(name="gap")(x)
    y = layers.Dense(2, activation="softmax", name="probs")(x)
    positions = np.tile(np.arange(T, dtype=np.int32), (B, 1))
    return keras.Model([ids, pos], y), [padded_ids(T, 12, [6, 4, 2]), positions]


cases = []
for name, build in [("self_padded", self_padded), ("cross_masked", cross_masked), ("cross_plain", cross_plain),
                    ("causal_scores", causal_scores), ("causal_padded", causal_padded), ("encoder", encoder)]:
    model, inputs = build()
    for w in model.weights:
        w.assign(normal(*w.shape) * 0.5)
    tensors = [tf.constant(x) for x in inputs]
    float_inputs = [i for i, x in enumerate(inputs) if x.dtype == np.float32 and not (name == "cross_masked" and i == 3)]
    with tf.GradientTape(persistent=True) as tape:
        for i in float_inputs:
            tape.watch(tensors[i])
        outs = model(tensors if len(tensors) > 1 else tensors[0])
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        projections = [normal(*o.shape) for o in outs]
        total = sum(tf.reduce_sum(o * p) for o, p in zip(outs, projections))
    case = {
        "name": name,
        "weightNames": [w.path for w in model.weights],
        "weights": [arr(w) for w in model.get_weights()],
        "inputs": [arr(x) for x in inputs],
        "outputs": [arr(o) for o in outs],
        "outputMasks": [arr(o._keras_mask) if getattr(o, "_keras_mask", None) is not None else None for o in outs],
        "projections": [arr(p) for p in projections],
        "inputGradients": [arr(tape.gradient(total, tensors[i])) if i in float_inputs else None for i in range(len(inputs))],
        "weightGradients": [arr(tf.convert_to_tensor(g)) for g in tape.gradient(total, model.trainable_weights)],
    }
    if name == "encoder":
        labels = np.array([0, 1, 1], dtype=np.int32)
        optimizer = keras.optimizers.Adam(learning_rate=0.01)
        loss_fn = keras.losses.SparseCategoricalCrossentropy()
        steps = []
        for _ in range(3):
            with tf.GradientTape() as t2:
                loss = loss_fn(labels, model(tensors, training=True))
            grads = [tf.convert_to_tensor(g) for g in t2.gradient(loss, model.trainable_weights)]   # dense, as Lamina
            optimizer.apply_gradients(zip(grads, model.trainable_weights))
            steps.append(float(loss))
        case["labels"] = arr(labels)
        case["adamLosses"] = steps
        case["weightsAfterAdam"] = [arr(w) for w in model.get_weights()]
    cases.append(case)

with open(os.path.join(HERE, "attention_reference.json"), "w") as f:
    json.dump({"keras": keras.__version__, "backend": keras.backend.backend(), "cases": cases}, f)
print("wrote", len(cases), "cases")
