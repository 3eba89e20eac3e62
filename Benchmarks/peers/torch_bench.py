#!/usr/bin/env python3
"""PyTorch (CPU) peer benchmark. Same workloads as keras_bench.py; one JSON line each.

    "$VENV"/bin/python Benchmarks/peers/torch_bench.py [--workloads gemm,mlp_mnist,...]

2 threads, float32, fixed seeds. Training loops are plain PyTorch with tensor slicing
(no DataLoader). See RESULTS.md for the exact definition of every workload.
"""
import copy
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("MKL_NUM_THREADS", "2")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

torch.set_num_threads(2)
torch.set_num_interop_threads(2)

FRAMEWORK = "torch"
VERSION = torch.__version__
EXTRA = {"torch_cuda_available": torch.cuda.is_available(),
         "torch_cpu_capability": torch.backends.cpu.get_cpu_capability()}


def seed_all(seed=C.SEED):
    np.random.seed(seed)
    torch.manual_seed(seed)


# ----------------------------------------------------------------------------- models
def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))


def cnn():
    # Keras Conv2D(32,3)->MaxPool2->Conv2D(64,3)->MaxPool2->Flatten->Dense(128)->Dense(10), NCHW
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 5 * 5, 128), nn.ReLU(), nn.Linear(128, 10))


class LSTMNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(28, 128, batch_first=True)
        self.fc = nn.Linear(128, 10)

    def forward(self, x):  # x: [B, 28, 28] (time = image rows, features = columns)
        _, (h, _) = self.lstm(x)
        return self.fc(h[-1])


def generator():
    # Keras BatchNormalization(momentum=0.8, epsilon=1e-3) == torch momentum 0.2, eps 1e-3
    return nn.Sequential(
        nn.Linear(C.GAN_LATENT, 256), nn.LeakyReLU(0.2), nn.BatchNorm1d(256, eps=1e-3, momentum=0.2),
        nn.Linear(256, 512), nn.LeakyReLU(0.2), nn.BatchNorm1d(512, eps=1e-3, momentum=0.2),
        nn.Linear(512, 784), nn.Tanh())


def discriminator():
    return nn.Sequential(
        nn.Linear(784, 512), nn.LeakyReLU(0.2),
        nn.Linear(512, 256), nn.LeakyReLU(0.2),
        nn.Linear(256, 1), nn.Sigmoid())


class TransformerClassifier(nn.Module):
    """The Keras example "Text classification with Transformer" in torch: token + position
    embeddings, one post-norm encoder block (nn.MultiheadAttention, batch_first), mean over
    time, Dropout, Dense(20, relu), Dropout, Dense(2) (softmax folded into cross_entropy).
    No padding mask: the Keras example uses none."""

    def __init__(self):
        super().__init__()
        e = C.TF_EMBED
        self.token_emb = nn.Embedding(C.TF_VOCAB, e)
        self.pos_emb = nn.Embedding(C.TF_MAXLEN, e)
        # Keras initialises embeddings uniform(-0.05, 0.05)
        nn.init.uniform_(self.token_emb.weight, -0.05, 0.05)
        nn.init.uniform_(self.pos_emb.weight, -0.05, 0.05)
        self.att = nn.MultiheadAttention(e, C.TF_HEADS, batch_first=True)
        self.ffn = nn.Sequential(nn.Linear(e, C.TF_FF), nn.ReLU(), nn.Linear(C.TF_FF, e))
        self.layernorm1 = nn.LayerNorm(e, eps=1e-6)
        self.layernorm2 = nn.LayerNorm(e, eps=1e-6)
        self.dropout1 = nn.Dropout(0.1)
        self.dropout2 = nn.Dropout(0.1)
        self.head = nn.Sequential(nn.Dropout(0.1), nn.Linear(e, 20), nn.ReLU(), nn.Dropout(0.1),
                                  nn.Linear(20, 2))

    def forward(self, ids):
        positions = torch.arange(ids.shape[-1])
        x = self.token_emb(ids) + self.pos_emb(positions)
        attn, _ = self.att(x, x, x, need_weights=False)
        out1 = self.layernorm1(x + self.dropout1(attn))
        out2 = self.layernorm2(out1 + self.dropout2(self.ffn(out1)))
        return self.head(out2.mean(dim=1))


