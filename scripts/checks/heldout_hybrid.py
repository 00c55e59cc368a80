#!/usr/bin/env python3
"""Held-out check of the hybrid linear-attention families (qwen3_next, qwen3_5_moe): random checkpoints with sizes,
seeds and options make_hybrid_fixtures.py's cases do not have, built by its `build` (transformers 5.25), then
  1. `expertlock forward --json` against transformers' logits (max abs difference);
  2. `expertlock eval --task perplexity` (context 16, stride 5) against the sliding-window recipe run with
     transformers (relative difference);
  3. `expertlock forward` on the checkpoint `expertlock prune --drop 1,N-1 --mode remove` writes against
     transformers' logits of that same checkpoint (max abs difference);
  4. greedy decoding with the state cache, 20 new tokens after the whole input (the fixtures decode 12 after 7):
     `expertlock forward --generate 20` against transformers' `generate(use_cache=True, do_sample=False)`, as saved
     and with an end token (heldout_generation.py; Qwen3.5-MoE's in config.json's text_config).

Usage: python3 scripts/checks/heldout_hybrid.py --expertlock .build/debug/expertlock [--out DIR]
Prints one line per variant; exits 1 when a difference is above 1e-4 or a token differs.
"""
import argparse
import json
import os
import subprocess
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
import make_hybrid_fixtures as fixtures  # noqa: E402

import heldout_generation as generation  # noqa: E402  (beside this script)

ROPE = fixtures.ROPE
VARIANTS = [
    dict(name="qwen3_next_heldout_bf16", family="qwen3_next", seed=951, dtype="bf16", tokens=17, min_gap=1e-4,
         cfg=dict(vocab_size=66, hidden_size=40, intermediate_size=30, moe_intermediate_size=10,
                  shared_expert_intermediate_size=8, num_hidden_layers=5, num_attention_heads=5,
                  num_key_value_heads=1, head_dim=8, linear_num_key_heads=1, linear_num_value_heads=3,
                  linear_key_head_dim=12, linear_value_head_dim=5, linear_conv_kernel_dim=5, num_experts=10,
                  num_experts_per_tok=3, norm_topk_prob=False,
                  layer_types=["linear_attention", "full_attention", "linear_attention", "linear_attention",
                               "full_attention"],
                  rope_parameters=dict(ROPE, rope_theta=50000.0, partial_rotary_factor=0.5))),
    dict(name="qwen3_next_heldout_f32_sparse_step", family="qwen3_next", seed=952, dtype="f32", tokens=15,
         min_gap=1e-4,
         cfg=dict(vocab_size=45, hidden_size=24, intermediate_size=28, moe_intermediate_size=6,
                  shared_expert_intermediate_size=10, num_hidden_layers=4, num_attention_heads=2,
                  num_key_value_heads=2, head_dim=16, linear_num_key_heads=3, linear_num_value_heads=3,
                  linear_key_head_dim=4, linear_value_head_dim=4, linear_conv_kernel_dim=2, num_experts=5,
                  num_experts_per_tok=2, decoder_sparse_step=2, full_attention_interval=2,
                  rope_parameters=dict(ROPE, partial_rotary_factor=0.25))),
    dict(name="qwen3_5_moe_heldout_bf16", family="qwen3_5_moe", seed=953, dtype="bf16", tokens=15, min_gap=1e-4,
         cfg=dict(vocab_size=50, hidden_size=28, moe_intermediate_size=7, shared_expert_intermediate_size=9,
                  num_hidden_layers=4, num_attention_heads=2, num_key_value_heads=1, head_dim=12,
                  linear_num_key_heads=2, linear_num_value_heads=4, linear_key_head_dim=6, linear_value_head_dim=3,
                  linear_conv_kernel_dim=3, num_experts=7, num_experts_per_tok=2,
                  rope_parameters=dict(ROPE, partial_rotary_factor=0.5))),
]


def run(expertlock, args):
    p = subprocess.run([expertlock] + args, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:3])}: exit {p.returncode}: {p.stderr.strip()}")
    return json.loads(p.stdout) if "--json" in args else None


def forward(expertlock, model, ids):
    ids_file = model.rstrip("/") + "_ids.json"
    json.dump(ids, open(ids_file, "w"))
    out = run(expertlock, ["forward", "--model", model, "--ids", ids_file, "--json"])
    os.remove(ids_file)
    return torch.tensor(out["logits"], dtype=torch.float64)


def load(case):
    """transformers' model of a folder of this case, as the fixture script reloads it."""
    model_cls = (fixtures.Qwen3_5MoeForConditionalGeneration if case["family"] == "qwen3_5_moe"
                 else fixtures.Qwen3NextForCausalLM)
    return lambda folder: model_cls.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager",
                                                    experts_implementation="eager").eval()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--expertlock", required=True)
    parser.add_argument("--out", default="/tmp/expertlock-heldout-hybrid")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_grad_enabled(False)
    worst = 0.0
    for case in VARIANTS:
        path = fixtures.build(case, args.out, args.expertlock)
        expected = json.load(open(os.path.join(path, "expected.json")))
        ours = forward(args.expertlock, path, expected["ids"])
        logits = float((ours - torch.tensor(expected["logits"], dtype=torch.float64)).abs().max())
        entry = next(e for e in expected["perplexity"] if (e["context"], e["stride"]) == (16, 5))
        reference = float(torch.tensor(entry["nll_sum"] / entry["tokens"], dtype=torch.float64).exp())
        ppl_file = path.rstrip("/") + "_ppl_ids.json"
        json.dump(expected["perplexity_ids"], open(ppl_file, "w"))
        ev = run(args.expertlock, ["eval", "--model", path, "--task", "perplexity", "--ids", ppl_file, "--context",
                                   "16", "--stride", "5", "--json"])
        os.remove(ppl_file)
        perplexity = abs(ev["perplexity"] - reference) / reference
        pruned = os.path.join(args.out, "_pruned_" + case["name"])
        n = case["cfg"]["num_experts"]
        run(args.expertlock, ["prune", "--model", path, "--drop", f"1,{n - 1}", "--mode", "remove", "--out", pruned,
                              "--overwrite"])
        ours_pruned = forward(args.expertlock, pruned, expected["ids"])
        pruned_diff = float((ours_pruned - torch.tensor(expected["pruned_logits"], dtype=torch.float64)).abs().max())
        decoded, decoding = generation.check(args.expertlock, path, load(case), expected["ids"], 20,
                                             case["cfg"]["vocab_size"], nested=case["family"] == "qwen3_5_moe")
        worst = max(worst, logits, perplexity, pruned_diff, 0.0 if decoded else float("inf"))
        print(f"{case['name']}: forward vs transformers {logits:.2e}, perplexity (16/5) rel {perplexity:.2e}, "
              f"pruned checkpoint (transformers) vs expertlock {pruned_diff:.2e}; {decoding}", flush=True)
    sys.exit(1 if worst > 1e-4 else 0)


if __name__ == "__main__":
    main()
