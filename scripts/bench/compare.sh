#!/usr/bin/env bash
# Runs `expertlock bench` (release build) and scripts/bench/pytorch_reference.py on the same configs,
# batch and threads, one after the other, and prints tokens/s, GFLOP/s, peak RSS and the ratios.
#
#   scripts/bench/compare.sh [--configs "A B"] [--modes "forward train"] [--threads 2]
#                            [--batch 8] [--seq 256] [--warmup 2] [--iterations 10] [--no-build]
#
# A config name X means scripts/bench/configs/config-X.json (both sides read that file); any other
# value is passed as a path. Environment: SCRATCH (SwiftPM scratch path, default .build), PYTHON
# (default python3). A mode the Swift bench lacks is run on PyTorch only, and the ratio left blank.
# The machine should be otherwise idle: both sides report `cpu_seconds_per_iteration`, and the Swift
# figure far below threads × seconds means other processes took the cores during the run.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
configs="A B"
modes="forward train"
threads=2
batch=8
seq=256
warmup=2
iterations=10
build=1
while [[ $# -gt 0 ]]; do
    case "$1" in
        --configs) configs="$2"; shift 2 ;;
        --modes) modes="$2"; shift 2 ;;
        --threads) threads="$2"; shift 2 ;;
        --batch) batch="$2"; shift 2 ;;
        --seq) seq="$2"; shift 2 ;;
        --warmup) warmup="$2"; shift 2 ;;
        --iterations) iterations="$2"; shift 2 ;;
        --no-build) build=0; shift ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "compare.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

scratch="${SCRATCH:-.build}"
python="${PYTHON:-python3}"
cd "$root"
if [[ $build == 1 ]]; then
    swift build -c release --scratch-path "$scratch" --product expertlock >&2
fi
expertlock="$(swift build -c release --scratch-path "$scratch" --show-bin-path)/expertlock"

results="$(mktemp)"
trap 'rm -f "$results"' EXIT
common=(--batch "$batch" --seq "$seq" --threads "$threads" --warmup "$warmup" --iterations "$iterations")
for name in $configs; do
    config="$name"
    [[ -f "scripts/bench/configs/config-$name.json" ]] && config="scripts/bench/configs/config-$name.json"
    for mode in $modes; do
        if "$expertlock" bench --help 2>/dev/null | grep -qE "^ +$mode( |$)"; then
            echo "expertlock bench $mode --config $config ${common[*]}" >&2
            "$expertlock" bench "$mode" --config "$config" "${common[@]}" --json \
                | "$python" -c "import json,sys; r=json.load(sys.stdin); r['side']='expertlock'; r['config']='$name'; print(json.dumps(r))" >>"$results"
        else
            echo "expertlock bench $mode: not implemented yet, PyTorch only" >&2
        fi
        echo "pytorch_reference.py $mode --config $config ${common[*]}" >&2
        "$python" scripts/bench/pytorch_reference.py "$mode" --config "$config" "${common[@]}" 2>/dev/null \
            | "$python" -c "import json,sys; r=json.load(sys.stdin); r['side']='pytorch'; r['config']='$name'; print(json.dumps(r))" >>"$results"
    done
done

echo "expertlock bench gemm --size 2048 --threads $threads --skip-fallback" >&2
gemm="$("$expertlock" bench gemm --size 2048 --threads "$threads" --skip-fallback --json)"

"$python" - "$results" "$gemm" <<'EOF'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
gemm = json.loads(sys.argv[2])["gflops"]
table = {}
for r in rows:
    table.setdefault((r["config"], r["mode"]), {})[r["side"]] = r
print(f"{'config':<7}{'mode':<9}{'side':<12}{'tokens/s':>11}{'GFLOP/s':>10}{'peak RSS MB':>13}{'cpu s/it':>10}{'wall s/it':>11}")
for (config, mode), sides in table.items():
    for side in ("expertlock", "pytorch"):
        r = sides.get(side)
        if r:
            print(f"{config:<7}{mode:<9}{side:<12}{r['tokens_per_s']:>11.0f}{r['gflops']:>10.1f}"
                  f"{r['peak_rss_bytes'] / 2**20:>13.0f}{r['cpu_seconds_per_iteration']:>10.3f}{r['seconds_median']:>11.3f}")
    if "expertlock" in sides and "pytorch" in sides:
        ratio = sides["expertlock"]["tokens_per_s"] / sides["pytorch"]["tokens_per_s"]
        print(f"{config:<7}{mode:<9}{'ratio':<12}{ratio:>10.2f}x  (expertlock / pytorch tokens/s)")
    ours = sides.get("expertlock")
    if ours and mode == "forward":
        print(f"{config:<7}{mode:<9}{'roof':<12}{ours['gflops'] / gemm:>10.0%}  of bench gemm ({gemm:.1f} GFLOP/s)"
              f"; peak RSS {ours['peak_rss_bytes'] / ours['weights_bytes']:.2f}x the weights' bytes")
print(json.dumps({f"{c}/{m}": {s: round(r["tokens_per_s"], 1) for s, r in sides.items()} for (c, m), sides in table.items()}))
EOF
