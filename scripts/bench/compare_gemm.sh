#!/usr/bin/env bash
# Runs `expertlock bench gemm` and numpy's matmul at the same size in one go and prints the ratio.
# Usage: scripts/bench/compare_gemm.sh [SIZE]
set -euo pipefail
cd "$(dirname "$0")/../.."
size=${1:-2048}
swift build -c release --product expertlock >/dev/null
ours=$(.build/release/expertlock bench gemm --size "$size" --json)
theirs=$(python3 scripts/bench/numpy_gemm.py --size "$size")
echo "expertlock: $ours"
echo "numpy:      $theirs"
python3 - "$ours" "$theirs" <<'PY'
import json, sys
o, t = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"BLAS path / numpy = {o['blas_gflops'] / t['numpy_gflops']:.2f}   fallback / numpy = {o['fallback_gflops'] / t['numpy_gflops']:.3f}")
PY
