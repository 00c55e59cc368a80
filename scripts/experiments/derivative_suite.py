#!/usr/bin/env python3
"""The provenance derivative suite (issue #27): does `expertlock provenance --explain` see through removal,
merging, inner-expert pruning, fine-tuning (full and LoRA) and FP8 re-quantisation, without calling
independent models derived? Writes docs/PROVENANCE_DERIVATIVES.md (never edit that file by hand).

    python3 scripts/experiments/derivative_suite.py                      # everything, then the doc
    python3 scripts/experiments/derivative_suite.py --work /tmp/ds --expertlock .build/release/expertlock
    python3 scripts/experiments/derivative_suite.py --report-only        # the doc from a finished run

Steps (every command is the release CLI; each step is skipped when its result file exists, so a killed
run continues where it stopped; progress on stderr, every command appended to WORK/commands.log):
1. data: `expertlock corpus` (the built-in corpus), `corpus --seed 1` (other text of the same kind) and
   WikiText-2 train/valid from ../shared/data (the first --wiki-bytes of each), a BPE tokenizer trained on
   each (`train-tokenizer`);
2. base models: the `tiny` preset (Mixtral-style, 2 sparse layers × 8 experts, hidden 64, expert
   intermediate 128) trained by `expertlock train` for --base-steps steps, from several seeds on each
   data source. The bases are split into a CALIBRATION set and a REPORT set (disjoint seeds, every
   data source in each): thresholds may only ever be chosen on the calibration set;
3. derivatives of two bases per set ("attacked": one on the corpus, one on WikiText-2): removal
   (`prune --keep K`, REAP attribution), merging (`prune --merge hc-smoe|reap-aligned --keep K`),
   inner pruning (`prune --inner-keep R`) at several ratios; full and LoRA fine-tuning
   (`train --model … [--trainable lora --merge-lora]`) at several learning rates (the default 1e-3
   included) and step counts, applied after compression;
   FP8 re-quantisation (block-scaled float8_e4m3fn with weight_scale_inv, the layout transformers'
   FineGrainedFP8 writes; done here with torch, the one non-CLI step);
4. `expertlock provenance --explain --json` on every (original, suspect) pair inside a set: original =
   each base of the set; suspect = every other base and every derivative. A pair is positive when
   the suspect descends from that original, negative otherwise (other seed, other data, or a
   derivative of an independent base);
5. the doc: ROC AUC of the model-level score (the highest chance-corrected expert score; the verdict
   calls a model derived when some expert reaches the `derived` band) with a bootstrap interval;
   mixing weights recovered for merges before fine-tuning (against merge_plan.json); expert mapping
   accuracy on kept experts for removal and inner pruning after fine-tuning at the default lr; the
   false-positive rate on negatives at the default thresholds, with Clopper-Pearson intervals, per
   model and per suspect expert.
6. the sweep check: `sweep --merge hc-smoe,reap-aligned` on a calibration base, then whether curve.svg
   plots merge and removal together.

Needs ../shared/data (WikiText-2) and python3 with torch (FP8 step) and scipy (intervals).
"""
import argparse
import concurrent.futures
import datetime
import json
import math
import os
import random
import shlex
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# name, set, data source, training seed. Three data sources per set (the built-in corpus, the corpus
# generator with another seed, WikiText-2): seeds differ everywhere, data between sources.
BASES = [
    ("cal-corpus-a", "calibration", "corpus", 101),
    ("cal-corpus-b", "calibration", "corpus", 102),
    ("cal-corpus-c", "calibration", "corpus", 103),
    ("cal-corpus2-a", "calibration", "corpus2", 105),
    ("cal-wiki-a", "calibration", "wiki", 107),
    ("cal-wiki-b", "calibration", "wiki", 108),
    ("rep-corpus-a", "report", "corpus", 201),
    ("rep-corpus-b", "report", "corpus", 202),
    ("rep-corpus-c", "report", "corpus", 203),
    ("rep-corpus2-a", "report", "corpus2", 205),
    ("rep-wiki-a", "report", "wiki", 207),
    ("rep-wiki-b", "report", "wiki", 208),
]
# Independently trained negatives only (no derivatives): more seeds and two more data sources (the corpus
# generator with seed 2; the next --wiki-bytes of WikiText-2 train), so that the distinct pairs of independent
# models among all bases reach the ~370 a 1 % Clopper-Pearson bound needs when none is called derived.
INDEPENDENT_SOURCES = ["corpus", "corpus2", "corpus3", "wiki", "wiki2"]
BASES += [(f"ind-{INDEPENDENT_SOURCES[i % 5]}-{i // 5}", "independent", INDEPENDENT_SOURCES[i % 5], 301 + i)
          for i in range(16)]
ATTACKED = {"cal-corpus-a", "cal-wiki-a", "rep-corpus-a", "rep-wiki-a"}
DEFAULT_LR = 1e-3  # `expertlock train --lr` default


def log(message):
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%H:%M:%S")
    print(f"[{stamp}] {message}", file=sys.stderr, flush=True)


class Runner:
    def __init__(self, expertlock, work, report_only=False):
        self.expertlock = expertlock
        self.work = work
        self.report_only = report_only
        os.makedirs(work, exist_ok=True)

    def path(self, *parts):
        return os.path.join(self.work, *parts)

    def run(self, result_file, args, label):
        """Runs `expertlock ARGS --json` unless result_file exists; stores its JSON there atomically."""
        result_path = self.path(result_file)
        if os.path.exists(result_path):
            with open(result_path) as f:
                return json.load(f)
        command = [self.expertlock] + args + ["--json"]
        if "--out" in args and os.path.exists(args[args.index("--out") + 1]):
            command.append("--overwrite")  # left by a killed run: its result was never recorded
        if self.report_only:
            raise SystemExit(f"--report-only: {label} has not run ({result_path} is missing)")
        log(f"{label}: {' '.join(shlex.quote(a) for a in command[1:])}")
        with open(self.path("commands.log"), "a") as f:
            f.write(" ".join(shlex.quote(a) for a in command) + "\n")
        start = time.time()
        # The command's own progress goes straight to stderr.
        done = subprocess.run(command, stdout=subprocess.PIPE, text=True)
        if done.returncode != 0:
            raise SystemExit(f"{label}: exit {done.returncode}")
        result = json.loads(done.stdout)
        result["_seconds"] = round(time.time() - start, 1)
        os.makedirs(os.path.dirname(result_path), exist_ok=True)
        with open(result_path + ".tmp", "w") as f:
            json.dump(result, f)
        os.replace(result_path + ".tmp", result_path)
        log(f"{label}: done in {result['_seconds']} s")
        return result


