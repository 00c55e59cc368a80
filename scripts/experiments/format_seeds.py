"""docs/RESULTS.md for a run of paper_tables.sh with several training seeds ($OUT/seed-N/...).

Imported by format_results.py when the output folder holds seed-* folders. Standard library only.

Every figure is read from the JSON files ExpertLock's commands wrote for one training seed, then summarised
over training seeds. How an interval is made (stated in the file it writes, too):

- Each per-seed value θ_i has an evaluation-set standard error w_i where the stored outputs allow one:
  binomial for an accuracy on the dev rows (delta method for ratios, taking the two accuracies as
  independent, which overstates the error of positively correlated pairs), the re-alignment's own
  two-stage bootstrap (re-alignment seeds, then evaluation examples) for label savings.
- Every training seed is scored on the same evaluation rows, so that part of the error does not shrink
  with more seeds. The interval is θ̄ ± t(0.975, n − 1) · sqrt(s²/n + w̄²): the training-seed variance of
  the mean plus the whole average evaluation variance (w̄² = mean of w_i²). This is conservative.
- Perplexity sweeps store one value per point (no per-document losses), so their intervals cover the
  training seeds only; the file says so where it uses them.
- A finding is "supported" or "refuted" only when that interval decides it, "not resolved" when it
  straddles the line (in the findings: "not resolvable with n training seeds"), and "not resolvable" when the
  design cannot decide it (fewer than 2 seeds, a full model at chance, a target reached inside the shared
  seed set or, without one, by the pruned model before any label).
"""
import glob
import json
import math
import os
import statistics

# Two-sided 95% Student t quantiles by degrees of freedom (scipy.stats.t.ppf(0.975, df)).
T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228}
VARIANTS = ["standard", "entangled"]


def load(path):
    with open(path) as f:
        return json.load(f)


def number(x):
    if isinstance(x, str):
        return {"inf": math.inf, "-inf": -math.inf}.get(x, math.nan)
    return math.nan if x is None else float(x)


def finite(x):
    return x is not None and isinstance(x, (int, float)) and math.isfinite(x)


class Estimate:
    """Per-seed values (with optional evaluation standard errors) and their combined interval."""

    def __init__(self, values, errors=None):
        pairs = [(v, e) for v, e in zip(values, errors or [None] * len(values)) if finite(v)]
        self.values = [v for v, _ in pairs]
        self.errors = [e for _, e in pairs]
        self.n = len(self.values)
        self.mean = statistics.mean(self.values) if self.values else math.nan
        self.sd = statistics.stdev(self.values) if self.n > 1 else math.nan
        known = [e for e in self.errors if finite(e)]
        self.eval_se = math.sqrt(statistics.mean([e * e for e in known])) if known else None
        if self.n > 1:
            se = math.sqrt(self.sd ** 2 / self.n + (self.eval_se or 0) ** 2)
            h = T975.get(self.n - 1, 1.96) * se
            self.lower, self.upper = self.mean - h, self.mean + h
        else:
            self.lower = self.upper = math.nan

    @property
    def has_interval(self):
        return math.isfinite(self.lower)

    def pm(self, digits=3):
        if not self.values:
            return "–"
        if not math.isfinite(self.sd):
            return f"{self.mean:.{digits}f}"
        return f"{self.mean:.{digits}f} ± {self.sd:.{digits}f}"

    def ci(self, digits=3):
        return f"[{self.lower:.{digits}f}, {self.upper:.{digits}f}]" if self.has_interval else "–"

    def both(self, digits=3):
        return self.pm(digits) + (f" {self.ci(digits)}" if self.has_interval else "")


def verdict_above(est, line, what="seeds"):
    """supported when the whole interval is above `line`, refuted when below, else not resolved."""
    if est.n < 2:
        return f"not resolvable (fewer than 2 {what})"
    return "supported" if est.lower > line else "refuted" if est.upper < line else "not resolved"


# ---- sweeps ----

