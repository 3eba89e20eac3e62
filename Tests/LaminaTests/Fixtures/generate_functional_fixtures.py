"""Generates functional_reference.json: four Keras 3 (TensorFlow backend) functional-API models
(a residual convnet, two inputs / two outputs, a siamese net with a shared layer, a nested
Sequential) with their forward outputs, input and weight gradients, three optimizer steps
(SGD with momentum, Adam), summaries and parameter counts, and the multi-output log names of
evaluate/fit. Also writes functional_config_example.json and functional_config_nested.json: the
config.json inside a model.save("x.keras") archive of the two_in_two_out and nested models,
which show Keras 3's functional config schema. The tests read the JSON; they need no Python.

    pip install tensorflow-cpu==2.21.0 keras==3.15.1 numpy
    KERAS_BACKEND=tensorflow python3 generate_functional_fixtures.py
"""
import json
import os
import tempfile
import zipfile

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np
import tensorflow as tf
import keras
from keras import layers

rng = np.random.default_rng(2027)
HERE = os.path.dirname(os.path.abspath(__file__))
BATCH = 4


def arr(x):
    x = np.asarray(x, dtype=np.float64)
    return {"shape": list(x.shape), "values": x.ravel().tolist()}


def rand(*shape, scale=1.0):
    return (rng.normal(size=shape) * scale).astype(np.float32)


def build_residual():
    inp = keras.Input((6, 6, 2), name="img")
    x = layers.Conv2D(4, 3, padding="same", activation="relu", name="c1")(inp)
    y = layers.Conv2D(4, 3, padding="same", name="c2")(x)
    z = layers.Add(name="add")([x, y])
    z = layers.Activation("relu", name="act")(z)
    z = layers.GlobalAveragePooling2D(name="gap")(z)
    out = layers.Dense(3, activation="softmax", name="probs")(z)
    return keras.Model(inp, out, name="residual")


def build_two_in_two_out():
    a = keras.Input((5,), name="a")
    b = keras.Input((4,), name="b")
    ha = layers.Dense(6, activation="relu", name="ha")(a)
    hb = layers.Dense(6, activation="tanh", name="hb")(b)
    c = layers.Concatenate(axis=-1, name="cat")([ha, hb])
    o1 = layers.Dense(3, activation="softmax", name="cls")(c)
    o2 = layers.Dense(1, name="score")(c)
    return keras.Model(inputs=[a, b], outputs=[o1, o2], name="two_in_two_out")


def build_siamese():
    shared = layers.Dense(4, activation="tanh", name="shared")
    a = keras.Input((5,), name="left")
    b = keras.Input((5,), name="right")
    ea = shared(a)
    eb = shared(b)
    d = layers.Subtract(name="sub")([ea, eb])
    m = layers.Multiply(name="mul")([ea, eb])
    c = layers.Concatenate(name="cat2")([d, m])
    out = layers.Dense(1, activation="sigmoid", name="same")(c)
    return keras.Model(inputs=[a, b], outputs=out, name="siamese")


def build_nested():
    inner = keras.Sequential([keras.Input((5,)), layers.Dense(6, activation="relu", name="in1"),
                              layers.Dense(4, activation="relu", name="in2")], name="inner")
    inp = keras.Input((5,), name="x")
    h = inner(inp)
    s = layers.Dense(4, name="skip")(inp)
    out = layers.Dense(2, name="head")(layers.Add(name="add2")([h, s]))
    return keras.Model(inp, out, name="nested")


# name, builder, inputs, labels, losses, loss_weights
specs = [
    ("residual", build_residual, [rand(BATCH, 6, 6, 2)], [np.array([0, 2, 1, 2], dtype=np.int32)],
     "sparse_categorical_crossentropy", None),
    ("two_in_two_out", build_two_in_two_out, [rand(BATCH, 5), rand(BATCH, 4)],
     [np.array([1, 0, 2, 1], dtype=np.int32), rand(BATCH, 1)], ["sparse_categorical_crossentropy", "mse"], [1.0, 0.2]),
    ("siamese", build_siamese, [rand(BATCH, 5), rand(BATCH, 5)], [np.array([[1], [0], [0], [1]], dtype=np.float32)],
     "binary_crossentropy", None),
    ("nested", build_nested, [rand(BATCH, 5)], [rand(BATCH, 2)], "mse", None),
]