def prepare_data(r, data_root, wiki_bytes):
    r.run("data/corpus.json", ["corpus", "--out", r.path("corpus"), "--tokens", "400000"], "corpus")
    r.run("data/corpus2.json", ["corpus", "--out", r.path("corpus2"), "--tokens", "400000", "--seed", "1"],
          "corpus (generator seed 1)")
    r.run("data/corpus3.json", ["corpus", "--out", r.path("corpus3"), "--tokens", "400000", "--seed", "2"],
          "corpus (generator seed 2)")
    # wiki: the first wiki_bytes characters of each split; wiki2: the next wiki_bytes of train (other articles).
    for folder, split, chunk in (("wiki", "train", 0), ("wiki", "valid", 0), ("wiki2", "train", 1)):
        os.makedirs(r.path(folder), exist_ok=True)
        target = r.path(folder, f"{split}.txt")
        if not os.path.exists(target):
            with open(os.path.join(data_root, "wikitext-2", f"wiki.{split}.tokens"), encoding="utf-8") as f:
                text = f.read(wiki_bytes * (chunk + 1))[wiki_bytes * chunk:]
            start = text.find("\n") + 1 if chunk else 0
            with open(target + ".tmp", "w", encoding="utf-8") as f:
                f.write(text[start: text.rfind("\n") + 1])
            os.replace(target + ".tmp", target)
    wiki = r.path("wiki")
    sources = {
        "corpus": {"train": r.path("corpus", "lm.train.txt"), "valid": r.path("corpus", "lm.valid.txt")},
        "corpus2": {"train": r.path("corpus2", "lm.train.txt"), "valid": r.path("corpus2", "lm.valid.txt")},
        "corpus3": {"train": r.path("corpus3", "lm.train.txt"), "valid": r.path("corpus3", "lm.valid.txt")},
        "wiki": {"train": os.path.join(wiki, "train.txt"), "valid": os.path.join(wiki, "valid.txt")},
        "wiki2": {"train": r.path("wiki2", "train.txt"), "valid": os.path.join(wiki, "valid.txt")},
    }
    for name, files in sources.items():
        files["tokenizer"] = r.path(f"tok-{name}")
        r.run(f"data/tok-{name}.json", ["train-tokenizer", "--data", files["train"], "--vocab-size", "1024",
                                          "--out", files["tokenizer"]], f"tokenizer {name}")
    return sources


