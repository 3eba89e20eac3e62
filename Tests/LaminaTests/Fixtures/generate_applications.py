"""Saves Keras 3 (TensorFlow backend) keras.applications models with random weights, with an
input batch and Keras's prediction, for Lamina's import tests of whole architectures, and lists
what each one is made of (layer classes, activations, config options, op layers).

    pip install tensorflow-cpu==2.21.0 keras==3.15.1 numpy
    KERAS_BACKEND=tensorflow python3 generate_applications.py [--raw] OUTDIR [names...]

With no names, all of ResNet50 ResNet50V2 MobileNetV2 MobileNetV3Small DenseNet121 EfficientNetB0
Xception InceptionV3 VGG16 ConvNeXtTiny. For each NAME it writes to OUTDIR:
    NAME.keras          the model (weights=None, classes=10, input_shape=(96, 96, 3), default
                        include_preprocessing, seeded with keras.utils.set_random_seed(1)), its
                        weights then made informative (see perturb_and_calibrate)
    NAME_input.npy      a float32 batch of 2 images, uniform in [0, 255)
    NAME_output.npy     Keras's prediction, model(x, training=False) (softmax probabilities)
    NAME_logits.npy     the same before the final softmax
    NAME_summary.txt    the text of model.summary()
    NAME_info.json      count_params, layer classes (recursively, nested models included),
                        activation names, per-class config options, op layers met in
                        config.json, and the seconds spent building, saving and predicting
Keras's initial weights make poor references: every BatchNormalization is the identity in
inference (mean 0, variance 1, gamma 1, beta 0), biases are zero, ConvNeXt's LayerScale is 1e-6,
and the signal vanishes (MobileNet and EfficientNet logits come out ~1e-10, a uniform softmax)
or explodes (ResNet50 on 0..255 inputs saturates its softmax). So by default the script draws
random BatchNormalization / LayerNormalization gammas and betas, biases, LayerScale factors and
unadapted Normalization statistics, then sets every BatchNormalization's moving statistics to
its batch statistics on a separate calibration batch (one forward pass in training mode with
momentum 0 and dropout off). Activations then stay of order one through every layer. Pass
--raw before OUTDIR to keep Keras's initial weights untouched.

    python3 generate_applications.py --reload OUTDIR NAME...
loads each OUTDIR/NAME_lamina.keras (an application saved back by Lamina) with
keras.models.load_model and writes its prediction of NAME_input.npy to NAME_lamina_pred.npy.

The files are large (ResNet50 is about 95 MB), so they are not committed; the fixture that is
committed is applications_layers.md, written by hand from the NAME_info.json files.
"""
import json
import os
import sys
import time
import zipfile

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np
import keras

A = keras.applications
BUILDERS = {
    "ResNet50": A.ResNet50,
    "ResNet50V2": A.ResNet50V2,
    "MobileNetV2": A.MobileNetV2,
    "MobileNetV3Small": A.MobileNetV3Small,
    "DenseNet121": A.DenseNet121,
    "EfficientNetB0": A.EfficientNetB0,
    "Xception": A.Xception,
    "InceptionV3": A.InceptionV3,
    "VGG16": A.VGG16,
    "ConvNeXtTiny": A.ConvNeXtTiny,
}
INPUT_SHAPE = (96, 96, 3)   # at least Xception's 71 and InceptionV3's 75
BATCH = 2
# Config keys that say nothing about the computation (or are the same everywhere).
BORING_KEYS = {"name", "trainable", "dtype", "kernel_initializer", "bias_initializer", "depthwise_initializer",
               "pointwise_initializer", "beta_initializer", "gamma_initializer", "moving_mean_initializer",
               "moving_variance_initializer", "kernel_regularizer", "bias_regularizer", "activity_regularizer",
               "depthwise_regularizer", "pointwise_regularizer", "beta_regularizer", "gamma_regularizer",
               "kernel_constraint", "bias_constraint", "depthwise_constraint", "pointwise_constraint",
               "beta_constraint", "gamma_constraint", "quantization_config", "seed", "lora_rank", "lora_alpha",
               "layers", "build_input_shape"}
MAX_VALUES = 12


