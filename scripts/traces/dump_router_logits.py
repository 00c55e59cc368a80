#!/usr/bin/env python3
"""Dumps transformers' router logits per request and sparse layer to one safetensors file, the third
trace form `expertlock attribute --traces` reads (the others are vLLM's and SGLang's responses).

Usage:
  python3 scripts/traces/dump_router_logits.py --model DIR --requests FILE --out dump.safetensors

--requests: a JSON array of token-id arrays, or JSON Lines with {"ids": [...]} or {"text": "..."}
per line (text is tokenized with the model folder's tokenizer). Each request runs on its own
(batch 1, no padding) with output_router_logits=True.

File layout (safetensors; `expertlock` checks every item):
  request.{r}.layer.{l}.router_logits  F32 [tokens, num_experts]  transformers' router logits of
                                        request r in sparse layer l (l counts MoE layers from 0;
                                        Qwen's dense mlp_only_layers have none)
  request.{r}.input_ids                I64 [tokens]
  metadata: format=expertlock-router-logits-1, model_type, num_sparse_layers, top_k,
            transformers_version, torch_version

Tested with torch 2.15.0 and transformers 5.25.0 (the versions that made the committed fixtures).
"""
import argparse
import json

import torch
import transformers
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM, AutoTokenizer

FORMAT = "expertlock-router-logits-1"


def read_requests(path, model_dir):
    with open(path) as f:
        text = f.read()
    try:
        data = json.loads(text)
        if isinstance(data, list) and all(isinstance(r, list) for r in data):
            return [list(map(int, r)) for r in data]
        raise ValueError("expected an array of token-id arrays")
    except json.JSONDecodeError:
        pass
    tokenizer = None
    out = []
    for n, line in enumerate(text.splitlines()):
        if not line.strip():
            continue
        record = json.loads(line)
        if "ids" in record:
            out.append(list(map(int, record["ids"])))
        elif "text" in record:
            tokenizer = tokenizer or AutoTokenizer.from_pretrained(model_dir)
            out.append(tokenizer(record["text"])["input_ids"])
        else:
            raise ValueError(f"{path}: line {n + 1} has neither ids nor text")
    return out


def router_logits(model, ids):
    """Router logits of one request: one float32 tensor [tokens, experts] per sparse layer."""
    with torch.no_grad():
        out = model(input_ids=torch.tensor([ids]), output_router_logits=True)
    return [r.float().reshape(len(ids), -1).contiguous() for r in out.router_logits]


def dump(model, requests, path):
    tensors = {}
    layers = None
    for r, ids in enumerate(requests):
        logits = router_logits(model, ids)
        layers = len(logits)
        for l, x in enumerate(logits):
            tensors[f"request.{r}.layer.{l}.router_logits"] = x
        tensors[f"request.{r}.input_ids"] = torch.tensor(ids, dtype=torch.int64)
    config = model.config
    metadata = {
        "format": FORMAT,
        "model_type": config.model_type,
        "num_sparse_layers": str(layers),
        "top_k": str(config.num_experts_per_tok),
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__,
    }
    save_file(tensors, path, metadata=metadata)


def load_model(model_dir):
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    model.config._attn_implementation = "eager"
    return model.eval()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--requests", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    model = load_model(args.model)
    dump(model, read_requests(args.requests, args.model), args.out)


if __name__ == "__main__":
    main()
