#!/usr/bin/env bash
# A scripted first-user pass (issue 23): the README's "Auditing your own checkpoint" steps, then the
# inputs people actually produce, on the demo's own models (`expertlock demo --quick`) and the
# built-in corpus. Checks every exit code, that each refusal names the file it is about, and that
# the sha256 of every input file is the same after the pass as before it.
#
#   scripts/new-user-pass.sh [path/to/expertlock]      (default: .build/release/expertlock)
#   DEMO_OUT=dir  reuse a finished `demo --quick` folder instead of running one (CI passes its own)
#
# Runs in well under 3 minutes on 2 cores with a release build. Exit 0: every check held.
set -uo pipefail
cd "$(dirname "$0")/.."
E=${1:-.build/release/expertlock}
[ -x "$E" ] || { echo "no expertlock binary at $E (swift build -c release --product expertlock)"; exit 1; }
E=$(cd "$(dirname "$E")" && pwd)/$(basename "$E")
W=$(mktemp -d /tmp/expertlock-new-user.XXXXXX)
trap 'rm -rf "$W"' EXIT
started=$(date +%s)
failures=0
checks=0

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
# expect RC DESCRIPTION -- COMMAND...: runs the command (stdout to $W/out, stderr to $W/err).
expect() {
    local want=$1 what=$2
    shift 3
    checks=$((checks + 1))
    "$@" > "$W/out" 2> "$W/err"
    local got=$?
    if [ "$got" != "$want" ]; then
        fail "$what: exit $got, expected $want: $* ($(tail -3 "$W/err" | tr '\n' ' '))"
        return 1
    fi
    return 0
}
# names TEXT...: the last command's stderr holds every TEXT (the file it is about, the problem).
names() {
    for text in "$@"; do
        grep -qF -- "$text" "$W/err" || fail "stderr does not contain '$text': $(tail -2 "$W/err" | tr '\n' ' ')"
    done
}
stdout_has() { grep -qF -- "$1" "$W/out" || fail "stdout does not contain '$1'"; }
stdout_lacks() { ! grep -qF -- "$1" "$W/out" || fail "stdout contains '$1'"; }

# --- The inputs: the demo's models and the built-in corpus -------------------------------------
if [ -n "${DEMO_OUT:-}" ]; then
    D=$DEMO_OUT
else
    D=$W/demo
    "$E" demo --quick --out "$D" > /dev/null 2>&1 || { echo "demo --quick failed"; exit 1; }
fi
M=$D/models/standard
OTHER=$D/models/entangled
[ -f "$M/config.json" ] && [ -f "$OTHER/config.json" ] || { echo "no demo models in $D/models"; exit 1; }
expect 0 "corpus" -- "$E" corpus --out "$W/data" --tokens 2000
DATA=$W/data
# MNLI in its usual public JSONL form, a CRLF copy of the LM text, an empty file.
printf '%s\n' '{"premise": "the market rose", "hypothesis": "prices went up", "label": 0}' \
    '{"premise": "rain is expected", "hypothesis": "it will be dry", "label": "contradiction"}' > "$W/mnli.jsonl"
sed 's/$/\r/' "$DATA/lm.valid.txt" > "$W/lm.valid.crlf.txt"
: > "$W/empty.txt"
inputs=$(find "$M" "$OTHER" "$DATA" "$W/mnli.jsonl" "$W/lm.valid.crlf.txt" "$W/empty.txt" -type f | sort)
sha() { for f in $inputs; do sha256sum "$f"; done; }
sha > "$W/before.sha256"

O=$W/out-files
mkdir -p "$O"

# --- The README's audit steps, small ---------------------------------------------------------
expect 0 "1. eval perplexity" -- "$E" eval --model "$M" --task perplexity --data "$DATA/lm.valid.txt" --context 64 --json
expect 0 "1. eval classify" -- "$E" eval --model "$M" --task classify --data "$DATA/sentiment.dev.jsonl" --limit 40 --json
expect 0 "1. eval summarize" -- "$E" eval --model "$M" --task summarize --data "$DATA/summaries.dev.jsonl" --limit 4 \
    --max-new-tokens 8 --json