# ----------------------------------------------------------------------------- helpers
def train_epoch(model, opt, X, Y, n_samples=None, batch=C.BATCH):
    """One pass over the first n_samples of a fresh random permutation (shuffled like Keras fit)."""
    model.train()
    N = X.shape[0] if n_samples is None else n_samples
    perm = torch.randperm(X.shape[0])[:N]
    last = None
    for i in range(0, N, batch):
        idx = perm[i:i + batch]
        xb, yb = X[idx], Y[idx]
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(xb), yb)  # == softmax + sparse categorical CE
        loss.backward()
        opt.step()
        last = loss
    return last.item()


def wl_transformer():
    """One training epoch (Adam 1e-3, batch 32, shuffled) of the Transformer classifier on the
    synthetic IMDB-like data, after a warm-up of 20 batches from the same initial state; then
    test accuracy and predict samples/s (batch 250, best of 3 after one warm-up pass)."""
    t_wall = time.perf_counter()
    xtr, ytr, xte, yte = C.transformer_data()
    Xtr, Ytr = torch.from_numpy(xtr.astype(np.int64)), torch.from_numpy(ytr)
    Xte = torch.from_numpy(xte.astype(np.int64))
    seed_all()
    model = TransformerClassifier()
    n_params = sum(p.numel() for p in model.parameters())
    assert n_params == C.transformer_param_count(), (n_params, C.transformer_param_count())
    opt = torch.optim.Adam(model.parameters(), lr=C.LR)
    w0 = copy.deepcopy(model.state_dict())
    o0 = copy.deepcopy(opt.state_dict())
    train_epoch(model, opt, Xtr, Ytr, n_samples=20 * C.TF_BATCH, batch=C.TF_BATCH)
    model.load_state_dict(w0)
    opt.load_state_dict(o0)
    torch.manual_seed(C.SEED + 1)
    with C.LoadMeter() as lm:
        t0 = time.perf_counter()
        loss = train_epoch(model, opt, Xtr, Ytr, batch=C.TF_BATCH)
        epoch_s = time.perf_counter() - t0
        probs = predict(model, Xte, batch=C.TF_INFER_BATCH)  # warm-up
        runs = []
        for _ in range(3):
            t0 = time.perf_counter()
            probs = predict(model, Xte, batch=C.TF_INFER_BATCH)
            runs.append(time.perf_counter() - t0)
    rec = C.base_record(FRAMEWORK, VERSION, "transformer", EXTRA)
    rec.update({
        "epoch_s": round(epoch_s, 3),
        "samples_per_s": round(xtr.shape[0] / epoch_s, 1),
        "predict_samples_per_s": round(xte.shape[0] / min(runs), 1),
        "test_accuracy": round(C.argmax_accuracy(probs, yte), 4),
        "final_batch_loss": round(loss, 4),
        "data": "synthetic IMDB-like (common.synthetic_imdb)", "data_checksum": int(xtr.astype(np.int64).sum()),
        "batch": C.TF_BATCH, "samples": int(xtr.shape[0]), "test_samples": int(xte.shape[0]),
        "config": {"vocab": C.TF_VOCAB, "maxlen": C.TF_MAXLEN, "embed_dim": C.TF_EMBED,
                   "num_heads": C.TF_HEADS, "key_dim": C.TF_KEY_DIM, "ff_dim": C.TF_FF},
        "n_params": int(n_params),
    })
    rec.update(lm.fields())
    rec["wall_s"] = round(time.perf_counter() - t_wall, 3)
    return rec


def predict(model, X, batch=C.INFER_BATCH):
    model.eval()
    outs = []
    with torch.inference_mode():
        for i in range(0, X.shape[0], batch):
            outs.append(model(X[i:i + batch]))
    return torch.cat(outs).numpy()


def fit_one_epoch_workload(name, model_fn, Xtr, Ytr, Xte, Yte):
    t_wall = time.perf_counter()
    seed_all()
    model = model_fn()
    opt = torch.optim.Adam(model.parameters(), lr=C.LR)
    # warm-up on the same model, then restore the exact initial state (weights + optimizer)
    w0 = copy.deepcopy(model.state_dict())
    o0 = copy.deepcopy(opt.state_dict())
    train_epoch(model, opt, Xtr, Ytr, n_samples=C.WARMUP_SAMPLES)
    times = []
    with C.LoadMeter() as lm:
        for _ in range(C.REPS.get(name, 1)):
            model.load_state_dict(w0)
            opt.load_state_dict(o0)
            torch.manual_seed(C.SEED + 1)
            t0 = time.perf_counter()
            loss = train_epoch(model, opt, Xtr, Ytr)
            times.append(time.perf_counter() - t0)
    epoch_s = min(times)
    acc = C.argmax_accuracy(predict(model, Xte), Yte.numpy())
    rec = C.base_record(FRAMEWORK, VERSION, name, EXTRA)
    rec.update({
        "epoch_s": round(epoch_s, 3),
        "samples_per_s": round(Xtr.shape[0] / epoch_s, 1),
        "test_accuracy": round(acc, 4),
        "final_batch_loss": round(loss, 4),
        "batch": C.BATCH, "samples": int(Xtr.shape[0]),
        "n_params": sum(p.numel() for p in model.parameters()),
    })
    rec.update(C.rep_fields("epoch_s", times))
    rec.update(lm.fields())
    rec["wall_s"] = round(time.perf_counter() - t_wall, 3)
    return rec, model


