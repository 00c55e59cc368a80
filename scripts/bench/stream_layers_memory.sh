#!/bin/sh
# Peak RSS of `attribute` with and without --stream-layers on a random BF16 checkpoint, and the
# streamed run under an address-space limit (prlimit --as) that the mapped run cannot start under.
# Usage: scripts/bench/stream_layers_memory.sh [WORK_DIR]   (needs a release build of expertlock)
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${EXPERTLOCK:-$ROOT/.build/release/expertlock}
WORK=${1:-/tmp/expertlock-stream-bench}
mkdir -p "$WORK" && cd "$WORK"
[ -f rand8/model.safetensors ] || python3 "$ROOT/scripts/bench/make_random_checkpoint.py" rand8 \
    --hidden 1024 --intermediate 1408 --layers 8 --experts 8 --vocab 8000
python3 -c "import random; r=random.Random(1); print(' '.join(str(r.randrange(8000)) for _ in range(4096)))" > ids.txt
RUN="attribute --model rand8 --ids ids.txt --context 256 --batch 4 --overwrite"
/usr/bin/time -f "mapped:   peak RSS %M kB, %e s" "$BIN" $RUN --out mapped.json > /dev/null
/usr/bin/time -f "streamed: peak RSS %M kB, %e s" "$BIN" $RUN --out streamed.json --stream-layers > /dev/null
cmp mapped.json streamed.json && echo "attribution files identical"
# RLIMIT_AS counts reserved address space (OpenBLAS buffers, thread stacks), not memory: one BLAS
# thread and one malloc arena keep that reservation small.
LIMIT=$((700 * 1024 * 1024))
export MALLOC_ARENA_MAX=1 OPENBLAS_NUM_THREADS=1
/usr/bin/time -f "streamed, --as=$LIMIT: peak RSS %M kB, %e s" prlimit --as=$LIMIT "$BIN" $RUN --out limited.json --stream-layers > /dev/null
cmp mapped.json limited.json && echo "limited attribution identical"
prlimit --as=$LIMIT "$BIN" $RUN --out refused.json > /dev/null || echo "mapped run under the same limit fails (expected)"