expect 0 "2. attribute" -- "$E" attribute --model "$M" --task classify --data "$DATA/sentiment.train.jsonl" --limit 80 \
    --out "$O/attr.json"
expect 0 "3. sweep" -- "$E" sweep --model "$M" --task classify --attribution "$O/attr.json" \
    --eval-data "$DATA/sentiment.dev.jsonl" --limit 40 --keep 8,4,2 --seeds 1 --criteria soft --out "$O/sweep"
stdout_has "| strategy | normalised area |"
stdout_lacks '["'
grep -qF "| strategy | normalised area |" "$O/sweep/table.md" || fail "table.md has no resistance table"
grep -qF "| 8 (full) |" "$O/sweep/table.md" || fail "table.md has no '8 (full)' row"
! grep -qE '^\| 8 \|' "$O/sweep/table.md" || fail "table.md repeats the full row as '8'"
grep -q '"metric_name"' "$O/sweep/curve.json" && ! grep -q 'metricName' "$O/sweep/curve.json" \
    || fail "curve.json keys are not snake_case"
expect 0 "4. prune" -- "$E" prune --model "$M" --attribution "$O/attr.json" --keep 2 --out "$O/pruned" --json
expect 0 "5. realign" -- "$E" realign --model "$O/pruned" --task classify --pool "$DATA/sentiment.train.jsonl" \
    --pool-limit 64 --eval-data "$DATA/sentiment.dev.jsonl" --eval-limit 24 --budget 8 --validation 16 --batch 4 \
    --steps 2 --strategy entropy --out "$O/realign"
expect 0 "6. provenance" -- "$E" provenance --original "$M" --suspect "$O/pruned"
expect 0 "7. keygen" -- "$E" keygen --out "$O/owner.key"
head -1 "$O/owner.key" | grep -qx "expertlock-key: ed25519-private" || fail "the private key file has no typed header"
expect 0 "7. lock" -- "$E" lock --model "$M" --key "$O/owner.key" --out "$O/locked"
[ "$(stat -c %i "$M/model.safetensors")" != "$(stat -c %i "$O/locked/model.safetensors")" ] \
    || fail "lock hard-linked the input's weights"
expect 0 "7. train --key" -- "$E" train --model "$O/locked" --key "$O/owner.key" --trainable lora --task classify \
    --data "$DATA/sentiment.train.jsonl" --limit 32 --steps 2 --batch 4 --out "$O/locked-ft"
expect 0 "7. log verify" -- "$E" log verify --model "$O/locked-ft" --public-key "$O/owner.key.pub"

# --- What users actually hand it ---------------------------------------------------------------
# Item 1: an attribution (and a plan) of another model of the same shape.
expect 2 "foreign attribution" -- "$E" prune --model "$OTHER" --attribution "$O/attr.json" --keep 2 --out "$O/x1"
names "$O/attr.json" "another model"
expect 2 "foreign attribution in sweep" -- "$E" sweep --model "$OTHER" --attribution "$O/attr.json" \
    --eval-data "$DATA/sentiment.dev.jsonl" --task classify --limit 8 --keep 2 --seeds 1 --out "$O/x2"
names "$O/attr.json"
expect 2 "foreign plan" -- "$E" prune --model "$OTHER" --plan "$O/pruned/pruning_plan.json" --out "$O/x3"
names "pruning_plan.json"
# Item 2: CRLF text scores as the LF text.
expect 0 "LF perplexity" -- "$E" eval --model "$M" --task perplexity --data "$DATA/lm.valid.txt" --context 64 --json
lf=$(cat "$W/out")
expect 0 "CRLF perplexity" -- "$E" eval --model "$M" --task perplexity --data "$W/lm.valid.crlf.txt" --context 64 --json
crlf=$(cat "$W/out")
[ "$(echo "$lf" | grep -o '"perplexity":[^,]*')" = "$(echo "$crlf" | grep -o '"perplexity":[^,]*')" ] \
    || fail "CRLF text scores differently from LF"
