#!/usr/bin/env bash
# Real-shape speed: ExpertLock `eval --task perplexity` in both precisions against PyTorch + transformers in
# float32 and bfloat16, on random-init BF16 checkpoints with the widths of OLMoE-1B-7B and Qwen3-30B-A3B
# (scripts/bench/make_real_shape_checkpoint.py; 4 layers, the Mixtral tokenizer's 32,000 words).
#
#   scripts/bench/compare_real_shapes.sh [--shapes "olmoe qwen3"] [--rounds 3] [--tokens 4096] [--context 512]
#                                        [--batch 4] [--threads 2] [--dir DIR] [--no-build]
#
# Both sides score the same token ids (the first --tokens of WikiText-2's test split through the Mixtral
# tokenizer, BOS first) in windows of --context, --batch windows per forward pass, --threads threads.
# Each round runs the four (ExpertLock f32, PyTorch f32, ExpertLock bf16, PyTorch bf16) one after the
# other, so each round's ratios compare runs under the same load; the table gives each side's median over
# rounds and each ratio as the median of the rounds' ratios (range in brackets). Tokens/s are each tool's
# own figure for the scoring (window tokens / seconds, load excluded); peak RSS is each whole process's.
# Environment: PYTHON (default python3), SCRATCH (SwiftPM scratch path, default .build), DATA (default
# ../shared/data beside the repository).
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
shapes="olmoe qwen3"
rounds=3
tokens=4096
context=512
batch=4
threads=2
dir=""
build=1
while [[ $# -gt 0 ]]; do
    case "$1" in
        --shapes) shapes="$2"; shift 2 ;;
        --rounds) rounds="$2"; shift 2 ;;
        --tokens) tokens="$2"; shift 2 ;;
        --context) context="$2"; shift 2 ;;
        --batch) batch="$2"; shift 2 ;;
        --threads) threads="$2"; shift 2 ;;
        --dir) dir="$2"; shift 2 ;;
        --no-build) build=0; shift ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *) echo "compare_real_shapes.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

python="${PYTHON:-python3}"
scratch="${SCRATCH:-.build}"
data="${DATA:-$root/../shared/data}"
tokenizer="$data/tokenizers/mixtral-8x7b_mistral-7b-v0.1"
dir="${dir:-$root/$scratch/real-shapes}"
cd "$root"
[[ -f "$tokenizer/tokenizer.json" && -f "$data/wikitext-2/wiki.test.tokens" ]] \
    || { echo "compare_real_shapes.sh: needs $tokenizer and $data/wikitext-2 (set DATA)" >&2; exit 2; }
if [[ $build == 1 ]]; then swift build -c release --scratch-path "$scratch" --product expertlock >&2; fi
expertlock="$(swift build -c release --scratch-path "$scratch" --show-bin-path)/expertlock"
mkdir -p "$dir"

for shape in $shapes; do
    if [[ ! -f "$dir/$shape/config.json" ]]; then
        echo "making the $shape checkpoint in $dir/$shape" >&2
        "$python" scripts/bench/make_real_shape_checkpoint.py "$shape" "$dir/$shape" --tokenizer "$tokenizer" >&2
    fi
done
ids="$dir/wikitext2-test-$tokens.json"
"$python" - "$tokenizer/tokenizer.json" "$data/wikitext-2/wiki.test.tokens" "$tokens" "$ids" <<'PY'
import json, sys
from tokenizers import Tokenizer
ids = Tokenizer.from_file(sys.argv[1]).encode(open(sys.argv[2], encoding="utf-8").read()).ids[:int(sys.argv[3])]
json.dump(ids, open(sys.argv[4], "w"))
PY

results="$(mktemp)"
trap 'rm -f "$results"' EXIT
tag() {  # adds side, shape and round to the JSON object on stdin
    "$python" -c "import json,sys; r=json.load(sys.stdin); r.update(side='$1', shape='$2', round=$3); print(json.dumps(r))"
}
for ((round = 1; round <= rounds; round++)); do
    for shape in $shapes; do
        model="$dir/$shape"
        for precision in f32 bf16; do
            echo "[$round/$rounds] $shape expertlock --precision $precision" >&2
            EXPERTLOCK_THREADS="$threads" "$expertlock" eval --model "$model" --task perplexity --ids "$ids" \
                --context "$context" --batch "$batch" --precision "$precision" --json 2>/dev/null \
                | tag "expertlock-$precision" "$shape" "$round" >>"$results"
            echo "[$round/$rounds] $shape pytorch --dtype $precision" >&2
            OMP_NUM_THREADS="$threads" "$python" scripts/bench/pytorch_perplexity.py "$model" --ids "$ids" \
                --dtype "$precision" --context "$context" --batch "$batch" --threads "$threads" 2>/dev/null \
                | tag "pytorch-$precision" "$shape" "$round" >>"$results"
        done
    done
done

"$python" - "$results" "$dir" <<'PY'
import json, os, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
median = statistics.median
def checkpoint_bytes(shape):
    d = os.path.join(sys.argv[2], shape)
    return sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d) if f.endswith(".safetensors"))
versions = next((f"torch {r['torch']}, transformers {r['transformers']}" for r in rows if "torch" in r), "")
print(f"PyTorch side: {versions}")
print(f"{'shape':<7}{'side':<16}{'tokens/s':>10}{'perplexity':>14}{'peak RSS/ckpt':>15}")
for shape in dict.fromkeys(r["shape"] for r in rows):
    size = checkpoint_bytes(shape)
    by = {}
    for r in rows:
        if r["shape"] == shape: by.setdefault(r["side"], {})[r["round"]] = r
    for side, runs in by.items():
        rs = list(runs.values())
        print(f"{shape:<7}{side:<16}{median(r['tokens_per_s'] for r in rs):>10.1f}{rs[0]['perplexity']:>14.6f}"
              f"{max(r['peak_rss_bytes'] for r in rs) / size:>14.2f}x")
    for precision in ("f32", "bf16"):
        ours, theirs = by.get(f"expertlock-{precision}", {}), by.get(f"pytorch-{precision}", {})
        ratios = [ours[k]["tokens_per_s"] / theirs[k]["tokens_per_s"] for k in ours if k in theirs]
        if ratios:
            p, q = next(iter(ours.values()))["perplexity"], next(iter(theirs.values()))["perplexity"]
            print(f"{shape:<7}{'ratio ' + precision:<16}{median(ratios):>9.2f}x  (rounds {min(ratios):.2f}-"
                  f"{max(ratios):.2f}); perplexity relative difference {abs(p - q) / q:.2e}")
PY
