#!/usr/bin/env python3
"""Keras 3 (TensorFlow CPU backend) peer benchmark. Same workloads as torch_bench.py.

    "$VENV"/bin/python Benchmarks/peers/keras_bench.py [--workloads gemm,mlp_mnist,...]

2 threads (TF intra-op = inter-op = 2), float32, fixed seeds, model.fit(verbose=0)
timed around the call, Keras defaults otherwise (no XLA: Keras' jit_compile="auto"
resolves to False on a CPU-only TensorFlow). See RESULTS.md for the workload definitions.
"""
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
os.environ.setdefault("OMP_NUM_THREADS", "2")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.config.threading.set_intra_op_parallelism_threads(2)
tf.config.threading.set_inter_op_parallelism_threads(2)

import keras  # noqa: E402
from keras import layers, ops  # noqa: E402

assert keras.backend.backend() == "tensorflow", keras.backend.backend()

FRAMEWORK = "keras"
VERSION = keras.__version__
EXTRA = {"backend": "tensorflow", "backend_version": tf.__version__,
         "tf_onednn_opts": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default")}


def seed_all(seed=C.SEED):
    keras.utils.set_random_seed(seed)  # python, numpy and backend seeds


# ----------------------------------------------------------------------------- models
def mlp():
    return keras.Sequential([
        keras.Input((784,)),
        layers.Dense(128, activation="relu"),
        layers.Dense(10, activation="softmax")])


def cnn():
    return keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(32, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Conv2D(64, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Flatten(),
        layers.Dense(128, activation="relu"),
        layers.Dense(10, activation="softmax")])


def lstm():
    return keras.Sequential([
        keras.Input((28, 28)),
        layers.LSTM(128),
        layers.Dense(10, activation="softmax")])


def generator():
    return keras.Sequential([
        keras.Input((C.GAN_LATENT,)),
        layers.Dense(256), layers.LeakyReLU(negative_slope=0.2), layers.BatchNormalization(momentum=0.8),
        layers.Dense(512), layers.LeakyReLU(negative_slope=0.2), layers.BatchNormalization(momentum=0.8),
        layers.Dense(784, activation="tanh")], name="generator")


def discriminator():
    return keras.Sequential([
        keras.Input((784,)),
        layers.Dense(512), layers.LeakyReLU(negative_slope=0.2),
        layers.Dense(256), layers.LeakyReLU(negative_slope=0.2),
        layers.Dense(1, activation="sigmoid")], name="discriminator")


class GAN(keras.Model):
    """One D step (64 real + 64 generated, one Adam update of D) and one G step
    (64 fresh noise vectors through the frozen D, one Adam update of G) per train_step."""

    def __init__(self, gen, disc):
        super().__init__()
        self.gen, self.disc = gen, disc
        self.seed_gen = keras.random.SeedGenerator(C.SEED)

    def compile(self, d_opt, g_opt):
        super().compile()
        self.d_opt, self.g_opt = d_opt, g_opt
        self.bce = keras.losses.BinaryCrossentropy()
        self.d_tracker = keras.metrics.Mean(name="d_loss")
        self.g_tracker = keras.metrics.Mean(name="g_loss")

    @property
    def metrics(self):
        return [self.d_tracker, self.g_tracker]

    def train_step(self, real):
        if isinstance(real, tuple):
            real = real[0]
        b = tf.shape(real)[0]
        z = keras.random.normal((b, C.GAN_LATENT), seed=self.seed_gen)
        fake = self.gen(z, training=True)
        x = ops.concatenate([real, fake], axis=0)
        y = ops.concatenate([ops.ones((b, 1)), ops.zeros((b, 1))], axis=0)
        with tf.GradientTape() as tape:
            d_loss = self.bce(y, self.disc(x, training=True))
        grads = tape.gradient(d_loss, self.disc.trainable_weights)
        self.d_opt.apply_gradients(zip(grads, self.disc.trainable_weights))

        z2 = keras.random.normal((b, C.GAN_LATENT), seed=self.seed_gen)
        with tf.GradientTape() as tape:
            g_loss = self.bce(ops.ones((b, 1)),
                              self.disc(self.gen(z2, training=True), training=True))
        grads = tape.gradient(g_loss, self.gen.trainable_weights)
        self.g_opt.apply_gradients(zip(grads, self.gen.trainable_weights))
        self.d_tracker.update_state(d_loss)
        self.g_tracker.update_state(g_loss)
        return {"d_loss": self.d_tracker.result(), "g_loss": self.g_tracker.result()}


# The Keras example "Text classification with Transformer" (keras.io/examples/nlp/
# text_classification_with_transformer), verbatim but for key_dim = embed_dim // num_heads
# (the example passes key_dim=embed_dim; torch's nn.MultiheadAttention fixes the head size to
# embed_dim / num_heads, and the three frameworks must train the same model).
class TransformerBlock(layers.Layer):
    def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1):
        super().__init__()
        self.att = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim // num_heads)
        self.ffn = keras.Sequential(
            [layers.Dense(ff_dim, activation="relu"), layers.Dense(embed_dim)]
        )
        self.layernorm1 = layers.LayerNormalization(epsilon=1e-6)
        self.layernorm2 = layers.LayerNormalization(epsilon=1e-6)
        self.dropout1 = layers.Dropout(rate)
        self.dropout2 = layers.Dropout(rate)

    def call(self, inputs):
        attn_output = self.att(inputs, inputs)
        attn_output = self.dropout1(attn_output)
        out1 = self.layernorm1(inputs + attn_output)
        ffn_output = self.ffn(out1)
        ffn_output = self.dropout2(ffn_output)
        return self.layernorm2(out1 + ffn_output)


