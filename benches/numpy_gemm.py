#!/usr/bin/env python3
"""numpy's `@` (OpenBLAS) or PyTorch's `torch.mm` (MKL on x86 wheels) on the problems
`scratchnet bench gemm` times, for side-by-side runs.

Usage (in a virtualenv with numpy, and torch for --library torch; scratchnet itself never
depends on Python):

    python3 benches/numpy_gemm.py --threads 1 --sizes 512,1024,2048 \
        --shapes 100x784x100,100x784x50,100x100x50,100x50x10,784x100x100:ta,100x100x784:tb
    python3 benches/numpy_gemm.py --library torch --threads 2 --sizes 1024 --shapes none

Prints CSV with the columns of `scratchnet bench gemm --format csv` (kernel = numpy or
torch), the median GFLOP/s = 2mnk/t over repeated runs within --budget-ms per point, and on
stderr which BLAS ran (OpenBLAS's kernel by threadpoolctl; torch's BLAS_INFO).
"""
import argparse
import os
import re
import sys
import time


def parse_shape(s):
    dims, _, flags = s.partition(":")
    m, k, n = (int(x) for x in dims.replace("×", "x").split("x"))
    return m, k, n, "a" in flags, "b" in flags


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--sizes", default="64,128,256,512,1024,2048")
    ap.add_argument("--shapes", default="100x784x100,100x784x50,100x100x50,100x50x10,"
                    "784x100x100:ta,100x100x784:tb")
    ap.add_argument("--precision", default="f32", choices=["f32", "f64"])
    ap.add_argument("--budget-ms", type=float, default=300)
    ap.add_argument("--library", default="numpy", choices=["numpy", "torch"])
    args = ap.parse_args()
    # The BLAS thread count must be fixed before numpy loads OpenBLAS.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    # Some machines pin OpenBLAS to its AVX2 kernels (OPENBLAS_CORETYPE=Haswell, a fixed L2
    # size) to work around old builds; a user's numpy does not run like that, so neither does
    # this comparison. Only this process is affected.
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        os.environ.pop(var, None)
    import numpy as np

    try:
        from threadpoolctl import threadpool_info

        for pool in threadpool_info():
            if pool.get("internal_api") == "openblas":
                print(f"# openblas {pool.get('version')}: architecture {pool.get('architecture')}, "
                      f"{pool.get('num_threads')} thread(s)", file=sys.stderr)
    except ImportError:
        print("# (pip install threadpoolctl to see which OpenBLAS kernel ran)", file=sys.stderr)

    if args.library == "torch":
        import torch

        torch.set_num_threads(args.threads)
        blas = re.search(r"BLAS_INFO=(\w+)", torch.__config__.show())
        print(f"# torch {torch.__version__}: BLAS {blas.group(1) if blas else '?'}, "
              f"{torch.get_num_threads()} thread(s), CPU capability "
              f"{torch.backends.cpu.get_cpu_capability()}", file=sys.stderr)

        def matmul(a, b, out):
            torch.mm(a, b, out=out)

        def convert(x):
            return torch.from_numpy(np.ascontiguousarray(x))

        empty = torch.empty
    else:
        matmul = np.matmul

        def convert(x):
            return x

        def empty(m, n, dtype):
            return np.empty((m, n), dtype=dtype)

    dtype = np.float32 if args.precision == "f32" else np.float64
    rng = np.random.default_rng(42)
    problems = []
    if args.sizes != "none":
        problems += [(n, n, n, False, False) for n in map(int, args.sizes.split(","))]
    if args.shapes != "none":
        problems += [parse_shape(s) for s in args.shapes.split(",")]
    print("kernel,m,k,n,transpose,threads,precision,gflops,pct_peak,speedup_vs_naive")
    for m, k, n, ta, tb in problems:
        # A transposed operand is stored the other way round and passed as a view, as ours.
        a = convert(rng.uniform(-1, 1, (k, m) if ta else (m, k)).astype(dtype))
        b = convert(rng.uniform(-1, 1, (n, k) if tb else (k, n)).astype(dtype))
        a = a.T if ta else a
        b = b.T if tb else b
        if args.library == "torch":
            out = empty(m, n, dtype=torch.float32 if dtype == np.float32 else torch.float64)
        else:
            out = empty(m, n, dtype=dtype)
        matmul(a, b, out=out)
        rates = []
        start = time.perf_counter()
        while len(rates) < 3 or time.perf_counter() - start < args.budget_ms / 1000:
            t = time.perf_counter()
            matmul(a, b, out=out)
            rates.append(2 * m * n * k / (time.perf_counter() - t) / 1e9)
        rates.sort()
        mid = len(rates) // 2
        med = rates[mid] if len(rates) % 2 else (rates[mid - 1] + rates[mid]) / 2
        trans = {(False, False): "none", (True, False): "a", (False, True): "b"}.get((ta, tb), "ab")
        print(f"{args.library},{m},{k},{n},{trans},{args.threads},{args.precision},{med:.3f},,")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
