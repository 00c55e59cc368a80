#!/usr/bin/env python3
"""GFLOP/s of numpy's float32 matmul at n×n×n (best of --repeats), the reference for `expertlock bench gemm`.
Prints one JSON object. Usage: python3 scripts/bench/numpy_gemm.py [--size 2048] [--repeats 3]"""
import argparse
import json
import time

import numpy as np

p = argparse.ArgumentParser()
p.add_argument("--size", type=int, default=2048)
p.add_argument("--repeats", type=int, default=3)
a = p.parse_args()
rng = np.random.default_rng(1)
x = rng.random((a.size, a.size), dtype=np.float32) - 0.5
y = rng.random((a.size, a.size), dtype=np.float32) - 0.5
x @ y  # warm-up
best = min((lambda t0: (x @ y, time.perf_counter() - t0)[1])(time.perf_counter()) for _ in range(a.repeats))
print(json.dumps({"size": a.size, "numpy_gflops": 2 * a.size ** 3 / best / 1e9, "numpy_version": np.__version__}))