class Sweep:
    def __init__(self, data, examples=None):
        self.d = data
        self.full = data["full"]
        self.higher = data["metric"] != "perplexity"
        self.n = examples
        self.experts = 8  # paper_tables.sh's config: 8 experts per layer

    def keeps(self):
        return sorted({p["k"] for p in self.d["curve"] if p.get("k") is not None})  # ascending

    def values(self, strategy, k):
        return [p["metric"] for p in self.d["curve"] if p["strategy"] == strategy and p.get("k") == k]

    def mean(self, strategy, k):
        v = self.values(strategy, k)
        return statistics.mean(v) if v else math.nan

    def acc_se(self, a):
        return math.sqrt(max(a * (1 - a), 0) / self.n) if self.n and finite(a) else None

    # quality of a point relative to the full model, in three forms
    def ratio(self, m):
        return (m / self.full if self.higher else self.full / m) if finite(m) and m else math.nan

    def retention(self, m, chance):
        """Chance-corrected retention (m − c)/(full − c); nan when the full model is within 0.02 of chance."""
        if not self.higher or chance is None or self.full - chance <= 0.02 or not finite(m):
            return math.nan
        return (m - chance) / (self.full - chance)

    def retention_se(self, m, chance):
        r = self.retention(m, chance)
        if not finite(r) or not self.n:
            return None
        return math.sqrt(self.acc_se(m) ** 2 + r * r * self.acc_se(self.full) ** 2) / (self.full - chance)

    def delta_nll(self, m):
        """log(perplexity_k / perplexity_full): the mean extra loss per token in nats."""
        return math.log(m / self.full) if finite(m) and m > 0 and not self.higher else math.nan

    def area(self, quality, strategy="soft", se=None):
        """Trapezoid area of quality over the fraction of experts kept, from the smallest k to all experts
        (quality 1 there), divided by that range; with `se`, also the triangle-inequality bound of its
        evaluation error (Σ weight · se of each point, valid whatever the points' correlation)."""
        pts = [(k / self.experts, quality(self.mean(strategy, k)), se(self.mean(strategy, k)) if se else 0.0)
               for k in self.keeps() if self.values(strategy, k)]
        if not pts or any(not finite(q) for _, q, _ in pts):
            return math.nan, None
        if pts[-1][0] < 1:
            pts.append((1.0, 0.0 if quality == self.delta_nll else 1.0, 0.0))
        rng = pts[-1][0] - pts[0][0]
        if rng <= 0:
            return math.nan, None
        area, err = 0.0, 0.0
        for (x0, q0, e0), (x1, q1, e1) in zip(pts, pts[1:]):
            area += (x1 - x0) * (q0 + q1) / 2
            err += (x1 - x0) * ((e0 or 0) + (e1 or 0)) / 2
        return area / rng, (err / rng if se else None)

    def crossings(self, other, quality, strategy="soft"):
        """The k at which this model's quality curve and `other`'s change order."""
        ks = [k for k in self.keeps() if k in other.keeps()]
        diffs = [(k, quality(self, self.mean(strategy, k)) - quality(other, other.mean(strategy, k))) for k in ks]
        return [k1 for (k0, d0), (k1, d1) in zip(diffs, diffs[1:]) if finite(d0) and finite(d1) and d0 * d1 < 0]


class PerplexityNoise:
    """Evaluation-text error of one seed's WikiText-2 figures from `eval --out` files (noise/ folder): the exact
    log-likelihood of every window batch of the full and of each top-k model, resampled in contiguous blocks of
    BLOCK batches (about one article) with the same blocks for every model, so differences are paired."""

    BLOCK = 3
    RESAMPLES = 2000

    def __init__(self, seed_dir, keeps):
        self.ok = True
        self.ll = {}
        for v in VARIANTS:
            for k in keeps + [8]:
                name = "full" if k == 8 else f"top{k}"
                p = os.path.join(seed_dir, "noise", f"lm-{v}-general-{name}.json")
                if not os.path.exists(p):
                    self.ok = False
                    return
                parts = sorted(load(p)["partials"], key=lambda x: x["batch"])
                self.ll[(v, k)] = [x["log_likelihood"] for x in parts]
                self.tokens = [x["tokens"] for x in parts]
        self.keeps = sorted(keeps)
        n = len(self.tokens)
        self.blocks = [list(range(i, min(i + self.BLOCK, n))) for i in range(0, n, self.BLOCK)]

    def perplexity(self, v, k):
        return math.exp(-sum(self.ll[(v, k)]) / sum(self.tokens))

    def _stats(self, idx):
        """Figures of one resample (batch indices): per variant the ΔNLL and ratio areas, ΔNLL at k = 2 and the
        full model's NLL; then the paired differences."""
        t = sum(self.tokens[i] for i in idx)
        out = {}
        for v in VARIANTS:
            full = -sum(self.ll[(v, 8)][i] for i in idx) / t
            d = {k: -sum(self.ll[(v, k)][i] for i in idx) / t - full for k in self.keeps}
            xs = [k / 8 for k in self.keeps] + [1.0]
            dn = [d[k] for k in self.keeps] + [0.0]
            rt = [math.exp(-d[k]) for k in self.keeps] + [1.0]
            trap = lambda ys: sum((xs[i + 1] - xs[i]) * (ys[i] + ys[i + 1]) / 2 for i in range(len(xs) - 1)) / (
                xs[-1] - xs[0])
            out[v] = {"full": full, "dnll_area": trap(dn), "ratio_area": trap(rt), "dnll2": d.get(2, math.nan)}
        s_, e_ = out["standard"], out["entangled"]
        out["diff"] = {"full": s_["full"] - e_["full"], "dnll_area": e_["dnll_area"] - s_["dnll_area"],
                       "ratio_area": s_["ratio_area"] - e_["ratio_area"], "dnll2": e_["dnll2"] - s_["dnll2"]}
        return out

    def standard_errors(self):
        """{variant or "diff": {figure: bootstrap SD}}, from a fixed-seed resampler (the file repeats)."""
        import random
        rng = random.Random(20261207)
        draws = []
        for _ in range(self.RESAMPLES):
            idx = [i for _b in range(len(self.blocks)) for i in self.blocks[rng.randrange(len(self.blocks))]]
            draws.append(self._stats(idx))
        return {g: {f: statistics.stdev([d[g][f] for d in draws]) for f in draws[0][g]} for g in draws[0]}