# ----------------------------------------------------------------------------- workloads
def wl_gemm(args):
    t_wall = time.perf_counter()
    seed_all()
    results = []
    with C.LoadMeter() as lm:
        for n in args.gemm_sizes:
            a = torch.randn(n, n, dtype=torch.float32)
            b = torch.randn(n, n, dtype=torch.float32)
            out = torch.empty(n, n, dtype=torch.float32)
            results.append(C.time_gemm(lambda: torch.mm(a, b, out=out), n))
    rec = C.base_record(FRAMEWORK, VERSION, "gemm", EXTRA)
    rec.update({"op": "torch.mm(out=)", "gflops_by_n": {str(r["n"]): r["gflops"] for r in results},
                "results": results})
    rec.update(lm.fields())
    rec["wall_s"] = round(time.perf_counter() - t_wall, 3)
    return rec


def wl_gan(Xgan):
    t_wall = time.perf_counter()
    seed_all()
    G, D = generator(), discriminator()
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce = nn.BCELoss()
    B = C.GAN_BATCH
    y_d = torch.cat([torch.ones(B, 1), torch.zeros(B, 1)])  # [real; fake]
    y_g = torch.ones(B, 1)
    G.train()
    D.train()

    def step(real):
        # D step: one Adam update of D on 64 real + 64 generated images
        with torch.no_grad():
            fake = G(torch.randn(B, C.GAN_LATENT))
        opt_d.zero_grad(set_to_none=True)
        d_loss = bce(D(torch.cat([real, fake])), y_d)
        d_loss.backward()
        opt_d.step()
        # G step: one Adam update of G through the frozen D
        for p in D.parameters():
            p.requires_grad_(False)
        opt_g.zero_grad(set_to_none=True)
        g_loss = bce(D(G(torch.randn(B, C.GAN_LATENT))), y_g)
        g_loss.backward()
        opt_g.step()
        for p in D.parameters():
            p.requires_grad_(True)
        return d_loss, g_loss

    def run(steps):
        perm = torch.randperm(Xgan.shape[0])
        d = g = None
        for s in range(steps):
            d, g = step(Xgan[perm[s * B:(s + 1) * B]])
        return d.item(), g.item()

    states = [copy.deepcopy(m.state_dict()) for m in (G, D, opt_g, opt_d)]
    run(C.GAN_WARMUP_STEPS)
    times = []
    with C.LoadMeter() as lm:
        for _ in range(C.REPS["gan"]):
            for m, s in zip((G, D, opt_g, opt_d), states):
                m.load_state_dict(s)
            torch.manual_seed(C.SEED + 1)
            t0 = time.perf_counter()
            d_loss, g_loss = run(C.GAN_STEPS)
            times.append(time.perf_counter() - t0)
    el = min(times)
    rec = C.base_record(FRAMEWORK, VERSION, "gan", EXTRA)
    rec.update(C.rep_fields("train_s", times))
    rec.update({"steps": C.GAN_STEPS, "train_s": round(el, 3),
                "steps_per_s": round(C.GAN_STEPS / el, 2),
                "ms_per_step": round(1000 * el / C.GAN_STEPS, 3),
                "final_d_loss": round(d_loss, 4), "final_g_loss": round(g_loss, 4),
                "batch": B})
    rec.update(lm.fields())
    rec["wall_s"] = round(time.perf_counter() - t_wall, 3)
    return rec


