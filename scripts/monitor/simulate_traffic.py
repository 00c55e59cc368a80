#!/usr/bin/env python3
"""Simulated serving traffic for `expertlock monitor` (docs/MONITOR.md): benign clients sending mixed
text, attacker clients logging attribution on one task's corpus at several mix rates, routed by the
built-in demo model; then the monitor's ROC AUC, false-positive rate on benign-only traffic, queries
before detection and the cost of evading it. Python standard library only; every number comes from
the `expertlock` binary's outputs.

Usage:
  python3 scripts/monitor/simulate_traffic.py --expertlock .build/release/expertlock --work /tmp/monitor-sim \
      [--data ../shared/data] [--seed 0]

Clients (all requests are prompts of 16-96 words, cut to 128 tokens;
benign clients send 20-200 requests, attackers 300):
  benign      each request drawn at random from WikiText-2 (wiki.train.tokens paragraphs) or the
              built-in corpus's LM documents (`expertlock corpus`), half and half;
  attacker    each request one example of its task's attribution corpus (SST-2 train sentences, or the
              built-in sentiment task), or, with probability m (the mix rate), a benign request.
Two traffic sets: the scored set (benign + attackers) and a benign-only set of other clients (for the
false-positive rate). The owner's reference ("general traffic") is a third, separate benign sample.
"""
import argparse
import json
import os
import random
import subprocess
import sys


