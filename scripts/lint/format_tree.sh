#!/usr/bin/env bash
# The whole-tree format (issue 24), deterministic: swift-format with the repository's .swift-format; the lines it
# cannot break split by split_long_lines.py (comments, plain literals) and format_hand_fixes.py (interpolated, raw
# and regex literals, trailing comments); swift-format again after each for the indentation of what was split.
# Run from a clean tree; `.ci/run --lint` checks the result.
set -euo pipefail
cd "$(dirname "$0")/../.."
files() { git ls-files 'Sources/*.swift' 'Tests/*.swift' Package.swift; }
format() { files | xargs swift format --in-place --parallel; }
format
long=$(files | xargs env LC_ALL=C.UTF-8 grep -lE '^.{121,}' || true)
[ -z "$long" ] || python3 scripts/lint/split_long_lines.py $long
format
python3 scripts/lint/format_hand_fixes.py
format
