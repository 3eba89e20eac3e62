"""Generates recurrent_reference.json: Keras 3 (TensorFlow backend) recurrent models with masks,
return_state and initial states given as inputs. For each model: the weights, the inputs, every
output, the gradients of L = sum_i sum(output_i * R_i) (fixed random R_i) with respect to the
weights and the float inputs, and the weights after three Adam steps (lr 0.05) on L. The tests
read the JSON; they need no Python.

    pip install tensorflow-cpu==2.21.0 keras==3.15.1 numpy
    KERAS_BACKEND=tensorflow python3 generate_recurrent_fixtures.py
"""
import json
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np
import keras
import tensorflow as tf
from keras import layers

keras.utils.set_random_seed(11)
rng = np.random.default_rng(2031)
HERE = os.path.dirname(os.path.abspath(__file__))


def arr(x):
    x = np.asarray(x, dtype=np.float64)
    return {"shape": list(x.shape), "values": x.ravel().tolist()}


def padded_ids(batch, steps, vocab, lengths):
    ids = np.zeros((batch, steps), dtype=np.int32)
    for b, n in enumerate(lengths):
        ids[b, :n] = rng.integers(1, vocab, size=n)
    return ids


def padded_series(batch, steps, features, lengths, pre=False):
    x = rng.normal(size=(batch, steps, features)).astype(np.float32)
    for b, n in enumerate(lengths):
        if pre:
            x[b, : steps - n] = 0
        else:
            x[b, n:] = 0
    return x


B = 3


def masked_lstm():
    inp = keras.Input((6,), dtype="int32", name="ids")
    x = layers.Embedding(10, 4, mask_zero=True, name="emb")(inp)
    x = layers.LSTM(5, name="lstm")(x)
    return keras.Model(inp, layers.Dense(2, name="head")(x))


def masked_bigru():
    inp = keras.Input((6,), dtype="int32", name="ids")
    x = layers.Embedding(10, 4, mask_zero=True, name="emb")(inp)
    x = layers.Bidirectional(layers.GRU(3, return_sequences=True, name="gru"), name="bi")(x)
    return keras.Model(inp, layers.Dense(2, name="head")(x))


def masked_bilstm_last():
    inp = keras.Input((5, 3), name="series")
    x = layers.Masking(0.0, name="mask")(inp)
    return keras.Model(inp, layers.Bidirectional(layers.LSTM(3, name="lstm"), merge_mode="sum", name="bi")(x))


def masked_rnn_sequences():
    inp = keras.Input((5, 3), name="series")
    x = layers.Masking(0.0, name="mask")(inp)
    return keras.Model(inp, layers.SimpleRNN(4, return_sequences=True, name="rnn")(x))


def backwards_masked():
    inp = keras.Input((5, 3), name="series")
    x = layers.Masking(0.0, name="mask")(inp)
    a = layers.LSTM(3, return_sequences=True, go_backwards=True, name="lstm")(x)
    b = layers.GRU(2, go_backwards=True, name="gru")(x)
    return keras.Model(inp, [a, b])


def lstm_state():
    inp = keras.Input((5, 3), name="series")
    x = layers.Masking(0.0, name="mask")(inp)
    out, h, c = layers.LSTM(4, return_state=True, return_sequences=True, name="lstm")(x)
    return keras.Model(inp, [out, h, c])


def gru_state_initial():
    inp = keras.Input((5, 3), name="series")
    h0 = keras.Input((4,), name="h0")
    x = layers.Masking(0.0, name="mask")(inp)
    out, h = layers.GRU(4, return_state=True, name="gru")(x, initial_state=[h0])
    return keras.Model([inp, h0], [out, h])


def lstm_initial():
    inp = keras.Input((5, 3), name="series")
    h0 = keras.Input((3,), name="h0")
    c0 = keras.Input((3,), name="c0")
    x = layers.Masking(0.0, name="mask")(inp)
    out = layers.LSTM(3, return_sequences=True, name="lstm")(x, initial_state=[h0, c0])
    return keras.Model([inp, h0, c0], out)


def bi_state():
    inp = keras.Input((4, 3), name="series")
    outs = layers.Bidirectional(layers.LSTM(2, return_state=True, name="lstm"), name="bi")(inp)
    return keras.Model(inp, outs)