def wl_inference(model, trained, Xte, Yte):
    t_wall = time.perf_counter()
    model.eval()
    with C.LoadMeter() as lm:
        predict(model, Xte)  # warm-up
        runs = []
        for _ in range(5):
            t0 = time.perf_counter()
            probs = predict(model, Xte)
            runs.append(time.perf_counter() - t0)
        acc = C.argmax_accuracy(probs, Yte.numpy())
        lat = []
        with torch.inference_mode():
            for i in range(C.LATENCY_WARMUP):
                model(Xte[i:i + 1])
            for i in range(C.LATENCY_CALLS):
                x1 = Xte[i:i + 1]
                t0 = time.perf_counter()
                model(x1)
                lat.append(time.perf_counter() - t0)
    best = min(runs)
    rec = C.base_record(FRAMEWORK, VERSION, "inference", EXTRA)
    rec.update({
        "model": "cnn_mnist" + ("" if trained else " (untrained)"),
        "batch": C.INFER_BATCH,
        "predict_samples_per_s": round(Xte.shape[0] / best, 1),
        "predict_samples_per_s_median": round(Xte.shape[0] / sorted(runs)[len(runs) // 2], 1),
        "predict_10k_best_s": round(best, 4),
        "test_accuracy": round(acc, 4),
        "latency_b1_median_ms": round(1000 * float(np.median(lat)), 4),
        "latency_b1_p90_ms": round(1000 * float(np.percentile(lat, 90)), 4),
        "latency_calls": C.LATENCY_CALLS,
        "latency_api": "model(x) under torch.inference_mode()",
    })
    rec.update(lm.fields())
    rec["wall_s"] = round(time.perf_counter() - t_wall, 3)
    return rec


class Bottleneck(nn.Module):
    """keras.applications' ResNet50 block (stride on the first 1x1 conv, biases on, BN eps 1.001e-5)."""

    def __init__(self, cin, filters, stride, projection):
        super().__init__()
        bn = lambda c: nn.BatchNorm2d(c, eps=1.001e-5, momentum=0.01)
        self.shortcut = nn.Sequential(nn.Conv2d(cin, 4 * filters, 1, stride), bn(4 * filters)) if projection else nn.Identity()
        self.body = nn.Sequential(nn.Conv2d(cin, filters, 1, stride), bn(filters), nn.ReLU(),
                                  nn.Conv2d(filters, filters, 3, padding=1), bn(filters), nn.ReLU(),
                                  nn.Conv2d(filters, 4 * filters, 1), bn(4 * filters))

    def forward(self, x):
        return torch.relu(self.shortcut(x) + self.body(x))


def resnet50(classes=1000):
    """The graph of keras.applications.ResNet50 written in torch (torchvision-free)."""
    layers, cin = [nn.ZeroPad2d(3), nn.Conv2d(3, 64, 7, 2), nn.BatchNorm2d(64, eps=1.001e-5, momentum=0.01), nn.ReLU(),
                   nn.ZeroPad2d(1), nn.MaxPool2d(3, 2)], 64
    for filters, blocks, stride in [(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)]:
        for i in range(blocks):
            layers.append(Bottleneck(cin, filters, stride if i == 0 else 1, i == 0))
            cin = 4 * filters
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, classes)]
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    """keras.applications' MobileNetV2 block: 1x1 expansion (not in block 0), 3x3 depthwise,
    1x1 linear projection, each with BN (eps 1e-3, Keras momentum 0.999) and ReLU6 but the last;
    the input added where the shapes agree."""

    def __init__(self, cin, cout, stride, expansion):
        super().__init__()
        bn = lambda c: nn.BatchNorm2d(c, eps=1e-3, momentum=0.001)
        mid, layers = cin * expansion, []
        if expansion != 1:
            layers += [nn.Conv2d(cin, mid, 1, bias=False), bn(mid), nn.ReLU6()]
        layers += [nn.Conv2d(mid, mid, 3, stride, padding=1, groups=mid, bias=False), bn(mid), nn.ReLU6(),
                   nn.Conv2d(mid, cout, 1, bias=False), bn(cout)]
        self.body, self.residual = nn.Sequential(*layers), cin == cout and stride == 1

    def forward(self, x):
        return x + self.body(x) if self.residual else self.body(x)