def layer_classes(model):
    """Sorted unique class names of all layers, recursively (nested models and their layers)."""
    names = set()

    def walk(layer):
        names.add(layer.__class__.__name__)
        for sub in getattr(layer, "layers", []) or []:
            walk(sub)
        for sub in layer._flatten_layers(include_self=False, recursive=True):
            names.add(sub.__class__.__name__)

    for layer in model.layers:
        walk(layer)
    return sorted(names)


def short(value):
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 120 else text[:117] + "..."


def inventory(config):
    """Walks config.json: every serialized layer's (module, class_name, registered_name), the distinct
    values of its interesting config keys, the activations, and the non-tensor call arguments."""
    classes, activations, calls = {}, set(), {}

    def is_tensor(x):
        return isinstance(x, dict) and x.get("class_name") == "__keras_tensor__"

    def constants(args):
        """The non-tensor positional arguments of a call, tensors shown as T."""
        if is_tensor(args):
            return "T"
        if isinstance(args, list):
            return [constants(a) for a in args]
        return args

    def walk(node):
        if isinstance(node, list):
            for x in node:
                walk(x)
            return
        if not isinstance(node, dict):
            return
        if "class_name" in node and isinstance(node.get("config"), dict) and "module" in node and (
                "inbound_nodes" in node or "build_config" in node or "layers" in node["config"]
                or node["module"].startswith(("keras.layers", "keras.src"))):
            cfg = node["config"]
            key = "%s | %s | %s" % (node["class_name"], node["module"], node.get("registered_name"))
            entry = classes.setdefault(key, {"count": 0, "options": {}})
            entry["count"] += 1
            for k, v in cfg.items():
                if k in BORING_KEYS:
                    continue
                values = entry["options"].setdefault(k, [])
                s = short(v)
                if s not in values and len(values) < MAX_VALUES:
                    values.append(s)
            if isinstance(cfg.get("activation"), str):
                activations.add(cfg["activation"])
            elif cfg.get("activation") is not None:
                activations.add(short(cfg["activation"]))
            for inbound in node.get("inbound_nodes", []) or []:
                c = calls.setdefault(key, {"args": [], "kwargs": []})
                a = short(constants(inbound.get("args")))
                kw = short({k: constants(v) for k, v in (inbound.get("kwargs") or {}).items()})
                if a not in c["args"] and len(c["args"]) < MAX_VALUES:
                    c["args"].append(a)
                if kw not in c["kwargs"] and len(c["kwargs"]) < MAX_VALUES:
                    c["kwargs"].append(kw)
        for v in node.values():
            walk(v)

    walk(config)
    return classes, sorted(activations), calls


def logits_of(model, x):
    """The model's output before its final softmax (a Dense with softmax, or an Activation layer)."""
    last = model.layers[-1]
    features = keras.Model(model.input, last.input)(x, training=False)
    features = np.asarray(features)
    if isinstance(last, keras.layers.Dense):
        kernel, bias = [np.asarray(w) for w in last.get_weights()]
        return (features @ kernel + bias).astype(np.float32)
    return features.astype(np.float32)


def perturb_and_calibrate(model, rng):
    """Random non-trivial normalization weights, biases and layer scales, then BatchNormalization
    moving statistics taken from a calibration batch, so that activations stay of order one."""
    def set_var(v, value):
        v.assign(np.asarray(value, dtype=np.float32).reshape(v.shape))

    norms, dropouts = [], []
    for layer in model._flatten_layers(include_self=False, recursive=True):
        kind = layer.__class__.__name__
        for v in layer.weights:
            if v.path.endswith("/bias") and v.trainable:
                set_var(v, rng.normal(size=v.shape) * 0.1)
        if kind in ("BatchNormalization", "LayerNormalization"):
            if getattr(layer, "gamma", None) is not None:
                set_var(layer.gamma, rng.uniform(0.5, 1.5, size=layer.gamma.shape))
            if getattr(layer, "beta", None) is not None:
                set_var(layer.beta, rng.normal(size=layer.beta.shape) * 0.2)
            if kind == "BatchNormalization":
                norms.append((layer, layer.momentum))
        elif kind == "LayerScale":
            set_var(layer.gamma, rng.uniform(0.2, 0.6, size=layer.gamma.shape))
        elif kind == "Normalization" and layer.input_mean is None:
            # Not adapted and not given in the config: its statistics are weights.
            set_var(layer.adapt_mean, rng.uniform(0.4, 0.6, size=layer.adapt_mean.shape))
            set_var(layer.adapt_variance, rng.uniform(0.04, 0.09, size=layer.adapt_variance.shape))
            layer.finalize_state()
        elif hasattr(layer, "rate") and kind.endswith("Dropout"):
            dropouts.append((layer, layer.rate))
    calibration = rng.uniform(0, 255, size=(8,) + INPUT_SHAPE).astype(np.float32)
    for layer, _ in norms:
        layer.momentum = 0.0
    for layer, _ in dropouts:
        layer.rate = 0.0
    model(calibration, training=True)
    for layer, momentum in norms:
        layer.momentum = momentum
    for layer, rate in dropouts:
        layer.rate = rate


