# Shared by the experiment scripts (paper_tables.sh, defense_comparison.sh); sourced, not run.
# The caller sets ROOT (repository), OUT (output folder), TIMES (times.tsv) and COMMANDS (commands.log),
# and runs under `set -euo pipefail`. A failing command fails its step (status 1) before any output is renamed,
# also where the caller tests the status (where bash ignores set -e).

# run NAME DONE_FILE [--json-to FILE] -- COMMAND...: skipped when DONE_FILE exists; logs the command (paths
# relative to the repository) and its wall time; with --json-to the command's stdout (one JSON object) is
# written to FILE atomically. Its stderr goes to the terminal and to $OUT/logs/NAME.log.
run() {
  local name=$1 done_file=$2 json_to=""
  shift 2
  if [ "$1" = "--json-to" ]; then json_to=$2; shift 2; fi
  [ "$1" = "--" ] && shift
  if [ -e "$done_file" ]; then
    echo "== $name: done earlier ($done_file)" >&2
    return 0
  fi
  echo "== $name ($(date -u +%H:%M:%S))" >&2
  printf '%s\t%s\n' "$name" "$*" | sed "s#$ROOT/##g" >>"$COMMANDS"
  local start end
  start=$(date +%s)
  if [ -n "$json_to" ]; then
    "$@" >"$json_to.partial" 2> >(tee -a "$OUT/logs/$name.log" >&2) || { echo "== $name failed" >&2; return 1; }
    mv "$json_to.partial" "$json_to"
  else
    "$@" 2> >(tee -a "$OUT/logs/$name.log" >&2) || { echo "== $name failed" >&2; return 1; }
  fi
  end=$(date +%s)
  printf '%s\t%s\n' "$name" "$((end - start))" >>"$TIMES"
}
