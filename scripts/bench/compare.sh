#!/usr/bin/env bash
# Runs `expertlock bench` (release build) and scripts/bench/pytorch_reference.py on the same configs,
# batch and threads, one after the other, and prints tokens/s, GFLOP/s, peak RSS and the ratios.
#
#   scripts/bench/compare.sh [--configs "A B"] [--modes "forward train"] [--threads 2]
#                            [--batch 8] [--seq 256] [--warmup 2] [--iterations 10] [--rounds 1]
#                            [--no-build]
#
# --rounds N runs each (config, mode) N times, alternating the two sides, with a `bench gemm` after
# each pair: on a shared host whose speed drifts (a VM with noisy neighbours), each round's ratio
# compares the two sides under the same conditions. The table then shows per side the median over
# rounds, and the ratio as the median of the rounds' ratios with their range.
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
rounds=1
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
        --rounds) rounds="$2"; shift 2 ;;
        --no-build) build=0; shift ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
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
tag() {  # adds side, config, mode and round to a JSON object on stdin
    "$python" -c "import json,sys; r=json.load(sys.stdin); r.update(side='$1', config='$2', mode='$3', round=$4); print(json.dumps(r))"
}
for name in $configs; do
    config="$name"
    [[ -f "scripts/bench/configs/config-$name.json" ]] && config="scripts/bench/configs/config-$name.json"
    for mode in $modes; do
        for ((round = 1; round <= rounds; round++)); do
            if "$expertlock" bench --help 2>/dev/null | grep -qE "^ +$mode( |$)"; then
                echo "[$round/$rounds] expertlock bench $mode --config $config ${common[*]}" >&2
                "$expertlock" bench "$mode" --config "$config" "${common[@]}" --json | tag expertlock "$name" "$mode" "$round" >>"$results"
            else
                echo "expertlock bench $mode: not implemented yet, PyTorch only" >&2
            fi
            echo "[$round/$rounds] pytorch_reference.py $mode --config $config ${common[*]}" >&2
            "$python" scripts/bench/pytorch_reference.py "$mode" --config "$config" "${common[@]}" 2>/dev/null \
                | tag pytorch "$name" "$mode" "$round" >>"$results"
            "$expertlock" bench gemm --size 2048 --threads "$threads" --skip-fallback --json \
                | tag gemm "$name" "$mode" "$round" >>"$results"
        done
    done
done

"$python" - "$results" <<'EOF'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
runs = {}  # (config, mode) -> side -> [result per round]
gemms = {}  # (config, mode, round) -> GFLOP/s of the bench gemm right after that pair
for r in rows:
    if r["side"] == "gemm":
        gemms[(r["config"], r["mode"], r["round"])] = r["gflops"]
    else:
        runs.setdefault((r["config"], r["mode"]), {}).setdefault(r["side"], []).append(r)
median = statistics.median
print(f"{'config':<7}{'mode':<9}{'side':<12}{'tokens/s':>11}{'GFLOP/s':>10}{'peak RSS MB':>13}{'cpu s/it':>10}{'wall s/it':>11}")
summary = {}
for (config, mode), sides in runs.items():
    for side in ("expertlock", "pytorch"):
        rs = sides.get(side)
        if rs:
            print(f"{config:<7}{mode:<9}{side:<12}{median(r['tokens_per_s'] for r in rs):>11.0f}"
                  f"{median(r['gflops'] for r in rs):>10.1f}{max(r['peak_rss_bytes'] for r in rs) / 2**20:>13.0f}"
                  f"{median(r['cpu_seconds_per_iteration'] for r in rs):>10.3f}{median(r['seconds_median'] for r in rs):>11.3f}")
    summary[f"{config}/{mode}"] = {s: round(median(r["tokens_per_s"] for r in rs), 1) for s, rs in sides.items()}
    ours, theirs = sides.get("expertlock"), sides.get("pytorch")
    if ours and theirs:
        by_round = {r["round"]: r["tokens_per_s"] for r in theirs}
        ratios = [r["tokens_per_s"] / by_round[r["round"]] for r in ours if r["round"] in by_round]
        spread = f", rounds {min(ratios):.2f}-{max(ratios):.2f}" if len(ratios) > 1 else ""
        rounds = f", median of {len(ratios)} rounds" if len(ratios) > 1 else ""
        print(f"{config:<7}{mode:<9}{'ratio':<12}{median(ratios):>10.2f}x  (expertlock / pytorch tokens/s{rounds}{spread})")
        summary[f"{config}/{mode}"]["ratio"] = round(median(ratios), 3)
    if ours and mode == "forward":
        roof = [gemms[(config, mode, r["round"])] for r in ours]
        share = [r["gflops"] / g for r, g in zip(ours, roof)]
        print(f"{config:<7}{mode:<9}{'roof':<12}{median(share):>10.0%}  of bench gemm ({median(roof):.1f} GFLOP/s)"
              f"; peak RSS {max(r['peak_rss_bytes'] / r['weights_bytes'] for r in ours):.2f}x the weights' bytes")
print(json.dumps(summary))
EOF
