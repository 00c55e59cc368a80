#!/usr/bin/env python3
"""The defense comparison over training seeds (issue 22 item 6), from defense_comparison.sh's outputs.

    python3 scripts/experiments/format_defenses.py OUT_SEED0 OUT_SEED1 ... > table.md

Each OUT is one run of scripts/experiments/defense_comparison.sh (one training seed): its audit
report's "Defenses against the adaptive attacker" table (intervals over evaluation examples, random
subsets and re-alignment seeds) is copied verbatim, and from audit/report/results.json, across training
seeds, this script gives mean ± SD and a 95% t-interval over seeds of each defense's difference from the
standard model trained with the same seed (paired by seed):

- quality cost: standard full accuracy − defended (> 0: the defense costs accuracy);
- resistance: best ratio area over all attackers, defended − standard (< 0: the best attacker keeps
  less quality on the defended model);
- drop at k by the best attacker at k, defended − standard (> 0: pruning hurts the defended one more);
- residual loss after re-alignment: full − re-aligned accuracy (random labels), defended − standard
  (> 0: the defended model stays further below its own full accuracy after re-alignment).

The t-interval covers the variation between training seeds (and re-alignment seeds within them); every
seed is evaluated on the same dev set, so the sampling of that set is not in it (the per-seed tables'
intervals are).

Verdicts: "supported" when the interval lies on the side the statement names, "refuted" when on the
other, "not resolved" otherwise, and "not resolvable" with fewer than 2 seeds (no seed variance).
Standard library only; no figures are typed in here.
"""
import json
import math
import os
import statistics
import sys

# Two-sided 95% Student t quantiles by degrees of freedom (scipy.stats.t.ppf(0.975, df)).
T975 = {1: 12.7062, 2: 4.3027, 3: 3.1824, 4: 2.7764, 5: 2.5706, 6: 2.4469, 7: 2.3646, 8: 2.3060, 9: 2.2622}


def load(out):
    with open(os.path.join(out, "audit", "report", "results.json")) as f:
        r = json.load(f)
    settings = {}
    env = os.path.join(out, "settings.env")
    if os.path.exists(env):
        for line in open(env):
            k, _, v = line.strip().partition("=")
            settings[k] = v
    return r, settings


def report_table(out):
    """The report's own table, verbatim (the "Defenses against the adaptive attacker" section)."""
    text = open(os.path.join(out, "audit", "report", "README.md")).read()
    section = text.split("## Defenses against the adaptive attacker", 1)[1].split("\n## ", 1)[0]
    return "\n".join(line for line in section.splitlines() if line.startswith("|"))


def value(row, key):
    iv = row.get(key)
    if not iv:
        return None
    e = iv.get("estimate")
    return None if e is None or isinstance(e, str) or math.isnan(e) else e


def t_interval(xs):
    n = len(xs)
    m = statistics.fmean(xs)
    if n < 2:
        return m, None, None
    sd = statistics.stdev(xs)
    h = T975.get(n - 1, 1.96) * sd / math.sqrt(n)
    return m, m - h, m + h


def verdict(lo, hi, positive_side):
    """positive_side: +1 when the statement says 'difference > 0', -1 when '< 0'."""
    if lo is None:
        return "not resolvable (one training seed: no seed variance)"
    if positive_side > 0:
        return "supported" if lo > 0 else "refuted" if hi < 0 else "not resolved"
    return "supported" if hi < 0 else "refuted" if lo > 0 else "not resolved"


