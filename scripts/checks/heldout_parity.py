#!/usr/bin/env python3
"""Held-out parity check: builds checkpoints the test fixtures never had (configs drawn at random
from a seed) for one family, and compares `expertlock` with transformers on them:

  1. `expertlock forward` logits against transformers' (max abs difference);
  2. `expertlock eval --task perplexity` against the sliding-window recipe of CLI.md run with
     transformers (relative difference);
  3. `expertlock prune --drop 1,N-1 --mode remove` reloaded in transformers against ExpertLock's
     masked original (`--mode mask`) (max abs difference).

With --fp8 the checkpoint is quantized as DeepSeek-V3/MiniMax-M2 publish it (make_fp8_fixtures.quantize:
float8_e4m3fn + weight_scale_inv per 4 x 4 block here, BF16 elsewhere) and the reference is transformers
loading that folder (it dequantizes on CPU); the pruned copy must also keep the kept experts' FP8 bytes and
scales byte for byte. Routing groups are drawn up to n_group 8 / topk_group 4 (16 or 32 experts), where
--drop 1,N-1 leaves uneven groups that prune pads with dead slots.

It is a check run by hand (or by a reviewer), not a test: CI never needs Python.

Usage: python3 scripts/checks/heldout_parity.py --family deepseek_v3 --seeds 100 101 102 \
           [--expertlock .build/release/expertlock] [--dtype f32|bf16] [--fp8] [--keep-dirs]

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

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
import make_model_fixtures as fixtures  # noqa: E402


def draw_config(family, rng):
    """A random small config of `family` with the options that could go wrong switched at random."""
    heads = rng.choice([2, 4, 6])
    kv = rng.choice([h for h in (1, 2, heads) if heads % h == 0])
    layers = rng.choice([2, 3, 4])
    vocab = rng.randint(40, 90)
    theta = rng.choice([10000.0, 50000.0, 1e6])
    yarn = rng.random() < 0.5
    rope = {"rope_type": "default", "rope_theta": theta}
    if yarn and family in ("deepseek_v3", "deepseek_v2", "glm4_moe_lite"):
        rope = {"rope_type": "yarn", "rope_theta": theta, "factor": rng.choice([2.0, 4.0]),
                "original_max_position_embeddings": 32, "beta_fast": 32.0, "beta_slow": 1.0,
                "mscale": rng.choice([0.707, 1.0]), "mscale_all_dim": rng.choice([0.707, 1.0])}
    common = dict(vocab_size=vocab, num_hidden_layers=layers, num_attention_heads=heads, rms_norm_eps=1e-6,
                  max_position_embeddings=128, tie_word_embeddings=rng.random() < 0.3, rope_parameters=rope)
    experts = rng.choice([4, 6, 8, 12])
    topk = rng.choice([1, 2, 3])
    if family in ("deepseek_v3", "glm4_moe_lite", "glm4_moe") and rng.random() < 0.4:
        experts = rng.choice([16, 32])  # DeepSeek-V3's own grouping, n_group 8 / topk_group 4, drawn below
    if family in ("deepseek_v3", "glm4_moe_lite", "deepseek_v2"):
        groups = rng.choice([g for g in (1, 2, 4, 8) if experts % g == 0 and (g < 8 or family != "deepseek_v2")])
        # deepseek_v2's config validation wants hidden_size divisible by the heads (its head_dim is unused)
        cfg = dict(common, hidden_size=heads * rng.choice([4, 6, 8]), intermediate_size=rng.choice([20, 36]),
                   moe_intermediate_size=rng.choice([8, 12, 16]), num_key_value_heads=heads,
                   n_routed_experts=experts, num_experts_per_tok=min(topk, experts // groups * max(1, groups // 2)),
                   n_shared_experts=rng.choice([0, 1, 2]) if family != "glm4_moe_lite" else rng.choice([1, 2]),
                   kv_lora_rank=rng.choice([8, 16]), q_lora_rank=rng.choice([None, 12]),
                   qk_rope_head_dim=rng.choice([4, 8]), qk_nope_head_dim=rng.choice([4, 8, 12]),
                   v_head_dim=rng.choice([6, 8, 10]), routed_scaling_factor=rng.choice([1.0, 2.5]),
                   norm_topk_prob=rng.random() < 0.7)
        if family == "deepseek_v2":
            method = rng.choice(["greedy", "group_limited_greedy"])
            cfg.update(topk_method=method, n_group=groups if method != "greedy" else None,
                       topk_group=max(1, groups // 2) if method != "greedy" else None,
                       first_k_dense_replace=rng.choice([0, 1]))
        elif family == "deepseek_v3":
            cfg.update(n_group=groups, topk_group=max(1, groups // 2), first_k_dense_replace=rng.choice([0, 1]),
                       num_nextn_predict_layers=0)
        else:
            cfg.update(n_group=groups, topk_group=max(1, groups // 2),
                       mlp_layer_types=["dense" if i == 0 and rng.random() < 0.5 else "sparse" for i in range(layers)])
        if cfg["q_lora_rank"] is None:
            cfg.pop("q_lora_rank")
            cfg["q_lora_rank"] = None
    elif family == "glm4_moe":
        groups = rng.choice([g for g in (1, 2, 8) if experts % g == 0])
        cfg = dict(common, hidden_size=rng.choice([32, 48]), intermediate_size=rng.choice([24, 40]),
                   moe_intermediate_size=rng.choice([8, 12]), num_key_value_heads=kv, head_dim=rng.choice([8, 12, 16]),
                   n_routed_experts=experts, num_experts_per_tok=topk, n_shared_experts=rng.choice([0, 1, 2]),
                   n_group=groups, topk_group=max(1, groups // 2) if groups > 1 else 1,
                   first_k_dense_replace=rng.choice([0, 1]), routed_scaling_factor=rng.choice([1.0, 2.5]),
                   norm_topk_prob=rng.random() < 0.7, use_qk_norm=rng.random() < 0.5,
                   attention_bias=rng.random() < 0.5, num_nextn_predict_layers=0)
        cfg["rope_parameters"] = dict(rope, partial_rotary_factor=rng.choice([0.5, 1.0]))
    elif family == "minimax_m2":
        cfg = dict(common, hidden_size=rng.choice([32, 48]), intermediate_size=rng.choice([8, 12, 16]),
                   num_key_value_heads=kv, head_dim=rng.choice([8, 16]), num_local_experts=experts,
                   num_experts_per_tok=topk, bos_token_id=None, eos_token_id=None)
        if rng.random() < 0.5:
            cfg["rotary_dim"] = cfg["head_dim"] // 2
    elif family == "ernie4_5_moe":
        cfg = dict(common, hidden_size=heads * rng.choice([4, 6, 8]), intermediate_size=rng.choice([24, 40]),
                   num_key_value_heads=kv, moe_intermediate_size=rng.choice([8, 12]), moe_num_experts=experts,
                   moe_k=topk, moe_num_shared_experts=rng.choice([0, 1, 2]), moe_layer_start_index=rng.choice([0, 1]),
                   moe_layer_end_index=layers - 1, moe_layer_interval=1, use_bias=rng.random() < 0.5)
    elif family in ("mixtral", "qwen2_moe", "qwen3_moe", "olmoe"):
        # head_dim = hidden_size / heads in these families (qwen3_moe's explicit head_dim aside)
        cfg = dict(common, hidden_size=heads * rng.choice([4, 6, 8]), intermediate_size=rng.choice([16, 24]),
                   num_key_value_heads=kv, num_experts_per_tok=topk, rope_theta=theta, eos_token_id=None)
        cfg.pop("rope_parameters")
        cfg["rope_parameters"] = {"rope_type": "default", "rope_theta": cfg.pop("rope_theta")}
        if family == "mixtral":
            cfg["num_local_experts"] = experts
        else:
            cfg.update(num_experts=experts, norm_topk_prob=rng.random() < 0.5)
        if family.startswith("qwen"):
            cfg.update(moe_intermediate_size=rng.choice([8, 12]), mlp_only_layers=[0] if rng.random() < 0.4 else [])
        if family == "qwen2_moe":
            cfg["shared_expert_intermediate_size"] = rng.choice([12, 20])
        if family == "qwen3_moe":
            cfg["head_dim"] = rng.choice([8, 12])
    else:
        raise SystemExit(f"no generator for {family}")
    return cfg


def randomize(model, seed):
    """make_model_fixtures' re-initialisation (unit-scale activations, decisive routing), plus nonzero
    selection biases: a zero bias would hide a router that adds it to the weights or forgets it."""
    fixtures.randomize(model, seed)
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, b in model.named_buffers():
            if "e_score_correction_bias" in name or "moe_statics" in name:
                b.copy_(0.1 * torch.randn(b.shape, generator=g))


def sliding_nll(model, ids, context, stride):
    total, count, prev_end = 0.0, 0, 0
    n = ids.shape[1]
    for begin in range(0, n, stride):
        end = min(begin + context, n)
        trg_len = end - prev_end
        with torch.no_grad():
            logp = torch.log_softmax(model(input_ids=ids[:, begin:end]).logits[0].double(), dim=-1)
        for t in range(max(end - trg_len, begin + 1), end):
            total -= float(logp[t - begin - 1, ids[0, t]])
            count += 1
        prev_end = end
        if end == n:
            break
    return total, count


def run(cli, args):
    p = subprocess.run([cli] + args, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"expertlock {' '.join(args[:1])} exited {p.returncode}: {p.stderr.strip()[-400:]}")
    return json.loads(p.stdout)


FP8_BLOCK = [4, 4]


def quantize_folder(path):
    """The published FP8 layout (make_fp8_fixtures.quantize) written over a saved folder."""
    import make_fp8_fixtures as fp8
    from safetensors.torch import load_file, save_file
    state = fp8.quantize(load_file(os.path.join(path, "model.safetensors")), FP8_BLOCK)
    save_file(state, os.path.join(path, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(path, "config.json")) as f:
        config = json.load(f)
    config["quantization_config"] = {"activation_scheme": "dynamic", "fmt": "e4m3", "quant_method": "fp8",
                                     "weight_block_size": FP8_BLOCK}
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    return sum(1 for v in state.values() if v.dtype == torch.float8_e4m3fn)


def expert_slots(experts, dropped, groups, padded):
    """Original expert of each expert slot of the pruned copy (None: a dead slot of a padded group)."""
    kept = [e for e in range(experts) if e not in dropped]
    if not padded:
        return kept
    size = experts // groups
    per_group = [[e for e in kept if e // size == g] for g in range(groups)]
    width = max(len(g) for g in per_group)
    return [e for g in per_group for e in g + [None] * (width - len(g))]


def fp8_bytes_kept(original, pruned, slots):
    """Every FP8 weight and scale of the pruned copy equals the original's (experts renumbered by `slots`);
    dead slots hold zeros with unit scales."""
    from safetensors import safe_open
    a = safe_open(os.path.join(original, "model.safetensors"), "pt")
    b = safe_open(os.path.join(pruned, "model.safetensors"), "pt")
    checked = 0
    for name in b.keys():
        tb = b.get_tensor(name)
        if tb.dtype != torch.float8_e4m3fn and not name.endswith("_scale_inv"):
            continue
        parts = name.split(".")
        if "experts" in parts and parts[parts.index("experts") + 1].isdigit():
            i = parts.index("experts") + 1
            source = slots[int(parts[i])]
            if source is None:
                expected_zero = tb.view(torch.uint8) if tb.dtype == torch.float8_e4m3fn else tb - 1
                if expected_zero.abs().sum() != 0:
                    raise RuntimeError(f"dead slot tensor {name} is not zeros with unit scales")
                continue
            parts[i] = str(source)
        ta = a.get_tensor(".".join(parts))
        if not torch.equal(ta.view(torch.uint8) if ta.dtype == torch.float8_e4m3fn else ta,
                           tb.view(torch.uint8) if tb.dtype == torch.float8_e4m3fn else tb):
            raise RuntimeError(f"pruned FP8 tensor {name} differs from the original's")
        checked += 1
    return checked


def check(family, seed, dtype, cli, work, fp8=False, groups8=False):
    rng = random.Random(seed)
    cfg = draw_config(family, rng)
    if groups8:  # DeepSeek-V3's real grouping: 8 groups, the best 4 chosen
        experts = rng.choice([16, 32])
        key = "n_routed_experts"
        cfg.update({key: experts, "n_group": 8, "topk_group": 4, "num_experts_per_tok": rng.choice([2, 3, 4])})
    config = AutoConfig.for_model(family, **cfg)
    config._attn_implementation = "eager"
    config._experts_implementation = "eager"
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config).eval().float()
    randomize(model, seed)
    if dtype == "bf16":
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(p.to(torch.bfloat16).to(torch.float32))
    path = os.path.join(work, f"{family}-{seed}")
    shutil.rmtree(path, ignore_errors=True)
    ids = torch.randint(0, cfg["vocab_size"], (1, 29), generator=torch.Generator().manual_seed(seed))
    fp8_tensors = 0
    if fp8:  # the reference is transformers on the quantized folder (dequantized on CPU)
        model.save_pretrained(path)
        fp8_tensors = quantize_folder(path)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, attn_implementation="eager",
                                                     experts_implementation="eager").eval()
    with torch.no_grad():
        ref = model(input_ids=ids).logits[0]
    context, stride = rng.choice([(16, 16), (16, 5), (29, 29)])
    nll, count = sliding_nll(model, ids, context, stride)
    ref_ppl = float(torch.exp(torch.tensor(nll / count, dtype=torch.float64)))
    if not fp8:
        (model.to(torch.bfloat16) if dtype == "bf16" else model).save_pretrained(path)
    ids_file = os.path.join(work, f"ids-{seed}.json")
    with open(ids_file, "w") as f:
        json.dump(ids[0].tolist(), f)
    result = {"family": family, "seed": seed, "dtype": "fp8" if fp8 else dtype, "config": {k: v for k, v in cfg.items()}}
    if fp8:
        result["fp8_tensors"] = fp8_tensors
    out = run(cli, ["forward", "--model", path, "--ids", ids_file, "--json"])
    result["forward_max_abs"] = float((torch.tensor(out["logits"]) - ref).abs().max())
    ev = run(cli, ["eval", "--model", path, "--task", "perplexity", "--ids", ids_file, "--context", str(context),
                   "--stride", str(stride), "--json"])
    result["perplexity_rel"] = abs(ev["perplexity"] - ref_ppl) / ref_ppl
    experts = (cfg.get("n_routed_experts") or cfg.get("num_local_experts") or cfg.get("moe_num_experts")
               or cfg.get("num_experts"))  # qwen2_moe, qwen3_moe, olmoe
    drop = f"1,{experts - 1}"
    removed, masked = path + "-removed", path + "-masked"
    for d in (removed, masked):
        shutil.rmtree(d, ignore_errors=True)
    pruned = run(cli, ["prune", "--model", path, "--drop", drop, "--mode", "remove", "--out", removed, "--json"])
    result["prune_notes"] = [n for n in pruned.get("notes", []) if "group" in n]
    run(cli, ["prune", "--model", path, "--drop", drop, "--mode", "mask", "--out", masked, "--json"])
    masked_out = run(cli, ["forward", "--model", masked, "--ids", ids_file, "--json"])
    reloaded = AutoModelForCausalLM.from_pretrained(removed, dtype=torch.float32).eval()
    with torch.no_grad():
        pruned_ref = reloaded(input_ids=ids).logits[0]
    result["pruned_reload_max_abs"] = float((torch.tensor(masked_out["logits"]) - pruned_ref).abs().max())
    if fp8:
        padded = any("dead slot" in n for n in result["prune_notes"])
        slots = expert_slots(experts, {1, experts - 1}, cfg.get("n_group") or 1, padded)
        result["fp8_tensors_byte_identical"] = fp8_bytes_kept(path, removed, slots)
    return result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--family", required=True)
    ap.add_argument("--seeds", type=int, nargs="+", default=[100, 101, 102])
    ap.add_argument("--dtype", choices=["f32", "bf16"], default="f32")
    ap.add_argument("--expertlock", default=".build/release/expertlock")
    ap.add_argument("--keep-dirs", action="store_true")
    ap.add_argument("--fp8", action="store_true", help="quantize to the published FP8 layout first")
    ap.add_argument("--groups8", action="store_true", help="n_group 8, topk_group 4 (16 or 32 experts)")
    args = ap.parse_args()
    torch.set_grad_enabled(False)
    work = tempfile.mkdtemp(prefix="heldout-")
    failures = 0
    for seed in args.seeds:
        try:
            r = check(args.family, seed, args.dtype, args.expertlock, work, fp8=args.fp8, groups8=args.groups8)
            ok = r["forward_max_abs"] <= 1e-4 and r["perplexity_rel"] <= 1e-4 and r["pruned_reload_max_abs"] <= 1e-4
        except Exception as e:  # a refusal or crash is a failure of the check, reported as such
            r, ok = {"family": args.family, "seed": seed, "error": str(e)[-600:]}, False
        failures += 0 if ok else 1
        print(json.dumps(dict(r, ok=ok)))
        sys.stdout.flush()
    if not args.keep_dirs:
        shutil.rmtree(work, ignore_errors=True)
    print(f"transformers {transformers.__version__}, torch {torch.__version__}: "
          f"{len(args.seeds) - failures}/{len(args.seeds)} held-out checks within 1e-4", file=sys.stderr)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
