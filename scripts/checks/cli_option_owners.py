#!/usr/bin/env python3
"""Lists every `@Option`/`@Flag` name of the CLI per declaring type (a command or an option group),
and the option names declared directly in more than one type (issue 24: "no option is declared in more than one
command"). A group (`ParsableArguments`) declared once and used by many commands counts once.

A name may stand for two different options: a homonym, one spelling for different quantities, types or units
(most are fixed by the CLI contract, ../shared/design/CLI.md). Each is listed in HOMONYMS below with its exact
declaring types and what each means; declaring one of them in any other type, or any other name twice, fails.
Usage: scripts/checks/cli_option_owners.py [--all] [ROOT]  (exit 1 on a name declared twice that is not a listed
homonym)."""
import os
import re
import sys

args = [a for a in sys.argv[1:] if not a.startswith("--")]
root = args[0] if args else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
src = os.path.join(root, "Sources", "ExpertLockCLI")


# name -> (declaring types, what the name means in each).
HOMONYMS = {
    "batch": ({"ActiveLearningOptions", "ForwardBatchOption"},
              "labels per active-learning round (audit, realign; CLI.md `realign --batch b`) vs sequences per "
              "forward pass"),
    "data": ({"DataOptions", "AuditCommand", "TrainTokenizerCommand"},
             "the text or task data read (one file) vs audit's attacker pool (CLI.md `audit --data`; realign calls "
             "it --pool) vs train-tokenizer's training texts (repeatable)"),
    "format": ({"DataOptions", "TraceCommand"},
               "the data layout (auto, text, glue, jsonl) vs the serving engine whose trace layout is read"),
    "keep": ({"KeepListOption", "PruneCommand"},
             "a sweep's list of k (CLI.md `sweep --keep 8,6,4,2,1`) vs one pruning rule's K (`prune --keep K`)"),
    "merge": ({"CompressionOptions", "MergeFilesOption", "SweepCommand"},
              "prune's merge method (one) vs the shard files attribute/eval add up vs sweep's list of methods"),
    "model": ({"ModelPathOption", "OptionalModelPathOption", "TrainTokenizerCommand"},
              "the model folder, required vs optional (so that --help marks which) vs train-tokenizer's algorithm "
              "(bpe, wordlevel: the tokenizers library's `model`)"),
    "out": ({"OutputFolderOptions", "OutputFileOptions", "DemoCommand"},
            "an output folder (required) vs an optional output file vs the demo's folder, which has a default"),
    "overwrite": ({"OutputFolderOptions", "OutputFileOptions"}, "replace the output folder vs the output file"),
    "reference": ({"MonitorCommand", "RealignCommand"},
                  "monitor's reference traffic (trace files) vs realign's reference quality (a model or a number)"),
    "seeds": ({"ActiveLearningOptions", "SweepCommand"},
              "re-alignment runs per strategy vs random expert subsets per k (CLI.md `sweep --seeds N`)"),
    "threshold": ({"MonitorCommand", "PruneCommand"},
                  "monitor's alarm score vs prune's share threshold τ (CLI.md names both)"),
    "warmup": ({"BenchModelOptions", "TrainCommand"}, "untimed benchmark iterations vs learning-rate warm-up steps"),
}


def kebab(name):
    return re.sub(r"([a-z0-9])([A-Z])", r"\1-\2", name).lower()


TYPE = re.compile(r"^\s*(?:public\s+|private\s+|fileprivate\s+)?(?:struct|final class|class|enum)\s+(\w+)")
COMMAND = re.compile(r"^\s*struct\s+(\w+)\s*:.*ParsableCommand")
commands = set()
WRAPPER = re.compile(r"@(Option|Flag)\b")
VAR = re.compile(r"\bvar\s+(\w+)")
declared = {}  # option name -> [(type, file:line)]
per_type = {}
for dirpath, _, files in os.walk(src):
    for f in sorted(files):
        if not f.endswith(".swift"):
            continue
        path = os.path.join(dirpath, f)
        lines = open(path, encoding="utf-8").read().split("\n")
        stack = []  # (type name, brace depth at which it opened)
        depth = 0
        pending = None  # (wrapper text, line) until its `var` is seen
        for no, line in enumerate(lines, 1):
            code = line.split("//")[0]
            if COMMAND.match(code):
                commands.add(COMMAND.match(code).group(1))
            m = TYPE.match(code)
            if m:
                stack.append((m.group(1), depth))
            if WRAPPER.search(code):
                pending = ("", no)
            if pending is not None:
                pending = (pending[0] + code + " ", pending[1])
                v = VAR.search(code)
                if v:
                    text, at = pending
                    pending = None
                    owner = stack[-1][0] if stack else "?"
                    custom = re.findall(r'customLong\("([^"]+)"', text)
                    names = custom or ([kebab(v.group(1))] if ".long" in text or "name:" not in text else [])
                    shorts = re.findall(r"customShort\(\"(.)\"", text)
                    for n in names:
                        declared.setdefault(n, []).append((owner, f"{os.path.relpath(path, root)}:{at}"))
                        per_type.setdefault(owner, []).append(n)
                    for s in shorts:
                        per_type.setdefault(owner, []).append("-" + s)
            depth += code.count("{") - code.count("}")
            while stack and depth <= stack[-1][1] and "}" in code:
                stack.pop()

if "--all" in sys.argv:
    for t in sorted(per_type):
        print(f"{t}: {' '.join('--' + n if not n.startswith('-') else n for n in per_type[t])}")
    print()
dups = {n: owners for n, owners in declared.items() if len({o for o, _ in owners}) > 1}
homonyms = {n for n in dups if n in HOMONYMS and {o for o, _ in dups[n]} == HOMONYMS[n][0]}
for n in sorted(homonyms):
    print(f"homonym --{n}: {HOMONYMS[n][1]}")
bad = sorted(set(dups) - homonyms)
for n in bad:
    print(f"--{n}: declared in {len({o for o, _ in dups[n]})} types: " + ", ".join(f"{o} ({w})" for o, w in dups[n]))
stale = sorted(n for n in HOMONYMS if n not in homonyms and n not in bad)
for n in stale:
    print(f"note: HOMONYMS lists --{n}, which is no longer declared twice (remove it from the list)")
print(f"names declared in more than one type: {len(dups)}, of them listed homonyms: {len(homonyms)}, "
      f"duplicates: {len(bad)}")
sys.exit(1 if bad or stale else 0)
