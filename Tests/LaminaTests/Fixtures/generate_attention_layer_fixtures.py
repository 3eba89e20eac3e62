"""Generates attention_layers_reference.json: Keras 3 (TensorFlow backend) models with the
dot-product `Attention` (score_mode "dot" and "concat", use_scale True/False, with and without
a key input, query and value masks from Masking layers, use_causal_mask, return_attention_scores)
and `AdditiveAttention` (use_scale True/False, masks, causal), and a tiny model that stacks
both (Masking, Dense, causal concat Attention, AdditiveAttention, dot Attention, masked
GlobalAveragePooling1D, Dense). For each: the weights, the inputs, the outputs and their masks,
the gradients of sum(output * projection) with respect to the inputs and the weights, and for
the tiny model three Adam steps on sparse categorical cross-entropy (losses, weights after).
The tests (Tests/LaminaTests/Layers/Attention/AttentionTests.swift) read the JSON; they need
no Python. The sibling of generate_attention_fixtures.py (MultiHeadAttention).

    pip install tensorflow-cpu==2.21.0 keras==3.15.1 numpy
    KERAS_BACKEND=tensorflow python3 generate_attention_layer_fixtures.py
"""
import json
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
import keras
import tensorflow as tf
from keras import layers

keras.utils.set_random_seed(12)
rng = np.random.default_rng(2032)
HERE = os.path.dirname(os.path.abspath(__file__))
B = 2


def arr(x):
    x = np.asarray(x, dtype=np.float64)
    return {"shape": list(x.shape), "values": np.round(x.ravel(), 9).tolist()}


def normal(*shape):
    return rng.normal(size=shape).astype(np.float32)


def padded(steps, dim, zero_steps):
    """A [B, steps, dim] input whose listed (batch, step) rows are zero, so Masking masks them."""
    x = normal(B, steps, dim)
    for b, t in zero_steps:
        x[b, t, :] = 0
    return x


def plain(attention, q_shape=(3, 3), v_shape=(4, 3), key=False, causal=False, scores=False):
    """attention([q, v(, k)]) on unmasked inputs."""
    q = keras.Input(q_shape, name="q")
    v = keras.Input(v_shape, name="v")
    ins, data = [q, v], [normal(B, *q_shape), normal(B, *v_shape)]
    if key:
        k = keras.Input((v_shape[0], q_shape[1]), name="k")
        ins.append(k)
        data.append(normal(B, v_shape[0], q_shape[1]))
    y = attention(ins, use_causal_mask=causal, return_attention_scores=scores)
    return keras.Model(ins, list(y) if scores else y), data


def masked(attention, causal=False, scores=False, key=False):
    """attention([Masking(q), Masking(v)(, k)]): query steps and value steps masked; batch 1's
    first value step is masked, so with use_causal_mask its first query row sees no key."""
    q = keras.Input((4, 3), name="q")
    v = keras.Input((4, 3), name="v")
    ins = [q, v]
    data = [padded(4, 3, [(0, 3), (1, 2)]), padded(4, 3, [(0, 2), (1, 0)])]
    args = [layers.Masking(name="q_mask")(q), layers.Masking(name="v_mask")(v)]
    if key:
        k = keras.Input((4, 3), name="k")
        ins.append(k)
        data.append(normal(B, 4, 3))
        args.append(k)
    y = attention(args, use_causal_mask=causal, return_attention_scores=scores)
    return keras.Model(ins, list(y) if scores else y), data


def self_masked(attention, causal=True, scores=False):
    """Self-attention attention([Masking(x), Masking(x)]) with padded tails."""
    x = keras.Input((4, 3), name="x")
    h = layers.Masking(name="x_mask")(x)
    y = attention([h, h], use_causal_mask=causal, return_attention_scores=scores)
    return keras.Model(x, list(y) if scores else y), [padded(4, 3, [(0, 3), (1, 2), (1, 3)])]


