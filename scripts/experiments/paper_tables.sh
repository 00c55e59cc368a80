#!/usr/bin/env bash
# The paper's Tables 1, 2, 4, 5 and Figure 1 on real data (WikiText-2, GLUE SST-2), measured with
# ExpertLock's own commands only (issue #11, and the WikiText-2 part of issue #7).
#
#   scripts/experiments/paper_tables.sh            # everything, then docs/RESULTS.md
#   EXPERTLOCK=.build-x/release/expertlock OUT=/tmp/exp scripts/experiments/paper_tables.sh
#   OUT=/tmp/exp2 RERUN=experiments-out scripts/experiments/paper_tables.sh   # a second run, compared with the first
#
# Steps: train a BPE tokenizer on WikiText-2 train; for each training seed (TRAIN_SEEDS, 3 by default)
# train a standard and an entangled 8-expert top-2 Mixtral-style MoE on it (language modelling);
# continue both on SST-2 (classification); attribute experts on the general corpus (WikiText-2 valid),
# on one WikiText topic (tropical-cyclone articles) and on SST-2 prompts; prunability sweeps (top-k by
# soft routing mass and k random experts, random subsets drawn per model and task); prune the SST-2
# models to their top-2 SST-2 experts per layer; re-align them with active learning (random vs entropy,
# 3 seeds, target relative to the unpruned model, the whole pool scored); write docs/RESULTS.md with
# scripts/experiments/format_results.py (mean ± SD over training seeds, each finding with its interval).
# RESULTS.md is written only by this script: edit the generator, never the file.
#
# Evaluation sets: SST-2 accuracy on the whole dev set (872 rows); perplexity on whole articles sampled
# across the WikiText-2 test file (every EVERY_NTH-th article, 15 of its 60 by default), and on the
# whole held-out cyclone file.
#
# Resumable: every step is skipped when its output exists, training continues from its latest
# checkpoint (--resume) and re-alignment from its latest round state. Everything goes under $OUT
# (per training seed under $OUT/seed-N);
# every command run is appended to $OUT/commands.log and its wall time to $OUT/times.tsv.
# Needs ../shared/data (or DATA=...) and python3 for the report only (REPORT=0 skips it).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DATA=${DATA:-$ROOT/../shared/data}
OUT=${OUT:-$ROOT/experiments-out}
REPORT=${REPORT:-1}
RESULTS_MD=${RESULTS_MD:-$ROOT/docs/RESULTS.md}
RERUN=${RERUN:-}                # output folder of an earlier run to compare with, value by value (optional)
RERUN_LABEL=${RERUN_LABEL:-}    # what that run was, in words, for the report
SCHEDULE_BASELINE=${SCHEDULE_BASELINE:-}              # a run with another re-alignment schedule (optional): its
SCHEDULE_BASELINE_LABEL=${SCHEDULE_BASELINE_LABEL:-}  # re-alignment rows join RESULTS.md's schedule check

