#!/usr/bin/env python3
"""Splits Swift source lines longer than LIMIT columns that swift-format cannot break:
- `//` and `///` comments are rewrapped at spaces;
- a line inside a multi-line string literal gets a `\\` continuation (no newline in the value);
- a line whose long part is a plain "..." literal is split into "a " + "b" at a space outside interpolations.
Anything else is printed for a hand fix. Semantics are unchanged in every case."""
import re
import sys

LIMIT = 120


def rewrap_comment(line):
    m = re.match(r"^(\s*)(///?\s?)(.*)$", line)
    indent, marker, text = m.groups()
    prefix = indent + marker
    words, out, cur = text.split(" "), [], ""
    for w in words:
        cand = (cur + " " + w) if cur else w
        if len(prefix) + len(cand) > LIMIT and cur:
            out.append(prefix + cur)
            cur = w
        else:
            cur = cand
    out.append(prefix + cur)
    return out


def literal_spans(line):
    """Yields (start, end) of plain "..." literal contents at interpolation depth 0 (not raw strings)."""
    spans, i, n = [], 0, len(line)
    while i < n:
        c = line[i]
        if c == '/' and line[i:i + 2] == '//':
            break
        if c == '#' and i + 1 < n and line[i + 1] in '"/':
            return None  # raw string or regex literal: hand fix
        if c == '"':
            if line[i:i + 3] == '"""':
                return None
            j, depth, start = i + 1, 0, i + 1
            seg_start = start
            while j < n:
                if line[j] == '\\' and j + 1 < n and line[j + 1] == '(':
                    if depth == 0:
                        spans.append((seg_start, j))
                    depth += 1
                    j += 2
                    continue
                if depth > 0:
                    if line[j] == '(':
                        depth += 1
                    elif line[j] == ')':
                        depth -= 1
                        if depth == 0:
                            seg_start = j + 1
                    elif line[j] == '"':
                        k = j + 1  # a nested literal inside the interpolation: skip it whole
                        while k < n and line[k] != '"':
                            k += 2 if line[k] == '\\' else 1
                        if k >= n:
                            return None
                        j = k
                    j += 1
                    continue
                if line[j] == '\\':
                    j += 2
                    continue
                if line[j] == '"':
                    if j + 1 < n and line[j + 1] in '.[':
                        return None  # member access on the literal: splitting would change precedence
                    spans.append((seg_start, j))
                    break
                j += 1
            else:
                return None
            i = j + 1
            continue
        i += 1
    return spans


def split_literal(line):
    spans = literal_spans(line)
    if not spans:
        return None
    indent = len(line) - len(line.lstrip())
    best = None
    for a, b in spans:
        for k in range(min(b, LIMIT - 3), a, -1):
            if line[k] == ' ' and k + 1 < b:
                best = k + 1
                break
        if best:
            break
    if not best:
        return None
    first = line[:best] + '"'
    rest = ' ' * (indent + 4) + '+ "' + line[best:]
    if len(first) > LIMIT:
        return None
    out = [first]
    if len(rest) > LIMIT:
        more = split_literal(rest)
        if more is None:
            return None
        out += more
    else:
        out.append(rest)
    return out


# Literals whose type is not String (ArgumentHelp, Swift Testing's Comment): "a" + "b" would be a String and
# not compile there, so these become multi-line literals with `\` continuations (the value is unchanged).
NOT_STRING = ("#expect(", "#require(", "help:", "Issue.record(", "Comment(")


def to_multiline(line):
    """One literal (interpolations allowed) becomes a multi-line literal with `\\` continuations, broken at spaces
    outside interpolations: the value and its type (String, ArgumentHelp, Comment) are unchanged."""
    spans = literal_spans(line)
    if not spans:
        return None
    for (_, end), (start, _) in zip(spans, spans[1:]):
        if not line.startswith("\\(", end):
            return None  # several literals: hand fix
    a, b = spans[0][0], spans[-1][1]
    if line[a - 1] != '"' or line[b] != '"':
        return None
    breaks = [k for s0, s1 in spans for k in range(s0, s1) if line[k] == " "]
    indent = len(line) - len(line.lstrip())
    inner = " " * (indent + 4)
    lines, start = [], a
    while len(inner) + (b - start) > LIMIT - 2:
        fits = [k for k in breaks if start < k and len(inner) + (k + 1 - start) + 1 <= LIMIT]
        if not fits:
            return None
        k = fits[-1]
        lines.append(inner + line[start:k + 1] + "\\")
        start = k + 1
    lines.append(inner + line[start:b])
    head = line[:a - 1] + '"""'
    tail = inner + '"""' + line[b + 1:]
    if len(head) > LIMIT or len(tail) > LIMIT:
        return None
    return [head] + lines + [tail]


def main(paths):
    hand = []
    for path in paths:
        lines = open(path, encoding="utf-8").read().split("\n")
        out, in_multiline, changed, closing_indent = [], False, False, ""
        for no, line in enumerate(lines, 1):
            quotes = line.count('"""')
            if len(line) > LIMIT:
                s = line.strip()
                if s.startswith("//"):
                    out += rewrap_comment(line)
                    changed = True
                    continue
                if in_multiline and quotes == 0 and not line.rstrip().endswith("\\"):
                    parts, cur = [], line
                    while len(cur) > LIMIT:
                        k = cur.rfind(" ", 0, LIMIT - 2)
                        if k <= len(cur) - len(cur.lstrip()):
                            break
                        parts.append(cur[:k + 1] + "\\")
                        cur = closing_indent + cur[k + 1:]
                    if len(cur) <= LIMIT and parts:
                        out += parts + [cur]
                        changed = True
                        if quotes % 2:
                            in_multiline = not in_multiline
                        continue
                if not in_multiline:
                    previous = out[-1].rstrip() if out else ""
                    # The literal may be alone on the line after `help:` or `Issue.record(` (the formatter broke it).
                    typed = any(marker in line for marker in NOT_STRING) or previous.endswith(NOT_STRING)
                    split = to_multiline(line) if typed else split_literal(line)
                    if split:
                        out += split
                        changed = True
                        continue
                hand.append(f"{path}:{no}: {line.strip()[:100]}")
            out.append(line)
            if quotes % 2:
                in_multiline = not in_multiline
                if in_multiline:  # the closing delimiter's indentation is what Swift strips
                    closing = next((l for l in lines[no:] if l.strip().startswith('"""')), "")
                    closing_indent = closing[:len(closing) - len(closing.lstrip())]
        if changed:
            open(path, "w", encoding="utf-8").write("\n".join(out))
    for h in hand:
        print(h)


if __name__ == "__main__":
    main(sys.argv[1:])