def generate(name, outdir, raw=False):
    times = {}
    t = time.time()
    keras.utils.set_random_seed(1)
    model = BUILDERS[name](weights=None, classes=10, input_shape=INPUT_SHAPE)
    if not raw:
        perturb_and_calibrate(model, np.random.default_rng(2))
    times["build"] = time.time() - t

    t = time.time()
    path = os.path.join(outdir, name + ".keras")
    model.save(path)
    times["save"] = time.time() - t

    rng = np.random.default_rng(1)
    x = rng.uniform(0, 255, size=(BATCH,) + INPUT_SHAPE).astype(np.float32)
    t = time.time()
    y = np.asarray(model(x, training=False))
    times["predict"] = time.time() - t
    logits = logits_of(model, x)
    np.save(os.path.join(outdir, name + "_input.npy"), x)
    np.save(os.path.join(outdir, name + "_output.npy"), y)
    np.save(os.path.join(outdir, name + "_logits.npy"), logits)

    lines = []
    model.summary(print_fn=lambda s, *a, **k: lines.append(s))
    with open(os.path.join(outdir, name + "_summary.txt"), "w") as f:
        f.write("\n".join(lines))

    with zipfile.ZipFile(path) as z:
        config = json.loads(z.read("config.json"))
    classes, activations, calls = inventory(config)
    info = {
        "name": name, "keras": keras.__version__, "calibrated": not raw, "inputShape": list(INPUT_SHAPE),
        "countParams": int(model.count_params()),
        "trainableParams": int(sum(np.prod(w.shape) for w in model.trainable_weights)),
        "numWeights": len(model.weights),
        "numTopLevelLayers": len(model.layers),
        "layerClasses": layer_classes(model),
        "activations": activations,
        "configClasses": classes,
        "calls": calls,
        "outputShape": list(y.shape), "outputFinite": bool(np.isfinite(y).all()),
        "outputMaxProb": float(y.max()), "logitsStd": float(logits.std()),
        "seconds": {k: round(v, 2) for k, v in times.items()},
        "fileBytes": os.path.getsize(path),
    }
    with open(os.path.join(outdir, name + "_info.json"), "w") as f:
        json.dump(info, f, indent=1)
    print("%-18s params %10d  build %.1fs  save %.1fs  predict %.1fs  %.1f MB" % (
        name, info["countParams"], times["build"], times["save"], times["predict"], info["fileBytes"] / 1e6), flush=True)
    keras.backend.clear_session()


def reload(name, outdir):
    """Keras loads the file Lamina wrote back and predicts the fixture's input."""
    model = keras.models.load_model(os.path.join(outdir, name + "_lamina.keras"))
    x = np.load(os.path.join(outdir, name + "_input.npy"))
    np.save(os.path.join(outdir, name + "_lamina_pred.npy"), np.asarray(model(x, training=False)))
    print("%-18s reloaded from Lamina's file" % name, flush=True)


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["--reload"]:
        if len(args) < 3:
            sys.exit(__doc__)
        for n in args[2:]:
            reload(n, args[1])
        sys.exit(0)
    raw = "--raw" in args
    args = [a for a in args if a != "--raw"]
    if not args:
        sys.exit(__doc__)
    outdir = args[0]
    os.makedirs(outdir, exist_ok=True)
    names = args[1:] or list(BUILDERS)
    for n in names:
        if n not in BUILDERS:
            sys.exit("unknown application %r; known: %s" % (n, ", ".join(BUILDERS)))
    for n in names:
        generate(n, outdir, raw)