def schedule_check(seed_dirs, variant):
    """What the fine-tuning schedule did in every re-alignment run of `variant` (its result.json files): rounds
    whose update was kept, falls of the held-out split's accuracy among kept rounds (0 by the gated rule), and
    falls of the dev accuracy between consecutive rounds, the thing the rule is meant to stop."""
    runs = [load(f) for s in seed_dirs for f in sorted(glob.glob(os.path.join(s, "realign", variant, "*", "result.json")))]
    runs = [r for r in runs if r and r.get("curve")]
    if not runs:
        return None
    rounds = kept = held_out_falls = 0
    largest, end_gap = [], []
    for r in runs:
        curve = r["curve"]
        rounds += len(curve) - 1
        kept += sum(1 for p in curve[1:] if p.get("kept"))
        last = None
        for p in curve:
            if p.get("kept") and p.get("validation") is not None:
                if last is not None and p["validation"] < last:
                    held_out_falls += 1
                last = p["validation"]
        metrics = [p["metric"] for p in curve]
        largest.append(max([0.0] + [a - b for a, b in zip(metrics, metrics[1:])]))
        end_gap.append(max(metrics[1:] or metrics) - metrics[-1])
    gated = any(p.get("kept") is not None for r in runs for p in r["curve"])
    return {"runs": len(runs), "rounds": rounds, "kept": kept if gated else None,
            "held_out_falls": held_out_falls if gated else None, "largest_fall": largest, "end_gap": end_gap}


def majority(dev):
    if not dev or not os.path.exists(dev):
        return None, None
    labels = [line.rstrip("\n").split("\t")[-1] for line in open(dev)][1:]
    ones = sum(1 for x in labels if x == "1")
    return max(ones, len(labels) - ones) / max(len(labels), 1), len(labels)


