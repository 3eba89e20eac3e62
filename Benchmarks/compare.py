#!/usr/bin/env python3
"""Runs Lamina and its peers (PyTorch, Keras 3 on TensorFlow) side by side and writes
Benchmarks/RESULTS.md.

    python3 Benchmarks/compare.py                      # 3 rounds of everything (~25 min on 2 cores)
    python3 Benchmarks/compare.py --rounds 1 --workloads mlp_mnist,gan

Each round runs every workload group once per framework, alternating frameworks, each in
its own process, so the peak RSS of a process (from wait4) belongs to that workload:
gemm | mlp_mnist | cnn_mnist + inference (inference uses the CNN just trained) | lstm | gan
(and, asked for by name, resnet50 | mobilenetv2 | transformer: `--workloads transformer`).
Per workload it reports the median over rounds of each framework, the ratios Lamina/peer,
and each process's max RSS. Needs: the peers' venv (Benchmarks/peers/setup.sh) and
`swift build -c release --product lamina-bench`. Only the standard library is used here.
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
GROUPS = [["gemm"], ["mlp_mnist"], ["cnn_mnist", "inference"], ["lstm"], ["gan"], ["resnet50"], ["mobilenetv2"], ["transformer"]]
sys.path.insert(0, os.path.join(HERE, "peers"))


def run_with_rss(cmd):
    """Like run_process but measures the child's max RSS with wait4."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # communicate() would reap the child before wait4 sees its rusage: read the pipes by hand.
    out_chunks, err_chunks = [], []
    t_err = threading.Thread(target=lambda: err_chunks.append(proc.stderr.read()))
    t_err.start()
    out_chunks.append(proc.stdout.read())
    t_err.join()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - t0
    out, err = "".join(out_chunks), "".join(err_chunks)
    if proc.returncode != 0:
        # A failed run has no figures, and its RSS is not the workload's: a report built without
        # it would look complete. Stop here (the raw file keeps the rounds that did run).
        sys.exit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{err[-3000:]}\ncompare.py stopped: no report written.")
    records = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
    return records, usage.ru_maxrss / 1024.0, elapsed


def command(framework, workloads, args):
    wl = ",".join(workloads)
    if framework == "lamina":
        cmd = [args.lamina_bench, "--workloads", wl]
        if args.data_dir:
            cmd += ["--data-dir", args.data_dir]
        return cmd
    cmd = [args.python, os.path.join(HERE, "peers", f"{framework}_bench.py"), "--workloads", wl]
    if args.data_dir:
        cmd += ["--data-dir", args.data_dir]
    return cmd


# (workload, metric key, label, higher is better)
METRICS = [
    ("mlp_mnist", "epoch_s", "epoch seconds", False),
    ("mlp_mnist", "test_accuracy", "test accuracy", True),
    ("cnn_mnist", "epoch_s", "epoch seconds", False),
    ("cnn_mnist", "test_accuracy", "test accuracy", True),
    ("lstm", "epoch_s", "epoch seconds", False),
    ("lstm", "test_accuracy", "test accuracy", True),
    ("gan", "steps_per_s", "steps/s (200 steps, batch 64)", True),
    ("inference", "predict_samples_per_s", "predict samples/s (batch 1000)", True),
    ("inference", "latency_b1_median_ms", "batch-1 latency median ms", False),
    ("inference", "latency_b1_fastest_ms", "batch-1 latency median ms, each framework's fastest API", False),
    ("resnet50", "predict_batch_s", "ResNet50 96x96 forward, batch 32, s", False),
    ("resnet50", "train_step_s", "ResNet50 96x96 SGD step, batch 32, s", False),
    ("mobilenetv2", "predict_batch_s", "MobileNetV2 224x224 forward, batch 32, s", False),
    ("mobilenetv2", "train_step_s", "MobileNetV2 224x224 SGD step, batch 32, s", False),
    ("transformer", "epoch_s", "Transformer epoch seconds (2,048 synthetic reviews, batch 32)", False),
    ("transformer", "predict_samples_per_s", "Transformer predict samples/s (batch 250)", True),
    ("transformer", "test_accuracy", "Transformer test accuracy (synthetic)", True),
    ("transformer", "n_params", "Transformer parameters", True),
]


