#!/usr/bin/env bash
# Real-shape training step: `expertlock train --trainable experts` against PyTorch + transformers doing the same
# steps (scripts/bench/pytorch_train_step.py), in float32 on both sides (what `expertlock train` computes in),
# on a random-init BF16 checkpoint with Qwen3-30B-A3B's widths (hidden 2048, 32/4 heads of 128, 128 experts of
# 768, top-8; scripts/bench/make_real_shape_checkpoint.py) and one layer (four layers with AdamW state in
# float32 need ~39 GB).
#
#   scripts/bench/compare_train_step.sh [--rounds 3] [--steps 3] [--batch 4] [--seq 256] [--threads 2]
#                                       [--layers 1] [--experts grouped_mm] [--dir DIR] [--no-build]
#
# Both sides: batches of --batch examples of --seq tokens cut from WikiText-2's test split (Mixtral tokenizer),
# next-token cross-entropy, only the routed experts train, no load-balancing loss, gradient clipping at 1.0,
# AdamW (lr 1e-3, weight decay 0.01), no warm-up. The ids are 255·N + 1 tokens so that every example of either
# side is a full --seq window (expertlock's chunks overlap by one token, PyTorch's do not): the same tokens per
# step. Rounds alternate ExpertLock, PyTorch; both report each step's wall time ("step_seconds": the step alone,
# not loading, nor expertlock's final save). Two figures per side: the first step (it also allocates the
# gradients and AdamW's moments, ~10 GB of fresh memory at these widths) and the median of the later steps
# (steady state); each ratio is the median of the rounds' PyTorch/ExpertLock ratios. --experts picks transformers'
# experts_implementation (eager, batched_mm, grouped_mm). Environment: PYTHON, SCRATCH, DATA as
# compare_real_shapes.sh.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
rounds=3
steps=3
batch=4
seq=256
threads=2
layers=1
experts=grouped_mm
dir=""
build=1
while [[ $# -gt 0 ]]; do
    case "$1" in
        --rounds) rounds="$2"; shift 2 ;;
        --steps) steps="$2"; shift 2 ;;
        --batch) batch="$2"; shift 2 ;;
        --seq) seq="$2"; shift 2 ;;
        --threads) threads="$2"; shift 2 ;;
        --layers) layers="$2"; shift 2 ;;
        --experts) experts="$2"; shift 2 ;;
        --dir) dir="$2"; shift 2 ;;
        --no-build) build=0; shift ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) echo "compare_train_step.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

python="${PYTHON:-python3}"
scratch="${SCRATCH:-.build}"
data="${DATA:-$root/../shared/data}"
tokenizer="$data/tokenizers/mixtral-8x7b_mistral-7b-v0.1"
dir="${dir:-$root/$scratch/real-shapes}"
cd "$root"
[[ -f "$tokenizer/tokenizer.json" && -f "$data/wikitext-2/wiki.test.tokens" ]] \
    || { echo "compare_train_step.sh: needs $tokenizer and $data/wikitext-2 (set DATA)" >&2; exit 2; }
if [[ $build == 1 ]]; then swift build -c release --scratch-path "$scratch" --product expertlock >&2; fi
expertlock="$(swift build -c release --scratch-path "$scratch" --show-bin-path)/expertlock"
mkdir -p "$dir"
model="$dir/qwen3-${layers}layer"
if [[ ! -f "$model/config.json" ]]; then
    echo "making the Qwen3-width checkpoint with $layers layer(s) in $model" >&2
    "$python" scripts/bench/make_real_shape_checkpoint.py qwen3 "$model" --tokenizer "$tokenizer" \
        --layers "$layers" >&2
fi
examples=$(( 4 * batch > 16 ? 4 * batch : 16 ))
ids="$dir/wikitext2-train-step-$seq-$examples.json"
"$python" - "$tokenizer/tokenizer.json" "$data/wikitext-2/wiki.test.tokens" "$(( (seq - 1) * examples + 1 ))" "$ids" <<'PY'
import json, sys
from tokenizers import Tokenizer
ids = Tokenizer.from_file(sys.argv[1]).encode(open(sys.argv[2], encoding="utf-8").read()).ids[:int(sys.argv[3])]
json.dump(ids, open(sys.argv[4], "w"))
PY

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
results="$work/results.jsonl"
tag() {
    "$python" -c "import json,sys; r=json.load(sys.stdin); r.update(side='$1', round=$2); print(json.dumps(r))"
}
for ((round = 1; round <= rounds; round++)); do
    echo "[$round/$rounds] expertlock train" >&2
    EXPERTLOCK_THREADS="$threads" "$expertlock" train --model "$model" --ids "$ids" --trainable experts \
        --batch "$batch" --seq "$seq" --steps "$steps" --aux-coef 0 --warmup 0 --out "$work/trained" --overwrite \
        --json 2>/dev/null | tag expertlock "$round" >>"$results"
    echo "[$round/$rounds] pytorch ($experts experts)" >&2
    OMP_NUM_THREADS="$threads" "$python" scripts/bench/pytorch_train_step.py "$model" --ids "$ids" --batch "$batch" \
        --seq "$seq" --steps "$steps" --threads "$threads" --dtype f32 --experts "$experts" 2>/dev/null \
        | tag pytorch "$round" >>"$results"
done

"$python" - "$results" <<'PY'
import json, statistics, sys
median = statistics.median
rows = [json.loads(line) for line in open(sys.argv[1])]
by = {}
for r in rows:
    by.setdefault(r["side"], {})[r["round"]] = r["step_seconds"]
versions = next((f"torch {r['torch']}, transformers {r['transformers']}" for r in rows if "torch" in r), "")
print(f"float32 training step (seconds); PyTorch side: {versions}")
def first(s): return s[0]
def later(s): return median(s[1:]) if len(s) > 1 else float("nan")
for side, runs in by.items():
    print(f"{side:<11} first step {median(first(s) for s in runs.values()):8.2f}   later steps (median) "
          f"{median(later(s) for s in runs.values()):8.2f}   rounds " + "; ".join(
              ", ".join(f"{x:.2f}" for x in s) for s in runs.values()))
el, pt = by.get("expertlock", {}), by.get("pytorch", {})
for name, f in (("first step", first), ("later steps", later)):
    ratios = [f(pt[k]) / f(el[k]) for k in el if k in pt]
    if ratios:
        print(f"ratio PyTorch/ExpertLock, {name}: {median(ratios):.2f}x (rounds {min(ratios):.2f}-{max(ratios):.2f})")
PY
