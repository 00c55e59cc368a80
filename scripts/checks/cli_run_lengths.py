#!/usr/bin/env python3
"""Prints the length in lines of every command's `run()` (issue 24: none over 40), longest first.
Usage: scripts/checks/cli_run_lengths.py [ROOT] (exit 1 when one is longer than 40 lines)."""
import os
import re
import sys

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
src = os.path.join(root, "Sources", "ExpertLockCLI")
lengths = []
for dirpath, _, files in os.walk(src):
    for f in sorted(files):
        if not f.endswith(".swift"):
            continue
        lines = open(os.path.join(dirpath, f), encoding="utf-8").read().split("\n")
        for i, line in enumerate(lines):
            if re.match(r"^\s*(?:mutating\s+)?func run\(\)", line):
                depth, j = 0, i
                while True:
                    depth += lines[j].count("{") - lines[j].count("}")
                    if depth <= 0 and j > i:
                        break
                    j += 1
                lengths.append((j - i + 1, f"{f}:{i + 1}"))
for n, where in sorted(lengths, reverse=True):
    print(f"{n:4d}  {where}")
longest = max(n for n, _ in lengths)
print(f"run() bodies: {len(lengths)}, longest {longest} lines")
sys.exit(1 if longest > 40 else 0)