def metric_value(record, key):
    """A record's value for `key`; `latency_b1_fastest_ms` is the least of the batch-1 latency
    medians a framework recorded (Keras times model.predict, predict_on_batch and a direct call:
    model.predict is the tutorials' API, but a peer is held to its fastest one)."""
    if key == "latency_b1_fastest_ms":
        found = [v for k, v in record.items() if k.startswith("latency_b1_") and k.endswith("median_ms") and v is not None]
        return min(found) if found else None
    return record.get(key)


def gemm_rounds(records):
    """Per round (in order): n -> the best GFLOP/s over that round's draws, and the same for
    Lamina's in-process raw-sgemm baseline."""
    by_round = {}
    for r in records:
        vals, raws = gemm_values([r])
        best, best_raw = by_round.setdefault(r["round"], ({}, {}))
        for n, g in vals.items():
            best[n] = max(g, best.get(n, 0))
        for n, g in raws.items():
            best_raw[n] = max(g, best_raw.get(n, 0))
    return [by_round[k] for k in sorted(by_round)]


def gemm_values(records):
    """n -> GFLOP/s (and Lamina's raw-sgemm baseline) from a framework's gemm records."""
    out, raw = {}, {}
    for r in records:
        if r.get("workload") != "gemm":
            continue
        if "gflops_by_n" in r:
            out.update({int(k): v for k, v in r["gflops_by_n"].items()})
        elif "n" in r:
            out[int(r["n"])] = r["gflops"]
            if "raw_sgemm_gflops" in r:
                raw[int(r["n"])] = r["raw_sgemm_gflops"]
    return out, raw


PROBE_SOURCE = os.path.join(HERE, "sgemm_probe.c")


def probe_cores():
    """OpenBLAS kernel sets this CPU can run (from /proc/cpuinfo), for the raw-sgemm probe."""
    try:
        text = open("/proc/cpuinfo").read()
    except OSError:
        return [""]
    flags = set(next((l.split(":", 1)[1].split() for l in text.splitlines() if l.startswith("flags")), []))
    amd = "AuthenticAMD" in text
    cores = [""]  # the library's own choice
    if {"avx2", "fma"} <= flags:
        cores += ["Haswell"] + (["Zen"] if amd else [])
    if {"avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd"} <= flags:
        cores += ["SkylakeX"] + (["Cooperlake"] if "avx512_bf16" in flags else [])
    return cores


def best_raw_sgemm(sizes, lamina_cmd=None):
    """The best cblas_sgemm GFLOP/s per n over every kernel set the CPU runs (forced with
    OPENBLAS_CORETYPE), all cores: the ceiling Lamina's matmul is held to. With `lamina_cmd`
    (lamina-bench's gemm workload), Lamina's matmul runs right after each probe, in the
    environment the round runs in, and its best over those runs is returned too: both sides
    are then the best of as many processes in the same minutes. A host whose speed drifts
    between processes (the two-core slow mode seen on shared machines) would otherwise favour
    the best of five probes over Lamina's one run."""
    exe = os.path.join("/tmp", "lamina_sgemm_probe")
    if subprocess.run(["cc", "-O2", "-o", exe, PROBE_SOURCE, "-lopenblas"], capture_output=True).returncode != 0:
        sys.stderr.write("sgemm_probe did not compile (cc and libopenblas-dev needed); no best-core column\n")
        return {}, {}, {}
    best, core_of, lamina_best = {}, {}, {}
    for core in probe_cores():
        env = dict(os.environ)
        env.pop("OPENBLAS_CORETYPE", None)
        if core:
            env["OPENBLAS_CORETYPE"] = core
        out = subprocess.run([exe] + [str(n) for n in sizes], capture_output=True, text=True, env=env).stdout
        try:
            record = json.loads(out)
        except ValueError:
            continue
        for n, g in record["gflops_by_n"].items():
            if g > best.get(int(n), 0):
                best[int(n)], core_of[int(n)] = g, record["core"]
        if lamina_cmd:
            lines = subprocess.run(lamina_cmd, capture_output=True, text=True).stdout.splitlines()
            for n, g in gemm_values([json.loads(l) for l in lines if l.startswith("{")])[0].items():
                lamina_best[n] = max(g, lamina_best.get(n, 0))
    return best, core_of, lamina_best


