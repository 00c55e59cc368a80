#!/usr/bin/env python3
"""PyTorch + transformers side of the real-shape training comparison: the steps `expertlock train --model DIR
--ids FILE --trainable experts --batch B --seq L --steps S --aux-coef 0 --warmup 0` runs, on the same ids.

    python3 scripts/bench/pytorch_train_step.py MODEL_DIR --ids FILE [--batch 4] [--seq 256] [--steps 3]
                                                 [--threads 2] [--dtype f32]

Recipe: the ids cut into examples of --seq tokens; step s takes examples s·B ... s·B + B - 1 (cycling);
forward with labels (next-token cross-entropy, transformers' loss), backward, gradient-norm clipping at 1.0,
AdamW (lr 1e-3, betas 0.9/0.999, eps 1e-8, weight decay 0.01), `zero_grad(set_to_none=True)`. Only the routed
experts' weights train (`requires_grad` false elsewhere), no load-balancing loss (`output_router_logits`
false). Model in --dtype (f32: what `expertlock train` computes in), attention `sdpa`, experts `eager`.
Timing covers the steps (not the import or the load), as expertlock train's progress line does:
"tokens_per_s" over all steps, "step_seconds" each step's wall time. Peak RSS is the whole process's.
"""
import argparse
import json
import resource
import time

import torch
import transformers
from transformers import AutoModelForCausalLM


def main():
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("--ids", required=True, help="a JSON array of token ids")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--seq", type=int, default=256)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--dtype", choices=["f32", "bf16"], default="f32")
    p.add_argument("--experts", default="eager", help="transformers' experts_implementation")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    ids = json.load(open(a.ids))
    examples = [ids[s:s + a.seq] for s in range(0, len(ids) - a.seq + 1, a.seq)]
    dtype = torch.bfloat16 if a.dtype == "bf16" else torch.float32
    # Loaded in bfloat16 (the checkpoints' dtype) and widened tensor by tensor: the same float32 values as
    # from_pretrained(dtype=float32), at about 1.5x the float32 model's memory instead of over 2x, which
    # let Qwen3-30B-A3B's widths run in float32 on a 24 GB machine.
    model = AutoModelForCausalLM.from_pretrained(
        a.model, dtype=torch.bfloat16, attn_implementation="sdpa", experts_implementation=a.experts).to(dtype)
    model.config.output_router_logits = False
    model.train()
    trainable = []
    for name, parameter in model.named_parameters():
        parameter.requires_grad = ".mlp.experts." in name
        if parameter.requires_grad:
            trainable.append(parameter)
    optimizer = torch.optim.AdamW(trainable, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
    step_seconds, losses, tokens = [], [], 0
    start, cpu_start = time.perf_counter(), time.process_time()
    for step in range(a.steps):
        t0 = time.perf_counter()
        batch = [examples[(step * a.batch + i) % len(examples)] for i in range(a.batch)]
        x = torch.tensor(batch)
        loss = model(input_ids=x, labels=x, use_cache=False).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
        tokens += x.numel()
        step_seconds.append(time.perf_counter() - t0)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    print(json.dumps({
        "steps": a.steps, "tokens": tokens, "seconds": seconds, "cpu_seconds": cpu_seconds,
        "tokens_per_s": tokens / seconds, "step_seconds": step_seconds, "losses": losses,
        "trainable_parameters": sum(t.numel() for t in trainable), "dtype": a.dtype, "threads": a.threads,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "torch": torch.__version__, "transformers": transformers.__version__}))


if __name__ == "__main__":
    main()