# ---- budgets (the whole run must fit about 2 hours on 2 shared cores) ----
VOCAB=${VOCAB:-4096}            # BPE vocabulary trained on WikiText-2 train
HIDDEN=${HIDDEN:-256}           # model: Mixtral-style, 8 experts, top-2
LAYERS=${LAYERS:-4}
INTERMEDIATE=${INTERMEDIATE:-768}
HEADS=${HEADS:-4}
KV_HEADS=${KV_HEADS:-2}
LM_STEPS=${LM_STEPS:-1000}     # language-model pre-training (both models): 2M tokens, about one epoch
LM_BATCH=${LM_BATCH:-16}
LM_SEQ=${LM_SEQ:-128}
LM_LR=${LM_LR:-3e-3}
LM_WARMUP=${LM_WARMUP:-50}
SAVE_EVERY=${SAVE_EVERY:-100}
ENTANGLE_METHOD=${ENTANGLE_METHOD:-routing-spread}
ENTANGLE=${ENTANGLE:-0.5}
SST_TRAIN_ROWS=${SST_TRAIN_ROWS:-20000}   # owner's SST-2 fine-tuning rows (train.tsv rows 1..N)
SST_STEPS=${SST_STEPS:-500}
SST_BATCH=${SST_BATCH:-16}
SST_SEQ=${SST_SEQ:-64}
SST_LR=${SST_LR:-1e-3}
ATTACK_FIRST_ROW=${ATTACK_FIRST_ROW:-40001}  # attacker's SST-2 rows start here (disjoint from the owner's)
ATTR_ROWS=${ATTR_ROWS:-512}     # attacker's attribution prompts
POOL_ROWS=${POOL_ROWS:-2000}    # attacker's unlabeled pool (labels = oracle)
CONTEXT=${CONTEXT:-256}         # perplexity window and attribution sequence length
LM_ATTR_SEQS=${LM_ATTR_SEQS:-48}   # attribution sequences of $CONTEXT tokens (general corpus)
EVERY_NTH=${EVERY_NTH:-4}       # perplexity on every N-th article of WikiText-2 test (whole articles)
KEEPS=${KEEPS:-6,4,2,1}         # k = 8 is the full model, measured by every sweep
SEEDS=${SEEDS:-3}               # re-alignment seeds per strategy
LM_RANDOM=${LM_RANDOM:-5}       # random-expert subsets per k in perplexity sweeps (drawn per model and task)
CLS_RANDOM=${CLS_RANDOM:-10}    # random-expert subsets per k in SST-2 sweeps (drawn per model and task)
REALIGN_BUDGET=${REALIGN_BUDGET:-96}
REALIGN_BATCH=${REALIGN_BATCH:-8}
REALIGN_STEPS=${REALIGN_STEPS:-12}
REALIGN_LR=${REALIGN_LR:-1e-3}
# Labels of a random seed set every strategy would share (0: none). With a seed set, a target reached inside it
# cannot tell the strategies apart ("not resolvable at this round size"), so the strategies pick from round 0.
REALIGN_INITIAL=${REALIGN_INITIAL:-0}
# gated: a round's update is kept only if accuracy on REALIGN_VALIDATION held-out pool rows does not fall.
REALIGN_SCHEDULE=${REALIGN_SCHEDULE:-gated}
REALIGN_VALIDATION=${REALIGN_VALIDATION:-64}
TRAIN_SEEDS=${TRAIN_SEEDS:-0,1,2}        # model initialisation and batch order: one pair of models per seed

# ---- the binary ----
EXPERTLOCK=${EXPERTLOCK:-$ROOT/.build/release/expertlock}
if [ ! -x "$EXPERTLOCK" ]; then
  echo "building $EXPERTLOCK" >&2
  (cd "$ROOT" && swift build -c release --product expertlock)
  EXPERTLOCK=$ROOT/.build/release/expertlock
fi

WIKI=$DATA/wikitext-2
SST=$DATA/glue-sst2
[ -f "$WIKI/wiki.train.tokens" ] && [ -f "$SST/train.tsv" ] || { echo "no data in $DATA" >&2; exit 2; }
mkdir -p "$OUT"/{data,logs}
TIMES=$OUT/times.tsv
COMMANDS=$OUT/commands.log

# Writes the settings once, so the report states the budget the results were made with.
settings() {
  for v in VOCAB HIDDEN LAYERS INTERMEDIATE HEADS KV_HEADS LM_STEPS LM_BATCH LM_SEQ LM_LR LM_WARMUP ENTANGLE_METHOD \
    ENTANGLE SST_TRAIN_ROWS SST_STEPS SST_BATCH SST_SEQ SST_LR ATTACK_FIRST_ROW ATTR_ROWS POOL_ROWS CONTEXT LM_ATTR_SEQS \
    EVERY_NTH KEEPS SEEDS LM_RANDOM CLS_RANDOM REALIGN_BUDGET REALIGN_BATCH REALIGN_STEPS REALIGN_LR REALIGN_INITIAL \
    REALIGN_SCHEDULE REALIGN_VALIDATION TRAIN_SEEDS; do
    printf '%s=%s\n' "$v" "${!v}"
  done
}
if [ -f "$OUT/settings.env" ]; then
  if ! diff -q <(settings) "$OUT/settings.env" >/dev/null; then
    echo "$OUT was made with other budgets (see $OUT/settings.env); use another OUT or delete it" >&2
    diff <(settings) "$OUT/settings.env" >&2 || true
    exit 2
  fi