def machine():
    def sh(cmd):
        try:
            return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=30).stdout.strip()
        except Exception:
            return "?"
    cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip()
    family = sh("grep -m1 'cpu family' /proc/cpuinfo | cut -d: -f2").strip()
    model = sh("grep -m1 '^model\\s' /proc/cpuinfo | cut -d: -f2").strip()
    flags = sh("grep -m1 flags /proc/cpuinfo")
    simd = ", ".join(f for f in ("avx2", "fma", "avx512f") if f" {f}" in flags)
    mem = sh("free -g | awk '/Mem:/ {print $2}'")
    return {
        "cpu": f"{cpu} (family {family}, model {model}; {simd})",
        "cores": os.cpu_count(),
        "memory": f"{mem} GiB",
        "os": sh("grep PRETTY_NAME /etc/os-release | cut -d= -f2 | tr -d '\"'") + ", kernel " + platform.release(),
        "swift": sh("swift --version 2>&1 | head -1"),
        "openblas": sh("dpkg -s libopenblas0-pthread 2>/dev/null | grep Version | cut -d' ' -f2"),
    }


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, nd=3):
    if v is None:
        return "–"
    if isinstance(v, float) and abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.{nd}f}" if isinstance(v, float) else str(v)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workloads", default="gemm,mlp_mnist,cnn_mnist,inference,lstm,gan")
    ap.add_argument("--frameworks", default="lamina,torch,keras")
    ap.add_argument("--python", default=os.path.join(os.environ.get("VENV", os.path.expanduser("~/peers-venv")), "bin", "python"))
    ap.add_argument("--lamina-bench", default=os.path.join(ROOT, ".build", "release", "lamina-bench"))
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--out", default=os.path.join(HERE, "RESULTS.md"))
    ap.add_argument("--raw", default=os.path.join(HERE, "results", "compare.jsonl"))
    ap.add_argument("--quiet-wait", type=float, default=120, help="seconds to wait for an idle machine before each process")
    ap.add_argument("--gemm-draws", type=int, default=3,
                    help="processes per framework and round for gemm, interleaved; a round keeps each one's best")
    args = ap.parse_args()
    wanted = set(args.workloads.split(","))
    frameworks = args.frameworks.split(",")
    if "lamina" in frameworks and not os.path.exists(args.lamina_bench):
        subprocess.run(["swift", "build", "-c", "release", "--product", "lamina-bench"], cwd=ROOT, check=True)
    import common  # the peers' helpers: wait_for_quiet
    os.makedirs(os.path.dirname(args.raw), exist_ok=True)
    started = datetime.datetime.now(datetime.timezone.utc)
    results = {}  # (framework, workload) -> list of records (one per round)
    rss = {}      # (framework, group name) -> list of MiB
    with open(args.raw, "w") as raw:
        for rnd in range(1, args.rounds + 1):
            for group in GROUPS:
                workloads = [w for w in group if w in wanted]
                if not workloads:
                    continue
                name = "+".join(workloads)
                order = frameworks if rnd % 2 else list(reversed(frameworks))  # alternate who goes first
                # The square products are near every framework's FMA ceiling, where this kind of
                # host's two-core slow mode (seconds to minutes, ~25%) decides a single process:
                # each framework gets the same number of processes, interleaved, and keeps its best.
                draws = args.gemm_draws if workloads == ["gemm"] else 1
                for draw in range(draws):
                    for fw in order[draw % len(order):] + order[:draw % len(order)]:
                        if args.quiet_wait > 0:
                            common.wait_for_quiet(max_wait_s=args.quiet_wait)
                        records, maxrss, seconds = run_with_rss(command(fw, workloads, args))
                        print(f"round {rnd} {fw:6s} {name:20s} {seconds:7.1f}s  max RSS {maxrss:7.1f} MiB", file=sys.stderr)
                        rss.setdefault((fw, name), []).append(maxrss)
                        for r in records:
                            r["round"], r["draw"], r["framework"], r["max_rss_mib"] = rnd, draw + 1, fw, maxrss
                            raw.write(json.dumps(r) + "\n")
                            results.setdefault((fw, r["workload"]), []).append(r)
                if workloads == ["gemm"] and "lamina" in frameworks:
                    best, core_of, lamina_best = best_raw_sgemm([256, 512, 1024, 2048], command("lamina", ["gemm"], args))
                    r = {"workload": "gemm_best_raw", "framework": "raw", "round": rnd,
                         "gflops_by_n": best, "core_by_n": core_of, "lamina_beside_gflops_by_n": lamina_best}
                    raw.write(json.dumps(r) + "\n")
                    results.setdefault(("raw", "gemm_best_raw"), []).append(r)
    write_report(args, frameworks, results, rss, started)