def tiny():
    """The training model: both layers, every weight kind, masks and a causal call."""
    x = keras.Input((4, 3), name="x")
    h = layers.Masking(name="mask")(x)
    h = layers.Dense(4, name="proj")(h)
    a = layers.Attention(use_scale=True, score_mode="concat", name="concat")([h, h], use_causal_mask=True)
    c = layers.AdditiveAttention(name="additive")([a, h])
    d = layers.Attention(use_scale=True, name="dot")([c, h, a])
    p = layers.GlobalAveragePooling1D(name="gap")(d)
    y = layers.Dense(2, activation="softmax", name="probs")(p)
    return keras.Model(x, y), [padded(4, 3, [(0, 3), (1, 2), (1, 3)])]


A = layers.Attention
AA = layers.AdditiveAttention
builders = [
    ("dot", lambda: plain(A(name="att"))),
    ("dot_scale_key", lambda: plain(A(use_scale=True, name="att"), key=True)),
    ("dot_masked", lambda: masked(A(name="att"))),
    ("dot_scale_masked_key", lambda: masked(A(use_scale=True, name="att"), key=True)),
    ("dot_causal", lambda: plain(A(name="att"), q_shape=(4, 3), causal=True, scores=True)),
    ("dot_scale_causal_masked", lambda: masked(A(use_scale=True, name="att"), causal=True, scores=True)),
    ("dot_self_causal_masked", lambda: self_masked(A(name="att"))),
    ("concat", lambda: plain(A(score_mode="concat", name="att"))),
    ("concat_scale_key", lambda: plain(A(score_mode="concat", use_scale=True, name="att"), key=True, scores=True)),
    ("concat_masked", lambda: masked(A(score_mode="concat", name="att"))),
    ("concat_scale_causal_masked", lambda: masked(A(score_mode="concat", use_scale=True, name="att"), causal=True)),
    ("additive", lambda: plain(AA(name="att"), key=True)),
    ("additive_noscale", lambda: plain(AA(use_scale=False, name="att"), scores=True)),
    ("additive_masked", lambda: masked(AA(name="att"))),
    ("additive_noscale_masked", lambda: masked(AA(use_scale=False, name="att"), key=True)),
    ("additive_causal_masked", lambda: self_masked(AA(name="att"), scores=True)),
    ("tiny", tiny),
]

cases = []
for name, build in builders:
    model, inputs = build()
    for w in model.weights:
        # Scalar scales near 1 (their initial value), everything else around 0.
        w.assign(1 + normal(*w.shape) * 0.3 if len(w.shape) == 0 else normal(*w.shape) * 0.5)
    tensors = [tf.constant(x) for x in inputs]
    with tf.GradientTape(persistent=True) as tape:
        for t in tensors:
            tape.watch(t)
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
        "inputGradients": [arr(tape.gradient(total, t)) for t in tensors],
        "weightGradients": [arr(tf.convert_to_tensor(g)) for g in tape.gradient(total, model.trainable_weights)],
    }
    if name == "tiny":
        labels = np.array([0, 1], dtype=np.int32)
        optimizer = keras.optimizers.Adam(learning_rate=0.05)
        loss_fn = keras.losses.SparseCategoricalCrossentropy()
        steps = []
        for _ in range(3):
            with tf.GradientTape() as t2:
                loss = loss_fn(labels, model(tensors[0], training=True))
            grads = t2.gradient(loss, model.trainable_weights)
            optimizer.apply_gradients(zip(grads, model.trainable_weights))
            steps.append(float(loss))
        case["labels"] = arr(labels)
        case["adamLosses"] = steps
        case["weightsAfterAdam"] = [arr(w) for w in model.get_weights()]
    cases.append(case)

with open(os.path.join(HERE, "attention_layers_reference.json"), "w") as f:
    json.dump({"keras": keras.__version__, "backend": keras.backend.backend(), "cases": cases}, f)
print("wrote", len(cases), "cases")
