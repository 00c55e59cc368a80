#!/usr/bin/env python3
"""Parity of merged and inner-pruned checkpoints: for random held-out configs of several families
(heldout_parity.draw_config), `expertlock prune --merge hc-smoe|reap-aligned --keep K` and
`expertlock prune --inner-keep R` write checkpoints; each one that says `loadable_by_transformers` is
loaded with transformers and its logits compared with `expertlock forward` on the same folder
(max abs difference). Per-expert inner pruning (`--inner-scope per-expert`) is ExpertLock-only: it is
reloaded by ExpertLock and checked to run. Merging a group-limited router (n_group > 1) must be refused, and
so must a drawn config with one expert per routing group (transformers' forward fails on it too).

Usage: python3 scripts/checks/compressed_parity.py --families mixtral qwen3_moe --seeds 1 2 \
           [--expertlock .build/debug/expertlock] [--tolerance 1e-4]

Pinned: transformers 5.25, torch 2.x (CPU).
"""
import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

import torch
import transformers
from transformers import AutoConfig, AutoModelForCausalLM

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import heldout_parity  # noqa: E402

assert transformers.__version__.startswith("5.25"), f"pinned transformers==5.25.*, found {transformers.__version__}"


def expertlock(cli, args):
    p = subprocess.run([cli] + args, capture_output=True, text=True)
    return p.returncode, (json.loads(p.stdout) if p.returncode == 0 else p.stderr.strip()[-300:])


def check(family, seed, cli, work, tolerance):
    rng = random.Random(seed)
    cfg = heldout_parity.draw_config(family, rng)
    config = AutoConfig.for_model(family, **cfg)
    config._attn_implementation = "eager"
    config._experts_implementation = "eager"
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config).eval().float()
    heldout_parity.randomize(model, seed)
    path = os.path.join(work, f"{family}-{seed}")
    shutil.rmtree(path, ignore_errors=True)
    model.save_pretrained(path)
    g = torch.Generator().manual_seed(seed)
    calib = torch.randint(0, cfg["vocab_size"], (400,), generator=g).tolist()
    probe = torch.randint(0, cfg["vocab_size"], (1, 23), generator=g)
    calib_file, probe_file = os.path.join(work, f"calib-{seed}.json"), os.path.join(work, f"probe-{seed}.json")
    json.dump(calib, open(calib_file, "w"))
    json.dump(probe[0].tolist(), open(probe_file, "w"))
    experts = (cfg.get("n_routed_experts") or cfg.get("num_local_experts") or cfg.get("moe_num_experts")
               or cfg.get("num_experts"))
    groups = cfg.get("n_group") or 1
    rows = []
    attacks = [("hc-smoe", ["--merge", "hc-smoe", "--keep", str(max(1, experts // 2))]),
               ("reap-aligned", ["--merge", "reap-aligned", "--keep", str(max(1, experts // 2))]),
               ("inner-0.5", ["--inner-keep", "0.5"]), ("inner-0.75", ["--inner-keep", "0.75"]),
               ("inner-0.5-per-expert", ["--inner-keep", "0.5", "--inner-scope", "per-expert"])]
    for name, options in attacks:
        out = f"{path}-{name}"
        shutil.rmtree(out, ignore_errors=True)
        code, result = expertlock(cli, ["prune", "--model", path, "--ids", calib_file, "--context", "50", "--out", out,
                                        "--json"] + options)
        row = {"family": family, "seed": seed, "attack": name, "experts": experts, "n_group": groups}
        if name in ("hc-smoe", "reap-aligned") and groups > 1:
            row["status"] = "refused as expected" if code == 2 else f"NOT refused (exit {code})"
            rows.append(row)
            continue
        if code != 0 and groups > 1 and experts // groups < 2:
            # The draw left one expert per routing group: the group score (sum of a group's best two) does not
            # exist, transformers' own forward fails (topk out of range), and ExpertLock refuses the config (exit 2).
            row["status"] = "refused as expected (1 expert per group)" if code == 2 else f"FAILED (exit {code})"
            rows.append(row)
            continue
        if code != 0:
            row["status"] = f"FAILED: {result}"
            rows.append(row)
            continue
        code, forward = expertlock(cli, ["forward", "--model", out, "--ids", probe_file, "--json"])
        if code != 0:
            row["status"] = f"FAILED forward: {forward}"
            rows.append(row)
            continue
        row["loadable_by_transformers"] = result["loadable_by_transformers"]
        if result["loadable_by_transformers"]:
            # eager experts: torch's grouped_mm wants 16-byte strides, which pruned sizes need not have
            reload_config = AutoConfig.from_pretrained(out)
            reload_config._attn_implementation = "eager"
            reload_config._experts_implementation = "eager"
            reloaded = AutoModelForCausalLM.from_pretrained(out, config=reload_config, dtype=torch.float32).eval()
            with torch.no_grad():
                ref = reloaded(input_ids=probe).logits[0]
            diff = float((torch.tensor(forward["logits"]) - ref).abs().max())
            row["max_abs"] = diff
            row["status"] = "ok" if diff <= tolerance else "MISMATCH"
        else:
            shared = cfg.get("n_shared_experts") or cfg.get("moe_num_shared_experts") or 0
            if name.endswith("per-expert"):
                row["status"] = "ok (ExpertLock only)"
            elif shared and family in ("deepseek_v3", "deepseek_v2", "glm4_moe", "ernie4_5_moe"):
                # the shared MLP is moe_intermediate_size × n_shared: no key states a size that does not divide it
                row["status"] = "ok (ExpertLock only: shared experts are moe_intermediate_size × n_shared)"
            else:
                row["status"] = "NOT loadable"
        rows.append(row)
    return rows


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--families", nargs="+",
                        default=["mixtral", "qwen2_moe", "qwen3_moe", "olmoe", "deepseek_v3", "glm4_moe",
                                 "ernie4_5_moe", "minimax_m2"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--expertlock", default=".build/debug/expertlock")
    parser.add_argument("--tolerance", type=float, default=1e-4)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="compressed-parity-")
    bad = 0
    try:
        for family in args.families:
            for seed in args.seeds:
                for row in check(family, seed, args.expertlock, work, args.tolerance):
                    print(json.dumps(row), flush=True)
                    bad += not row["status"].startswith(("ok", "refused"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{bad} failure(s)")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