def write_report(args, frameworks, results, rss, started):
    peers = [f for f in frameworks if f != "lamina"]
    lines = ["# Benchmarks: Lamina side by side with PyTorch and Keras", ""]
    lines += [f"One run of `python3 Benchmarks/compare.py {' '.join(sys.argv[1:])}`".rstrip() + f", started {started:%Y-%m-%d %H:%M} UTC: "
              f"{args.rounds} rounds; in each round every workload group runs once per framework, frameworks alternating, "
              "each in its own process (2 threads, float32, seed 1234, real MNIST; protocol of `Benchmarks/peers/*.py`). "
              "Values are medians over the rounds. Ratios: Lamina ÷ peer (time: < 1 means Lamina is faster; "
              "throughput and accuracy: > 1 means Lamina is ahead).", ""]
    m = machine()
    versions = {}
    for fw in peers:
        for (f, w), recs in results.items():
            if f == fw and recs:
                versions[fw] = recs[0].get("version", "?")
    backend = next((r["backend"] for (f, _), recs in results.items() if f == "lamina" for r in recs if "backend" in r), None)
    if backend:
        m["cpu"] = f"{backend['cpu']} (family {backend['cpu_family']}, model {backend['cpu_model']})"
        m["cpu features"] = backend["cpu_flags"]
        m["lamina BLAS"] = backend["blas"]
        m["lamina BLAS core"] = f"{backend['blas_core']} (at load: {backend['blas_core_at_load']}; {backend['blas_core_reason']})"
        m["lamina SIMD level"] = backend["simd"]
    lines += ["## Machine", ""] + [f"- {k}: {v}" for k, v in m.items()]
    lines += [f"- {fw}: {versions.get(fw, '?')}" for fw in peers] + [""]

    header = "| workload | metric | " + " | ".join(frameworks) + " | " + " | ".join(f"lamina/{p}" for p in peers) + " |"
    lines += ["## Training and inference", "", header, "|" + "---|" * (2 + len(frameworks) + len(peers))]
    for workload, key, label, higher in METRICS:
        vals = {fw: median([metric_value(r, key) for r in results.get((fw, workload), [])]) for fw in frameworks}
        if all(v is None for v in vals.values()):
            continue
        ratios = []
        for p in peers:
            a, b = vals.get("lamina"), vals.get(p)
            ratios.append(fmt(a / b, 2) if a is not None and b else "–")
        nd = 4 if key == "test_accuracy" else 3 if key.endswith("_s") or key.endswith("_ms") else 1
        lines.append(f"| {workload} | {label} | " + " | ".join(fmt(vals[f], nd) for f in frameworks) + " | " + " | ".join(ratios) + " |")
    lines.append("")

    per_round = {fw: [best for best, _ in gemm_rounds(results.get((fw, "gemm"), []))] for fw in frameworks}
    raw_rounds = [raw for _, raw in gemm_rounds(results.get(("lamina", "gemm"), []))]
    best_rounds = [{int(n): g for n, g in r["gflops_by_n"].items()} for r in results.get(("raw", "gemm_best_raw"), [])]
    beside_rounds = [{int(n): g for n, g in r.get("lamina_beside_gflops_by_n", {}).items()}
                     for r in results.get(("raw", "gemm_best_raw"), [])]
    best_cores = {int(n): c for r in results.get(("raw", "gemm_best_raw"), []) for n, c in r["core_by_n"].items()}
    sizes = sorted({n for fw in frameworks for d in per_round[fw] for n in d})
    if sizes:
        lines += ["## gemm (square float32 matmul, GFLOP/s)", "",
                  "`best raw`: a C program's cblas_sgemm with each OpenBLAS kernel set this CPU runs forced by "
                  "`OPENBLAS_CORETYPE` (`Benchmarks/sgemm_probe.c`, all cores), the best per size — the best of "
                  "one process per kernel set. `lamina beside`: Lamina's matmul in a process right after each of "
                  "those probes, the best of as many processes in the same minutes (medians over the rounds), "
                  "so that a host whose speed drifts between processes does not decide `lamina/best raw`. "
                  f"The columns per framework: in each round, each framework's best of {args.gemm_draws} processes "
                  "(`--gemm-draws`), the frameworks' processes interleaved.", "",
                  "| n | " + " | ".join(frameworks) + " | raw cblas_sgemm (in lamina-bench) | best raw (core) | lamina beside "
                  "| lamina/raw | lamina beside/best raw |",
                  "|" + "---|" * (6 + len(frameworks))]
        for n in sizes:
            vals = {fw: median([d.get(n) for d in per_round[fw]]) for fw in frameworks}
            rawv = median([d.get(n) for d in raw_rounds])
            bestv = median([d.get(n) for d in best_rounds])
            besidev = median([d.get(n) for d in beside_rounds])
            ratio = fmt(vals["lamina"] / rawv, 3) if vals.get("lamina") and rawv else "–"
            best_ratio = fmt(besidev / bestv, 3) if besidev and bestv else "–"
            lines.append(f"| {n} | " + " | ".join(fmt(vals[f], 1) for f in frameworks)
                         + f" | {fmt(rawv, 1)} | {fmt(bestv, 1)} ({best_cores.get(n, '?')}) | {fmt(besidev, 1)} | {ratio} | {best_ratio} |")
        lines.append("")

    groups = sorted({g for (_, g) in rss})
    if groups:
        lines += ["## Peak memory (max RSS of the process, MiB, median)", "",
                  "| process | " + " | ".join(frameworks) + " | " + " | ".join(f"lamina/{p}" for p in peers) + " |",
                  "|" + "---|" * (1 + len(frameworks) + len(peers))]
        for g in groups:
            vals = {fw: median(rss.get((fw, g), [])) for fw in frameworks}
            ratios = [fmt(vals["lamina"] / vals[p], 2) if vals.get("lamina") and vals.get(p) else "–" for p in peers]
            lines.append(f"| {g} | " + " | ".join(fmt(vals[f], 0) for f in frameworks) + " | " + " | ".join(ratios) + " |")
        lines.append("")
    raw_path = os.path.relpath(args.raw, os.path.dirname(HERE))
    lines += [f"Raw records (one JSON line per workload, framework and round): `{raw_path}`.", ""]
    with open(args.out, "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
