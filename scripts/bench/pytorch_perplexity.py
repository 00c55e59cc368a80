#!/usr/bin/env python3
"""PyTorch + transformers side of the real-shape comparison: the perplexity `expertlock eval --task
perplexity --ids FILE --context L --batch B` computes, on the same token ids, and the same JSON keys.

    python3 scripts/bench/pytorch_perplexity.py MODEL_DIR --ids FILE [--dtype f32|bf16] [--context 512]
                                                [--batch 4] [--threads 2]

Recipe (CLI.md): the ids as one sequence in windows of --context tokens every --context tokens; each
window scores all its tokens after its first; perplexity = exp(total NLL / scored tokens). Each batch of
windows runs under `torch.inference_mode()`, `use_cache=False`, attention `sdpa`, experts `eager`
(transformers' per-expert loop: on this CPU the fastest that works, see pytorch_reference.py), with the
model in --dtype (bf16: weights and activations bfloat16, as `model.to(torch.bfloat16)` runs, the log
softmax taken in float32). Timing covers the scoring (not the import or the load): "seconds",
"tokens_per_s". Peak RSS is the whole process's (`ru_maxrss`).
"""
import argparse
import json
import math
import resource
import time

import torch
import transformers
from transformers import AutoModelForCausalLM


def main():
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("--ids", required=True, help="a JSON array of token ids")
    p.add_argument("--dtype", choices=["f32", "bf16"], default="f32")
    p.add_argument("--context", type=int, default=512)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--experts", default="eager", help="transformers' experts_implementation")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    ids = json.load(open(a.ids))
    dtype = torch.bfloat16 if a.dtype == "bf16" else torch.float32
    # Loaded in bfloat16 (the checkpoints' dtype) and widened tensor by tensor: the same float32 values as
    # from_pretrained(dtype=float32), at about 1.5x the float32 model's memory instead of over 2x, which
    # let Qwen3-30B-A3B's widths run in float32 on a 24 GB machine.
    model = AutoModelForCausalLM.from_pretrained(
        a.model, dtype=torch.bfloat16, attn_implementation="sdpa", experts_implementation=a.experts).to(dtype)
    model.eval()
    windows = [ids[s:s + a.context] for s in range(0, len(ids), a.context)]
    windows = [w for w in windows if len(w) > 1]
    nll, scored = 0.0, 0
    start, cpu_start = time.perf_counter(), time.process_time()
    with torch.inference_mode():
        for b in range(0, len(windows), a.batch):
            group = windows[b:b + a.batch]
            length = max(len(w) for w in group)
            x = torch.tensor([w + [0] * (length - len(w)) for w in group])
            mask = torch.tensor([[1] * len(w) + [0] * (length - len(w)) for w in group])
            logits = model(input_ids=x, attention_mask=mask, use_cache=False).logits.float()
            logp = torch.log_softmax(logits[:, :-1], dim=-1)
            target = logp.gather(-1, x[:, 1:, None])[..., 0]
            valid = mask[:, 1:].bool()
            nll -= target[valid].double().sum().item()
            scored += int(valid.sum())
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    print(json.dumps({
        "perplexity": math.exp(nll / scored), "nll": nll / scored, "tokens": scored, "seconds": seconds,
        "cpu_seconds": cpu_seconds, "experts": a.experts,
        "tokens_per_s": sum(len(w) for w in windows) / seconds, "dtype": a.dtype, "threads": a.threads,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "torch": torch.__version__, "transformers": transformers.__version__}))


if __name__ == "__main__":
    main()