def write_multi_seed(out, results, sst_dev, figures=None, baseline=None):
    from format_results import svg_chart  # same folder; imported here to avoid a cycle at import time

    settings = dict(line.strip().split("=", 1) for line in open(os.path.join(out, "settings.env")) if "=" in line)
    S = settings
    seed_dirs = sorted(glob.glob(os.path.join(out, "seed-*")), key=lambda p: int(p.rsplit("-", 1)[1]))
    chance, dev_rows = majority(sst_dev)
    figures = figures or os.path.join(os.path.dirname(os.path.abspath(results)), "figures")
    os.makedirs(figures, exist_ok=True)
    rel_fig = os.path.relpath(figures, os.path.dirname(os.path.abspath(results)))

    def seed_json(seed_dir, *parts):
        p = os.path.join(seed_dir, *parts)
        return load(p) if os.path.exists(p) else None

    def sweeps(name):
        """The sweep `name` of every seed (None where missing)."""
        out_ = []
        for s in seed_dirs:
            d = seed_json(s, "sweeps", name + ".json")
            out_.append(Sweep(d, dev_rows if d and d["metric"] != "perplexity" else None) if d else None)
        return out_

    finished = [s for s in seed_dirs if all(
        os.path.exists(os.path.join(s, "realign", v + ".json")) for v in VARIANTS)]
    times = {}
    for line in open(os.path.join(out, "times.tsv")):
        name, seconds = line.rstrip("\n").split("\t")
        times[name] = times.get(name, 0) + int(seconds)
    commands = {}
    for line in open(os.path.join(out, "commands.log")):
        name, command = line.rstrip("\n").split("\t", 1)
        commands.setdefault(name, command)
    binaries = sorted({c.split()[0] for c in commands.values()})

    md = []
    w = md.append
    seeds_text = ", ".join(os.path.basename(s).replace("seed-", "") for s in seed_dirs)
    w("# Results on real data: WikiText-2 and SST-2, several training seeds\n")
    w("Written by `scripts/experiments/paper_tables.sh` (through `format_results.py` and `format_seeds.py`) from the "
      "JSON files ExpertLock's own commands wrote; never edited by hand. Regenerate with\n")
    w("```sh\nswift build -c release --product expertlock\nscripts/experiments/paper_tables.sh   "
      "# resumable; output in experiments-out/\n```\n")
    w(f"Training seeds: {seeds_text} ({len(finished)} of {len(seed_dirs)} finished every step). "
      f"Binary: {', '.join(f'`{b}`' for b in binaries)}.\n")
    provenance = os.path.join(out, "provenance.txt")
    if os.path.exists(provenance):
        # One line per distinct record: what each invocation of the script ran with.
        lines = list(dict.fromkeys(l.strip() for l in open(provenance) if l.strip() and not l.startswith("started")))
        w("Provenance (`provenance.txt` of the output folder):\n\n" + "\n".join(f"- {l}" for l in lines) + "\n")
    w("**How to read the figures.** `a ± b` is the mean ± SD over training seeds of a per-seed value; `[lo, hi]` is "
      "its 95% interval: mean ± t(0.975, n−1)·sqrt(SD²/n + e²), where e is the evaluation-set standard error of a "
      "per-seed value (binomial for SST-2 accuracies on the dev rows, delta method for ratios; the re-alignment's own "
      "bootstrap over re-alignment seeds and dev rows for label savings). Every seed is scored on the same rows, so "
      "e is added whole, not divided by n. For WikiText-2 test perplexity, e comes from a block bootstrap of per-batch "
      "log-likelihoods (Table 3); the other perplexity figures (cyclone articles, random subsets) store one value per "
      "point, so **their intervals cover training seeds only** and say so. Random-expert baselines are averaged over their subsets first (each seed and sweep "
      "draws its own subsets).\n")

    # ---- setup ----
    w("## Setup\n")
    w(f"- Model: Mixtral-style MoE trained from scratch, {S['LAYERS']} layers, hidden {S['HIDDEN']}, expert "
      f"intermediate {S['INTERMEDIATE']}, {S['HEADS']} heads ({S['KV_HEADS']} KV heads), 8 experts per layer, top-2; "
      f"byte-level BPE vocabulary {S['VOCAB']} trained on WikiText-2 train.")
    w(f"- `lm-standard` / `lm-entangled`: {S['LM_STEPS']} steps × {S['LM_BATCH']} × {S['LM_SEQ']} tokens of "
      f"WikiText-2 train (lr {S['LM_LR']}, warm-up {S['LM_WARMUP']}, cosine); the entangled model adds "
      f"`{S['ENTANGLE_METHOD']}` at strength {S['ENTANGLE']}. `sst2-*`: the LM continued {S['SST_STEPS']} steps × "
      f"{S['SST_BATCH']} SST-2 prompts (train rows 1–{S['SST_TRAIN_ROWS']}, loss on the label word).")
    w(f"- Attacker: SST-2 train rows from {S['ATTACK_FIRST_ROW']} ({S['ATTR_ROWS']} prompts for attribution, the next "
      f"{S['POOL_ROWS']} as the unlabeled pool), disjoint from the owner's rows. SST-2 accuracy on the whole dev set "
      f"({dev_rows or '?'} rows" + (f"; a constant answer gets {chance:.3f}" if chance else "") + "). Perplexity on "
      f"every {S.get('EVERY_NTH', '?')}-th whole article of WikiText-2 test (windows of {S['CONTEXT']} tokens) and on "
      "the whole held-out cyclone articles (5 in valid + test; 24 cyclone articles of train are the topic attribution).")
    seed_set = int(S.get("REALIGN_INITIAL", "0"))
    schedule = S.get("REALIGN_SCHEDULE", "continued")
    w(f"- Random baselines: {S['LM_RANDOM']} subsets per k (perplexity) and {S['CLS_RANDOM']} (SST-2). Re-alignment: "
      f"{S['SEEDS']} seeds per strategy, {S['REALIGN_BATCH']} labels per round up to {S['REALIGN_BUDGET']}, "
      + (f"shared random seed set of {seed_set}" if seed_set else "no seed set (each strategy picks from round 0)")
      + f", {S['REALIGN_STEPS']} steps per round at lr {S['REALIGN_LR']}, fine-tuning schedule `{schedule}`"
      + (f" (the rule: a round's update is kept only if accuracy on {S.get('REALIGN_VALIDATION', '64')} held-out "
         "pool rows, the same for both strategies of a seed and never selected, does not fall; otherwise the weights "
         "go back to the kept model and the round's labels stay labeled)" if schedule == "gated" else "")
      + ".\n")
    w("| seed | model | steps | final training loss | tokens/s (last session) |")
    w("|---:|---|---:|---:|---:|")
    for s in seed_dirs:
        for name in ["lm-standard", "lm-entangled", "sst2-standard", "sst2-entangled"]:
            t = seed_json(s, "models", name + ".json")
            if t:
                resumed = f" (resumed at step {t['start_step']})" if t.get("start_step") else ""
                w(f"| {os.path.basename(s).replace('seed-', '')} | `{name}` | {t.get('steps', '–')}{resumed} | "
                  f"{number(t.get('final_loss')):.3f} | {number(t.get('tokens_per_s')):.0f} |")
    w("")

    # ---- Table 1: perplexity ----
    def over_seeds(sweep_list, fn, err=None):
        vals, errs = [], []
        for sw in sweep_list:
            vals.append(fn(sw) if sw else None)
            errs.append(err(sw) if (sw and err) else None)
        return Estimate(vals, errs)

    def rand_mean(sw, k):
        return sw.mean("random", k) if sw.values("random", k) else None

    keeps = sorted({int(k) for k in S["KEEPS"].split(",")}, reverse=True)
    for v in VARIANTS:
        g, c, cg = sweeps(f"lm-{v}-general"), sweeps(f"lm-{v}-cyclones"), sweeps(f"lm-{v}-cyclones-by-general")
        if not any(g):
            continue
        w(f"## Table 1{'a' if v == 'standard' else 'b'}. Perplexity after keeping k of 8 experts per layer ({v})\n")
        w("| experts kept | WikiText-2 test: top-k (general attribution) | random | cyclones: top-k (cyclone "
          "attribution) | top-k (general attribution) | random |")
        w("|---:|---:|---:|---:|---:|---:|")
        w(f"| 8 (full) | {over_seeds(g, lambda s: s.full).pm(2)} | | {over_seeds(c, lambda s: s.full).pm(2)} | | |")
        for k in keeps:
            w(f"| {k} | {over_seeds(g, lambda s: s.mean('soft', k)).pm(2)} | "
              f"{over_seeds(g, lambda s: rand_mean(s, k)).pm(2)} | {over_seeds(c, lambda s: s.mean('soft', k)).pm(2)} | "
              f"{over_seeds(cg, lambda s: s.mean('soft', k)).pm(2)} | {over_seeds(c, lambda s: rand_mean(s, k)).pm(2)} |")
        w("")

    # ---- Table 2: SST-2 ----
    for v in VARIANTS:
        t, g = sweeps(f"sst2-{v}-task"), sweeps(f"sst2-{v}-general")
        if not any(t):
            continue
        w(f"## Table 2{'a' if v == 'standard' else 'b'}. SST-2 accuracy after keeping k of 8 experts per layer ({v})\n")
        w("Retention is chance-corrected, (accuracy − c) / (full − c) with c the constant-answer rate, so a model at "
          "chance keeps 0%; the plain ratio is given beside it.\n")
        w("| experts kept | top-k (SST-2 attribution) | retention [95%] | ratio | top-k (general attribution) | "
          "retention | random | retention |")
        w("|---:|---:|---:|---:|---:|---:|---:|---:|")
        full = over_seeds(t, lambda s: s.full, lambda s: s.acc_se(s.full))
        w(f"| 8 (full) | {full.both()} | | | | | | |")
        for k in keeps:
            soft = over_seeds(t, lambda s: s.mean("soft", k), lambda s: s.acc_se(s.mean("soft", k)))
            ret = over_seeds(t, lambda s: s.retention(s.mean("soft", k), chance),
                             lambda s: s.retention_se(s.mean("soft", k), chance))
            ratio = over_seeds(t, lambda s: s.ratio(s.mean("soft", k)))
            gen = over_seeds(g, lambda s: s.mean("soft", k))
            gret = over_seeds(g, lambda s: s.retention(s.mean("soft", k), chance))
            rnd = over_seeds(t, lambda s: rand_mean(s, k))
            rret = over_seeds(t, lambda s: s.retention(rand_mean(s, k), chance) if rand_mean(s, k) else None)
            w(f"| {k} | {soft.pm()} | {ret.both()} | {ratio.pm()} | {gen.pm()} | {gret.pm()} | {rnd.pm()} | "
              f"{rret.pm()} |")
        w("")

    # ---- Figure ----
    w("## Figure 1. Prunability curves, standard vs entangled (mean over training seeds, band = SD)\n")
    for key, title, ylabel, log_y in [
            ("lm-{}-general", "WikiText-2 test perplexity (general attribution)", "perplexity", True),
            ("lm-{}-cyclones", "Cyclone articles perplexity (topic attribution)", "perplexity", True),
            ("sst2-{}-task", "SST-2 dev accuracy (SST-2 attribution)", "accuracy", False)]:
        series = []
        for v, color in [("standard", "#1f77b4"), ("entangled", "#d62728")]:
            sw = [s for s in sweeps(key.format(v)) if s]
            if not sw:
                continue
            for strategy, dashed in [("soft", False), ("random", True)]:
                pts = []
                for k in keeps + [8]:
                    vals = [s.full if k == 8 else (s.mean(strategy, k) if s.values(strategy, k) else None) for s in sw]
                    vals = [x for x in vals if finite(x)]
                    if vals:
                        pts.append((k, statistics.mean(vals), statistics.stdev(vals) if len(vals) > 1 else 0.0))
                series.append((f"{v}, {'top-k' if strategy == 'soft' else 'random'}", pts, color, dashed))
        if series:
            name = "figure1-" + key.format("x").replace("-x", "") + ".svg"
            with open(os.path.join(figures, name), "w") as f:
                f.write(svg_chart(title, "experts kept per layer (of 8)", ylabel, series, log_y=log_y, reverse_x=True))
            w(f"![{title}]({rel_fig}/{name})\n")

    # ---- Table 3: standard vs entangled ----
    w("## Table 3. Entangled vs standard training: cost and resistance to top-k pruning (paired by training seed)\n")
    w("Area: the mean quality over the fraction of experts kept (trapezoids from k = 1 to all 8), top-k by soft "
      "routing mass. *Ratio area* uses quality/full (perplexity: full/perplexity), *retention area* the "
      "chance-corrected retention, *ΔNLL area* the extra loss log(perplexity_k/perplexity_full) in nats. Lower ratio "
      "or retention area, or higher ΔNLL area, means pruning hurts more. Differences are standard − entangled per "
      "seed (for ΔNLL entangled − standard), so a positive difference means the entangled model resists more.\n")
    noise = [PerplexityNoise(s, keeps) for s in seed_dirs]
    noise_se = [n_.standard_errors() if n_.ok else None for n_ in noise]
    for s, n_ in zip(seed_dirs, noise):
        g_ = seed_json(s, "sweeps", "lm-standard-general.json")
        if n_.ok and g_ and abs(n_.perplexity("standard", 8) / g_["full"] - 1) > 1e-6:
            raise SystemExit(f"{s}: noise/ perplexity {n_.perplexity('standard', 8)} differs from the sweep's "
                             f"{g_['full']}: not the same evaluation")
    if any(noise_se):
        w(f"WikiText-2 test rows: the evaluation-text error is a block bootstrap ({PerplexityNoise.RESAMPLES} "
          f"resamples, blocks of {PerplexityNoise.BLOCK} window batches ≈ one article, the same blocks for every model "
          f"and variant) of the per-batch log-likelihoods in `noise/` ({sum(1 for x in noise_se if x)} of "
          f"{len(seed_dirs)} seeds); cyclone rows cover training seeds only.\n")
    w("| task | measure | standard | entangled | difference [95%] | verdict |")
    w("|---|---|---:|---:|---:|---|")
    decisive = {}
    for key, label in [("lm-{}-general", "WikiText-2 test"), ("lm-{}-cyclones", "cyclones"),
                       ("sst2-{}-task", "SST-2 dev")]:
        std, ent = sweeps(key.format("standard")), sweeps(key.format("entangled"))
        pairs = [(a, b) for a, b in zip(std, ent) if a and b]
        if not pairs:
            continue
        acc = pairs[0][0].higher
        measures = [("full model", lambda s: s.full, (lambda s: s.acc_se(s.full)) if acc else None, "cost")]
        measures.append(("ratio area", lambda s: s.area(s.ratio)[0], None, "std-ent"))
        if acc:
            measures.append(("retention area", lambda s: s.area(lambda m: s.retention(m, chance))[0],
                             lambda s: s.area(lambda m: s.retention(m, chance),
                                              se=lambda m: s.retention_se(m, chance))[1], "std-ent"))
            measures.append(("retention at k = 2", lambda s: s.retention(s.mean("soft", 2), chance),
                             lambda s: s.retention_se(s.mean("soft", 2), chance), "std-ent"))
        else:
            measures.append(("ΔNLL area (nats)", lambda s: s.area(s.delta_nll)[0], None, "ent-std"))
            measures.append(("ΔNLL at k = 2 (nats)", lambda s: s.delta_nll(s.mean("soft", 2)), None, "ent-std"))
        # WikiText-2 test: errors from the block bootstrap (per seed; None where the noise files are missing).
        nkey = {"full model": "full", "ratio area": "ratio_area", "ΔNLL area (nats)": "dnll_area",
                "ΔNLL at k = 2 (nats)": "dnll2"}
        paired_se = [se for (x, y), se in zip(zip(std, ent), noise_se) if x and y]
        for mname, fn, err, sign in measures:
            if label == "WikiText-2 test" and any(paired_se):
                key = nkey[mname]
                a_err = [se["standard"][key] if se else None for se in paired_se]
                b_err = [se["entangled"][key] if se else None for se in paired_se]
                d_err = [se["diff"][key] if se else None for se in paired_se]
                if key == "full":  # the bootstrap is of the NLL (log perplexity); the columns show perplexity
                    a_err = b_err = [None] * len(pairs)
            else:
                a_err = [err(x) if err else None for x, _ in pairs]
                b_err = [err(y) if err else None for _, y in pairs]
                d_err = [((err(x) or 0) + (err(y) or 0)) if err else None for x, y in pairs]
            a = Estimate([fn(x) for x, _ in pairs], a_err)
            b = Estimate([fn(y) for _, y in pairs], b_err)
            if sign == "ent-std":
                diffs = [fn(y) - fn(x) for x, y in pairs]
            elif sign == "cost":
                # Positive: the entangled model is better in full (accuracy up or perplexity down).
                diffs = [(fn(y) - fn(x)) if acc else (math.log(fn(x)) - math.log(fn(y))) for x, y in pairs]
            else:
                diffs = [fn(x) - fn(y) for x, y in pairs]
            d = Estimate(diffs, d_err)
            if sign == "cost":
                verdict = ("no cost resolved" if d.has_interval and d.lower <= 0 <= d.upper else
                           "entangled better" if d.has_interval and d.lower > 0 else
                           "entangled worse" if d.has_interval else "not resolvable (fewer than 2 seeds)")
                unit = "accuracy" if acc else "log perplexity (nats)"
                mname = f"full model ({'accuracy' if acc else 'perplexity'}; difference in {unit})"
            else:
                v_ = verdict_above(d, 0.0)
                verdict = {"supported": "entangled resists more", "refuted": "entangled resists less"}.get(v_, v_)
                if mname in ("retention area", "ΔNLL area (nats)"):
                    decisive[label] = (mname, d, v_)
            if d.eval_se is None and d.has_interval:
                verdict += " (training seeds only)"
            w(f"| {label} | {mname} | {a.pm()} | {b.pm()} | {d.both()} | {verdict} |")
        cross = sorted({k for x, y in pairs for k in x.crossings(
            y, (lambda s, m: s.retention(m, chance)) if acc else (lambda s, m: -s.delta_nll(m)))})
        if cross:
            w(f"| {label} | curves cross (some seed) | | | between k = {', '.join(str(k) for k in cross)} and the "
              "next smaller k | |")
    w("")

    # ---- Table 4: re-alignment ----
    w("## Table 4. Re-alignment of the top-2 pruned SST-2 model: entropy vs random labels\n")
    w("Per training seed, the re-alignment report's own figures (mean over re-alignment seeds), then mean ± SD over "
      "training seeds. The target is relative to the unpruned model (`--reference`); labels to target is ∞ for a "
      "seed that never reached it.\n")
    w("| model | strategy | after pruning | after re-alignment | labels to target | per-seed verdicts |")
    w("|---|---|---:|---:|---:|---|")
    realign = {v: [seed_json(s, "realign", v + ".json") for s in seed_dirs] for v in VARIANTS}
    saved = {}
    for v in VARIANTS:
        reps = [r for r in realign[v] if r]
        if not reps:
            continue
        strategies = [row["strategy"] for row in reps[0]["report"]["rows"]]
        for strategy in strategies:
            rows = [next((x for x in r["report"]["rows"] if x["strategy"] == strategy), None) for r in reps]
            ap = Estimate([row["after_pruning"]["mean"] if row else None for row in rows])
            af = Estimate([row["after_fine_tuning"]["mean"] if row else None for row in rows])
            to = [number(row.get("labels_to_target")) if row else math.nan for row in rows]
            to_text = ", ".join("∞" if math.isinf(x) or math.isnan(x) else f"{x:.0f}" for x in to)
            verdicts = []
            for r in reps:
                for cmp_ in ((r["report"].get("efficiency") or {}).get("comparisons") or []):
                    if cmp_["strategy"] == strategy:
                        verdicts.append(cmp_["verdict"])
            w(f"| {v} | {strategy} | {ap.pm()} | {af.pm()} | {to_text} (per seed) | {'; '.join(verdicts) or '–'} |")
        fr, fe, verds = [], [], []
        for r in reps:
            for cmp_ in ((r["report"].get("efficiency") or {}).get("comparisons") or []):
                verds.append(cmp_["verdict"])
                sf = cmp_.get("saved_fraction")
                if sf:
                    fr.append(number(sf.get("estimate")))
                    fe.append((number(sf["upper"]) - number(sf["lower"])) / (2 * 1.96)
                              if finite(number(sf.get("upper"))) and finite(number(sf.get("lower"))) else None)
        saved[v] = (Estimate(fr, fe), verds)
        targets = ", ".join(f"{number(r['report']['target']):.3f}" for r in reps)
        w(f"| {v} | target (per seed) | | | {targets} | {reps[0]['report'].get('target_rule', '')} |")
    w("")
    checks = {v: schedule_check(seed_dirs, v) for v in VARIANTS}
    if baseline:
        base_dirs = sorted(glob.glob(os.path.join(baseline[0], "seed-*")))
        for v in VARIANTS:
            checks[f"{v}, {baseline[1]}"] = schedule_check(base_dirs, v)
    if any(checks.values()):
        w(f"The fine-tuning schedule (`{S.get('REALIGN_SCHEDULE', 'continued')}`), checked on every re-alignment run "
          "(both strategies, every seed): rounds whose update was kept, falls of the held-out split's accuracy among "
          "kept rounds (the gated rule allows none), and how far the dev accuracy falls between two consecutive rounds "
          "(median and largest over runs) and from the curve's best round to its last (mean).\n")
        w("| model | runs | rounds kept | held-out falls | dev fall between rounds (median, largest) | best − last (mean) |")
        w("|---|---:|---:|---:|---:|---:|")
        for v, c in checks.items():
            if not c:
                continue
            kept = f"{c['kept']} of {c['rounds']}" if c["kept"] is not None else f"all {c['rounds']} (no gate)"
            falls = str(c["held_out_falls"]) if c["held_out_falls"] is not None else "–"
            w(f"| {v} | {c['runs']} | {kept} | {falls} | {statistics.median(c['largest_fall']):.3f}, "
              f"{max(c['largest_fall']):.3f} | {statistics.mean(c['end_gap']):.3f} |")
        w("")
    curve_series = []
    for v, color in [("standard", "#1f77b4"), ("entangled", "#d62728")]:
        reps = [r for r in realign.get(v, []) if r]
        if not reps:
            continue
        for strategy in [row["strategy"] for row in reps[0]["report"]["rows"]]:
            by_label = {}
            for r in reps:
                row = next((x for x in r["report"]["rows"] if x["strategy"] == strategy), None)
                for p in (row or {}).get("curve", []):
                    by_label.setdefault(p["labeled"], []).append(p["mean"])
            pts = [(x, statistics.mean(ys), statistics.stdev(ys) if len(ys) > 1 else 0.0)
                   for x, ys in sorted(by_label.items())]
            curve_series.append((f"{v}, {strategy}", pts, color, strategy == "random"))
    if curve_series:
        with open(os.path.join(figures, "recovery-sst2.svg"), "w") as f:
            f.write(svg_chart("Re-alignment after pruning to top-2 (SST-2 dev; mean over training seeds)",
                              "labeled examples", "accuracy", curve_series))
        w(f"![Recovery curves]({rel_fig}/recovery-sst2.svg)\n")

    # ---- findings ----
    findings = []
    t = sweeps("sst2-standard-task")
    full = over_seeds(t, lambda s: s.full - chance if chance else None, lambda s: s.acc_se(s.full))
    ret = over_seeds(t, lambda s: s.retention(s.mean("soft", 2), chance),
                     lambda s: s.retention_se(s.mean("soft", 2), chance))
    if chance is None:
        v1 = "not resolvable (no dev file to set the chance level)"
    elif full.n < 2:
        v1 = "not resolvable (fewer than 2 seeds)"
    elif full.lower <= 0:
        v1 = "not resolvable (the full models are not resolved above chance)"
    else:
        v1 = verdict_above(ret, 0.9)
    g = sweeps("lm-standard-general")
    lm_ret = over_seeds(g, lambda s: s.ratio(s.mean("soft", 2)))
    findings.append(
        "**(1) A task-specific corridor: keeping the top-2 of 8 experts by task attribution keeps ≥ 90% of the "
        f"quality (SST-2).** Chance-corrected retention at k = 2: {ret.both()} → **{v1}** (decided by the interval "
        f"against 0.90). For context, on general text (WikiText-2 test, general attribution) k = 2 keeps "
        f"{lm_ret.pm()} of the full model's quality as full/perplexity (training-seed spread only).")
    texts = []
    for v in VARIANTS:
        if v not in saved:
            continue
        est, verds = saved[v]
        if any(x == "not resolvable at this round size" for x in verds):
            vv = ("not resolvable at this round size (in at least one training seed the target is reached "
                  + ("inside the shared random seed set)" if int(S.get("REALIGN_INITIAL", "0"))
                     else "by the pruned model before any label)"))
        elif est.n < 2:
            vv = "not resolvable (fewer than 2 training seeds with a saved fraction)"
        else:
            vv = ("supported (fewer labels)" if est.lower > 0 else "refuted (more labels)" if est.upper < 0
                  else "not resolved")
            if est.has_interval and est.lower > 0:
                vv += "; 40–50% " + ("within" if est.lower <= 0.5 and est.upper >= 0.4 else "outside") + " the interval"
        texts.append(f"{v} model: per-seed verdicts {', '.join(verds) or '–'}; saved fraction {est.both()} → **{vv}**")
    findings.append("**(2) Active learning (entropy) reaches the target with 40–50% fewer labels than random.** "
                    + ("; ".join(texts) if texts else "not resolvable (no re-alignment finished)") + ".")
    for label in ["WikiText-2 test", "SST-2 dev"]:
        if label in decisive:
            mname, d, v_ = decisive[label]
            findings.append(
                f"**(3) Entangled training makes pruning hurt more ({label}).** {mname}, standard vs entangled "
                f"paired by training seed (positive = entangled resists more): {d.both()} → **{v_}**"
                + (" (training-seed interval only: no noise/ files)" if label != "SST-2 dev" and not any(noise_se)
                   else "") + ".")
    w("## The paper's three findings\n")
    # A finding is supported, refuted or not resolvable. An interval that straddles its line ("not resolved" in
    # the tables) means the design cannot decide it at this number of training seeds: said in those words here.
    straddles = (f"not resolvable with {len(seed_dirs)} training seeds: the interval contains the line it is "
                 "decided against")
    for f_ in findings:
        w(f_.replace("→ **not resolved**", f"→ **{straddles}**") + "\n")

    # ---- runtimes and commands ----
    w("## Runtimes\n")
    w("Wall-clock seconds per step summed over training seeds (the two variants of a seed ran side by side on the "
      "2 cores, one thread each; the machine was shared, so these are upper bounds; a training run resumed after an "
      "interruption counts only its last session).\n")
    w("| step | seconds |")
    w("|---|---:|")
    merged = {}
    for name, secs in times.items():
        key = name.split("-", 1)[1] if name[:1] == "s" and name[1:2].isdigit() else name
        merged[key] = merged.get(key, 0) + secs
    for name, secs in merged.items():
        w(f"| {name} | {secs} |")
    w("")
    w("## Exact commands (training seed 0; the other seeds differ only in `--seed` and their output folder)\n")
    w("```")
    for name, command in commands.items():
        if name.startswith("s0-") or not (name[:1] == "s" and name[1:2].isdigit()):
            w(command.replace(out, "$OUT"))
    w("```\n")

    os.makedirs(os.path.dirname(os.path.abspath(results)), exist_ok=True)
    tmp = results + ".partial"
    with open(tmp, "w") as f:
        f.write("\n".join(md) + "\n")
    os.replace(tmp, results)