else
  settings >"$OUT/settings.env"
fi
# Which binary, source and machine each invocation ran with (RESULTS.md names them).
{
  echo "binary: $EXPERTLOCK (sha256 $(sha256sum "$EXPERTLOCK" 2>/dev/null | cut -c1-16))"
  echo "scripts: commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "machine: $(uname -srm), $(nproc) cores,$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2-)"
  echo "started: $(date -u '+%Y-%m-%d %H:%M UTC')"
} >>"$OUT/provenance.txt"

# run NAME DONE_FILE [--json-to FILE] -- COMMAND...: see lib.sh.
. "$ROOT/scripts/experiments/lib.sh"

# ---- data the experiments read (derived from ../shared/data, under $OUT/data) ----
# One WikiText topic: the tropical-cyclone articles (titles with hurricane/typhoon/cyclone/tropical).
# The attacker attributes on those of the train split and is evaluated on those of valid + test.
topic_articles() {
  awk 'BEGIN { keep = 0 }
       /^ = [^=].* = $/ { keep = (tolower($0) ~ /hurricane|typhoon|cyclone|tropical/) }
       keep { print }' "$@"
}
[ -s "$OUT/data/cyclones-train.txt" ] || topic_articles "$WIKI/wiki.train.tokens" >"$OUT/data/cyclones-train.txt"
[ -s "$OUT/data/cyclones-heldout.txt" ] ||
  topic_articles "$WIKI/wiki.valid.tokens" "$WIKI/wiki.test.tokens" >"$OUT/data/cyclones-heldout.txt"
# Whole articles sampled across WikiText-2 test: every EVERY_NTH-th article, from the first.
[ -s "$OUT/data/wikitext-test-sampled.txt" ] ||
  awk -v n="$EVERY_NTH" '/^ = [^=].* = $/ { a++ } a > 0 && (a - 1) % n == 0 { print }' "$WIKI/wiki.test.tokens" \
    >"$OUT/data/wikitext-test-sampled.txt"
# SST-2: the owner fine-tunes on rows 1..SST_TRAIN_ROWS; the attacker holds other rows (attribution
# prompts, the unlabeled pool); accuracy is measured on dev.
sst_rows() { awk -v first="$1" -v n="$2" 'NR == 1 || (NR > first && NR <= first + n)' "$SST/train.tsv"; }
[ -s "$OUT/data/sst2-owner.tsv" ] || sst_rows 1 "$SST_TRAIN_ROWS" >"$OUT/data/sst2-owner.tsv"
[ -s "$OUT/data/sst2-attacker-attribution.tsv" ] ||
  sst_rows "$ATTACK_FIRST_ROW" "$ATTR_ROWS" >"$OUT/data/sst2-attacker-attribution.tsv"
[ -s "$OUT/data/sst2-attacker-pool.tsv" ] ||
  sst_rows "$((ATTACK_FIRST_ROW + ATTR_ROWS))" "$POOL_ROWS" >"$OUT/data/sst2-attacker-pool.tsv"

# ---- tokenizer and model config ----
run tokenizer "$OUT/tokenizer/tokenizer.json" -- \
  "$EXPERTLOCK" train-tokenizer --data "$WIKI/wiki.train.tokens" --model bpe --vocab-size "$VOCAB" --out "$OUT/tokenizer"

mkdir -p "$OUT/config"
# <s> = 0 and </s> = 1 in the tokenizers train-tokenizer writes.
[ -s "$OUT/config/config.json" ] || cat >"$OUT/config/config.json" <<EOF
{
  "architectures": ["MixtralForCausalLM"],
  "model_type": "mixtral",
  "vocab_size": $VOCAB,
  "hidden_size": $HIDDEN,
  "intermediate_size": $INTERMEDIATE,
  "num_hidden_layers": $LAYERS,
  "num_attention_heads": $HEADS,
  "num_key_value_heads": $KV_HEADS,
  "num_local_experts": 8,
  "num_experts_per_tok": 2,
  "hidden_act": "silu",
  "max_position_embeddings": 1024,
  "rms_norm_eps": 1e-5,
  "rope_theta": 10000.0,
  "router_aux_loss_coef": 0.02,
  "tie_word_embeddings": false,
  "bos_token_id": 0,
  "eos_token_id": 1,
  "torch_dtype": "float32"
}
EOF

