#!/usr/bin/env python3
"""GFLOP/s of PyTorch's matmul at M×N×K in float32 and bfloat16 (oneDNN on CPUs with AVX512-BF16), the roof
`expertlock bench gemm` and the real-shape comparison are read against (scripts/bench/compare_bf16_roof.sh).
Best of --repeats on the wall clock and on the process's CPU-time clock; one JSON object per dtype.

    python3 scripts/bench/pytorch_matmul.py [--size 2048] [--m M --n N --k K] [--threads 2] [--repeats 5]
"""
import argparse
import json
import time

import torch

p = argparse.ArgumentParser()
p.add_argument("--size", type=int, default=2048)
p.add_argument("--m", type=int)
p.add_argument("--n", type=int)
p.add_argument("--k", type=int)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--repeats", type=int, default=5)
a = p.parse_args()
m, n, k = a.m or a.size, a.n or a.size, a.k or a.size
torch.set_num_threads(a.threads)
g = torch.Generator().manual_seed(1)
x32 = torch.rand(m, k, generator=g) - 0.5
w32 = torch.rand(n, k, generator=g) - 0.5  # [out, in], as nn.Linear stores it: y = x·wᵀ
for dtype in (torch.float32, torch.bfloat16):
    x, w = x32.to(dtype), w32.to(dtype)
    torch.nn.functional.linear(x, w)  # warm-up (oneDNN picks and packs its kernels)
    wall, cpu = float("inf"), float("inf")
    for _ in range(a.repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        torch.nn.functional.linear(x, w)
        wall, cpu = min(wall, time.perf_counter() - t0), min(cpu, time.process_time() - c0)
    flops = 2.0 * m * n * k
    print(json.dumps({"m": m, "n": n, "k": k, "dtype": str(dtype).replace("torch.", ""), "threads": a.threads,
                      "gflops_wall": flops / wall / 1e9, "gflops_per_cpu_second": flops / cpu / 1e9,
                      "torch": torch.__version__, "mkldnn_bf16": torch.backends.mkldnn.is_available()}))