# Items 3, 4, 8: option ranges.
expect 2 "context beyond positions" -- "$E" eval --model "$M" --task perplexity --data "$DATA/lm.valid.txt" --context 100000
names "max_position_embeddings" "$M/config.json"
expect 2 "negative threshold" -- "$E" prune --model "$M" --attribution "$O/attr.json" --threshold=-0.1 --out "$O/x4"
names "--threshold" "out of range"
expect 2 "negative limit" -- "$E" eval --model "$M" --task classify --data "$DATA/sentiment.dev.jsonl" --limit -5
names "--limit" "at least 1"
! grep -q "Missing value" "$W/err" || fail "--limit -5 says 'Missing value'"
# Item 5: swapped key files.
cp "$O/owner.key.pub" "$O/pubcopy"
expect 2 "public key as --key" -- "$E" lock --model "$M" --key "$O/pubcopy" --out "$O/x5"
names "$O/pubcopy" "public key"
expect 2 "private key as --public-key" -- "$E" log verify --model "$O/locked" --public-key "$O/owner.key"
names "$O/owner.key" "private key"
# Item 7: an output that cannot be written.
expect 2 "unwritable output" -- "$E" prune --model "$M" --attribution "$O/attr.json" --keep 2 \
    --out "$DATA/lm.valid.txt/pruned"
names "$DATA/lm.valid.txt/pruned"
! grep -qE 'tmp-|NSCocoa' "$W/err" || fail "the error names a temporary file or a Foundation domain"
# Items 9, 10: a tokenizer of another model, an empty file.
expect 0 "big tokenizer" -- "$E" train-tokenizer --data "$DATA/lm.train.txt" --model bpe --vocab-size 3000 --out "$O/bigtok"
expect 2 "foreign tokenizer" -- "$E" eval --model "$M" --tokenizer "$O/bigtok" --task perplexity --data "$DATA/lm.valid.txt"
names "$O/bigtok/tokenizer.json" "vocab_size"
expect 2 "empty text" -- "$E" eval --model "$M" --task perplexity --data "$W/empty.txt"
names "$W/empty.txt"
# Items 11, 12: MNLI JSONL, --model DIR/config.json.
expect 0 "MNLI JSONL" -- "$E" eval --model "$M" --task classify --data "$W/mnli.jsonl" --json
grep -q '"task":"mnli"' "$W/out" || fail "MNLI JSONL not recognised as mnli"
expect 0 "--model config.json" -- "$E" eval --model "$M/config.json" --task perplexity --data "$DATA/lm.valid.txt" \
    --context 64 --json
# Item 14: a readable eval summary.
expect 0 "eval summary" -- "$E" eval --model "$M" --task perplexity --data "$DATA/lm.valid.txt" --context 64
stdout_has "  perplexity "
stdout_lacks "peak_rss_bytes"
# Item 16: --resume with nothing saved says so.
expect 0 "resume without state" -- "$E" attribute --model "$M" --data "$DATA/lm.valid.txt" --context 64 --limit 4 \
    --out "$O/fresh.json" --resume
names "no saved state"
# Missing and unreadable inputs name themselves.
expect 2 "missing data" -- "$E" eval --model "$M" --task perplexity --data "$W/nope.txt"
names "$W/nope.txt"
expect 2 "missing model" -- "$E" eval --model "$W/nomodel" --task perplexity --data "$DATA/lm.valid.txt"
names "$W/nomodel"

# --- Inputs untouched --------------------------------------------------------------------------
sha > "$W/after.sha256"
checks=$((checks + 1))
if ! cmp -s "$W/before.sha256" "$W/after.sha256"; then
    fail "inputs changed:"
    diff "$W/before.sha256" "$W/after.sha256"
fi

seconds=$(( $(date +%s) - started ))
echo "new-user pass: $checks checks, $failures failed, $(echo "$inputs" | wc -l) input files unchanged, ${seconds}s"
[ "$failures" -eq 0 ]
