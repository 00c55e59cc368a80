#!/usr/bin/env python3
"""Lists every `@Option`/`@Flag` name of the CLI per declaring type (a command or an option group),
and the option names declared directly in more than one type (issue 24: "no option is declared in more than one
command"). A group (`ParsableArguments`) declared once and used by many commands counts once.
Usage: scripts/checks/cli_option_owners.py [--all] [ROOT]  (exit 1 when a name has two or more declarations)."""
import os
import re
import sys

args = [a for a in sys.argv[1:] if not a.startswith("--")]
root = args[0] if args else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
src = os.path.join(root, "Sources", "ExpertLockCLI")


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
for n in sorted(dups):
    print(f"--{n}: {len({o for o, _ in dups[n]})} types: " + ", ".join(f"{o} ({w})" for o, w in dups[n]))
print(f"option names declared in more than one type: {len(dups)}")
own = sorted(n for n, owners in dups.items() if any(o in commands for o, _ in owners))
print(f"of them declared in a command's own body (not only in option groups): {len(own)} ({' '.join(own)})")
sys.exit(1 if dups else 0)