def mobilenet_v2(classes=1000):
    """The graph of keras.applications.MobileNetV2 (alpha 1) written in torch (torchvision-free);
    symmetric padding where Keras pads (0, 1) before a stride-2 layer: the same shapes and work."""
    bn = lambda c: nn.BatchNorm2d(c, eps=1e-3, momentum=0.001)
    layers, cin = [nn.Conv2d(3, 32, 3, 2, padding=1, bias=False), bn(32), nn.ReLU6()], 32
    for cout, stride, expansion, repeats in [(16, 1, 1, 1), (24, 2, 6, 2), (32, 2, 6, 3), (64, 2, 6, 4),
                                             (96, 1, 6, 3), (160, 2, 6, 3), (320, 1, 6, 1)]:
        for i in range(repeats):
            layers.append(InvertedResidual(cin, cout, stride if i == 0 else 1, expansion))
            cin = cout
    layers += [nn.Conv2d(cin, 1280, 1, bias=False), bn(1280), nn.ReLU6(),
               nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(1280, classes)]
    return nn.Sequential(*layers)


# workload -> (builder, input side): keras.applications' graphs at 1,000 classes, batch 32
IMAGE_MODELS = {"resnet50": (resnet50, 96), "mobilenetv2": (mobilenet_v2, 224)}


def wl_image_model(workload):
    """ResNet50 at 96x96x3 or MobileNetV2 at 224x224x3, 1,000 classes, batch 32, channels_last
    (PyTorch's advice for CNNs on CPU): forward passes under inference_mode in eval mode (best
    of 5 after 2) and SGD training steps with cross-entropy (best of 3 after 1)."""
    t_wall = time.perf_counter()
    seed_all()
    builder, side = IMAGE_MODELS[workload]
    model = builder().to(memory_format=torch.channels_last)
    rng = np.random.default_rng(C.SEED)
    x = torch.from_numpy(rng.normal(size=(32, 3, side, side)).astype(np.float32)).to(memory_format=torch.channels_last)
    y = torch.from_numpy((np.arange(32) * 31 % 1000).astype(np.int64))
    params = sum(p.numel() for p in model.parameters()) + sum(b.numel() for n, b in model.named_buffers() if "running" in n)
    with C.LoadMeter() as lm:
        model.eval()
        with torch.inference_mode():
            for _ in range(2):
                model(x)
            predict = []
            for _ in range(5):
                t0 = time.perf_counter()
                torch.softmax(model(x), dim=1)
                predict.append(time.perf_counter() - t0)
        model.train()
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        loss_fn = nn.CrossEntropyLoss()

        def step():
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
        step()
        train = []
        for _ in range(3):
            t0 = time.perf_counter()
            step()
            train.append(time.perf_counter() - t0)
    rec = C.base_record(FRAMEWORK, VERSION, workload, EXTRA)
    rec.update({"batch": 32, "input": f"{side}x{side}x3", "params": int(params),
                "predict_batch_s": round(min(predict), 4), "predict_samples_per_s": round(32 / min(predict), 1),
                "train_step_s": round(min(train), 4), "train_samples_per_s": round(32 / min(train), 1),
                "predict_api": "model(x) under inference_mode, channels_last", "train_api": "SGD step"})
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
        Ytr, Yte = torch.from_numpy(ytr), torch.from_numpy(yte)
    state = {"cnn": None}

    def run(w):
        if w == "gemm":
            return wl_gemm(args)
        if w in IMAGE_MODELS:
            return wl_image_model(w)
        if w == "transformer":
            return wl_transformer()
        if w == "mlp_mnist":
            return fit_one_epoch_workload(w, mlp, torch.from_numpy(ftr.reshape(-1, 784)), Ytr,
                                          torch.from_numpy(fte.reshape(-1, 784)), Yte)[0]
        if w == "cnn_mnist":
            rec, state["cnn"] = fit_one_epoch_workload(w, cnn, torch.from_numpy(ftr[:, None]), Ytr,
                                                       torch.from_numpy(fte[:, None]), Yte)
            return rec
        if w == "lstm":
            return fit_one_epoch_workload(w, LSTMNet, torch.from_numpy(ftr), Ytr,
                                          torch.from_numpy(fte), Yte)[0]
        if w == "gan":
            return wl_gan(torch.from_numpy(ftr.reshape(-1, 784) * 2.0 - 1.0))
        if w == "inference":
            if state["cnn"] is None:  # run on its own: train the CNN first (untimed)
                _, state["cnn"] = fit_one_epoch_workload("cnn_mnist", cnn,
                                                         torch.from_numpy(ftr[:, None]), Ytr,
                                                         torch.from_numpy(fte[:, None]), Yte)
            return wl_inference(state["cnn"], True, torch.from_numpy(fte[:, None]), Yte)
        raise ValueError(w)

    for w in args.workloads:
        rec = C.run_with_retries(lambda: run(w), args)
        C.emit(rec, args.out)


if __name__ == "__main__":
    main()