def td_dense():
    inp = keras.Input((5, 3), name="series")
    x = layers.Masking(0.0, name="mask")(inp)
    x = layers.TimeDistributed(layers.Dense(4, activation="tanh", name="proj"), name="td")(x)
    return keras.Model(inp, layers.LSTM(3, name="lstm")(x))


def td_conv():
    inp = keras.Input((3, 6, 6, 2), name="frames")
    x = layers.TimeDistributed(layers.Conv2D(2, (3, 3), activation="relu", name="conv"), name="td")(inp)
    return keras.Model(inp, layers.TimeDistributed(layers.Flatten(name="flat"), name="td_flat")(x))


def permute_rnn():
    inp = keras.Input((3, 5), name="series")
    x = layers.Permute((2, 1), name="perm")(inp)
    return keras.Model(inp, layers.SimpleRNN(2, name="rnn")(x))


specs = [
    ("masked_lstm", masked_lstm, [padded_ids(B, 6, 10, [6, 3, 1])]),
    ("masked_bigru", masked_bigru, [padded_ids(B, 6, 10, [4, 6, 2])]),
    ("masked_bilstm_last", masked_bilstm_last, [padded_series(B, 5, 3, [5, 2, 3])]),
    ("masked_rnn_sequences", masked_rnn_sequences, [padded_series(B, 5, 3, [5, 3, 2], pre=True)]),
    ("backwards_masked", backwards_masked, [padded_series(B, 5, 3, [4, 5, 1])]),
    ("lstm_state", lstm_state, [padded_series(B, 5, 3, [5, 2, 4])]),
    ("gru_state_initial", gru_state_initial, [padded_series(B, 5, 3, [3, 5, 2], pre=True),
                                              rng.normal(size=(B, 4)).astype(np.float32)]),
    ("lstm_initial", lstm_initial, [padded_series(B, 5, 3, [5, 2, 3], pre=True),
                                    rng.normal(size=(B, 3)).astype(np.float32), rng.normal(size=(B, 3)).astype(np.float32)]),
    ("bi_state", bi_state, [rng.normal(size=(B, 4, 3)).astype(np.float32)]),
    ("td_dense", td_dense, [padded_series(B, 5, 3, [5, 2, 3])]),
    ("td_conv", td_conv, [rng.normal(size=(B, 3, 6, 6, 2)).astype(np.float32)]),
    ("permute_rnn", permute_rnn, [rng.normal(size=(B, 3, 5)).astype(np.float32)]),
]

cases = []
objective_weights = {}
for name, build, inputs in specs:
    model = build()
    for w in model.weights:
        w.assign(rng.normal(size=w.shape).astype(np.float32) * 0.5)
    weights0 = [arr(w) for w in model.get_weights()]
    x = inputs if len(inputs) > 1 else inputs[0]
    outputs = model(x)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    rs = [rng.normal(size=o.shape).astype(np.float32) for o in outputs]
    objective_weights[name] = [arr(r) for r in rs]
    floats = [tf.constant(v) for v in inputs]

    def objective(xs):
        outs = model(xs if len(xs) > 1 else xs[0])
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        return tf.add_n([tf.reduce_sum(o * r) for o, r in zip(outs, rs)])

    with tf.GradientTape(persistent=True) as tape:
        for v in floats:
            if v.dtype.is_floating:
                tape.watch(v)
        value = objective(floats)
    grads = tape.gradient(value, model.trainable_variables)
    input_grads = [tape.gradient(value, v) if v.dtype.is_floating else None for v in floats]
    case = {
        "name": name,
        "weights": weights0,
        "inputs": [arr(v) for v in inputs],
        "outputs": [arr(o) for o in outputs],
        "objective": float(value),
        "weightGradients": [arr(tf.convert_to_tensor(g)) for g in grads],
        "inputGradients": [arr(g) if g is not None else None for g in input_grads],
    }
    optimizer = keras.optimizers.Adam(learning_rate=0.05)
    for _ in range(3):
        with tf.GradientTape() as tape:
            value = objective(floats)
        grads = [tf.convert_to_tensor(g) for g in tape.gradient(value, model.trainable_variables)]
        optimizer.apply(grads, model.trainable_variables)
    case["weightsAfter"] = [arr(w) for w in model.get_weights()]
    cases.append(case)

with open(os.path.join(HERE, "recurrent_reference.json"), "w") as f:
    json.dump({"keras": keras.__version__, "models": cases, "objectiveWeights": objective_weights}, f)
print("wrote", len(cases), "models")
