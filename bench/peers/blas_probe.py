"""Probe OpenBLAS in the current environment: which core kernels it picked and its sgemm speed.

Run with OPENBLAS_VERBOSE=2 so OpenBLAS names its core on stderr ("Core: SkylakeX"); the caller reads
that line. Prints one JSON line: seconds and GFLOP/s of the median of 5 float32 2048^3 products.
Usage: python3 blas_probe.py --threads 2
"""
import argparse
import json
import os
import statistics
import time

ap = argparse.ArgumentParser()
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--size", type=int, default=2048)
args = ap.parse_args()
os.environ.setdefault("OPENBLAS_NUM_THREADS", str(args.threads))

import numpy as np  # noqa: E402  (after the thread count is set)

from blasinfo import blas_kind, loaded_blas  # noqa: E402

n = args.size
a = np.random.default_rng(0).random((n, n), dtype=np.float32)
c = np.empty_like(a)
times = []
for _ in range(6):
    t0 = time.perf_counter()
    np.matmul(a, a, out=c)
    times.append(time.perf_counter() - t0)
s = statistics.median(times[1:])
print(json.dumps({"seconds": s, "gflops": 2 * n**3 / s / 1e9, "blas": blas_kind(loaded_blas())}))
