#!/usr/bin/env python3
"""Writes docs/RESULTS.md and its figures from the JSON outputs of scripts/experiments/paper_tables.sh.

Every number in the report is read from files the script wrote under its output folder (sweep, realign,
train and prune --json outputs, settings.env, times.tsv, commands.log); the findings are sentences
chosen by those numbers. Standard library only.

    python3 scripts/experiments/format_results.py --out experiments-out --results docs/RESULTS.md --figures docs/figures \
        --sst-dev ../shared/data/glue-sst2/dev.tsv
"""
import argparse
import glob
import json
import math
import os
import statistics

VARIANTS = ["standard", "entangled"]


def load(path):
    with open(path) as f:
        return json.load(f)


def fmt(x, digits=None):
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    if digits is not None:
        return f"{x:.{digits}f}"
    return f"{x:.1f}" if abs(x) >= 10 else f"{x:.3f}"


def pm(values, digits=None):
    if not values:
        return "–"
    mean = statistics.mean(values)
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{fmt(mean, digits)} ± {fmt(std, digits)}"


class Sweep:
    """One `expertlock sweep --json` output."""

    def __init__(self, path):
        self.raw = load(path)
        self.full = self.raw["full"]
        self.metric = self.raw["metric"]
        self.higher = self.metric != "perplexity"
        self.resistance = self.raw.get("resistance")

    def values(self, strategy, k):
        return [p["metric"] for p in self.raw["curve"] if p["strategy"] == strategy and p["k"] == k]

    def mean(self, strategy, k):
        v = self.values(strategy, k)
        return statistics.mean(v) if v else None

    def keeps(self):
        return sorted({p["k"] for p in self.raw["curve"] if p["k"] is not None}, reverse=True)

    def normalized(self, metric):
        if metric is None or metric == 0 or not math.isfinite(metric):
            return 0.0
        return metric / self.full if self.higher else self.full / metric

    def area(self, strategy="soft", experts=8):
        """Normalised area under quality vs fraction kept: the sweep's own `resistance` output, else the same
        computation as PrunabilityCurve.normalizedArea."""
        reported = (self.resistance or {}).get(strategy, {}).get("normalized_area")
        if reported is not None:
            return reported
        xy = sorted((k / experts, self.normalized(self.mean(strategy, k))) for k in self.keeps() if self.values(strategy, k))
        if not xy:
            return None
        if xy[-1][0] < 1:
            xy.append((1.0, 1.0))
        area = sum((xy[i][0] - xy[i - 1][0]) * (xy[i][1] + xy[i - 1][1]) / 2 for i in range(1, len(xy)))
        return area / (xy[-1][0] - xy[0][0])


def corridor(sweep, strategy="soft", level=0.9):
    """The smallest k whose normalised quality is at least `level` (None: not even the largest k measured)."""
    ok = [k for k in sweep.keeps() if sweep.values(strategy, k) and sweep.normalized(sweep.mean(strategy, k)) >= level]
    return min(ok) if ok else None


def corridor_text(sweep, strategy="soft"):
    k = corridor(sweep, strategy)
    return (f"the fewest experts that keep ≥ 90% of the quality is k = {k} of 8" if k is not None
            else "no measured k keeps 90% of the quality")


