#!/usr/bin/env python3
"""Writes a random-weight Mixtral-style checkpoint of a chosen size in BF16 (or F32) with the
Hugging Face layout, without instantiating the model (so it is quick even for a few GB). Used to
measure memory (peak RSS) and throughput on checkpoints larger than the test fixtures.

Usage: python3 scripts/bench/make_random_checkpoint.py OUT_DIR [--hidden 1024 --intermediate 2816
       --layers 4 --experts 8 --vocab 8000 --dtype bf16]
"""
import argparse
import json
import os

import torch
from safetensors.torch import save_file


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--hidden", type=int, default=1024)
    p.add_argument("--intermediate", type=int, default=2816)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--experts", type=int, default=8)
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--kv-heads", type=int, default=4)
    p.add_argument("--vocab", type=int, default=8000)
    p.add_argument("--dtype", choices=["bf16", "f32"], default="bf16")
    a = p.parse_args()
    dtype = torch.bfloat16 if a.dtype == "bf16" else torch.float32
    g = torch.Generator().manual_seed(0)
    h, i, d = a.hidden, a.intermediate, a.hidden // a.heads

    def w(*shape):
        return (torch.randn(*shape, generator=g) / shape[-1] ** 0.5).to(dtype)

    t = {"model.embed_tokens.weight": w(a.vocab, h), "model.norm.weight": torch.ones(h, dtype=dtype),
         "lm_head.weight": w(a.vocab, h)}
    for l in range(a.layers):
        pre = f"model.layers.{l}"
        t[f"{pre}.input_layernorm.weight"] = torch.ones(h, dtype=dtype)
        t[f"{pre}.post_attention_layernorm.weight"] = torch.ones(h, dtype=dtype)
        t[f"{pre}.self_attn.q_proj.weight"] = w(a.heads * d, h)
        t[f"{pre}.self_attn.k_proj.weight"] = w(a.kv_heads * d, h)
        t[f"{pre}.self_attn.v_proj.weight"] = w(a.kv_heads * d, h)
        t[f"{pre}.self_attn.o_proj.weight"] = w(h, a.heads * d)
        t[f"{pre}.block_sparse_moe.gate.weight"] = w(a.experts, h)
        for e in range(a.experts):
            t[f"{pre}.block_sparse_moe.experts.{e}.w1.weight"] = w(i, h)
            t[f"{pre}.block_sparse_moe.experts.{e}.w3.weight"] = w(i, h)
            t[f"{pre}.block_sparse_moe.experts.{e}.w2.weight"] = w(h, i)
    os.makedirs(a.out, exist_ok=True)
    save_file(t, os.path.join(a.out, "model.safetensors"), metadata={"format": "pt"})
    config = {
        "architectures": ["MixtralForCausalLM"], "model_type": "mixtral", "vocab_size": a.vocab, "hidden_size": h,
        "intermediate_size": i, "num_hidden_layers": a.layers, "num_attention_heads": a.heads,
        "num_key_value_heads": a.kv_heads, "num_local_experts": a.experts, "num_experts_per_tok": 2,
        "rms_norm_eps": 1e-5, "rope_parameters": {"rope_theta": 1000000.0, "rope_type": "default"},
        "max_position_embeddings": 4096, "tie_word_embeddings": False,
        "dtype": "bfloat16" if a.dtype == "bf16" else "float32",
    }
    json.dump(config, open(os.path.join(a.out, "config.json"), "w"), indent=2)
    n = sum(x.numel() for x in t.values())
    print(json.dumps({"parameters": n, "bytes": n * (2 if a.dtype == "bf16" else 4), "f32_bytes": n * 4}))


if __name__ == "__main__":
    main()