def requantize_fp8(source, target, block):
    """Block-scaled FP8 (e4m3) copy of a checkpoint, as transformers' `Fp8Quantize` computes it: per
    block, scale = 448 / max|w|, fp8 = clamp(w·scale, ±448) cast to float8_e4m3fn, `weight_scale_inv` = 1/scale.
    Every 2-D decoder weight the block divides is quantized except the routers; the rest keeps its dtype."""
    if os.path.exists(os.path.join(target, "config.json")):
        return
    import torch
    from safetensors.torch import load_file, save_file

    tmp = target + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    for name in os.listdir(source):  # companions (tokenizer, plans); not the weights, config or checkpoints
        path = os.path.join(source, name)
        if os.path.isfile(path) and not name.endswith(".safetensors") and name not in (
                "config.json", "model.safetensors.index.json"):
            shutil.copy(path, tmp)
    with open(os.path.join(source, "config.json")) as f:
        config = json.load(f)
    config["quantization_config"] = {"quant_method": "fp8", "fmt": "e4m3", "activation_scheme": "dynamic",
                                     "weight_block_size": list(block)}
    tensors = {}
    for name in sorted(os.listdir(source)):
        if name.endswith(".safetensors"):
            tensors.update(load_file(os.path.join(source, name)))
    out = {}
    for name, w in tensors.items():
        router = name.endswith("block_sparse_moe.gate.weight") or name.endswith("mlp.gate.weight")
        quantize = (name.startswith("model.layers.") and name.endswith(".weight") and w.dim() == 2 and not router
                    and w.shape[0] % block[0] == 0 and w.shape[1] % block[1] == 0)
        if not quantize:
            out[name] = w
            continue
        rows, cols = w.shape
        blocks = w.float().reshape(rows // block[0], block[0], cols // block[1], block[1]).permute(0, 2, 1, 3)
        amax = blocks.abs().amax(dim=(-1, -2), keepdim=True)
        scale = torch.where(amax > 0, amax.reciprocal() * 448.0, torch.ones_like(amax))
        q = (blocks * scale).clamp(-448, 448).to(torch.float8_e4m3fn)
        out[name] = q.permute(0, 2, 1, 3).reshape(rows, cols).contiguous()
        out[name + "_scale_inv"] = scale.reciprocal().reshape(rows // block[0], cols // block[1]).contiguous()
    save_file(out, os.path.join(tmp, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(tmp, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    os.replace(tmp, target)


def derivative_plan(ft_steps, lora_lr, high_lr):
    """(name, parent, kind, args) for one attacked base; parent None = the base itself."""
    short, long = ft_steps
    plan = []
    for k in (6, 4):
        plan.append((f"remove-{k}", None, "removal", ["prune", "--keep", str(k), "--criterion", "reap"]))
        for method in ("hc-smoe", "reap-aligned"):
            plan.append((f"{method}-{k}", None, "merge", ["prune", "--merge", method, "--keep", str(k)]))
    for ratio in ("0.75", "0.5"):
        plan.append((f"inner-{ratio}", None, "inner", ["prune", "--inner-keep", ratio]))
    # Fine-tuning after compression: the full grid on remove-4, the default lr on the others.
    for method, lrs in (("full", (DEFAULT_LR, high_lr)), ("lora", (DEFAULT_LR, lora_lr))):
        for lr in lrs:
            for steps in (short, long):
                plan.append((f"remove-4+{method}-lr{lr:g}-s{steps}", "remove-4", "finetune",
                             [method, f"{lr:g}", str(steps)]))
    for parent in ("remove-6", "inner-0.75", "inner-0.5", "hc-smoe-4", "reap-aligned-4"):
        for steps in (short, long):
            plan.append((f"{parent}+full-lr{DEFAULT_LR:g}-s{steps}", parent, "finetune",
                         ["full", f"{DEFAULT_LR:g}", str(steps)]))
    plan.append((f"inner-0.5+lora-lr{DEFAULT_LR:g}-s{short}", "inner-0.5", "finetune",
                 ["lora", f"{DEFAULT_LR:g}", str(short)]))
    for parent in (None, "remove-4", "hc-smoe-4"):
        plan.append((f"{parent or 'base'}+fp8", parent, "fp8", []))
    return plan


def build(r, args, sources):
    bases = {}
    for name, subset, data, seed in BASES:
        files = sources[data]
        out = r.path("models", name)
        r.run(f"results/train-{name}.json",
              ["train", "--config", "tiny", "--tokenizer", files["tokenizer"], "--data", files["train"],
               "--format", "text", "--steps", str(args.base_steps), "--seed", str(seed), "--out", out],
              f"base {name}")
        bases[name] = {"set": subset, "data": data, "seed": seed, "dir": out}
    suspects = []  # dicts: name, base, set, kind, dir, truth
    for name, info in bases.items():
        suspects.append({"name": name, "base": name, "set": info["set"], "kind": "base", "dir": info["dir"]})
    for base in sorted(ATTACKED):
        info = bases[base]
        files = sources[info["data"]]
        attribution = r.path("models", base + ".attribution.json")
        r.run(f"results/attribute-{base}.json",
              ["attribute", "--model", info["dir"], "--data", files["valid"], "--format", "text", "--limit", "64",
               "--context", "128", "--out", attribution], f"attribute {base}")
        made = {}
        for name, parent, kind, spec in derivative_plan(args.ft_steps, args.lora_lr, args.high_lr):
            source = info["dir"] if parent is None else made[parent]["dir"]
            out = r.path("models", f"{base}~{name}")
            result_file = f"results/{base}~{name}.json"
            if kind == "removal":
                result = r.run(result_file, spec + ["--model", source, "--attribution", attribution, "--out", out],
                               f"{base} {name}")
            elif kind in ("merge", "inner"):
                result = r.run(result_file, spec + ["--model", source, "--data", files["valid"], "--format", "text",
                                                    "--context", "128", "--out", out], f"{base} {name}")
            elif kind == "finetune":
                method, lr, steps = spec
                extra = ["--trainable", "lora", "--merge-lora"] if method == "lora" else []
                result = r.run(result_file,
                               ["train", "--model", source, "--data", files["train"], "--format", "text", "--steps",
                                steps, "--lr", lr, "--seed", "7", "--out", out] + extra, f"{base} {name}")
            else:
                if not os.path.exists(r.path(result_file)):
                    if r.report_only:
                        raise SystemExit(f"--report-only: {base} {name} has not run")
                    log(f"{base} {name}: FP8 re-quantisation of {source}")
                    requantize_fp8(source, out, args.fp8_block)
                    with open(r.path(result_file), "w") as f:
                        json.dump({"block": args.fp8_block}, f)
                result = {}
            entry = {"name": f"{base}~{name}", "base": base, "set": info["set"], "kind": kind, "dir": out,
                     "step": name, "parent": None if parent is None else f"{base}~{parent}", "result": result}
            made[name] = entry
            suspects.append(entry)
    return bases, suspects


def root_compression(entry, by_name):
    """The compression a derivative went through first (its truth), following parents."""
    while entry.get("parent"):
        entry = by_name[entry["parent"]]
    return entry


def truth_mapping(entry, by_name, expert_counts):
    """Per sparse layer, the original expert each suspect expert keeps (removal, inner pruning), else None."""
    root = root_compression(entry, by_name)
    if root["kind"] == "removal":
        return root["result"]["kept"]
    if root["kind"] == "inner" or root["kind"] == "base":
        return [list(range(n)) for n in expert_counts]
    if root["kind"] == "fp8" and entry.get("parent") is None:
        return [list(range(n)) for n in expert_counts]
    return None


PAIRED_SETS = ("calibration", "report")  # sets whose bases are paired with every other base and derivative of the set


def run_pairs(r, bases, suspects, jobs):
    """Within the calibration and the report set: every base against every other base and derivative of its set
    (both directions between bases). Across all bases (the independence check): every distinct pair of bases
    once, original = the one listed first in BASES; the pairs inside a paired set are the ones above."""
    todo = [(original, info, s, info["set"]) for original, info in bases.items() for s in suspects
            if info["set"] in PAIRED_SETS and s["set"] == info["set"] and s["name"] != original]
    names = list(bases)
    by_name = {s["name"]: s for s in suspects}
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if not (bases[a]["set"] == bases[b]["set"] and bases[a]["set"] in PAIRED_SETS):
                todo.append((a, bases[a], by_name[b], "independent"))
    # Positives first, then the independence pairs, then the rest (so that a run cut short has the scarce ones).
    todo.sort(key=lambda t: (t[2]["base"] != t[0], t[3] != "independent"))

    def one(item):
        original, info, s, subset = item
        key = f"{original}__{s['name']}"
        result = r.run(f"provenance/{key}.json",
                       ["provenance", "--original", info["dir"], "--suspect", s["dir"], "--explain"],
                       f"provenance {key}")
        return {"original": original, "suspect": s, "positive": s["base"] == original, "report": result,
                "set": subset}

    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(one, todo))


# ---------------------------------------------------------------- statistics

def auc(positives, negatives):
    """Mann-Whitney ROC AUC (ties count one half), from average ranks."""
    if not positives or not negatives:
        return float("nan")
    values = sorted([(v, 1) for v in positives] + [(v, 0) for v in negatives])
    rank_sum = 0.0
    i = 0
    while i < len(values):
        j = i
        while j < len(values) and values[j][0] == values[i][0]:
            j += 1
        average = (i + 1 + j) / 2  # ranks i+1 … j share their mean
        rank_sum += average * sum(label for _, label in values[i:j])
        i = j
    n, m = len(positives), len(negatives)
    return (rank_sum - n * (n + 1) / 2) / (n * m)


def bootstrap_auc(positives, negatives, reps=2000, seed=0):
    rng = random.Random(seed)
    values = []
    for _ in range(reps):
        p = [rng.choice(positives) for _ in positives]
        n = [rng.choice(negatives) for _ in negatives]
        values.append(auc(p, n))
    values.sort()
    return values[int(0.025 * reps)], values[int(0.975 * reps) - 1]


def clopper_pearson(k, n, level=0.95):
    from scipy.stats import beta

    a = (1 - level) / 2
    low = 0.0 if k == 0 else float(beta.ppf(a, k, n - k + 1))
    high = 1.0 if k == n else float(beta.ppf(1 - a, k + 1, n - k))
    return low, high


def model_score(report):
    experts = [e for layer in report["derivation"]["layers"] for e in layer["experts"]]
    return max(e["score"] for e in experts)


def plain_score(report):
    """The flattened-weight check without --explain: the highest matched cosine."""
    return max((m["similarity"] for layer in report["layers"] for m in layer["matches"]), default=0.0)


def quantiles(values, qs):
    """Empirical quantiles (nearest rank), None for an empty list."""
    if not values:
        return [None for _ in qs]
    ordered = sorted(values)
    return [ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))] for q in qs]


def independence(pairs):
    """Every distinct pair of independently trained bases (both directions judged when both were run: a pair is
    a false positive when either direction says derived), split by whether the two share their training data."""
    source = {b[0]: b[2] for b in BASES}
    verdicts, scores, experts = {}, {}, []
    for p in pairs:
        s = p["suspect"]
        if s["kind"] != "base" or p["positive"]:
            continue
        key = tuple(sorted((p["original"], s["name"])))
        verdicts.setdefault(key, []).append(p["report"]["derivation"]["verdict"])
        scores[key] = max(scores.get(key, -math.inf), model_score(p["report"]))
        experts += [e for layer in p["report"]["derivation"]["layers"] for e in layer["experts"]]
    out = {}
    for name, keep in (("all", lambda k: True), ("same data", lambda k: source[k[0]] == source[k[1]]),
                       ("other data", lambda k: source[k[0]] != source[k[1]])):
        keys = [k for k in verdicts if keep(k)]
        false = sum("derived" in verdicts[k] for k in keys)
        out[name] = {"pairs": len(keys), "false": false,
                     "inconclusive": sum("inconclusive" in verdicts[k] and "derived" not in verdicts[k]
                                         for k in keys),
                     "interval": list(clopper_pearson(false, len(keys))) if keys else None,
                     "max_score": max((scores[k] for k in keys), default=None)}
    out["models"] = len({m for k in verdicts for m in k})
    out["runs"] = sum(len(v) for v in verdicts.values())
    out["experts"] = len(experts)
    out["false_experts"] = sum(e["verdict"] == "derived" for e in experts)
    out["expert_interval"] = list(clopper_pearson(out["false_experts"], len(experts))) if experts else None
    out["expert_quantiles"] = quantiles([e["score"] for e in experts], (0.5, 0.99, 0.999, 1.0))
    return out


def fmt(x, digits=3):
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def analyse(pairs, suspects):
    by_name = {s["name"]: s for s in suspects}
    out = {}
    for subset in PAIRED_SETS:
        chosen = [p for p in pairs if p["set"] == subset]
        pos = [model_score(p["report"]) for p in chosen if p["positive"]]
        neg = [model_score(p["report"]) for p in chosen if not p["positive"]]
        a = auc(pos, neg)
        plain = auc([plain_score(p["report"]) for p in chosen if p["positive"]],
                    [plain_score(p["report"]) for p in chosen if not p["positive"]])
        low, high = bootstrap_auc(pos, neg) if pos and neg else (float("nan"), float("nan"))
        verdicts = {"pos": {}, "neg": {}}
        for p in chosen:
            v = p["report"]["derivation"]["verdict"]
            bucket = verdicts["pos" if p["positive"] else "neg"]
            bucket[v] = bucket.get(v, 0) + 1
        neg_pairs = [p for p in chosen if not p["positive"]]
        false_models = sum(p["report"]["derivation"]["verdict"] == "derived" for p in neg_pairs)
        neg_experts = [e for p in neg_pairs for layer in p["report"]["derivation"]["layers"] for e in layer["experts"]]
        false_experts = sum(e["verdict"] == "derived" for e in neg_experts)
        pure = [p for p in neg_pairs if p["suspect"]["kind"] == "base"]
        out[subset] = {
            "positives": len(pos), "negatives": len(neg), "auc": a, "auc_interval": [low, high], "plain_auc": plain,
            "min_positive_score": min(pos) if pos else None, "max_negative_score": max(neg) if neg else None,
            "verdicts": verdicts,
            "false_models": false_models, "negative_models": len(neg_pairs),
            "fpr_interval": list(clopper_pearson(false_models, len(neg_pairs))) if neg_pairs else None,
            "false_experts": false_experts, "negative_experts": len(neg_experts),
            "expert_fpr_interval": list(clopper_pearson(false_experts, len(neg_experts))) if neg_experts else None,
            "independent_base_pairs": len(pure),
            "independent_base_false": sum(p["report"]["derivation"]["verdict"] == "derived" for p in pure),
            "max_negative_expert_score": max((e["score"] for e in neg_experts), default=None),
            "negative_expert_quantiles": quantiles([e["score"] for e in neg_experts], (0.5, 0.99, 0.999)),
            "negative_inconclusive_experts": sum(e["verdict"] == "inconclusive" for e in neg_experts),
            "positive_model_quantiles": quantiles(pos, (0.0, 0.05, 0.5)),
        }
    out["independent"] = independence(pairs)
    # Per-derivative rows (positive pairs only).
    rows = []
    weight_errors = {"hc-smoe": [], "reap-aligned": []}
    member_errors = {"hc-smoe": [], "reap-aligned": []}
    expert_errors = {"hc-smoe": [], "reap-aligned": []}
    failures = []  # merged experts with a weight off by more than 0.05
    for p in pairs:
        if not p["positive"]:
            continue
        s = p["suspect"]
        report = p["report"]
        layers = report["derivation"]["layers"]
        counts = [len(layer["matches"]) for layer in report["layers"]]
        original_counts = [8 for _ in layers]
        truth = truth_mapping(s, by_name, original_counts) if s["kind"] != "base" else None
        correct = total = None
        if truth is not None:
            correct = total = 0
            for l, layer in enumerate(layers):
                for e in layer["experts"]:
                    total += 1
                    predicted = e["sources"][0]["original_expert"] if e["sources"] else -1
                    correct += int(predicted == truth[l][e["suspect_expert"]])
        merge_error = None
        if s["kind"] == "merge":
            method = "hc-smoe" if "hc-smoe" in s["step"] else "reap-aligned"
            groups, weights = s["result"]["groups"], s["result"]["weights"]
            worst = 0.0
            for l, layer in enumerate(layers):
                for e in layer["experts"]:
                    g = e["suspect_expert"]
                    true = [0.0] * len(e["mixing_weights"])
                    for m, w in zip(groups[l][g], weights[l][g]):
                        true[m] = w
                    errs = [abs(a - b) for a, b in zip(e["mixing_weights"], true)]
                    worst = max(worst, max(errs))
                    if len(groups[l][g]) > 1:
                        weight_errors[method].extend(errs)
                        expert_errors[method].append(max(errs))
                        member_errors[method].extend(abs(e["mixing_weights"][m] - true[m]) for m in groups[l][g])
                        if max(errs) > 0.05:
                            failures.append({"suspect": s["name"], "layer": l, "expert": g,
                                             "members": groups[l][g], "truth": weights[l][g],
                                             "recovered": [e["mixing_weights"][m] for m in groups[l][g]],
                                             "similarity": e["similarity"], "error": max(errs)})
            merge_error = worst
        scores = [e["score"] for layer in layers for e in layer["experts"]]
        kinds = {}
        for layer in layers:
            for e in layer["experts"]:
                kinds[e["kind"]] = kinds.get(e["kind"], 0) + 1
        quant = sorted({e["quantization"] for layer in layers for e in layer["experts"] if e.get("quantization")})
        rows.append({
            "set": s["set"], "base": s["base"], "suspect": s["step"], "kind": s["kind"],
            "verdict": report["derivation"]["verdict"], "plain_verdict": report["verdict"],
            "experts": sum(counts), "min_score": min(scores), "median_score": sorted(scores)[len(scores) // 2],
            "mapping": None if correct is None else [correct, total], "merge_max_error": merge_error,
            "kinds": kinds, "quantization": quant,
        })
    out["rows"] = rows
    out["weight_failures"] = failures
    out["weights"] = {m: {"max": max(v) if v else None, "mean": sum(v) / len(v) if v else None, "n": len(v),
                          "members_max": max(member_errors[m]) if member_errors[m] else None,
                          "members_mean": (sum(member_errors[m]) / len(member_errors[m])) if member_errors[m]
                          else None, "members_n": len(member_errors[m]), "experts": len(expert_errors[m]),
                          "experts_within": sum(e <= 0.05 for e in expert_errors[m])}
                      for m, v in weight_errors.items()}
    mapping = {}
    for row in rows:
        if row["mapping"] is None:
            continue
        name = row["suspect"]
        root = "removal" if name.startswith("remove") else "inner pruning" if name.startswith("inner") else None
        if root is None:
            continue
        if row["kind"] == "finetune":
            method = "LoRA" if "+lora-" in name else "full fine-tuning"
            lr = "default lr" if f"-lr{DEFAULT_LR:g}-" in name else "higher lr"
            condition = f"{method}, {lr}"
        else:
            condition = "FP8 re-quantised" if row["kind"] == "fp8" else "no fine-tuning"
        key = f"{root}: {condition}"
        c, t = mapping.get(key, (0, 0))
        mapping[key] = (c + row["mapping"][0], t + row["mapping"][1])
    out["mapping"] = mapping
    return out


def write_doc(path, stats, args, bases, sweep, elapsed):
    d = DEFAULT_LR
    lines = []
    add = lines.append
    add("# Provenance through compression and fine-tuning: the derivative suite")
    add("")
    add("Written by `scripts/experiments/derivative_suite.py` (do not edit by hand). Command:")
    add("")
    add("```sh")
    add("python3 scripts/experiments/derivative_suite.py " + " ".join(shlex.quote(a) for a in args.argv))
    add("```")
    add("")
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')
    add(f"Written {stamp} from a run on release builds, "
        f"2 CPU cores shared with other jobs; the commands took {elapsed / 60:.0f} min in all.")
    add("")
    log_file = os.path.join(os.path.abspath(args.work), "commands.log")
    if os.path.exists(log_file):  # a resumed run may have used several builds: say which made what
        used = {}
        for line in open(log_file):
            words = line.split()
            if len(words) > 1:
                used.setdefault(words[0], set()).add(words[1])
        add("Binaries (from `commands.log`): " + "; ".join(
            f"`{b}` for {', '.join(sorted(v))}" for b, v in sorted(used.items())) + ".")
        add("")
    add("## What was run")
    add("")
    add(f"- Base models: the `tiny` preset (Mixtral-style, 2 sparse layers × 8 experts, top-2, hidden 64, expert "
        f"intermediate 128), `expertlock train` for {args.base_steps} steps (batch 8 × 128 tokens), BPE tokenizer "
        "of 1024 trained on the same data. Data (`corpus`, `corpus2`, `corpus3`, `wiki`, `wiki2` in the names): the "
        "built-in corpus (`expertlock corpus`), the same generator with other seeds (`corpus --seed 1`, "
        f"`--seed 2`: other text of the same kind), WikiText-2 train (first {args.wiki_bytes // 1000} kB) or the "
        f"next {args.wiki_bytes // 1000} kB of WikiText-2 train (other articles). Every base has its own seed.")
    add("- Calibration set: " + ", ".join(f"`{n}` ({b['data']}, seed {b['seed']})" for n, b in bases.items()
                                           if b["set"] == "calibration")
        + "; report set: " + ", ".join(f"`{n}` ({b['data']}, seed {b['seed']})" for n, b in bases.items()
                                       if b["set"] == "report") + ". Derivatives are made of "
        + " and ".join(f"`{n}`" for n in sorted(ATTACKED)) + " only"
        + ("" if "rep-wiki-a" in ATTACKED else " (`rep-wiki-a`'s were left out to keep the run within its time "
           "budget: the report set's positives all descend from a corpus model)") + ".")
    add(f"- Derivatives of each attacked base: removal to 6 and 4 experts per layer (REAP attribution on 64 "
        "held-out sequences); `--merge hc-smoe` and `--merge reap-aligned` to 6 and 4; `--inner-keep 0.75` "
        f"and `0.5`; full fine-tuning (`train --model`, every weight) and LoRA (`--trainable lora "
        f"--merge-lora`, rank 8, attention and experts) of remove-4 at lr {d:g} (the default), "
        f"{args.high_lr:g} (full) / {args.lora_lr:g} (LoRA) for {args.ft_steps[0]} and {args.ft_steps[1]} steps; "
        f"full fine-tuning at the default lr for {args.ft_steps[0]} and {args.ft_steps[1]} steps of remove-6, "
        "inner-0.75, inner-0.5, hc-smoe-4 and reap-aligned-4; LoRA of inner-0.5 (default lr, "
        f"{args.ft_steps[0]} steps); FP8 re-quantisation "
        f"(block {args.fp8_block[0]}×{args.fp8_block[1]} float8_e4m3fn + weight_scale_inv) of the base, "
        "remove-4 and hc-smoe-4. Fine-tuning data: the base's own training text.")
    add("- Independently trained negatives (no derivatives, only for the false-positive rate): " + ", ".join(
        f"`{n}` ({b['data']}, seed {b['seed']})" for n, b in bases.items() if b["set"] == "independent") + ".")
    add("- Pairs: every base of a set as the original against every other base and every derivative of the "
        "set. Positive: the suspect descends from the original. Negative: everything else (an independent "
        "base from another seed or other data, or a derivative of one). Independence check: every distinct "
        f"pair of the {len(bases)} bases (calibration, report and independent), one direction (both inside a set).")
    add("- Score of a pair: the highest chance-corrected expert score of `provenance --explain` "
        "(score = (similarity − chance) / (1 − chance), see `Provenance+Derivation.swift`); the model verdict "
        "is derived when some expert scores ≥ 0.5 (`--derived`, default), not derived when every expert "
        "scores < 0.2 (`--unrelated`), else inconclusive. No threshold was changed for this suite.")
    add("")
    add("## Headline figures")
    add("")
    add("| | calibration set | report set |")
    add("| --- | --- | --- |")
    c, r = stats["calibration"], stats["report"]

    def both(f):
        return f"| {f(None)} | {f(c)} | {f(r)} |"

    add(both(lambda s: "pairs (positive / negative)" if s is None else f"{s['positives']} / {s['negatives']}"))
    add(both(lambda s: "ROC AUC of the model score [95 % bootstrap]" if s is None else
             f"{fmt(s['auc'])} [{fmt(s['auc_interval'][0])}, {fmt(s['auc_interval'][1])}]"))
    add(both(lambda s: "ROC AUC of the plain check (no --explain: flattened cosine)" if s is None else
             fmt(s['plain_auc'])))
    add(both(lambda s: "lowest positive / highest negative model score" if s is None else
             f"{fmt(s['min_positive_score'])} / {fmt(s['max_negative_score'])}"))
    add(both(lambda s: "positive verdicts" if s is None else
             ", ".join(f"{k} {v}" for k, v in sorted(s['verdicts']['pos'].items()))))
    add(both(lambda s: "negative verdicts" if s is None else
             ", ".join(f"{k} {v}" for k, v in sorted(s['verdicts']['neg'].items()))))
    add(both(lambda s: "false positives, models [Clopper-Pearson 95 %]" if s is None else
             f"{s['false_models']} / {s['negative_models']} "
             f"[{fmt(s['fpr_interval'][0])}, {fmt(s['fpr_interval'][1])}]"))
    add(both(lambda s: "of which independent bases (no derivative)" if s is None else
             f"{s['independent_base_false']} / {s['independent_base_pairs']}"))
    add(both(lambda s: "false matches, suspect experts [Clopper-Pearson 95 %]" if s is None else
             f"{s['false_experts']} / {s['negative_experts']} "
             f"[{fmt(s['expert_fpr_interval'][0], 4)}, {fmt(s['expert_fpr_interval'][1], 4)}]"))
    add(both(lambda s: "negative pairs' expert scores: median / 99th pct / 99.9th pct / max" if s is None else
             " / ".join(fmt(x) for x in s['negative_expert_quantiles'] + [s['max_negative_expert_score']])))
    add(both(lambda s: "negative pairs' experts in the inconclusive band (0.2–0.5)" if s is None else
             f"{s['negative_inconclusive_experts']} / {s['negative_experts']}"))
    add(both(lambda s: "positive model scores: min / 5th pct / median" if s is None else
             " / ".join(fmt(x) for x in s['positive_model_quantiles'])))
    add("")
    cal = stats["calibration"]
    separated = (cal["false_experts"] == 0 and cal["min_positive_score"] is not None
                 and cal["min_positive_score"] >= 0.5)
    ind = stats["independent"]
    add(f"False positives on independently trained models (every distinct pair of the {ind['models']} bases, "
        f"{ind['runs']} `provenance` runs; a pair counts as a false positive when either direction is called "
        "derived), at the default thresholds:")
    add("")
    add("| base pairs | pairs | called derived | inconclusive | FPR [Clopper-Pearson 95 %] | highest model score |")
    add("| --- | --- | --- | --- | --- | --- |")
    for name in ("all", "same data", "other data"):
        x = ind[name]
        if x["pairs"]:
            add(f"| {name} | {x['pairs']} | {x['false']} | {x['inconclusive']} | {fmt(x['false'] / x['pairs'], 4)} "
                f"[{fmt(x['interval'][0], 4)}, {fmt(x['interval'][1], 4)}] | {fmt(x['max_score'])} |")
    add("")
    add(f"Their suspect experts: {ind['false_experts']} / {ind['experts']} called derived "
        f"[{fmt(ind['expert_interval'][0], 4)}, {fmt(ind['expert_interval'][1], 4)}]; expert scores median / 99th "
        "pct / 99.9th pct / max " + " / ".join(fmt(x) for x in ind["expert_quantiles"]) + ". What is independent: "
        "every base is its own training run (its own seed, so its own initialisation and batch order); "
        "'same data' pairs share their training text and tokenizer, 'other data' pairs share neither. What is "
        "not: the pairs share models (each base is in "
        f"{ind['models'] - 1} pairs), so a base that happened to resemble others would count many times; the "
        "interval treats pairs as independent trials and is therefore optimistic about the spread, not about the "
        "count.")
    add("")
    add("Calibration check (calibration set only, before reading the report set): the default `derived` band "
        f"0.5 {'separates' if separated else 'does NOT separate'} the calibration pairs — highest negative expert "
        f"score {fmt(cal['max_negative_expert_score'])}, lowest positive model score "
        f"{fmt(cal['min_positive_score'])}. The report set is then judged with the same, unchanged bands.")
    add("")
    add("Mixing weights of merges before fine-tuning (recovered `mixing_weights` against `merge_plan.json`, "
        "both sets, merged experts with ≥ 2 members; every original of the layer counted, a non-member's "
        "truth being 0). A derived expert that the first solve does not reconstruct exactly has its channel "
        "alignments refined against the residual the other originals leave (alternating least squares, "
        "`Provenance+MergeRefinement.swift`), kept when it is a merge or the refinement explains ≥ 90 % of the "
        "residual, so that light members, hardly visible in the merged channels, are paired right:")
    add("")
    add("| method | merged experts | all weights within 0.05 | entries | max error | mean error | "
        "members only: max / mean |")
    add("| --- | --- | --- | --- | --- | --- | --- |")
    for m, w in stats["weights"].items():
        add(f"| {m} | {w['experts']} | {w['experts_within']} | {w['n']} | {fmt(w['max'])} | {fmt(w['mean'], 4)} | "
            f"{fmt(w['members_max'])} / {fmt(w['members_mean'], 4)} |")
    for f in stats.get("weight_failures", []):
        add("")
        add(f"Off by more than 0.05: `{f['suspect']}` layer {f['layer']} expert {f['expert']}, members "
            f"{f['members']} with weights {', '.join(fmt(x) for x in f['truth'])}, recovered "
            f"{', '.join(fmt(x) for x in f['recovered'])} (reconstruction cosine {fmt(f['similarity'], 4)}; "
            f"largest error {fmt(f['error'])}).")
    add("")
    add("Expert mapping after fine-tuning (the heaviest source of each kept suspect expert against the truth: "
        "the kept list of `prune`, the identity for inner pruning), both sets:")
    add("")
    add("| derivative family | correct / kept experts | accuracy |")
    add("| --- | --- | --- |")
    for k, (cc, t) in sorted(stats["mapping"].items()):  # noqa: B007
        add(f"| {k} | {cc} / {t} | {cc / t:.1%} |")
    add("")
    add("## Every positive pair")
    add("")
    add("| original | suspect | verdict (explain / plain) | experts | lowest / median expert score | mapping | "
        "merge weight max err | kinds | quantisation |")
    add("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in sorted(stats["rows"], key=lambda x: (x["set"], x["base"], x["suspect"])):
        mapping = "" if row["mapping"] is None else f"{row['mapping'][0]}/{row['mapping'][1]}"
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(row["kinds"].items()))
        add(f"| {row['base']} | {row['suspect']} | {row['verdict']} / {row['plain_verdict']} | {row['experts']} | "
            f"{fmt(row['min_score'])} / {fmt(row['median_score'])} | {mapping} | {fmt(row['merge_max_error'])} | "
            f"{kinds} | {', '.join(row['quantization'])} |")
    add("")
    add("## What the sample can and cannot show")
    add("")
    add("- The pairs are not independent: every negative pair reuses one of a few independently trained "
        "bases, and every positive pair one attacked base per set. The bootstrap resamples pairs, so its "
        "interval is narrower than one over training runs would be; the Clopper-Pearson intervals treat each "
        "pair (or expert) as an independent trial, which they are not. They bound what these runs show, not "
        "the rate over all models.")
    k = stats["calibration"]["false_models"] + stats["report"]["false_models"]
    n = stats["calibration"]["negative_models"] + stats["report"]["negative_models"]
    low, high = clopper_pearson(k, n)
    x = ind["all"]
    add(f"- With n trials and 0 false positives the two-sided 95 % upper bound is 1 − 0.025^(1/n) ≈ 3.7/n, so "
        f"≤ 1 % needs n ≥ 368. Both sets' negative pairs: {k} / {n} [{fmt(low, 4)}, {fmt(high, 4)}], but they "
        "include derivatives of a few attacked bases. Counted as distinct pairs of independently trained models "
        f"it is {x['false']} / {x['pairs']} [{fmt(x['interval'][0], 4)}, {fmt(x['interval'][1], 4)}] from "
        f"{ind['models']} training runs: pairs of {ind['models']} models are not {x['pairs']} independent trials. "
        "The per-expert rate is the finer evidence: each suspect expert is judged on its own, and the model verdict "
        "is derived only when some expert is.")
    add("- Tiny models (hidden 64, expert intermediate 128) are the hard case for the aligned matching: the "
        "chance level of the channel alignment falls as √(2 ln I / 3C), so real models are further from it.")
    if sweep:
        add("")
        add("## Merge against removal on one plot")
        add("")
        add("```sh")
        add(sweep["command"])
        add("```")
        add("")
        add(f"{sweep['summary']}")
    add("")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(lines))
    os.replace(tmp, path)
    log(f"wrote {path}")


def sweep_check(r, bases, sources):
    base = "cal-corpus-a"
    files = sources[bases[base]["data"]]
    out = r.path("sweep")
    args = ["sweep", "--model", bases[base]["dir"], "--data", files["valid"], "--format", "text",
            "--keep", "8,6,4,2", "--criteria", "reap", "--merge", "hc-smoe,reap-aligned", "--seeds", "1",
            "--limit", "32", "--context", "128", "--out", out]
    result = r.run("results/sweep.json", args, "sweep")
    svg = open(os.path.join(out, "curve.svg")).read() if os.path.exists(os.path.join(out, "curve.svg")) else ""
    labels = [label for label in ("merge hc-smoe", "merge reap-aligned", "top-k by reap") if label in svg]
    if svg:  # the plot beside the doc
        figure = os.path.join(ROOT, "docs", "figures", "merge-vs-removal-tiny.svg")
        with open(figure + ".tmp", "w") as f:
            f.write(svg)
        os.replace(figure + ".tmp", figure)
    table = os.path.join(out, "table.md")
    rows = open(table).read().strip().splitlines() if os.path.exists(table) else []
    summary = (f"`curve.svg` of that run (copied to [figures/merge-vs-removal-tiny.svg]"
               f"(figures/merge-vs-removal-tiny.svg)) names the series {', '.join(labels) or 'none'}"
               f" ({'merge and removal on one plot' if len(labels) == 3 else 'NOT both'}); its `table.md` "
               "(perplexity on 32 held-out sequences of 128 tokens):\n\n" + "\n".join(rows))
    return {"command": "expertlock " + " ".join(shlex.quote(a) for a in args).replace(r.work, "WORK"),
            "summary": summary, "result": result}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--expertlock", default=os.path.join(ROOT, ".build/release/expertlock"))
    parser.add_argument("--work", default=os.path.join(ROOT, "derivative-suite-out"))
    parser.add_argument("--data-root", default=os.path.join(ROOT, "..", "shared", "data"))
    parser.add_argument("--doc", default=os.path.join(ROOT, "docs", "PROVENANCE_DERIVATIVES.md"))
    parser.add_argument("--base-steps", type=int, default=600)
    parser.add_argument("--ft-steps", type=lambda s: [int(x) for x in s.split(",")], default=[50, 200])
    parser.add_argument("--high-lr", type=float, default=3e-3)
    parser.add_argument("--lora-lr", type=float, default=1e-2)
    parser.add_argument("--fp8-block", type=lambda s: [int(x) for x in s.split(",")], default=[64, 64])
    parser.add_argument("--wiki-bytes", type=int, default=2_000_000)
    parser.add_argument("--jobs", type=int, default=1, help="provenance pairs run at once")
    parser.add_argument("--only-set", choices=["calibration", "report"], help="Make and pair one set only.")
    parser.add_argument("--no-sweep", action="store_true")
    parser.add_argument("--stop-after", choices=["build", "pairs"], help="Stop after making the models / the pairs.")
    parser.add_argument("--report-only", action="store_true", help="Only analyse finished results (no commands).")
    args = parser.parse_args()
    args.argv = [a for a in sys.argv[1:] if a != "--report-only"]
    if args.only_set:  # one set alone (e.g. its pairs while the other set's models are still being made)
        global BASES, ATTACKED
        BASES = [b for b in BASES if b[1] == args.only_set]
        ATTACKED = {a for a in ATTACKED if any(b[0] == a for b in BASES)}
        args.stop_after = args.stop_after or "pairs"
    r = Runner(os.path.abspath(args.expertlock), os.path.abspath(args.work), args.report_only)
    if not os.path.exists(os.path.join(args.data_root, "wikitext-2", "wiki.train.tokens")):
        raise SystemExit(f"{args.data_root}: needs ../shared/data/wikitext-2 (or --data-root)")
    start = time.time()
    sources = prepare_data(r, args.data_root, args.wiki_bytes)
    bases, suspects = build(r, args, sources)
    if args.stop_after == "build":
        return
    pairs = run_pairs(r, bases, suspects, args.jobs)
    if args.stop_after == "pairs":
        return
    sweep = None if args.no_sweep else sweep_check(r, bases, sources)
    stats = analyse(pairs, suspects)
    elapsed = sum(json.load(open(os.path.join(dp, f))).get("_seconds", 0)
                  for dp, _, fs in os.walk(r.work) for f in fs
                  if f.endswith(".json") and ("results" in dp or "provenance" in dp or "data" in dp))
    with open(r.path("stats.json"), "w") as f:
        json.dump(stats, f, indent=1)
    write_doc(args.doc, stats, args, bases, sweep, elapsed or time.time() - start)


if __name__ == "__main__":
    main()
