#!/usr/bin/env python3
"""scratchnet against numpy's `@` and PyTorch, alternated round by round on this machine, as
the README's and docs/gemm.md's tables are measured: medians over the rounds, and each ratio
the median of the round-by-round pairs (a VM's speed drifts; pairs measured a minute apart
drift together).

Usage (in a virtualenv with numpy, threadpoolctl and torch; scratchnet never needs Python):

    cargo build --release
    python3 benches/side_by_side.py --rounds 3 --data ../shared/datasets/mnist

    --what gemm    only the products: f32 1024³ and 100×784×100 on 1 and 2 threads, f64 1024³,
                   each against numpy's `@` (OpenBLAS) and `torch.mm` (MKL on x86 wheels)
    --what train   only T2, T3 and M (README flags) on 1 and 2 threads, training seconds
    --what cnn     SimpleConvNet and DeepConvNet, one epoch each, against
                   benches/torch_train_cnn.py (not part of `all`: a round takes minutes)

It prints the machine first (CPU, AVX-512 or not, caches, the OpenBLAS kernel numpy picked),
then Markdown tables to paste under it. numpy_gemm.py unsets OPENBLAS_CORETYPE and
OPENBLAS_L2_SIZE for its own process, so numpy runs the kernels a user's numpy would.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

# The README's textbook configurations; benches/torch_train.py builds the same ones.
TRAIN = {
    "T2": "--hidden 50 --init std:0.01 --optimizer sgd --lr 0.1 --batch 100 --iters 10000 "
          "--sampling random",
    "T3": "--hidden 100,50 --init std:0.01 --optimizer sgd --lr 0.1 --batch 100 --iters 10000 "
          "--sampling random",
    "M": "--hidden 100,50 --batchnorm --optimizer adam --lr 0.001 --iters 3000",
}
# (label, bench-gemm arguments); numpy_gemm.py takes the same --sizes/--shapes/--precision.
GEMM = [
    ("f32", ["--sizes", "1024", "--shapes", "100x784x100"]),
    ("f64", ["--sizes", "1024", "--shapes", "none", "--precision", "f64"]),
]


def run(cmd, **kw):
    out = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{out.stderr.strip()}")
    return out


def machine(scratchnet):
    info = {}
    try:
        for line in open("/proc/cpuinfo"):
            key, _, value = line.partition(":")
            key = key.strip()
            if key in ("model name", "cpu family", "model") and key not in info:
                info[key] = value.strip()
            if key == "flags" and "flags" not in info:
                info["flags"] = value.split()
    except OSError:
        pass
    caches = run([scratchnet, "bench", "gemm", "--kernels", "naive", "--sizes", "none",
                  "--shapes", "1x1x1", "--quiet"]).stdout
    header = [l.strip() for l in caches.splitlines() if l.strip().startswith(("caches:", "fma peak:"))]
    flags = info.get("flags", [])
    return (f"{info.get('model name', platform.processor())} (family {info.get('cpu family', '?')}"
            f" model {info.get('model', '?')}), {os.cpu_count()} CPUs, "
            f"{'AVX-512F' if 'avx512f' in flags else 'no AVX-512'}"
            f"{', AVX2 + FMA' if 'avx2' in flags and 'fma' in flags else ''}; "
            + "; ".join(header))


def csv_rows(text):
    rows = [l.split(",") for l in text.splitlines() if l and not l.startswith(("#", "kernel"))]
    # kernel,m,k,n,transpose,threads,precision,gflops,…
    # → {(m, k, n, transpose, precision): (gflops, threads it ran on)}
    return {(r[1], r[2], r[3], r[4], r[6]): (float(r[7]), int(r[5])) for r in rows}


def gemm_round(scratchnet, threads, results, kernels_seen):
    """One round of products: ours, numpy's OpenBLAS and torch.mm's MKL, one after another."""
    for label, args in GEMM:
        if label == "f64" and threads != 1:
            continue
        ours = run([scratchnet, "bench", "gemm", "--kernels", "auto", "--threads", str(threads),
                    "--format", "csv", "--quiet", *args])
        theirs = {}
        for library in ("numpy", "torch"):
            out = run([sys.executable, os.path.join(HERE, "numpy_gemm.py"), "--library", library,
                       "--threads", str(threads), *args])
            kernels_seen.update(l.lstrip("# ").rsplit(",", 1)[0] for l in out.stderr.splitlines()
                                if l.startswith("#") and ("openblas" in l or "torch" in l))
            theirs[library] = csv_rows(out.stdout)
        for (m, k, n, _t, prec), (g, ran_on) in csv_rows(ours.stdout).items():
            key = (f"{m}×{k}×{n}", prec, threads)
            rates = [next(v for (m2, k2, n2, _, p2), (v, _) in theirs[lib].items()
                          if (m2, k2, n2, p2) == (m, k, n, prec)) for lib in ("numpy", "torch")]
            results.setdefault(key, []).append((g, rates[0], ran_on, rates[1]))


def versus(scratchnet, data, threads, key, ours, theirs, results):
    """One pair: `scratchnet train <ours> --threads N` against `python3 <theirs> --threads N`
    (a script of this folder printing a JSON line), training seconds and test accuracy."""
    env = dict(os.environ, SCRATCHNET_DATA=os.path.dirname(os.path.abspath(data)))
    with tempfile.TemporaryDirectory() as tmp:
        summary = os.path.join(tmp, "s.json")
        run([scratchnet, "train", *ours, "--threads", str(threads), "--quiet", "--summary-json",
             summary], env=env)
        a = json.load(open(summary))
    b = json.loads(run([sys.executable, os.path.join(HERE, theirs[0]), *theirs[1:], "--threads",
                        str(threads), "--data", data]).stdout.splitlines()[-1])
    results.setdefault((key, threads), []).append(
        (a["train_seconds"], b["train_seconds"], a["test_acc"], b["test_acc"]))


def train_round(scratchnet, data, threads, results):
    for config, flags in TRAIN.items():
        versus(scratchnet, data, threads, config, ["--dataset", "mnist", *flags.split()],
               ["torch_train.py", "--config", config], results)


def cnn_round(scratchnet, data, threads, results):
    for net in ("simple-cnn", "deep-cnn"):
        versus(scratchnet, data, threads, net, ["--net", net, "--epochs", "1"],
               ["torch_train_cnn.py", "--net", net, "--epochs", "1"], results)


def med(xs):
    return statistics.median(xs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--what", choices=["all", "gemm", "train", "cnn"], default="all")
    ap.add_argument("--data", default="../shared/datasets/mnist", help="folder with the MNIST files")
    ap.add_argument("--scratchnet", default=os.path.join(HERE, "..", "target", "release", "scratchnet"))
    args = ap.parse_args()
    threads = [int(t) for t in args.threads.split(",")]
    if not os.path.exists(args.scratchnet):
        sys.exit(f"{args.scratchnet} not found: run `cargo build --release` first")
    print(f"*{machine(args.scratchnet)}*")
    gemm, train, kernels = {}, {}, set()
    for r in range(args.rounds):
        for t in threads:
            print(f"# round {r + 1}/{args.rounds}, {t} thread(s)", file=sys.stderr)
            if args.what in ("all", "gemm"):
                gemm_round(args.scratchnet, t, gemm, kernels)
            if args.what in ("all", "train"):
                train_round(args.scratchnet, args.data, t, train)
            if args.what == "cnn":
                cnn_round(args.scratchnet, args.data, t, train)
    if gemm:
        print(f"\nlibraries: {'; '.join(sorted(kernels)) or 'OpenBLAS kernel unknown (pip install threadpoolctl)'}\n")
        print("| m×k×n | precision | threads | numpy (OpenBLAS) GFLOP/s | torch.mm (MKL) "
              "| scratchnet `auto` | auto / numpy | auto / MKL | auto / the better |")
        print("| --- | --- | --: | --: | --: | --: | --: | --: | --: |")
        for (shape, prec, t), pairs in gemm.items():
            # `auto` splits a product only where its one-time probe found that threads pay.
            fewer = sum(p[2] < t for p in pairs)
            note = f" ({fewer} of {len(pairs)} rounds on 1 thread)" if fewer else ""
            print(f"| {shape} | {prec} | {t} | {med(p[1] for p in pairs):.1f} "
                  f"| {med(p[3] for p in pairs):.1f} | {med(p[0] for p in pairs):.1f}{note} "
                  f"| {100 * med(p[0] / p[1] for p in pairs):.0f} % "
                  f"| {100 * med(p[0] / p[3] for p in pairs):.0f} % "
                  f"| {100 * med(p[0] / max(p[1], p[3]) for p in pairs):.0f} % |")
        if 1 in threads and 2 in threads:
            for shape, prec, t in gemm:
                if t == 2 and (shape, prec, 1) in gemm:
                    one, two = gemm[(shape, prec, 1)], gemm[(shape, prec, 2)]
                    print(f"\n{shape} {prec}: `auto` on 2 threads "
                          f"{med(b[0] / a[0] for a, b in zip(one, two)):.2f}× its 1-thread rate "
                          f"(numpy {med(b[1] / a[1] for a, b in zip(one, two)):.2f}×, MKL "
                          f"{med(b[3] / a[3] for a, b in zip(one, two)):.2f}×)", end="")
            print()
    if train:
        print("\n| config | threads | scratchnet training s | PyTorch training s | ratio "
              "| test acc (ours / PyTorch) |")
        print("| --- | --: | --: | --: | --: | --- |")
        for (config, t), runs in train.items():
            print(f"| {config} | {t} | {med(r[0] for r in runs):.2f} | {med(r[1] for r in runs):.2f} "
                  f"| {med(r[0] / r[1] for r in runs):.3f} | {runs[-1][2]:.4f} / {runs[-1][3]:.4f} |")
        if 1 in threads and 2 in threads:
            for config in sorted({c for c, _ in train}):
                one, two = train[(config, 1)], train[(config, 2)]
                print(f"\n{config}: 2 threads {med(a[0] / b[0] for a, b in zip(one, two)):.2f}× faster than 1 "
                      "(median of the rounds' ratios)", end="")
            print()
    print(f"\nrounds: {args.rounds}; command: {' '.join(sys.argv)}")


if __name__ == "__main__":
    main()
