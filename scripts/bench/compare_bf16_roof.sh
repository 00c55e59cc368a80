#!/usr/bin/env bash
# The BF16 roof of this machine: ExpertLock's products with BF16 weights (`expertlock bench gemm`: A·Wᵀ,
# 2048³, f32 and bf16, wall clock) against PyTorch's matmul in float32 and bfloat16 (oneDNN) at the same
# size and thread counts, one after the other, and the core's register-only peak from stored_gemm_micro.c
# when a C compiler is there. Read the real-shape tokens/s against it: GFLOP per token × tokens/s.
#
#   scripts/bench/compare_bf16_roof.sh [--size 2048] [--threads "1 2"] [--expertlock PATH]
#
# Environment: PYTHON (default python3), CC (default clang).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
size=2048
threads="1 2"
expertlock=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --size) size="$2"; shift 2 ;;
        --threads) threads="$2"; shift 2 ;;
        --expertlock) expertlock="$2"; shift 2 ;;
        -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
        *) echo "compare_bf16_roof.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
python="${PYTHON:-python3}"
cd "$root"
if [[ -z $expertlock ]]; then
    swift build -c release --product expertlock >&2
    expertlock="$(swift build -c release --show-bin-path)/expertlock"
fi
micro="$(mktemp)"
trap 'rm -f "$micro"' EXIT
if "${CC:-clang}" -O3 -ISources/CTensorKernels/include scripts/bench/stored_gemm_micro.c \
    Sources/CTensorKernels/StoredGemmKernels.c -o "$micro" -lm 2>/dev/null; then
    "$micro" 0.1 peak
else
    echo "(no ${CC:-clang}: register-only peak not measured)"
fi
for t in $threads; do
    EXPERTLOCK_THREADS="$t" "$expertlock" bench gemm --size "$size" --threads "$t" --skip-fallback --repeats 5 --json
    OMP_NUM_THREADS="$t" "$python" scripts/bench/pytorch_matmul.py --size "$size" --threads "$t" --repeats 5
done
