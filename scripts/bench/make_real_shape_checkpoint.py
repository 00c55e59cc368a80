#!/usr/bin/env python3
"""Writes a random-init BF16 checkpoint with the widths of a real MoE, saved by transformers, for the
real-shape speed comparison (scripts/bench/compare_real_shapes.sh).

    python3 scripts/bench/make_real_shape_checkpoint.py olmoe OUT_DIR --tokenizer DIR [--layers 4]
    python3 scripts/bench/make_real_shape_checkpoint.py qwen3 OUT_DIR --tokenizer DIR [--layers 4]
    python3 scripts/bench/make_real_shape_checkpoint.py olmoe-mixtral OUT_DIR --tokenizer DIR [--layers 4]

Shapes (every width of the real model, fewer layers, the 32,000-word Mixtral vocabulary):
- olmoe: OLMoE-1B-7B: hidden 2048, 16 heads of 128 (no GQA), 64 experts of 1024, top-8, q/k norm over
  the whole projection, norm_topk_prob false.
- qwen3: Qwen3-30B-A3B: hidden 2048, 32 query heads and 4 KV heads of 128, 128 experts of 768, top-8,
  per-head q/k norm, norm_topk_prob true.
- olmoe-mixtral: OLMoE-1B-7B's widths in the Mixtral architecture (no q/k norm; top-k weights
  renormalised), which llama.cpp's convert_hf_to_gguf.py converts (it has no OLMoE q/k-norm layout
  for every version), for the llama.cpp comparison.
Weights are initialised by transformers (`initializer_range` 0.02) directly in bfloat16 and saved with
`save_pretrained`; the tokenizer files of --tokenizer are copied beside them.

Versions used for the figures in README: torch 2.15.0, transformers 5.25.0.
"""
import argparse
import json
import os
import shutil

import torch
import transformers
from transformers import (MixtralConfig, MixtralForCausalLM, OlmoeConfig, OlmoeForCausalLM, Qwen3MoeConfig,
                          Qwen3MoeForCausalLM)

SHAPES = {
    "olmoe": (OlmoeConfig, OlmoeForCausalLM, dict(
        hidden_size=2048, intermediate_size=1024, num_attention_heads=16, num_key_value_heads=16,
        num_experts=64, num_experts_per_tok=8, norm_topk_prob=False, rope_theta=10000.0, rms_norm_eps=1e-5,
        max_position_embeddings=4096, tie_word_embeddings=False, bos_token_id=1, eos_token_id=2, pad_token_id=None)),
    "qwen3": (Qwen3MoeConfig, Qwen3MoeForCausalLM, dict(
        hidden_size=2048, intermediate_size=6144, moe_intermediate_size=768, num_attention_heads=32,
        num_key_value_heads=4, head_dim=128, num_experts=128, num_experts_per_tok=8, norm_topk_prob=True,
        decoder_sparse_step=1, mlp_only_layers=[], rope_theta=1000000.0, rms_norm_eps=1e-6,
        max_position_embeddings=4096, tie_word_embeddings=False, bos_token_id=1, eos_token_id=2, pad_token_id=None)),
    "olmoe-mixtral": (MixtralConfig, MixtralForCausalLM, dict(
        hidden_size=2048, intermediate_size=1024, num_attention_heads=16, num_key_value_heads=16, head_dim=128,
        num_local_experts=64, num_experts_per_tok=8, rope_theta=10000.0, rms_norm_eps=1e-5,
        max_position_embeddings=4096, tie_word_embeddings=False, bos_token_id=1, eos_token_id=2, pad_token_id=None)),
}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("shape", choices=sorted(SHAPES))
    p.add_argument("out")
    p.add_argument("--tokenizer", required=True, help="folder with tokenizer.json and tokenizer_config.json")
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--vocab", type=int, default=32000)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    config_class, model_class, widths = SHAPES[a.shape]
    config = config_class(vocab_size=a.vocab, num_hidden_layers=a.layers, **widths)
    torch.manual_seed(a.seed)
    torch.set_default_dtype(torch.bfloat16)  # initialise in bfloat16: no float32 copy of a few GB
    model = model_class(config)
    model.config.dtype = torch.bfloat16
    os.makedirs(a.out, exist_ok=True)
    model.save_pretrained(a.out)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if os.path.exists(os.path.join(a.tokenizer, name)):
            shutil.copy(os.path.join(a.tokenizer, name), os.path.join(a.out, name))
    files = [f for f in os.listdir(a.out) if f.endswith(".safetensors")]
    size = sum(os.path.getsize(os.path.join(a.out, f)) for f in files)
    print(json.dumps({"shape": a.shape, "parameters": sum(t.numel() for t in model.parameters()),
                      "checkpoint_bytes": size, "torch": torch.__version__,
                      "transformers": transformers.__version__}))


if __name__ == "__main__":
    main()