def run(cmd):
    print("+", " ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, check=True)


def words(text, rng, low=16, high=96):
    w = text.split()
    if len(w) <= low:
        return " ".join(w)
    n = rng.randint(low, min(high, len(w)))
    start = rng.randint(0, len(w) - n)
    return " ".join(w[start:start + n])


def load_pools(data, corpus):
    wiki = []
    with open(os.path.join(data, "wikitext-2/wiki.train.tokens"), encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if len(line.split()) >= 30 and not line.startswith("="):
                wiki.append(line)
    with open(os.path.join(corpus, "lm.train.txt"), encoding="utf-8") as f:
        builtin = [d.strip() for d in f.read().split("\n\n") if len(d.split()) >= 20]
    sst2 = []
    with open(os.path.join(data, "glue-sst2/train.tsv"), encoding="utf-8") as f:
        next(f)
        for line in f:
            sentence = line.rsplit("\t", 1)[0].strip()
            if len(sentence.split()) >= 6:
                sst2.append(sentence)
    with open(os.path.join(corpus, "sentiment.train.jsonl"), encoding="utf-8") as f:
        sentiment = [json.loads(line)["text"] for line in f if line.strip()]
    return {"wiki": wiki, "builtin": builtin}, {"sst2": sst2, "builtin-sentiment": sentiment}


def benign_request(pools, rng):
    source = rng.choice(["wiki", "builtin"])
    return words(rng.choice(pools[source]), rng)


def clients(pools, tasks, rng, benign, attackers_per_cell, mix_rates, prefix):
    out = []
    for i in range(benign):
        n = rng.randint(20, 200)
        out += [{"client": f"{prefix}benign-{i:03d}", "text": benign_request(pools, rng)} for _ in range(n)]
    for task in tasks:
        for m in mix_rates:
            for i in range(attackers_per_cell):
                n = 300
                for _ in range(n):
                    text = benign_request(pools, rng) if rng.random() < m else rng.choice(tasks[task])
                    out.append({"client": f"{prefix}attacker-{task}-m{m:.2f}-{i:02d}", "text": text})
    rng.shuffle(out)  # interleaved as a server sees it
    return out


def auc(positives, negatives):
    """ROC AUC = P(score of an attacker > score of a benign client), ties count half."""
    if not positives or not negatives:
        return float("nan")
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


def median(values):
    v = sorted(values)
    return v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2 if v else float("nan")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--expertlock", default=".build/release/expertlock")
    parser.add_argument("--work", required=True)
    parser.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "../../../shared/data"))
    parser.add_argument("--model", help="model folder (default: train the demo's, expertlock demo)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--benign", type=int, default=100)
    parser.add_argument("--attackers", type=int, default=4, help="attackers per task and mix rate")
    parser.add_argument("--mix-rates", default="0,0.5,0.75,0.9,0.95")
    parser.add_argument("--threshold", type=float, default=None, help="monitor --threshold (default: its own)")
    args = parser.parse_args()
    el = os.path.abspath(args.expertlock)
    work = os.path.abspath(args.work)
    os.makedirs(work, exist_ok=True)
    model = args.model
    if model is None:
        model = os.path.join(work, "demo/models/standard")
        if not os.path.exists(os.path.join(model, "config.json")):
            run([el, "demo", "--out", os.path.join(work, "demo")])
    corpus = os.path.join(work, "corpus")
    if not os.path.exists(os.path.join(corpus, "lm.train.txt")):
        run([el, "corpus", "--out", corpus, "--tokens", "300000", "--seed", "1"])
    pools, tasks = load_pools(args.data, corpus)
    rng = random.Random(args.seed)
    mix_rates = [float(m) for m in args.mix_rates.split(",")]
    sets = {
        "reference": [{"client": f"ref-{i:03d}", "text": benign_request(pools, rng)} for i in range(3000)],
        "scored": clients(pools, tasks, rng, args.benign, args.attackers, mix_rates, ""),
        "benign-only": clients(pools, {}, rng, 3 * args.benign // 2, 0, [], "b2-"),
    }
    traces = {}
    for name, requests in sets.items():
        path = os.path.join(work, f"{name}.requests.jsonl")
        with open(path, "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in requests)
        traces[name] = os.path.join(work, f"{name}.traces.jsonl")
        run([el, "trace", "--model", model, "--requests", path, "--format", "vllm", "--context", "128",
             "--out", traces[name], "--overwrite"])
    reports = {}
    for name in ["scored", "benign-only"]:
        for baseline in ["reference", "others"]:
            out = os.path.join(work, f"{name}.{baseline}.report.json")
            cmd = [el, "monitor", "--model", model, "--traces", traces[name], "--out", out, "--overwrite"]
            if baseline == "reference":
                cmd += ["--reference", traces["reference"]]
            if args.threshold is not None:
                cmd += ["--threshold", str(args.threshold)]
            run(cmd)
            with open(out) as f:
                reports[(name, baseline)] = json.load(f)
    results = {"model": model, "seed": args.seed, "mix_rates": mix_rates, "baselines": {}}
    lines = []
    for baseline in ["reference", "others"]:
        scored = reports[("scored", baseline)]
        threshold = scored["threshold"]
        benign = [c for c in scored["clients"] if "benign" in c["client"]]
        only = reports[("benign-only", baseline)]["clients"]
        fpr = sum(c["flagged"] for c in only) / len(only)
        online_fpr = sum("detected_after_requests" in c for c in only) / len(only)
        rows = []
        for task in tasks:
            for m in mix_rates:
                cell = [c for c in scored["clients"] if c["client"].startswith(f"attacker-{task}-m{m:.2f}-")]
                detected = [c["detected_after_requests"] for c in cell if "detected_after_requests" in c]
                rows.append({
                    "task": task, "mix_rate": m, "attackers": len(cell),
                    "auc": auc([c["score"] for c in cell], [c["score"] for c in benign]),
                    "flagged_at_end": sum(c["flagged"] for c in cell) / len(cell),
                    "detected_online": len(detected) / len(cell),
                    "median_queries_to_detection": median(detected) if detected else None,
                    "median_task_queries_to_detection": median([d * (1 - m) for d in detected]) if detected else None,
                    "query_cost_factor": 1 / (1 - m) if m < 1 else float("inf"),
                })
        results["baselines"][baseline] = {
            "threshold": threshold, "benign_clients_scored_set": len(benign),
            "benign_only_clients": len(only), "fpr_benign_only": fpr, "online_fpr_benign_only": online_fpr,
            "fpr_benign_in_scored_set": sum(c["flagged"] for c in benign) / len(benign), "cells": rows,
        }
        lines.append(f"\n### baseline: {baseline} (threshold {threshold})\n")
        lines.append(f"benign-only traffic: {len(only)} clients, FPR {fpr:.4f} (final score), "
                     f"{online_fpr:.4f} flagged at any prefix; benign clients of the scored set: FPR "
                     f"{results['baselines'][baseline]['fpr_benign_in_scored_set']:.4f}\n")
        lines.append("| task | mix rate | AUC | flagged after 300 | detected online | median queries | "
                     "median task queries | query cost |")
        lines.append("|---|---:|---:|---:|---:|---:|---:|---:|")
        for r in rows:
            q = "-" if r["median_queries_to_detection"] is None else f"{r['median_queries_to_detection']:g}"
            tq = "-" if r["median_task_queries_to_detection"] is None else f"{r['median_task_queries_to_detection']:g}"
            lines.append(f"| {r['task']} | {r['mix_rate']:.2f} | {r['auc']:.3f} | {r['flagged_at_end']:.2f} | "
                         f"{r['detected_online']:.2f} | {q} | {tq} | {r['query_cost_factor']:.1f}× |")
    with open(os.path.join(work, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    with open(os.path.join(work, "results.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