# ---- training: language model (standard and entangled), then SST-2 continuation ----
# Everything of one training seed and one variant (standard or entangled), in order, under $OUT/seed-N;
# the two variants of a seed are independent and run side by side (the machine has 2 cores).
variant_pipeline() {
  local seed=$1 variant=$2
  local S_OUT=$OUT/seed-$seed
  local LM=$S_OUT/models/lm-$variant CLS=$S_OUT/models/sst2-$variant P="s$seed"
  local extra=() resume=()
  mkdir -p "$S_OUT"/{models,attribution,sweeps,pruned,realign,noise}
  [ "$variant" = entangled ] && extra=("${ENTANGLE_ARGS[@]}")

  # train_step NAME ARGS...: trains $S_OUT/models/NAME, resuming from its latest checkpoint when there is one.
  train_step() {
    local name=$1 dir=$S_OUT/models/$1
    shift
    local resume=()
    if [ ! -e "$S_OUT/models/$name.json" ]; then
      if compgen -G "$dir/checkpoint-*" >/dev/null; then
        resume=(--resume)
      else
        rm -rf "$dir" # interrupted before its first checkpoint: start again
      fi
    fi
    run "$P-$name" "$S_OUT/models/$name.json" --json-to "$S_OUT/models/$name.json" -- \
      "$EXPERTLOCK" train "$@" --out "$dir" --save-every "$SAVE_EVERY" --seed "$seed" --log-every 20 "${resume[@]}" --json
  }
  train_step "lm-$variant" \
    --config "$OUT/config/config.json" --tokenizer "$OUT/tokenizer" --data "$WIKI/wiki.train.tokens" --task lm \
    --steps "$LM_STEPS" --batch "$LM_BATCH" --seq "$LM_SEQ" --lr "$LM_LR" --warmup "$LM_WARMUP" "${extra[@]}"
  train_step "sst2-$variant" \
    --model "$LM" --data "$OUT/data/sst2-owner.tsv" --task classify \
    --steps "$SST_STEPS" --batch "$SST_BATCH" --seq "$SST_SEQ" --lr "$SST_LR" --warmup 20 "${extra[@]}"

# ---- attribution ----
  local A=$S_OUT/attribution
  run "$P-attr-lm-$variant-general" "$A/lm-$variant-general.json" -- \
    "$EXPERTLOCK" attribute --model "$LM" --data "$WIKI/wiki.valid.tokens" --task perplexity --context "$CONTEXT" \
    --limit "$LM_ATTR_SEQS" --batch 8 --out "$A/lm-$variant-general.json"
  run "$P-attr-lm-$variant-cyclones" "$A/lm-$variant-cyclones.json" -- \
    "$EXPERTLOCK" attribute --model "$LM" --data "$OUT/data/cyclones-train.txt" --task perplexity --context "$CONTEXT" \
    --limit "$LM_ATTR_SEQS" --batch 8 --out "$A/lm-$variant-cyclones.json"
  run "$P-attr-sst2-$variant-task" "$A/sst2-$variant-task.json" -- \
    "$EXPERTLOCK" attribute --model "$CLS" --data "$OUT/data/sst2-attacker-attribution.tsv" --task classify \
    --context "$SST_SEQ" --batch 16 --out "$A/sst2-$variant-task.json"
  run "$P-attr-sst2-$variant-general" "$A/sst2-$variant-general.json" -- \
    "$EXPERTLOCK" attribute --model "$CLS" --data "$WIKI/wiki.valid.tokens" --task perplexity --context "$CONTEXT" \
    --limit "$LM_ATTR_SEQS" --batch 8 --out "$A/sst2-$variant-general.json"

# ---- prunability sweeps (Tables 1, 2 and Figure 1) ----
  # sweep_step NAME MODEL TASK DATA EVAL_DATA ATTRIBUTION RANDOM CONTEXT BATCH: top-k by soft routing mass at
  # every k of $KEEPS (and RANDOM random-expert subsets per k, their seeds drawn from the name and the
  # training seed, so every model and task gets its own), measured on the whole of EVAL_DATA.
  sweep_step() {
    local name=$1
    local first_random
    first_random=$(printf '%s' "$name-$seed" | cksum | cut -d' ' -f1)
    run "$P-sweep-$name" "$S_OUT/sweeps/$name.json" --json-to "$S_OUT/sweeps/$name.json" -- \
      "$EXPERTLOCK" sweep --model "$2" --task "$3" --data "$4" --eval-data "$5" --attribution "$6" \
      --criteria soft --keep "$KEEPS" --seeds "$7" --random-seed "$first_random" --context "$8" --batch "$9" \
      --out "$S_OUT/sweeps/$name" --overwrite --json
  }
  local CY_TRAIN=$OUT/data/cyclones-train.txt CY_HELD=$OUT/data/cyclones-heldout.txt
  local SST_ATTR=$OUT/data/sst2-attacker-attribution.tsv WT_TEST=$OUT/data/wikitext-test-sampled.txt
  # Table 1 / Figure 1a: WikiText-2 test perplexity (sampled articles), experts ranked on the general corpus.
  sweep_step "lm-$variant-general" "$LM" perplexity "$WIKI/wiki.valid.tokens" "$WT_TEST" \
    "$A/lm-$variant-general.json" "$LM_RANDOM" "$CONTEXT" 8
  # Table 1 / Figure 1b: perplexity on held-out cyclone articles, experts ranked on cyclone articles.
  sweep_step "lm-$variant-cyclones" "$LM" perplexity "$CY_TRAIN" "$CY_HELD" \
    "$A/lm-$variant-cyclones.json" "$LM_RANDOM" "$CONTEXT" 8
  # The same held-out cyclone perplexity with experts ranked on the general corpus (no random: above).
  sweep_step "lm-$variant-cyclones-by-general" "$LM" perplexity "$CY_TRAIN" "$CY_HELD" \
    "$A/lm-$variant-general.json" 0 "$CONTEXT" 8
  # Table 2 / Figure 1c: SST-2 dev accuracy, experts ranked on the attacker's SST-2 prompts.
  sweep_step "sst2-$variant-task" "$CLS" classify "$SST_ATTR" "$SST/dev.tsv" \
    "$A/sst2-$variant-task.json" "$CLS_RANDOM" "$SST_SEQ" 16
  # Table 2: the same accuracy with experts ranked on the general corpus.
  sweep_step "sst2-$variant-general" "$CLS" classify "$SST_ATTR" "$SST/dev.tsv" \
    "$A/sst2-$variant-general.json" 0 "$SST_SEQ" 16

# ---- evaluation-set noise of the WikiText-2 test figures (Table 3) ----
  # A sweep stores one perplexity per point. To put the evaluation text's own sampling error into the
  # intervals, the full model and each top-k model (the sweep's masks: prune --mode mask by the same
  # attribution) are scored again with `eval --out`, which keeps each window batch's exact log-likelihood;
  # format_seeds.py resamples those batches in blocks of about one article.
  local NOISE=$S_OUT/noise
  mkdir -p "$NOISE"
  run "$P-noise-lm-$variant-full" "$NOISE/lm-$variant-general-full.json" -- \
    "$EXPERTLOCK" eval --model "$LM" --task perplexity --data "$WT_TEST" --context "$CONTEXT" --batch 8 \
    --out "$NOISE/lm-$variant-general-full.json"
  local k
  for k in ${KEEPS//,/ }; do
    local NOISE_MODEL=$NOISE/lm-$variant-top$k-model
    [ -e "$NOISE/lm-$variant-general-top$k.json" ] && continue
    run "$P-noise-prune-lm-$variant-top$k" "$NOISE_MODEL/.never" -- \
      "$EXPERTLOCK" prune --model "$LM" --attribution "$A/lm-$variant-general.json" --keep "$k" --criterion soft \
      --mode mask --out "$NOISE_MODEL" --overwrite --json
    run "$P-noise-lm-$variant-top$k" "$NOISE/lm-$variant-general-top$k.json" -- \
      "$EXPERTLOCK" eval --model "$NOISE_MODEL" --task perplexity --data "$WT_TEST" --context "$CONTEXT" --batch 8 \
      --out "$NOISE/lm-$variant-general-top$k.json"
    rm -rf "$NOISE_MODEL"
  done

# ---- pruning to the top-2 SST-2 experts and re-alignment (Tables 4, 5) ----
  run "$P-prune-sst2-$variant" "$S_OUT/pruned/sst2-$variant-top2.json" \
    --json-to "$S_OUT/pruned/sst2-$variant-top2.json" -- \
    "$EXPERTLOCK" prune --model "$CLS" --attribution "$A/sst2-$variant-task.json" \
    --keep 2 --criterion soft --mode mask --out "$S_OUT/pruned/sst2-$variant-top2" --overwrite --json
  # The unpruned model's accuracy on the whole dev set (Table 5's "full").
  run "$P-eval-sst2-$variant" "$S_OUT/pruned/sst2-$variant-full-eval.json" \
    --json-to "$S_OUT/pruned/sst2-$variant-full-eval.json" -- \
    "$EXPERTLOCK" eval --model "$CLS" --task classify --data "$SST/dev.tsv" --context "$SST_SEQ" --batch 16 --json
  [ -d "$S_OUT/realign/$variant" ] && resume=(--resume)
  local gate=(--schedule "$REALIGN_SCHEDULE")
  [ "$REALIGN_SCHEDULE" = gated ] && gate+=(--validation "$REALIGN_VALIDATION")
  # The target is relative to the unpruned model (--reference), measured on the same dev rows; entropy
  # scores the whole pool every round.
  run "$P-realign-$variant" "$S_OUT/realign/$variant.json" --json-to "$S_OUT/realign/$variant.json" -- \
    "$EXPERTLOCK" realign --model "$S_OUT/pruned/sst2-$variant-top2" --task classify \
    --pool "$OUT/data/sst2-attacker-pool.tsv" --eval-data "$SST/dev.tsv" --reference "$CLS" \
    --budget "$REALIGN_BUDGET" --batch "$REALIGN_BATCH" --initial "$REALIGN_INITIAL" --strategy random,entropy \
    --seeds "$SEEDS" --seed 0 --steps "$REALIGN_STEPS" --lr "$REALIGN_LR" "${gate[@]}" --seq "$SST_SEQ" \
    --score-batch 16 --no-model --out "$S_OUT/realign/$variant" "${resume[@]}" --json
}
ENTANGLE_ARGS=(--entangle "$ENTANGLE" --entangle-method "$ENTANGLE_METHOD")

# One core per variant: two 2-thread processes on 2 cores would wait on each other at every kernel.
export EXPERTLOCK_THREADS=${EXPERTLOCK_THREADS:-1}
IFS=, read -r -a TRAIN_SEED_LIST <<<"$TRAIN_SEEDS"
for seed in "${TRAIN_SEED_LIST[@]}"; do
  variant_pipeline "$seed" standard >>"$OUT/logs/pipeline-s$seed-standard.log" 2>&1 &
  STANDARD_PID=$!
  variant_pipeline "$seed" entangled >>"$OUT/logs/pipeline-s$seed-entangled.log" 2>&1 &
  ENTANGLED_PID=$!
  echo "training seed $seed: both variants; progress in $OUT/logs/pipeline-s$seed-{standard,entangled}.log" >&2
  status=0
  wait "$STANDARD_PID" || status=1
  wait "$ENTANGLED_PID" || status=1
  [ "$status" = 0 ] || { echo "a variant failed; see $OUT/logs/pipeline-s$seed-*.log, then rerun to resume" >&2; exit 1; }
done

# ---- report ----
if [ "$REPORT" = 1 ]; then
  python3 "$ROOT/scripts/experiments/format_results.py" --out "$OUT" --results "$RESULTS_MD" \
    --figures "$(dirname "$RESULTS_MD")/figures" --sst-dev "$SST/dev.tsv" ${RERUN:+--rerun "$RERUN" --rerun-label "$RERUN_LABEL"} \
    ${SCHEDULE_BASELINE:+--schedule-baseline "$SCHEDULE_BASELINE" --schedule-baseline-label "$SCHEDULE_BASELINE_LABEL"}
  echo "wrote $RESULTS_MD" >&2
fi
