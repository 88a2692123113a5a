#!/usr/bin/env python3
"""numpy's `@` (OpenBLAS) on the problems `scratchnet bench gemm` times, for side-by-side runs.

Usage (in a virtualenv with numpy; scratchnet itself never depends on Python):

    python3 benches/numpy_gemm.py --threads 1 --sizes 512,1024,2048 \
        --shapes 100x784x100,100x784x50,100x100x50,100x50x10,784x100x100:ta,100x100x784:tb

Prints CSV with the columns of `scratchnet bench gemm --format csv` (kernel = numpy), the
median GFLOP/s = 2mnk/t over repeated runs within --budget-ms per point.
"""
import argparse
import os
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

    dtype = np.float32 if args.precision == "f32" else np.float64
    rng = np.random.default_rng(42)
    problems = []
    if args.sizes != "none":
        problems += [(n, n, n, False, False) for n in map(int, args.sizes.split(","))]
    if args.shapes != "none":
        problems += [parse_shape(s) for s in args.shapes.split(",")]
    print("kernel,m,k,n,transpose,threads,precision,gflops,pct_peak,speedup_vs_naive")
    for m, k, n, ta, tb in problems:
        a = rng.uniform(-1, 1, (k, m) if ta else (m, k)).astype(dtype)
        b = rng.uniform(-1, 1, (n, k) if tb else (k, n)).astype(dtype)
        a = a.T if ta else a
        b = b.T if tb else b
        out = np.empty((m, n), dtype=dtype)
        np.matmul(a, b, out=out)
        rates = []
        start = time.perf_counter()
        while len(rates) < 3 or time.perf_counter() - start < args.budget_ms / 1000:
            t = time.perf_counter()
            np.matmul(a, b, out=out)
            rates.append(2 * m * n * k / (time.perf_counter() - t) / 1e9)
        rates.sort()
        mid = len(rates) // 2
        med = rates[mid] if len(rates) % 2 else (rates[mid - 1] + rates[mid]) / 2
        trans = {(False, False): "none", (True, False): "a", (False, True): "b"}.get((ta, tb), "ab")
        print(f"numpy,{m},{k},{n},{trans},{args.threads},{args.precision},{med:.3f},,")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
