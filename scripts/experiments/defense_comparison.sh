#!/usr/bin/env bash
# Issue 22 item 6: the four entanglement defenses against the adaptive attacker on SST-2, measured
# with ExpertLock's own commands only.
#
#   EXPERTLOCK=/path/to/release/expertlock OUT=/tmp/defenses scripts/experiments/defense_comparison.sh
#
# Steps: train a byte-level BPE tokenizer on the owner's SST-2 prompts; train one standard model and
# one model per defense (DEFENSES: method:strength, comma-separated) from scratch on the owner's SST-2
# rows: same config, data, steps, learning rate and seed, the defended ones differ only in
# --entangle-method/--entangle; then one `expertlock audit --model standard --defense … ` whose
# report (OUT/audit/report/README.md, "Defenses against the adaptive attacker") compares, for each
# model, the best attacker's area, drop at k, recovery after re-alignment and AUROC before and after
# pruning, on the whole SST-2 dev set.
#
# Data: the owner trains on train.tsv rows 1..OWNER_ROWS; the attacker's pool is the rows after
# ATTACK_FIRST_ROW (disjoint from the owner's), of which the audit uses the first POOL_LIMIT
# (--pool-limit: attribution on the first 512, the greedy search on the first 128, the threshold
# re-fit on the first 256, active learning over all of them). Evaluation: every row of dev.tsv.
#
# Resumable: a finished step is skipped (its output exists), training continues from its latest
# checkpoint, the audit continues from its saved stages (--resume). Every command run is appended to
# OUT/commands.log and its wall time to OUT/times.tsv; progress goes to stderr (and OUT/logs/).
# One training seed per model: the comparison does not cover seed variance of training.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DATA=${DATA:-$ROOT/../shared/data}
OUT=${OUT:-$ROOT/defense-comparison-out}

# ---- budgets (sized for ≈ 1 hour on 2 shared cores) ----
VOCAB=${VOCAB:-2048}             # BPE vocabulary trained on the owner's SST-2 prompts
PRESET=${PRESET:-tiny}           # model: Mixtral-style preset (tiny: hidden 64, 2 layers, 8 experts, top-2)
OWNER_ROWS=${OWNER_ROWS:-20000}  # owner's SST-2 training rows (train.tsv rows 1..N)
STEPS=${STEPS:-300}
BATCH=${BATCH:-32}
SEQ=${SEQ:-80}
LR=${LR:-3e-3}
WARMUP=${WARMUP:-20}
SEED=${SEED:-0}                  # training seed (initialisation and batch order), the same for every model
DEFENSES=${DEFENSES:-routing-spread:0.5,output-agreement:0.5,expert-dropout:0.25,pruning-adversarial:0.5}
ATTACK_FIRST_ROW=${ATTACK_FIRST_ROW:-40001}  # attacker's rows start here (disjoint from the owner's)
POOL_LIMIT=${POOL_LIMIT:-2000}   # attacker's pool rows the audit uses (whole-pool scoring each round)
KEEPS=${KEEPS:-4,2,1}            # experts kept per layer in the sweep (k = 8 is the full model)
RANDOM_SUBSETS=${RANDOM_SUBSETS:-5}
PRUNE_K=${PRUNE_K:-2}
AUDIT_SEEDS=${AUDIT_SEEDS:-3}    # re-alignment seeds per strategy
STRATEGIES=${STRATEGIES:-random}  # re-alignment strategies (the defense table reports random's recovery)
BUDGET=${BUDGET:-96}
ROUND=${ROUND:-16}
INITIAL=${INITIAL:-16}

EXPERTLOCK=${EXPERTLOCK:-$ROOT/.build/release/expertlock}
[ -x "$EXPERTLOCK" ] || { echo "no expertlock binary at $EXPERTLOCK (set EXPERTLOCK=…)" >&2; exit 2; }
SST=$DATA/glue-sst2
[ -f "$SST/train.tsv" ] && [ -f "$SST/dev.tsv" ] || { echo "no SST-2 in $SST" >&2; exit 2; }
mkdir -p "$OUT"/{data,logs,models}
TIMES=$OUT/times.tsv
COMMANDS=$OUT/commands.log

settings() {
  for v in VOCAB PRESET OWNER_ROWS STEPS BATCH SEQ LR WARMUP SEED DEFENSES ATTACK_FIRST_ROW POOL_LIMIT KEEPS \
    RANDOM_SUBSETS PRUNE_K AUDIT_SEEDS STRATEGIES BUDGET ROUND INITIAL; do
    printf '%s=%s\n' "$v" "${!v}"
  done
}
if [ -f "$OUT/settings.env" ]; then
  if ! diff -q <(settings) "$OUT/settings.env" >/dev/null; then
    echo "$OUT was made with other settings (see $OUT/settings.env); use another OUT or delete it" >&2
    diff <(settings) "$OUT/settings.env" >&2 || true
    exit 2
  fi
else
  settings >"$OUT/settings.env"
fi
{
  echo "binary: $EXPERTLOCK ($(sha256sum "$EXPERTLOCK" | cut -c1-16))"
  echo "commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "machine: $(uname -srm), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2-)"
  echo "started: $(date -u '+%Y-%m-%d %H:%M UTC')"
} >>"$OUT/provenance.txt"