def main(outs):
    runs = [load(o) for o in outs]
    lines = []
    seeds = [s.get("SEED", "?") for _, s in runs]
    for (r, s), out in zip(runs, outs):
        lines.append(f"### Training seed {s.get('SEED', '?')} ({out})\n")
        lines.append(report_table(out))
        findings = [f for f in r["findings"] if f["id"].startswith("defense.")]
        lines.append("")
        for f in findings:
            lines.append(f"- {f['id']}: **{f['verdict']}**")
        lines.append("")

    names = [row["model"] for row in runs[0][0]["defenses"]]
    lines.append(f"### Across training seeds ({', '.join(seeds)})\n")
    lines.append("Mean ± SD over the seeds; below, each defense's difference from the standard model of the same "
                 "seed,\nwith its 95% t-interval over the seeds.\n")
    lines.append("| model | full accuracy | best area | drop at k | after re-alignment | AUROC pruned |")
    lines.append("| --- | --- | --- | --- | --- | --- |")

    # A model whose full accuracy interval does not lie above chance (a constant answer's accuracy on
    # the same evaluation set) measures nothing: its seed is left out of every comparison it is in.
    def at_chance(r, name):
        row = next(x for x in r["defenses"] if x["model"] == name)
        return row["full_accuracy"]["lower"] <= r["prunability"]["chance"]

    excluded = [(s.get("SEED", "?"), row["model"]) for r, s in runs for row in r["defenses"]
                if at_chance(r, row["model"])]

    def per_seed(name, key, keep=None):
        xs = []
        for i, (r, _) in enumerate(runs):
            if keep is not None and i not in keep:
                continue
            row = next((x for x in r["defenses"] if x["model"] == name), None)
            if row is None:
                return None
            v = row["full_accuracy"]["estimate"] if key == "full_accuracy" else value(row, key)
            if v is None:
                return None
            xs.append(v)
        return xs

    def ms(xs):
        if not xs:
            return "–"
        if len(xs) < 2:
            return f"{xs[0]:.3f}"
        return f"{statistics.fmean(xs):.3f} ± {statistics.stdev(xs):.3f}"

    for name in names:
        keep = [i for i, (r, _) in enumerate(runs) if not at_chance(r, name)]
        lines.append(
            f"| {name} | {ms(per_seed(name, 'full_accuracy'))} | {ms(per_seed(name, 'best_area', keep))} "
            f"| {ms(per_seed(name, 'drop', keep))} | {ms(per_seed(name, 'recovery', keep))} "
            f"| {ms(per_seed(name, 'auroc_pruned', keep))} |")
    lines.append("")
    if excluded:
        lines.append("At chance (full accuracy interval not above a constant answer's): "
                     + ", ".join(f"{m} (seed {sd})" for sd, m in excluded) + ".\nLeft out of the areas, drops, "
                     "re-aligned accuracies and AUROCs above, and of every comparison below\nbut full accuracy and "
                     "quality cost.\n")
    base = names[0]
    lines.append("| defense | statement | difference (mean, 95% t-interval over seeds) | seeds | verdict |")
    lines.append("| --- | --- | --- | ---: | --- |")
    b_full = per_seed(base, "full_accuracy")
    for name in names[1:]:
        rows = []
        keep = [i for i, (r, _) in enumerate(runs) if not at_chance(r, name) and not at_chance(r, base)]
        full = per_seed(name, "full_accuracy")
        area = per_seed(name, "best_area", keep)
        drop = per_seed(name, "drop", keep)
        rec = per_seed(name, "recovery", keep)
        b_area = per_seed(base, "best_area", keep)
        b_drop = per_seed(base, "drop", keep)
        b_rec = per_seed(base, "recovery", keep)
        b_kept_full = per_seed(base, "full_accuracy", keep)
        kept_full = per_seed(name, "full_accuracy", keep)
        if full and b_full:
            rows.append(("costs accuracy (standard − defended full accuracy > 0)",
                         [b - d for b, d in zip(b_full, full)], +1))
        if area and b_area:
            rows.append(("leaves the best attacker less (best ratio area, defended − standard < 0)",
                         [d - b for b, d in zip(b_area, area)], -1))
        if drop and b_drop:
            rows.append(("pruning to k hurts more (drop at k, defended − standard > 0)",
                         [d - b for b, d in zip(b_drop, drop)], +1))
        if rec and b_rec:
            rows.append(("stays further below its full accuracy after re-alignment (residual loss, defended − "
                         "standard > 0)",
                         [(f - r) - (bf - br) for f, r, bf, br in zip(kept_full, rec, b_kept_full, b_rec)], +1))
        for statement, diffs, side in rows:
            m, lo, hi = t_interval(diffs)
            span = f"{m:+.3f}" + (f" ({lo:+.3f} to {hi:+.3f})" if lo is not None else "")
            lines.append(f"| {name} | {statement} | {span} | {len(diffs)} | {verdict(lo, hi, side)} |")
    print("\n".join(lines))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print("usage: format_defenses.py OUT [OUT ...]", file=sys.stderr)
        sys.exit(2)
    main(sys.argv[1:])
