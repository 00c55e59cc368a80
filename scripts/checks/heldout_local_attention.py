#!/usr/bin/env python3
"""Held-out check of issue 25's families and components on checkpoints the tests never saw: other sizes, seeds and
options than make_local_attention_fixtures.py's (windows of 1, 2 and 6, MHA, top-1/top-3, explicit YaRN with
truncation, MXFP4 with other widths, Llama-4 with explicit `moe_layers`, no chunking at all, other temperatures).
For each variant (built with transformers 5.25 by the fixture script's `build`):

  1. `expertlock forward --json` logits against transformers' (max abs difference);
  2. `expertlock eval --task perplexity` (context 16, stride 5: windows and chunks shorter than the context) against
     the sliding-window recipe run with transformers (relative difference);
  3. the checkpoint `expertlock prune --drop 1,N-1 --mode remove` wrote, reloaded in transformers, against
     `expertlock forward` on it (max abs difference); for MXFP4, whether the kept experts' bytes are unchanged;
  4. greedy decoding with the cache, 20 new tokens after the 13-token input (the fixtures decode 12 after 6):
     `expertlock forward --generate 20` against transformers' `generate(use_cache=True, do_sample=False)`, as saved
     and with an eos_token_id list in generation_config.json (heldout_generation.py).

Usage: python3 scripts/checks/heldout_local_attention.py --expertlock .build/debug/expertlock [--out DIR]
Prints one line per variant; exits 1 when a difference is above 1e-4. Pinned: transformers 5.25, torch 2.x (CPU).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
import make_local_attention_fixtures as fixtures  # noqa: E402

import heldout_generation as generation  # noqa: E402  (beside this script)

YARN = {"rope_type": "yarn", "rope_theta": 20000.0, "factor": 4.0, "original_max_position_embeddings": 32,
        "beta_fast": 16.0, "beta_slow": 2.0, "truncate": True}

VARIANTS = [
    dict(name="gpt_oss_heldout_f32_window2_mha_top3", family="gpt_oss", seed=911, dtype="f32", dir="",
         cfg=dict(vocab_size=70, hidden_size=40, intermediate_size=20, num_hidden_layers=4, num_attention_heads=4,
                  num_key_value_heads=4, head_dim=10, num_local_experts=8, num_experts_per_tok=3, sliding_window=2,
                  layer_types=["sliding_attention", "sliding_attention", "full_attention", "sliding_attention"],
                  swiglu_alpha=1.0, swiglu_limit=3.0, rope_parameters=YARN)),
    dict(name="gpt_oss_heldout_bf16_window1_mqa", family="gpt_oss", seed=912, dtype="bf16", dir="",
         cfg=dict(vocab_size=52, hidden_size=16, intermediate_size=12, num_hidden_layers=2, num_attention_heads=2,
                  num_key_value_heads=1, head_dim=8, num_local_experts=5, num_experts_per_tok=2, sliding_window=1,
                  swiglu_limit=0.8, rope_parameters=None)),
    dict(name="gpt_oss_heldout_mxfp4_window6", family="gpt_oss", seed=913, dtype="mxfp4", dir="",
         cfg=dict(vocab_size=40, hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=2,
                  num_key_value_heads=2, head_dim=16, num_local_experts=6, num_experts_per_tok=3, sliding_window=6,
                  swiglu_limit=4.0, rope_parameters=None)),
    dict(name="llama4_text_heldout_f32_chunk3_moe_layers", family="llama4_text", seed=921, dtype="f32", dir="",
         cfg=dict(vocab_size=66, hidden_size=24, intermediate_size=10, intermediate_size_mlp=30, num_hidden_layers=5,
                  num_attention_heads=6, num_key_value_heads=2, head_dim=4, num_local_experts=3, num_experts_per_tok=1,
                  moe_layers=[0, 3, 4], no_rope_layer_interval=3, attention_chunk_size=3, use_qk_norm=True,
                  attn_temperature_tuning=True, floor_scale=2, attn_scale=0.3,
                  rope_parameters={"rope_type": "default", "rope_theta": 50000.0})),
    dict(name="llama4_text_heldout_bf16_no_chunks_top2", family="llama4_text", seed=922, dtype="bf16", dir="",
         cfg=dict(vocab_size=48, hidden_size=32, intermediate_size=14, intermediate_size_mlp=20, num_hidden_layers=3,
                  num_attention_heads=4, num_key_value_heads=1, head_dim=8, num_local_experts=6, num_experts_per_tok=2,
                  no_rope_layer_interval=2, attention_chunk_size=None, use_qk_norm=True,
                  attn_temperature_tuning=False, rope_parameters={"rope_type": "default", "rope_theta": 10000.0})),
    dict(name="mixtral_heldout_bf16_window2", family="mixtral", seed=931, dtype="bf16", dir="",
         cfg=dict(vocab_size=45, hidden_size=24, intermediate_size=12, num_hidden_layers=3, num_attention_heads=3,
                  num_key_value_heads=1, num_local_experts=5, num_experts_per_tok=2, sliding_window=2,
                  rope_parameters={"rope_type": "default", "rope_theta": 10000.0})),
    dict(name="qwen2_moe_heldout_f32_window5_first_layer", family="qwen2_moe", seed=932, dtype="f32", dir="",
         cfg=dict(vocab_size=44, hidden_size=24, intermediate_size=30, moe_intermediate_size=8,
                  shared_expert_intermediate_size=12, num_hidden_layers=3, num_attention_heads=3,
                  num_key_value_heads=3, num_experts=6, num_experts_per_tok=3, use_sliding_window=True,
                  sliding_window=5, max_window_layers=1, rope_parameters={"rope_type": "default", "rope_theta": 1e6})),
    dict(name="qwen3_moe_heldout_f32_window3", family="qwen3_moe", seed=933, dtype="f32", dir="",
         cfg=dict(vocab_size=60, hidden_size=24, intermediate_size=30, moe_intermediate_size=10, num_hidden_layers=3,
                  num_attention_heads=2, num_key_value_heads=1, head_dim=12, num_experts=5, num_experts_per_tok=2,
                  use_sliding_window=True, sliding_window=3, rope_parameters={"rope_type": "default",
                                                                              "rope_theta": 10000.0})),
]


def run(cli, args):
    p = subprocess.run([cli] + args, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:3])}: exit {p.returncode}: {p.stderr.strip()}")
    return json.loads(p.stdout) if "--json" in args else None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--expertlock", required=True)
    parser.add_argument("--out", default="/tmp/expertlock-heldout-25")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_grad_enabled(False)
    worst = 0.0
    for case in VARIANTS:
        path = fixtures.build(case, args.out, args.expertlock)
        expected = json.load(open(os.path.join(path, "expected.json")))
        ids_file, ppl_file = os.path.join(path, "ids.json"), os.path.join(path, "ppl_ids.json")
        json.dump(expected["ids"], open(ids_file, "w"))
        json.dump(expected["perplexity_ids"], open(ppl_file, "w"))
        ours = torch.tensor(run(args.expertlock, ["forward", "--model", path, "--ids", ids_file, "--json"])["logits"],
                            dtype=torch.float64)
        forward = float((ours - torch.tensor(expected["logits"], dtype=torch.float64)).abs().max())
        entry = next(e for e in expected["perplexity"] if (e["context"], e["stride"]) == (16, 5))
        reference = float(torch.tensor(entry["nll_sum"] / entry["tokens"]).exp())
        ev = run(args.expertlock, ["eval", "--model", path, "--task", "perplexity", "--ids", ppl_file, "--context",
                                   "16", "--stride", "5", "--json"])
        perplexity = abs(ev["perplexity"] - reference) / reference
        n = expected["pruned_dropped"][1] + 1
        pruned = os.path.join(args.out, "pruned_" + case["name"])
        shutil.rmtree(pruned, ignore_errors=True)
        run(args.expertlock, ["prune", "--model", path, "--drop", f"1,{n - 1}", "--mode", "remove", "--out", pruned])
        ours_pruned = torch.tensor(run(args.expertlock, ["forward", "--model", pruned, "--ids", ids_file, "--json"])[
            "logits"], dtype=torch.float64)
        pruned_error = float((ours_pruned - torch.tensor(expected["pruned_logits"], dtype=torch.float64)).abs().max())
        worst = max(worst, forward, perplexity, pruned_error)
        extra = ""
        if "pruned_expert_bytes_identical" in expected:
            extra = f", MXFP4 kept experts byte-identical {expected['pruned_expert_bytes_identical']}"
            worst = worst if expected["pruned_expert_bytes_identical"] else float("inf")
        decoded, decoding = generation.check(args.expertlock, path, lambda folder: fixtures.load(case, folder),
                                             expected["ids"], 20, case["cfg"]["vocab_size"])
        worst = worst if decoded else float("inf")
        print(f"{case['name']}: forward {forward:.2e}, perplexity (16/5) rel {perplexity:.2e}, "
              f"pruned (transformers reload) {pruned_error:.2e}{extra}; {decoding}", flush=True)
    sys.exit(0 if worst <= 1e-4 else 1)


if __name__ == "__main__":
    main()