# run NAME DONE_FILE [--json-to FILE] -- COMMAND...: see lib.sh.
. "$ROOT/scripts/experiments/lib.sh"

# ---- data (derived from ../shared/data, under OUT/data) ----
rows() { awk -v first="$1" -v n="$2" 'NR == 1 || (NR > first && NR <= first + n)' "$SST/train.tsv"; }
[ -s "$OUT/data/owner.tsv" ] || rows 1 "$OWNER_ROWS" >"$OUT/data/owner.tsv"
[ -s "$OUT/data/attacker.tsv" ] || rows "$ATTACK_FIRST_ROW" 1000000 >"$OUT/data/attacker.tsv"
# The tokenizer learns the prompt format too, so the verbalizers " negative"/" positive" are single
# tokens (one forward per prompt when scoring).
[ -s "$OUT/data/tokenizer-text.txt" ] || awk -F'\t' 'NR > 1 {
    printf "%s\nQuestion: Is this sentence positive or negative?\nAnswer: %s\n", $1, ($2 == 1 ? "positive" : "negative")
  }' "$OUT/data/owner.tsv" >"$OUT/data/tokenizer-text.txt"

run tokenizer "$OUT/tokenizer/tokenizer.json" -- \
  "$EXPERTLOCK" train-tokenizer --data "$OUT/data/tokenizer-text.txt" --model bpe --vocab-size "$VOCAB" \
  --out "$OUT/tokenizer"

# ---- training: the standard model and one per defense, identical but for the defense ----
# train_model NAME [--entangle S --entangle-method M]
train_model() {
  local name=$1 dir=$OUT/models/$1
  shift
  local resume=()
  if [ ! -e "$OUT/models/$name.json" ]; then
    if compgen -G "$dir/checkpoint-*" >/dev/null; then resume=(--resume); else rm -rf "$dir"; fi
  fi
  run "train-$name" "$OUT/models/$name.json" --json-to "$OUT/models/$name.json" -- \
    "$EXPERTLOCK" train --config "$PRESET" --tokenizer "$OUT/tokenizer" --data "$OUT/data/owner.tsv" --task classify \
    --steps "$STEPS" --batch "$BATCH" --seq "$SEQ" --lr "$LR" --warmup "$WARMUP" --seed "$SEED" "$@" \
    --out "$dir" --save-every 100 --log-every 50 "${resume[@]}" --json
}

IFS=, read -r -a DEFENSE_LIST <<<"$DEFENSES"
NAMES=(standard)
ARGS=("")
for d in "${DEFENSE_LIST[@]}"; do
  NAMES+=("${d%%:*}")
  ARGS+=("--entangle ${d##*:} --entangle-method ${d%%:*}")
done
# PARALLEL trainings at a time, one thread each.
PARALLEL=${PARALLEL:-2}
export EXPERTLOCK_THREADS=${EXPERTLOCK_THREADS:-1}
pids=()
for i in "${!NAMES[@]}"; do
  # shellcheck disable=SC2086  # ARGS holds option words
  train_model "${NAMES[$i]}" ${ARGS[$i]} >>"$OUT/logs/pipeline-${NAMES[$i]}.log" 2>&1 &
  pids+=($!)
  echo "training ${NAMES[$i]} (progress: $OUT/logs/train-${NAMES[$i]}.log)" >&2
  if [ "${#pids[@]}" -ge "$PARALLEL" ]; then
    wait "${pids[0]}" || { echo "training failed: see $OUT/logs/" >&2; exit 1; }
    pids=("${pids[@]:1}")
  fi
done
for p in "${pids[@]}"; do wait "$p" || { echo "training failed: see $OUT/logs/" >&2; exit 1; }; done

# Each model's accuracy on the whole dev set, before the audit (a model at chance is not worth auditing).
for name in "${NAMES[@]}"; do
  run "eval-$name" "$OUT/models/$name-dev.json" --json-to "$OUT/models/$name-dev.json" -- \
    "$EXPERTLOCK" eval --model "$OUT/models/$name" --task classify --data "$SST/dev.tsv" --context "$SEQ" --batch 32 \
    --json
done

# ---- the audit: the standard model, every defended one beside it ----
defense_args=()
for name in "${NAMES[@]:1}"; do defense_args+=(--defense "$OUT/models/$name"); done
export EXPERTLOCK_THREADS=2
run audit "$OUT/audit/report/results.json" --json-to "$OUT/audit.json" -- \
  "$EXPERTLOCK" audit --model "$OUT/models/standard" "${defense_args[@]}" --data "$OUT/data/attacker.tsv" \
  --pool-limit "$POOL_LIMIT" --eval-data "$SST/dev.tsv" --keep "$KEEPS" --random-subsets "$RANDOM_SUBSETS" \
  --prune-k "$PRUNE_K" --seeds "$AUDIT_SEEDS" --strategy "$STRATEGIES" --budget "$BUDGET" --batch "$ROUND" \
  --initial "$INITIAL" --seq "$SEQ" --out "$OUT/audit" --resume --json
echo "finished: $(date -u '+%Y-%m-%d %H:%M UTC')" >>"$OUT/provenance.txt"
echo "report: $OUT/audit/report/README.md" >&2