def svg_chart(title, xlabel, ylabel, series, log_y=False, reverse_x=False, width=560, height=340):
    """A small line chart: series = [(name, [(x, y, std)], color, dashed)]."""
    left, right, top, bottom = 64, 170, 34, 46
    pw, ph = width - left - right, height - top - bottom
    xs = [p[0] for _, pts, _, _ in series for p in pts]
    ys = [v for _, pts, _, _ in series for p in pts for v in (p[1] - p[2], p[1] + p[2]) if v > 0 or not log_y]
    if not xs or not ys:
        return ""
    x0, x1 = min(xs), max(xs)
    f = (lambda v: math.log10(v)) if log_y else (lambda v: v)
    y0, y1 = f(min(ys)), f(max(ys))
    if y1 - y0 < 1e-9:
        y0, y1 = y0 - 0.5, y1 + 0.5
    pad = (y1 - y0) * 0.05
    y0, y1 = y0 - pad, y1 + pad

    def X(x):
        t = (x - x0) / (x1 - x0) if x1 > x0 else 0.5
        return left + (1 - t if reverse_x else t) * pw

    def Y(y):
        return top + (1 - (f(max(y, 1e-12)) - y0) / (y1 - y0)) * ph

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{left}" y="18" font-size="13">{title}</text>',
           f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#888"/>']
    for x in sorted(set(xs)):
        out.append(f'<text x="{X(x):.1f}" y="{top + ph + 14}" text-anchor="middle">{x:g}</text>')
    for i in range(5):
        yv = y0 + (y1 - y0) * i / 4
        v = 10 ** yv if log_y else yv
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{Y(v):.1f}" y2="{Y(v):.1f}" stroke="#eee"/>')
        label = f"{v:.0f}" if abs(v) >= 100 else f"{v:.3g}"
        out.append(f'<text x="{left - 4}" y="{Y(v) + 4:.1f}" text-anchor="end">{label}</text>')
    out.append(f'<text x="{left + pw / 2}" y="{height - 8}" text-anchor="middle">{xlabel}</text>')
    out.append(f'<text x="14" y="{top + ph / 2}" text-anchor="middle" transform="rotate(-90 14 {top + ph / 2})">{ylabel}</text>')
    for i, (name, pts, color, dashed) in enumerate(series):
        pts = sorted(pts)
        if any(p[2] > 0 for p in pts):
            upper = [(X(x), Y(y + s)) for x, y, s in pts]
            lower = [(X(x), Y(max(y - s, 1e-12))) for x, y, s in reversed(pts)]
            poly = " ".join(f"{a:.1f},{b:.1f}" for a, b in upper + lower)
            out.append(f'<polygon points="{poly}" fill="{color}" opacity="0.12"/>')
        path = " ".join(f"{X(x):.1f},{Y(y):.1f}" for x, y, _ in pts)
        dash = ' stroke-dasharray="5,4"' if dashed else ""
        out.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"{dash}/>')
        for x, y, _ in pts:
            out.append(f'<circle cx="{X(x):.1f}" cy="{Y(y):.1f}" r="2.5" fill="{color}"/>')
        ly = top + 10 + 16 * i
        out.append(f'<line x1="{left + pw + 10}" x2="{left + pw + 34}" y1="{ly}" y2="{ly}" stroke="{color}" stroke-width="2"{dash}/>')
        out.append(f'<text x="{left + pw + 38}" y="{ly + 4}">{name}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def curve_points(sweep, strategy):
    pts = []
    for k in sweep.keeps():
        v = sweep.values(strategy, k)
        if v:
            pts.append((k, statistics.mean(v), statistics.stdev(v) if len(v) > 1 else 0.0))
    if pts and max(p[0] for p in pts) < 8:
        pts.append((8, sweep.full, 0.0))
    return pts


def run_values(out):
    """Every number the tables are made of, keyed by where it comes from: sweep points and full-model
    values, re-alignment curves and finals, training losses and the unpruned accuracies."""
    values = {}
    for path in sorted(glob.glob(os.path.join(out, "sweeps", "*.json"))):
        name = os.path.basename(path)[:-5]
        raw = load(path)
        values[f"{name} full"] = raw["full"]
        for p_ in raw["curve"]:
            values[f"{name} {p_['strategy']} k={p_['k']} seed={p_['seed']}"] = p_["metric"]
    for path in sorted(glob.glob(os.path.join(out, "realign", "*.json"))):
        name = os.path.basename(path)[:-5]
        for run in load(path)["runs"]:
            values[f"realign {name} {run['strategy']} seed={run.get('seed')} final"] = run["final"]
    for path in sorted(glob.glob(os.path.join(out, "models", "*.json"))):
        values[f"train {os.path.basename(path)[:-5]} final loss"] = load(path)["final_loss"]
    for path in sorted(glob.glob(os.path.join(out, "pruned", "*-full-eval.json"))):
        values[f"eval {os.path.basename(path)[:-5]}"] = load(path)["accuracy"]
    return values


def reproducibility_text(rerun, out, label=""):
    """The caveat on reproducibility: a value-by-value comparison with a second run when there is one."""
    if not rerun or not os.path.isdir(rerun):
        return ("- Reproducibility: every step is seeded and the kernels give the same bits whatever the thread count, "
                "so a rerun of the script on the same build repeats every number; a second full run was not compared here.")
    a, b = run_values(out), run_values(rerun)
    common = sorted(set(a) & set(b))
    same = [k for k in common if a[k] == b[k]]
    diffs = sorted(((abs(a[k] - b[k]) / max(abs(b[k]), 1e-12), k) for k in common if a[k] != b[k]), reverse=True)
    text = (f"- Reproducibility: a second full run of the script (the same budgets and seeds{', ' + label if label else ''}) "
            f"was compared value by value: {len(same)} of {len(common)} numbers behind the tables are identical")
    if diffs:
        worst = ", ".join(f"{k}: {a[k]:.9g} vs {b[k]:.9g}" for _, k in diffs[:3])
        text += f"; the others differ by at most {100 * diffs[0][0]:.2g}% relative ({worst})"
    missing = len(set(a) ^ set(b))
    return text + (f"; {missing} values exist in only one of the runs." if missing else ".")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True, help="the script's output folder")
    ap.add_argument("--results", required=True, help="Markdown file to write")
    ap.add_argument("--figures", required=True, help="folder for the SVG figures")
    ap.add_argument("--sst-dev", help="SST-2 dev.tsv, to state the majority-class rate of the evaluated rows")
    ap.add_argument("--rerun", help="output folder of a second run of the script, compared value by value")
    ap.add_argument("--rerun-label", default="", help="what the --rerun run was, in words (e.g. the build that made it)")
    ap.add_argument("--schedule-baseline", help="output folder of a run with another re-alignment schedule: its rows "
                    "join the schedule check of RESULTS.md (several training seeds only)")
    ap.add_argument("--schedule-baseline-label", default="", help="what that run was, in words")
    args = ap.parse_args()
    out = args.out
    if glob.glob(os.path.join(out, "seed-*")):
        # paper_tables.sh with several training seeds: mean ± SD over seeds, findings by their intervals.
        import sys
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from format_seeds import write_multi_seed
        write_multi_seed(out, args.results, args.sst_dev, args.figures,
                         baseline=(args.schedule_baseline, args.schedule_baseline_label) if args.schedule_baseline else None)
        return
    P = lambda *parts: os.path.join(out, *parts)

    settings = dict(line.strip().split("=", 1) for line in open(P("settings.env")) if "=" in line)
    times = {}
    for line in open(P("times.tsv")):
        name, seconds = line.rstrip("\n").split("\t")
        times[name] = times.get(name, 0) + int(seconds)
    commands = {}
    for line in open(P("commands.log")):
        name, command = line.rstrip("\n").split("\t", 1)
        commands.setdefault(name, command)

    sweeps = {}
    for v in VARIANTS:
        for kind in ["lm-{}-general", "lm-{}-cyclones", "lm-{}-cyclones-by-general", "sst2-{}-task", "sst2-{}-general"]:
            name = kind.format(v)
            if os.path.exists(P("sweeps", name + ".json")):
                sweeps[name] = Sweep(P("sweeps", name + ".json"))
    trains = {n: load(P("models", n + ".json")) for n in ["lm-standard", "lm-entangled", "sst2-standard", "sst2-entangled"]
              if os.path.exists(P("models", n + ".json"))}
    realigns = {v: load(P("realign", v + ".json")) for v in VARIANTS if os.path.exists(P("realign", v + ".json"))}
    pruned = {v: load(P("pruned", f"sst2-{v}-top2.json")) for v in VARIANTS if os.path.exists(P("pruned", f"sst2-{v}-top2.json"))}
    os.makedirs(args.figures, exist_ok=True)
    rel_fig = os.path.relpath(args.figures, os.path.dirname(os.path.abspath(args.results)))
    S = settings
    seeds = S["SEEDS"]

    def majority(n):
        """Majority-class accuracy of the first n dev rows (the floor a constant answer gets)."""
        if not args.sst_dev or not os.path.exists(args.sst_dev):
            return None
        labels = [line.rstrip("\n").split("\t")[-1] for line in open(args.sst_dev)][1:1 + int(n)]
        ones = sum(1 for x in labels if x == "1")
        return max(ones, len(labels) - ones) / max(len(labels), 1)

    md = []
    w = md.append
    w("# Results on real data: WikiText-2 and SST-2\n")
    w("Every number in this file was produced by `scripts/experiments/paper_tables.sh` (ExpertLock's own commands) and "
      "formatted by `scripts/experiments/format_results.py` from the JSON files the script wrote. Regenerate with\n")
    w("```sh\nswift build -c release --product expertlock\nscripts/experiments/paper_tables.sh   # resumable; output in experiments-out/\n```\n")
    w("(`EXPERTLOCK=path/to/expertlock` picks the binary, `OUT=...` the output folder, `RERUN=folder` compares the "
      "numbers with those of an earlier run, value by value; every budget below is an environment variable of the script. "
      "The whole run takes about 40 minutes on 2 idle cores.)\n")

    # ---- setup ----
    params = next(iter(pruned.values()), {}).get("parameters_before")
    active = next(iter(pruned.values()), {}).get("active_parameters_per_token_before")
    w("## Setup\n")
    w(f"- Model: Mixtral-style MoE trained from scratch here, {S['LAYERS']} layers, hidden {S['HIDDEN']}, expert intermediate "
      f"{S['INTERMEDIATE']}, {S['HEADS']} heads ({S['KV_HEADS']} KV heads), 8 experts per layer, top-2 routing, "
      f"byte-level BPE vocabulary {S['VOCAB']} trained on WikiText-2 train"
      + (f"; {params / 1e6:.1f} M parameters, {active / 1e6:.1f} M active per token" if params and active else "") + ".")
    for name in ["lm-standard", "lm-entangled"]:
        t = trains.get(name)
        if t:
            w(f"- `{name}`: {t['steps']} steps × {S['LM_BATCH']} sequences × {S['LM_SEQ']} tokens on WikiText-2 train "
              f"(lr {S['LM_LR']}, cosine, seed {S['SEED']}), {times.get(name, 0) / 60:.0f} min wall, "
              f"{t['tokens_per_s']:.0f} tokens/s in its last session, final total training loss {fmt(t['final_loss'], 3)} (cross-entropy plus router and entanglement terms)"
              + (f" (resumed from its step-{t['start_step']} checkpoint after an interruption; the wall time of the "
                 "interrupted session is not counted)" if t.get("start_step") else "")
              + (f"; entangled with `{S['ENTANGLE_METHOD']}` strength {S['ENTANGLE']}" if "entangled" in name else "") + ".")
    for name in ["sst2-standard", "sst2-entangled"]:
        t = trains.get(name)
        if t:
            w(f"- `{name}`: `{name.replace('sst2', 'lm')}` continued for {t['steps']} steps × {S['SST_BATCH']} SST-2 prompts "
              f"(`--task classify`, loss on the label word; train.tsv rows 1–{S['SST_TRAIN_ROWS']}), "
              f"{times.get(name, 0) / 60:.0f} min wall, final loss {fmt(t['final_loss'], 3)}"
              + (" (entangled continuation)" if "entangled" in name else "") + ".")
    w(f"- Attacker's data: SST-2 train rows from {S['ATTACK_FIRST_ROW']} ({S['ATTR_ROWS']} prompts for attribution, the next "
      f"{S['POOL_ROWS']} as the unlabeled pool), disjoint from the owner's rows; accuracy on SST-2 dev ({S['CLS_EVAL']} examples). "
      f"Perplexity on the first {S['LM_EVAL_SEQS']} windows of {S['CONTEXT']} tokens of each evaluation text.")
    w("- *General corpus* attribution: WikiText-2 valid. *Task* attribution: one WikiText topic (the tropical-cyclone "
      "articles: 24 in train for attribution, 5 in valid + test held out for perplexity) and SST-2 prompts with their gold label word.")
    w(f"- Seeds: one training seed per model ({S['SEED']}; training {seeds} models per variant did not fit the time budget). "
      f"Random-expert baselines use {seeds} seeds and re-alignment {seeds} seeds per strategy; **mean ± std is over those seeds**. "
      "Top-k pruning of a given model is deterministic, so its rows carry no ± .\n")

    # ---- Table 1 ----
    def lm_table(v):
        g, c, cg = sweeps.get(f"lm-{v}-general"), sweeps.get(f"lm-{v}-cyclones"), sweeps.get(f"lm-{v}-cyclones-by-general")
        if not g:
            return
        w("| experts kept | WikiText-2 test: top-k (general) | random | cyclones: top-k (cyclone attribution) | top-k (general attribution) | random |")
        w("|---:|---:|---:|---:|---:|---:|")
        for k in g.keeps():
            row = [str(k), fmt(g.mean("soft", k)), pm(g.values("random", k))]
            if c:
                row += [fmt(c.mean("soft", k)), fmt(cg.mean("soft", k)) if cg else "–", pm(c.values("random", k))]
            w("| " + " | ".join(row) + " |")
        w(f"\nFull model: WikiText-2 test perplexity {fmt(g.full)}" + (f", cyclone held-out perplexity {fmt(c.full)}" if c else "") + ".\n")

    w("## Table 1. Language modelling: perplexity after keeping k of 8 experts per layer (standard model)\n")
    lm_table("standard")
    w("## Table 2. SST-2: accuracy after keeping k of 8 experts per layer (standard model)\n")

    def cls_table(v):
        t, g = sweeps.get(f"sst2-{v}-task"), sweeps.get(f"sst2-{v}-general")
        if not t:
            return
        w("| experts kept | top-k (SST-2 attribution) | retained | top-k (general attribution) | retained | random | retained |")
        w("|---:|---:|---:|---:|---:|---:|---:|")
        for k in t.keeps():
            r = t.mean("random", k)
            gk = g.mean("soft", k) if g else None
            w(f"| {k} | {fmt(t.mean('soft', k), 3)} | {100 * t.normalized(t.mean('soft', k)):.0f}% | "
              f"{fmt(gk, 3)} | {(f'{100 * t.normalized(gk):.0f}%' if gk is not None else '–')} | "
              f"{pm(t.values('random', k), 3)} | {100 * t.normalized(r):.0f}% |")
        m = majority(S["CLS_EVAL"])
        w(f"\nFull model: accuracy {fmt(t.full, 3)} on the first {S['CLS_EVAL']} SST-2 dev examples"
          + (f" (a constant answer gets {m:.3f})" if m else "") + ".\n")

    cls_table("standard")

    # ---- Figure 1 ----
    w("## Figure 1. Prunability curves, standard vs entangled\n")
    figs = [("lm-{}-general", "WikiText-2 test perplexity (general attribution)", "perplexity", True),
            ("lm-{}-cyclones", "Cyclone articles perplexity (topic attribution)", "perplexity", True),
            ("sst2-{}-task", "SST-2 dev accuracy (SST-2 attribution)", "accuracy", False)]
    for key, title, ylabel, log_y in figs:
        series = []
        for v, color in [("standard", "#1f77b4"), ("entangled", "#d62728")]:
            s = sweeps.get(key.format(v))
            if s:
                series.append((f"{v}, top-k", curve_points(s, "soft"), color, False))
                series.append((f"{v}, random", curve_points(s, "random"), color, True))
        if series:
            name = "figure1-" + key.format("x").replace("-x", "") + ".svg"
            with open(os.path.join(args.figures, name), "w") as f:
                f.write(svg_chart(title, "experts kept per layer (of 8)", ylabel, series, log_y=log_y, reverse_x=True))
            w(f"![{title}]({rel_fig}/{name})\n")

    # ---- defense (issue #7) ----
    w("## Defense: standard vs entangled training (issue #7, WikiText-2)\n")
    w("| task (attribution) | metric | full standard | full entangled | change | area standard | area entangled | drop at k=2 standard | drop at k=2 entangled |")
    w("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    defense = {}
    for key, label in [("lm-{}-general", "WikiText-2 test (general)"), ("lm-{}-cyclones", "cyclones (topic)"),
                       ("sst2-{}-task", "SST-2 dev (SST-2)")]:
        s, e = sweeps.get(key.format("standard")), sweeps.get(key.format("entangled"))
        if not (s and e):
            continue
        change = (s.full / e.full - 1) if not s.higher else (e.full / s.full - 1)
        a_s, a_e = s.area(), e.area()
        d_s, d_e = 1 - s.normalized(s.mean("soft", 2)), 1 - e.normalized(e.mean("soft", 2))
        defense[key] = (change, a_s, a_e)
        w(f"| {label} | {s.metric} | {fmt(s.full)} | {fmt(e.full)} | {100 * change:+.1f}% | {fmt(a_s, 3)} | {fmt(a_e, 3)} | "
          f"{fmt(d_s, 3)} | {fmt(d_e, 3)} |")
    w("\nChange = full-model quality of the entangled model relative to the standard one (positive = better). Area = mean "
      "normalised quality (full/perplexity or accuracy/full) over the fraction of experts kept, top-k by soft routing mass "
      "(1 = pruning costs nothing; lower = steeper = more resistant). Drop = 1 − normalised quality with 2 of 8 experts.\n")
    for v in ["entangled"]:
        if sweeps.get(f"lm-{v}-general"):
            w("Entangled model, Table 1 layout:\n")
            lm_table(v)
        if sweeps.get(f"sst2-{v}-task"):
            w("Entangled model, Table 2 layout:\n")
            cls_table(v)

    # ---- Tables 4 and 5 ----
    def realign_table(v):
        r = realigns.get(v)
        if not r:
            return None
        rep = r["report"]
        w("| strategy | seeds | after pruning | after re-alignment | labels | labels to target | saved vs random |")
        w("|---|---:|---:|---:|---:|---:|---:|")
        rows = {}
        for row in rep["rows"]:
            rows[row["strategy"]] = row
            to = row.get("labels_to_target")
            saved = row.get("labels_saved")
            rand = next((x.get("labels_to_target") for x in rep["rows"] if x["strategy"] == "random"), None)
            pct = f" ({100 * saved / rand:.0f}%)" if saved is not None and rand else ""
            w(f"| {row['strategy']} | {row['runs']} | {fmt(row['after_pruning']['mean'], 3)} ± {fmt(row['after_pruning']['std'], 3)} | "
              f"{fmt(row['after_fine_tuning']['mean'], 3)} ± {fmt(row['after_fine_tuning']['std'], 3)} | {row['labels_used']} | "
              f"{fmt(to, 1) if to is not None else 'not reached'} | {(f'{saved:+.1f}' + pct) if saved is not None else '–'} |")
        w(f"\nTarget accuracy {fmt(rep['target'], 3)} = {rep['target_rule']}.\n")
        return rows

    w("## Table 4. Re-alignment of the top-2 pruned SST-2 model: active learning vs random labels\n")
    w(f"The SST-2 model is pruned to its 2 experts per layer with the highest soft routing mass on the attacker's SST-2 prompts "
      f"(mask mode), then its surviving experts are fine-tuned (`--trainable experts`, {S['REALIGN_STEPS']} steps per round, "
      f"lr {S['REALIGN_LR']}) on labels bought {S['REALIGN_BATCH']} per round up to {S['REALIGN_BUDGET']}, chosen at random or by "
      f"predictive entropy over {S['REALIGN_CANDIDATES']} candidates per round; {seeds} seeds per strategy.\n")
    w("Standard model:\n")
    std_rows = realign_table("standard")
    w("Entangled model (the same pruning rule and budget):\n")
    ent_rows = realign_table("entangled")
    curve_series = []
    for v, color in [("standard", "#1f77b4"), ("entangled", "#d62728")]:
        r = realigns.get(v)
        if not r:
            continue
        for row in r["report"]["rows"]:
            pts = [(p["labeled"], p["mean"], p["std"]) for p in row["curve"]]
            curve_series.append((f"{v}, {row['strategy']}", pts, color, row["strategy"] == "random"))
    if curve_series:
        with open(os.path.join(args.figures, "recovery-sst2.svg"), "w") as f:
            f.write(svg_chart("Re-alignment after pruning to top-2 (SST-2 dev)", "labeled examples", "accuracy", curve_series))
        w(f"![Recovery curves]({rel_fig}/recovery-sst2.svg)\n")

    w("## Table 5. Entangled training against re-alignment (SST-2, same pruning and label budget)\n")
    w(f"Accuracy on the first {S['REALIGN_EVAL']} SST-2 dev examples (the re-alignment evaluation set) for every column.\n")
    w("| model | full | top-2 pruned | random, final | entropy, final | recovered (random) | recovered (entropy) |")
    w("|---|---:|---:|---:|---:|---:|---:|")
    recovered = {}
    for v in VARIANTS:
        r = realigns.get(v)
        full_eval = P("pruned", f"sst2-{v}-full-eval.json")
        if not r or not os.path.exists(full_eval):
            continue
        full = load(full_eval)["accuracy"]
        rows = {row["strategy"]: row for row in r["report"]["rows"]}
        finals = {s: [run["final"] for run in r["runs"] if run["strategy"] == s] for s in ["random", "entropy"]}
        pruned_acc = rows["entropy"]["after_pruning"]["mean"]
        gap = full - pruned_acc
        rec = {s: (statistics.mean(finals[s]) - pruned_acc) / gap if gap > 1e-9 else None for s in finals}
        recovered[v] = (rec, statistics.mean(finals["entropy"]), full, pruned_acc)
        cell = lambda x: f"{100 * x:.0f}%" if x is not None else "–"
        w(f"| {v} | {fmt(full, 3)} | {fmt(pruned_acc, 3)} | {pm(finals['random'], 3)} | {pm(finals['entropy'], 3)} | "
          f"{cell(rec['random'])} | {cell(rec['entropy'])} |")
    w("\nRecovered = (final − pruned) / (full − pruned): the fraction of the accuracy lost to pruning that re-alignment won "
      "back (mean over seeds; – when pruning lost nothing).\n")

    # ---- findings ----
    w("## Reading\n")
    findings = []
    g = sweeps.get("lm-standard-general")
    if g:
        q = {k: g.normalized(g.mean("soft", k)) for k in g.keeps()}
        qr = {k: g.normalized(g.mean("random", k)) for k in g.keeps()}
        findings.append(
            f"**(1) Corridor, general corpus.** Keeping the top-2 of 8 experts by WikiText-2-valid routing mass leaves "
            f"{100 * q.get(2, 0):.0f}% of the full model's quality on WikiText-2 test (perplexity {fmt(g.full)} → "
            f"{fmt(g.mean('soft', 2))}; random: {fmt(g.mean('random', 2))}). "
            + ("That is a wide corridor." if q.get(2, 0) >= 0.9 else "There is no flat corridor on the general corpus: "
               "general text needs more than 2 experts per layer.")
            + f" Top-k beats random at k=2 by {100 * (q.get(2, 0) - qr.get(2, 0)):.0f} points of normalised quality; "
            + corridor_text(g) + f" (random: {corridor_text(g, 'random').replace('the fewest experts that keep ≥ 90% of the quality is ', '')}).")
    c = sweeps.get("lm-standard-cyclones")
    cg = sweeps.get("lm-standard-cyclones-by-general")
    if c and cg:
        qc, qg, qr = (c.normalized(c.mean("soft", 2)), c.normalized(cg.mean("soft", 2)), c.normalized(c.mean("random", 2)))
        text = (f"**(1) Corridor, one WikiText topic.** On held-out cyclone articles, the top-2 experts by routing mass on "
                f"cyclone articles keep {100 * qc:.0f}% of the quality (perplexity {fmt(c.full)} → {fmt(c.mean('soft', 2))}), "
                f"experts ranked on the general corpus {100 * qg:.0f}% ({fmt(cg.mean('soft', 2))}), random experts "
                f"{100 * qr:.0f}% ({fmt(c.mean('random', 2))}). ")
        text += f"By topic attribution {corridor_text(c)}; by the general ranking {corridor_text(cg).replace('the fewest experts that keep ≥ 90% of the quality is ', '')}. "
        if qc >= 0.9:
            text += "Topic-specific attribution finds a flat corridor here."
        elif qc > qg + 0.02:
            text += ("Ranking experts on the topic's own text is better than ranking them on the general corpus, but "
                     "there is no flat corridor for language modelling of a topic.")
        else:
            text += "Ranking on the topic's own text is no better than the general ranking, and there is no flat corridor."
        findings.append(text)
    t = sweeps.get("sst2-standard-task")
    tg = sweeps.get("sst2-standard-general")
    if t:
        if t.full < 0.6:
            findings.append(f"**(1) Corridor, SST-2.** The SST-2 model only reaches accuracy {fmt(t.full, 3)} (near chance), "
                            "so its pruning curve cannot show a corridor either way.")
        else:
            q2 = t.normalized(t.mean("soft", 2))
            findings.append(
                f"**(1) Corridor, SST-2.** Top-2 experts by SST-2 routing mass keep {100 * q2:.0f}% of the accuracy "
                f"({fmt(t.full, 3)} → {fmt(t.mean('soft', 2), 3)}; random experts {fmt(t.mean('random', 2), 3)}"
                + (f"; ranked on the general corpus {fmt(tg.mean('soft', 2), 3)}" if tg else "") + "); "
                + corridor_text(t) + (f" by SST-2 attribution, against {corridor_text(tg).replace('the fewest experts that keep ≥ 90% of the quality is ', '')} by the general ranking" if tg else "") + ". "
                + ("This matches the paper's > 90% corridor for a task-specific attacker" if q2 >= 0.9 else
                   "This is short of the paper's > 90% corridor")
                + (lambda m: (f", but the model is weak: measured above a constant answer ({m:.3f}), top-2 keeps "
                              f"{100 * (t.mean('soft', 2) - m) / (t.full - m):.0f}% of the margin." if m and t.full > m else "."))(
                    majority(S["CLS_EVAL"])))
    def active_learning_text(v, rows):
        """Labels-to-target of entropy vs random on one variant, or None when the run cannot test it."""
        if not rows or "random" not in rows or "entropy" not in rows:
            return None
        rr, er = rows["random"], rows["entropy"]
        final = (f"Final accuracy after {rr['labels_used']} labels: entropy {fmt(er['after_fine_tuning']['mean'], 3)} ± "
                 f"{fmt(er['after_fine_tuning']['std'], 3)}, random {fmt(rr['after_fine_tuning']['mean'], 3)} ± "
                 f"{fmt(rr['after_fine_tuning']['std'], 3)}"
                 + (" (within one standard deviation)." if abs(er['after_fine_tuning']['mean'] - rr['after_fine_tuning']['mean'])
                    <= max(er['after_fine_tuning']['std'], rr['after_fine_tuning']['std']) else "."))
        if rr.get("labels_to_target") == 0 and er.get("labels_to_target") == 0:
            return (f"On the {v} model the top-2 pruned model starts at accuracy {fmt(rr['after_pruning']['mean'], 3)}, "
                    f"already above the target ({fmt(realigns[v]['report']['target'], 3)}), so labels-to-target is 0 for both "
                    f"strategies and label efficiency cannot be tested on it. " + final), False
        if rr.get("labels_to_target") and er.get("labels_to_target"):
            saved = 1 - er["labels_to_target"] / rr["labels_to_target"]
            # Spread of the two curves over seeds, averaged over rounds: the resolution of the comparison.
            spread = statistics.mean([p["std"] for row in (rr, er) for p in row["curve"][1:]] or [0])
            return (f"On the {v} model (pruned to {fmt(rr['after_pruning']['mean'], 3)}, target "
                    f"{fmt(realigns[v]['report']['target'], 3)}), entropy sampling reaches the target with "
                    f"{fmt(er['labels_to_target'], 1)} labels against {fmt(rr['labels_to_target'], 1)} for random sampling "
                    f"({100 * saved:.0f}% {'fewer' if saved >= 0 else 'more'}; the paper reports 40–50% fewer). Labels come "
                    f"{S['REALIGN_BATCH']} per round and the seed-to-seed spread of the curves is about "
                    f"{100 * spread:.1f} points of accuracy, so this is one measurement at a resolution of one round, not a "
                    f"settled ratio. " + final), True
        return (f"On the {v} model, labels to target: entropy {er.get('labels_to_target') or 'not reached'}, random "
                f"{rr.get('labels_to_target') or 'not reached'}. " + final), True

    texts = [active_learning_text(v, rows) for v, rows in (("standard", std_rows), ("entangled", ent_rows))]
    texts = [t_ for t_ in texts if t_]
    if texts:
        findings.append("**(2) Active learning.** " + " ".join(t_[0] for t_ in texts)
                        + ("" if any(t_[1] for t_ in texts) else " The paper's label-efficiency claim cannot be tested here."))
    if defense:
        parts = []
        for key, (change, a_s, a_e) in defense.items():
            label = {"lm-{}-general": "WikiText-2", "lm-{}-cyclones": "cyclones", "sst2-{}-task": "SST-2"}[key]
            parts.append(f"{label}: area {fmt(a_s, 3)} → {fmt(a_e, 3)} at full-model quality {100 * change:+.1f}%")
        w_ok = defense.get("lm-{}-general")
        verdict = ""
        if w_ok:
            change, a_s, a_e = w_ok
            verdict = (" On WikiText-2 the entangled model is more resistant (lower area) and its full perplexity is not more "
                       "than 5% worse than the standard model's"
                       + (" (it is better; with one training seed per model, part of that gap may be seed variation)."
                          if change > 0 else ".")
                       if a_e < a_s and change > -0.05 else
                       " On WikiText-2 the entangled model is not more resistant within the 5% perplexity allowance.")
        eg = sweeps.get("lm-entangled-general")
        if eg and eg.mean("soft", 2) is not None and eg.values("random", 2):
            rand = eg.values("random", 2)
            spread = statistics.stdev(rand) if len(rand) > 1 else 0.0
            top, mean_r = eg.mean("soft", 2), statistics.mean(rand)
            better = (top < mean_r) if not eg.higher else (top > mean_r)
            if not better or abs(top - mean_r) <= spread:
                verdict += (f" Entanglement also blinds the attacker's ranking: on the entangled model the top-2 experts by "
                            f"routing mass give perplexity {fmt(top)} against {fmt(mean_r)} ± {fmt(spread)} for random "
                            "experts, so attribution picks no better than chance (routing spread out over the experts carries "
                            "little information about which ones matter).")
        findings.append(f"**(3) Entangled training, pruning.** `{S['ENTANGLE_METHOD']}` strength {S['ENTANGLE']}: "
                        + "; ".join(parts) + "." + verdict)
    if len(recovered) == 2:
        parts = []
        for v in VARIANTS:
            rec, ent, full, pruned_acc = recovered[v]
            parts.append(f"{v}: full {fmt(full, 3)}, top-2 pruned {fmt(pruned_acc, 3)} ({100 * (pruned_acc - full):+.1f} points), "
                         f"after entropy re-alignment {fmt(ent, 3)}")
        text = ("**(3) Entangled training, recovery.** Same pruning rule (top-2 by SST-2 routing mass) and label budget: "
                + "; ".join(parts) + ". ")
        rs, re_ = recovered["standard"][0]["entropy"], recovered["entangled"][0]["entropy"]
        n = int(S["REALIGN_EVAL"])
        noise = max(2 * math.sqrt(full * (1 - full) / n) for _, _, full, _ in recovered.values())
        small = [v for v in VARIANTS if recovered[v][2] - recovered[v][3] < noise]
        if small == ["standard"] and re_ is not None:
            rec_e, ent_final, full_e, pruned_e = recovered["entangled"]
            text += (f"Pruning cost the standard model less than {100 * noise:.0f} points (about two standard errors of an "
                     f"accuracy on {n} examples), so the two recoveries cannot be compared; but the entangled model, which "
                     f"pruning did hurt, wins back {100 * re_:.0f}% of its loss with entropy sampling "
                     f"({100 * rec_e['random']:.0f}% with random labels) within {S['REALIGN_BUDGET']} labels"
                     + (": entanglement made pruning hurt, not recovery fail." if re_ >= 0.8 else
                        ": the entangled pruned model does not fully recover."))
        elif small:
            text += (f"Pruning cost {' and '.join(small)} less than {100 * noise:.0f} points, about two standard errors of an "
                     f"accuracy on {n} examples, so the recovered fractions divide noise by noise: this run cannot say whether "
                     "the entangled pruned model recovers less. (On paper, entropy re-alignment won back "
                     f"{100 * rs:.0f}% of the loss on the standard model and {100 * re_:.0f}% on the entangled one.)" if rs is not None and re_ is not None else
                     "Pruning cost too little to measure recovery.")
        elif rs is None or re_ is None:
            text += "Pruning cost one of the models nothing on this evaluation set, so recovery cannot be compared."
        else:
            text += (f"Re-alignment wins back {100 * rs:.0f}% of the pruning loss on the standard model and {100 * re_:.0f}% "
                     "on the entangled one: " + ("the entangled pruned model recovers less." if re_ < rs else
                                                  "the entangled pruned model does not recover less."))
        findings.append(text)
    for f_ in findings:
        if f_:
            w(f_ + "\n")

    # ---- caveats ----
    lm_tokens = int(S["LM_STEPS"]) * int(S["LM_BATCH"]) * int(S["LM_SEQ"])
    corpus_tokens = trains.get("lm-standard", {}).get("examples", 0) * int(S["LM_SEQ"])
    epochs = f"{lm_tokens / corpus_tokens:.2f} of an epoch of WikiText-2 train" if corpus_tokens else "under one epoch"
    w("## Limits of this measurement\n")
    w(f"- Scale. These are {params / 1e6:.1f} M-parameter models trained on {lm_tokens / 1e6:.2f} M tokens "
      f"({epochs}) on 2 CPU cores, not Mixtral-8x7B; their experts have had little time to "
      "specialise, so the absence (or presence) of a corridor here says what happens at this scale only." if params else "- Scale: small models.")
    w(f"- One training seed per model. The ± of random-expert rows and of re-alignment is over {seeds} pruning / "
      "re-alignment seeds of the same trained model; variation between training runs is not measured.")
    w(f"- Accuracy is measured on the first {S['CLS_EVAL']} (sweeps) and {S['REALIGN_EVAL']} (re-alignment) SST-2 dev "
      "examples; one example is 1/N of accuracy, so differences below a few points are noise.")
    w("- Labels to target read the mean learning curve by linear interpolation between rounds of "
      f"{S['REALIGN_BATCH']} labels; the target is 95% of the best random-sampling mean (the `realign` default).")
    w(reproducibility_text(args.rerun, out, args.rerun_label) + "\n")

    # ---- runtimes and commands ----
    w("## Runtimes\n")
    w("Wall-clock seconds of each step on this machine (2 cores shared with other jobs, so runtimes are upper bounds):\n")
    w("| step | seconds |")
    w("|---|---:|")
    for name, sec in times.items():
        w(f"| {name} | {sec} |")
    per = {v: sum(sec for name, sec in times.items() if v in name) for v in VARIANTS}
    shared = sum(sec for name, sec in times.items() if not any(v in name for v in VARIANTS))
    w(f"| sum of the standard pipeline | {per['standard']} ({per['standard'] / 60:.0f} min) |")
    w(f"| sum of the entangled pipeline | {per['entangled']} ({per['entangled'] / 60:.0f} min) |")
    w(f"| shared steps (tokenizer) | {shared} |\n")
    w(f"The two pipelines ran side by side, so the wall time of the whole run was about "
      f"{(shared + max(per.values())) / 60:.0f} min"
      + (" plus the interrupted first training session (not counted above)" if any(t.get("start_step") for t in trains.values()) else "")
      + ".\n")
    w("## Exact commands\n")
    w("As run by the script (paths relative to the repository; `$OUT` = the output folder). The data files under "
      "`$OUT/data` are cut from ../shared/data by the script itself (awk): the cyclone articles by title, and the SST-2 "
      "owner / attacker rows by row number.\n")
    w("```sh")
    for name, command in commands.items():
        binary, _, rest = command.partition(" ")
        command = ("expertlock " + rest) if binary.endswith("/expertlock") else command
        w(command.replace(os.path.abspath(out) + "/", "$OUT/").replace(out + "/", "$OUT/"))
    w("```\n")
    w("Budgets (`settings.env`, all overridable as environment variables of the script):\n")
    w("```")
    for k, v in settings.items():
        w(f"{k}={v}")
    w("```")
    with open(args.results, "w") as f:
        f.write("\n".join(md) + "\n")


if __name__ == "__main__":
    main()