class TokenAndPositionEmbedding(layers.Layer):
    def __init__(self, maxlen, vocab_size, embed_dim):
        super().__init__()
        self.token_emb = layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
        self.pos_emb = layers.Embedding(input_dim=maxlen, output_dim=embed_dim)

    def call(self, x):
        maxlen = ops.shape(x)[-1]
        positions = ops.arange(start=0, stop=maxlen, step=1)
        positions = self.pos_emb(positions)
        x = self.token_emb(x)
        return x + positions


def transformer():
    inputs = layers.Input(shape=(C.TF_MAXLEN,))
    embedding_layer = TokenAndPositionEmbedding(C.TF_MAXLEN, C.TF_VOCAB, C.TF_EMBED)
    x = embedding_layer(inputs)
    transformer_block = TransformerBlock(C.TF_EMBED, C.TF_HEADS, C.TF_FF)
    x = transformer_block(x)
    x = layers.GlobalAveragePooling1D()(x)
    x = layers.Dropout(0.1)(x)
    x = layers.Dense(20, activation="relu")(x)
    x = layers.Dropout(0.1)(x)
    outputs = layers.Dense(2, activation="softmax")(x)
    return keras.Model(inputs=inputs, outputs=outputs)


# ----------------------------------------------------------------------------- helpers
def snapshot(model, optimizers):
    return model.get_weights(), [[v.numpy() for v in o.variables] for o in optimizers]


def restore(model, optimizers, snap):
    weights, opt_vals = snap
    model.set_weights(weights)
    for o, vals in zip(optimizers, opt_vals):
        for v, val in zip(o.variables, vals):
            v.assign(val)


def fit_one_epoch_workload(name, model_fn, xtr, ytr, xte, yte):
    t_wall = time.perf_counter()
    seed_all()
    model = model_fn()
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=C.LR),
                  loss="sparse_categorical_crossentropy")
    model.optimizer.build(model.trainable_variables)
    # warm-up (traces the train function) on the same model, then restore the exact
    # initial weights and optimizer state
    snap = snapshot(model, [model.optimizer])
    model.fit(xtr[:C.WARMUP_SAMPLES], ytr[:C.WARMUP_SAMPLES], batch_size=C.BATCH, epochs=1,
              shuffle=True, verbose=0)
    times = []
    with C.LoadMeter() as lm:
        for _ in range(C.REPS.get(name, 1)):
            restore(model, [model.optimizer], snap)
            seed_all(C.SEED + 1)
            t0 = time.perf_counter()
            hist = model.fit(xtr, ytr, batch_size=C.BATCH, epochs=1, shuffle=True, verbose=0)
            times.append(time.perf_counter() - t0)
    epoch_s = min(times)
    probs = model.predict(xte, batch_size=C.INFER_BATCH, verbose=0)
    acc = C.argmax_accuracy(probs, yte)
    rec = C.base_record(FRAMEWORK, VERSION, name, EXTRA)
    rec.update({
        "epoch_s": round(epoch_s, 3),
        "samples_per_s": round(xtr.shape[0] / epoch_s, 1),
        "test_accuracy": round(acc, 4),
        "epoch_mean_loss": round(float(hist.history["loss"][-1]), 4),
        "batch": C.BATCH, "samples": int(xtr.shape[0]),
        "n_params": int(model.count_params()),
    })
    rec.update(C.rep_fields("epoch_s", times))
    rec.update(lm.fields())
    rec["wall_s"] = round(time.perf_counter() - t_wall, 3)
    return rec, model