def config_json(model):
    """The config.json inside a .keras archive of the model."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "x.keras")
        model.save(path)
        with zipfile.ZipFile(path) as z:
            return json.loads(z.read("config.json"))


def one_or_list(xs):
    return xs[0] if len(xs) == 1 else xs


def model_case(name, build, inputs, labels, loss, loss_weights):
    keras.utils.set_random_seed(7)
    model = build()
    initial = [rand(*w.shape, scale=0.5) for w in model.weights]
    model.set_weights(initial)
    lines = []
    model.summary(print_fn=lambda s, *a, **k: lines.append(s))
    case = {"name": name, "summary": "\n".join(lines), "countParams": int(model.count_params()),
            "inputNames": [t.name for t in model.inputs], "outputNames": list(model.output_names),
            "weights": [dict(arr(w), path=v.path) for v, w in zip(model.weights, initial)],
            "trainablePaths": [v.path for v in model.trainable_weights],
            "inputs": [arr(x) for x in inputs], "labels": [arr(y) for y in labels]}

    xs = [tf.constant(x) for x in inputs]
    with tf.GradientTape() as tape:
        for x in xs:
            tape.watch(x)
        outs = model(one_or_list(xs), training=False)
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        probes = [tf.constant(rand(*o.shape)) for o in outs]
        objective = tf.add_n([tf.reduce_sum(o * p) for o, p in zip(outs, probes)])
    grads = tape.gradient(objective, xs + list(model.trainable_weights))
    case["outputs"] = [arr(o.numpy()) for o in outs]
    case["probes"] = [arr(p.numpy()) for p in probes]
    case["gradInputs"] = [arr(g.numpy()) for g in grads[:len(xs)]]
    case["gradWeights"] = [arr(g.numpy()) for g in grads[len(xs):]]

    steps = []
    for opt_name, make_opt in [("sgd", lambda: keras.optimizers.SGD(learning_rate=0.1, momentum=0.9)),
                               ("adam", lambda: keras.optimizers.Adam(learning_rate=0.01))]:
        model.set_weights(initial)
        model.compile(optimizer=make_opt(), loss=loss, loss_weights=loss_weights)
        logs = [model.train_on_batch(one_or_list(inputs), one_or_list(labels), return_dict=True) for _ in range(3)]
        steps.append({"optimizer": opt_name, "losses": [float(l["loss"]) for l in logs],
                      "logs": [{k: float(v) for k, v in l.items()} for l in logs],
                      "weightsAfter": [arr(w) for w in model.get_weights()]})
    case["steps"] = steps

    if name == "two_in_two_out":
        model.set_weights(initial)
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1, momentum=0.9), loss=loss,
                      loss_weights=loss_weights, metrics={"cls": ["accuracy"], "score": ["mae"]})
        evaluated = model.evaluate(inputs, labels, return_dict=True, verbose=0)
        case["evaluate"] = {k: float(v) for k, v in evaluated.items()}
        history = model.fit(inputs, labels, epochs=1, batch_size=BATCH, verbose=0).history
        case["fitHistoryKeys"] = list(history.keys())
        case["fitHistory"] = {k: [float(v) for v in vs] for k, vs in history.items()}
        model.set_weights(initial)
    if name in ("two_in_two_out", "nested"):
        target = {"two_in_two_out": "functional_config_example.json", "nested": "functional_config_nested.json"}[name]
        with open(os.path.join(HERE, target), "w") as f:
            json.dump(config_json(model), f, indent=2)
            f.write("\n")
    return case


models = [model_case(*spec) for spec in specs]
with open(os.path.join(HERE, "functional_reference.json"), "w") as f:
    json.dump({"keras": keras.__version__, "tensorflow": tf.__version__, "models": models}, f)
print(len(models), "functional models")