def wl_transformer():
    """One epoch of model.fit (Adam 1e-3, batch 32, shuffled) of the example model on the
    synthetic IMDB-like data after a traced warm-up of 20 batches from the same initial state;
    test accuracy and predict samples/s (model.predict, batch 250, best of 3 after a warm-up)."""
    t_wall = time.perf_counter()
    xtr, ytr, xte, yte = C.transformer_data()
    seed_all()
    model = transformer()
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=C.LR),
                  loss="sparse_categorical_crossentropy")
    model.optimizer.build(model.trainable_variables)
    n_params = int(model.count_params())
    assert n_params == C.transformer_param_count(), (n_params, C.transformer_param_count())
    snap = snapshot(model, [model.optimizer])
    n_warm = 20 * C.TF_BATCH
    model.fit(xtr[:n_warm], ytr[:n_warm], batch_size=C.TF_BATCH, epochs=1, shuffle=True, verbose=0)
    restore(model, [model.optimizer], snap)
    seed_all(C.SEED + 1)
    with C.LoadMeter() as lm:
        t0 = time.perf_counter()
        hist = model.fit(xtr, ytr, batch_size=C.TF_BATCH, epochs=1, shuffle=True, verbose=0)
        epoch_s = time.perf_counter() - t0
        probs = model.predict(xte, batch_size=C.TF_INFER_BATCH, verbose=0)  # warm-up
        runs = []
        for _ in range(3):
            t0 = time.perf_counter()
            probs = model.predict(xte, batch_size=C.TF_INFER_BATCH, verbose=0)
            runs.append(time.perf_counter() - t0)
    rec = C.base_record(FRAMEWORK, VERSION, "transformer", EXTRA)
    rec.update({
        "epoch_s": round(epoch_s, 3),
        "samples_per_s": round(xtr.shape[0] / epoch_s, 1),
        "predict_samples_per_s": round(xte.shape[0] / min(runs), 1),
        "test_accuracy": round(C.argmax_accuracy(probs, yte), 4),
        "epoch_mean_loss": round(float(hist.history["loss"][-1]), 4),
        "data": "synthetic IMDB-like (common.synthetic_imdb)", "data_checksum": int(xtr.astype(np.int64).sum()),
        "batch": C.TF_BATCH, "samples": int(xtr.shape[0]), "test_samples": int(xte.shape[0]),
        "config": {"vocab": C.TF_VOCAB, "maxlen": C.TF_MAXLEN, "embed_dim": C.TF_EMBED,
                   "num_heads": C.TF_HEADS, "key_dim": C.TF_KEY_DIM, "ff_dim": C.TF_FF},
        "n_params": n_params,
    })
    rec.update(lm.fields())
    rec["wall_s"] = round(time.perf_counter() - t_wall, 3)
    return rec


# ----------------------------------------------------------------------------- workloads
def wl_gemm(args):
    t_wall = time.perf_counter()
    seed_all()
    results = []
    with C.LoadMeter() as lm:
        for n in args.gemm_sizes:
            a = tf.random.normal((n, n), dtype=tf.float32)
            b = tf.random.normal((n, n), dtype=tf.float32)
            # TF eager on CPU runs synchronously; .numpy() once per batch as a barrier anyway
            results.append(C.time_gemm(lambda: ops.matmul(a, b), n, sync=lambda r: r.numpy()))
    rec = C.base_record(FRAMEWORK, VERSION, "gemm", EXTRA)
    rec.update({"op": "keras.ops.matmul (tf eager)",
                "gflops_by_n": {str(r["n"]): r["gflops"] for r in results}, "results": results})
    rec.update(lm.fields())
    rec["wall_s"] = round(time.perf_counter() - t_wall, 3)
    return rec


def wl_gan(xgan):
    t_wall = time.perf_counter()
    seed_all()
    G, D = generator(), discriminator()
    d_opt = keras.optimizers.Adam(learning_rate=2e-4, beta_1=0.5)
    g_opt = keras.optimizers.Adam(learning_rate=2e-4, beta_1=0.5)
    gan = GAN(G, D)
    gan.compile(d_opt, g_opt)
    d_opt.build(D.trainable_variables)
    g_opt.build(G.trainable_variables)
    snapG, snapD = snapshot(G, [g_opt]), snapshot(D, [d_opt])
    gan.fit(xgan, batch_size=C.GAN_BATCH, epochs=1, steps_per_epoch=C.GAN_WARMUP_STEPS,
            shuffle=True, verbose=0)
    times = []
    with C.LoadMeter() as lm:
        for _ in range(C.REPS["gan"]):
            restore(G, [g_opt], snapG)
            restore(D, [d_opt], snapD)
            seed_all(C.SEED + 1)
            t0 = time.perf_counter()
            hist = gan.fit(xgan, batch_size=C.GAN_BATCH, epochs=1, steps_per_epoch=C.GAN_STEPS,
                           shuffle=True, verbose=0)
            times.append(time.perf_counter() - t0)
    el = min(times)
    rec = C.base_record(FRAMEWORK, VERSION, "gan", EXTRA)
    rec.update(C.rep_fields("train_s", times))
    rec.update({"steps": C.GAN_STEPS, "train_s": round(el, 3),
                "steps_per_s": round(C.GAN_STEPS / el, 2),
                "ms_per_step": round(1000 * el / C.GAN_STEPS, 3),
                "mean_d_loss": round(float(hist.history["d_loss"][-1]), 4),
                "mean_g_loss": round(float(hist.history["g_loss"][-1]), 4),
                "batch": C.GAN_BATCH, "api": "keras.Model subclass train_step + fit"})
    rec.update(lm.fields())
    rec["wall_s"] = round(time.perf_counter() - t_wall, 3)
    return rec


def median_latency_ms(fn, xs):
    for i in range(C.LATENCY_WARMUP):
        fn(xs[i:i + 1])
    lat = []
    for i in range(C.LATENCY_CALLS):
        x1 = xs[i:i + 1]
        t0 = time.perf_counter()
        fn(x1)
        lat.append(time.perf_counter() - t0)
    return 1000 * float(np.median(lat)), 1000 * float(np.percentile(lat, 90))


def wl_inference(model, trained, xte, yte):
    t_wall = time.perf_counter()
    with C.LoadMeter() as lm:
        model.predict(xte, batch_size=C.INFER_BATCH, verbose=0)  # warm-up
        runs = []
        for _ in range(5):
            t0 = time.perf_counter()
            probs = model.predict(xte, batch_size=C.INFER_BATCH, verbose=0)
            runs.append(time.perf_counter() - t0)
        acc = C.argmax_accuracy(probs, yte)
        lat_pred, lat_pred90 = median_latency_ms(lambda x: model.predict(x, verbose=0), xte)
        lat_pob, _ = median_latency_ms(lambda x: model.predict_on_batch(x), xte)
        lat_call, _ = median_latency_ms(lambda x: model(x, training=False).numpy(), xte)
    best = min(runs)
    rec = C.base_record(FRAMEWORK, VERSION, "inference", EXTRA)
    rec.update({
        "model": "cnn_mnist" + ("" if trained else " (untrained)"),
        "batch": C.INFER_BATCH,
        "predict_samples_per_s": round(xte.shape[0] / best, 1),
        "predict_samples_per_s_median": round(xte.shape[0] / sorted(runs)[len(runs) // 2], 1),
        "predict_10k_best_s": round(best, 4),
        "test_accuracy": round(acc, 4),
        "latency_b1_median_ms": round(lat_pred, 4),
        "latency_b1_p90_ms": round(lat_pred90, 4),
        "latency_api": "model.predict(x, verbose=0)",
        "latency_b1_predict_on_batch_median_ms": round(lat_pob, 4),
        "latency_b1_call_median_ms": round(lat_call, 4),
        "latency_calls": C.LATENCY_CALLS,
    })
    rec.update(lm.fields())
    rec["wall_s"] = round(time.perf_counter() - t_wall, 3)
    return rec


# workload -> (builder, input side): keras.applications' graphs at 1,000 classes, batch 32
IMAGE_MODELS = {"resnet50": (lambda shape: keras.applications.ResNet50(weights=None, input_shape=shape, classes=1000), 96),
                "mobilenetv2": (lambda shape: keras.applications.MobileNetV2(weights=None, input_shape=shape, classes=1000), 224)}


def wl_image_model(workload):
    """keras.applications.ResNet50(weights=None) at 96x96x3 or MobileNetV2 at 224x224x3, 1,000
    classes, batch 32: forward passes (predict_on_batch, the one-batch API; best of 5 after 2)
    and SGD train_on_batch steps (best of 3 after 1)."""
    t_wall = time.perf_counter()
    seed_all()
    builder, side = IMAGE_MODELS[workload]
    model = builder((side, side, 3))
    rng = np.random.default_rng(C.SEED)
    x = rng.normal(size=(32, side, side, 3)).astype(np.float32)
    y = (np.arange(32) * 31 % 1000).astype(np.int32)
    with C.LoadMeter() as lm:
        for _ in range(2):
            model.predict_on_batch(x)
        predict = []
        for _ in range(5):
            t0 = time.perf_counter()
            model.predict_on_batch(x)
            predict.append(time.perf_counter() - t0)
        model.compile(optimizer=keras.optimizers.SGD(0.01), loss="sparse_categorical_crossentropy")
        model.train_on_batch(x, y)
        train = []
        for _ in range(3):
            t0 = time.perf_counter()
            model.train_on_batch(x, y)
            train.append(time.perf_counter() - t0)
    rec = C.base_record(FRAMEWORK, VERSION, workload, EXTRA)
    rec.update({"batch": 32, "input": f"{side}x{side}x3", "params": int(model.count_params()),
                "predict_batch_s": round(min(predict), 4), "predict_samples_per_s": round(32 / min(predict), 1),
                "train_step_s": round(min(train), 4), "train_samples_per_s": round(32 / min(train), 1),
                "predict_api": "model.predict_on_batch(x)", "train_api": "model.train_on_batch(x, y)"})
    rec.update(lm.fields())
    rec["wall_s"] = round(time.perf_counter() - t_wall, 3)
    return rec


def main():
    args = C.parse_args(__doc__)
    if args.run_id:
        EXTRA["run_id"] = args.run_id
    need_data = any(w not in C.NO_MNIST for w in args.workloads)
    if need_data:
        xtr, ytr, xte, yte = C.load_mnist(args.data_dir)
        ftr, fte = C.to_float01(xtr), C.to_float01(xte)
    state = {"cnn": None}

    def run(w):
        if w == "gemm":
            return wl_gemm(args)
        if w in IMAGE_MODELS:
            return wl_image_model(w)
        if w == "transformer":
            return wl_transformer()
        if w == "mlp_mnist":
            return fit_one_epoch_workload(w, mlp, ftr.reshape(-1, 784), ytr,
                                          fte.reshape(-1, 784), yte)[0]
        if w == "cnn_mnist":
            rec, state["cnn"] = fit_one_epoch_workload(w, cnn, ftr[..., None], ytr,
                                                       fte[..., None], yte)
            return rec
        if w == "lstm":
            return fit_one_epoch_workload(w, lstm, ftr, ytr, fte, yte)[0]
        if w == "gan":
            return wl_gan(ftr.reshape(-1, 784) * 2.0 - 1.0)
        if w == "inference":
            if state["cnn"] is None:  # run on its own: train the CNN first (untimed)
                _, state["cnn"] = fit_one_epoch_workload("cnn_mnist", cnn, ftr[..., None], ytr,
                                                         fte[..., None], yte)
            return wl_inference(state["cnn"], True, fte[..., None], yte)
        raise ValueError(w)

    for w in args.workloads:
        rec = C.run_with_retries(lambda: run(w), args)
        C.emit(rec, args.out)


if __name__ == "__main__":
    main()
