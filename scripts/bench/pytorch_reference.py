#!/usr/bin/env python3
"""PyTorch + transformers reference for `expertlock bench forward|train`.

Builds the same Mixtral-family model as the Swift bench (random init, same config, same batch, same
thread count) and prints the same JSON object:

    {"mode", "config", "batch", "seq", "threads", "tokens", "iterations", "seconds_median",
     "seconds_best", "seconds_mean", "tokens_per_s", "tokens_per_s_best", "gflops",
     "flops_per_iteration", "params", "active_params_per_token", "peak_rss_bytes", ...}

Choices (stated so the comparison is fair and reproducible):
- attention: `sdpa` by default (PyTorch's fused flash-attention CPU kernel, causal; on this CPU
  several times faster than `eager`, which materialises the [B, H, T, T] scores);
  `--attention eager` for the reference implementation.
- experts: `config._experts_implementation` defaults to `eager`, the fastest that works on this
  CPU (transformers 5.23, torch 2.15, config B, 2 threads): `eager` (a Python loop over the hit
  experts, one gathered matrix product per expert) ~19,800 tok/s; `grouped_mm` (transformers'
  default, through a CPU fallback of torch._grouped_mm) ~1,300 tok/s; `batched_mm` (gathers a
  weight matrix per token) ~110 tok/s. Pass `--experts` to try another.
- forward: what a perplexity evaluation runs, as `expertlock bench forward` does: the logits and
  the next-token cross-entropy (`labels=input_ids`: log-softmax over the vocabulary, one entry
  per row), under `torch.inference_mode()`, `use_cache=False`, float32.
- train: forward + cross-entropy loss on the next token + backward + AdamW step (lr 1e-4,
  weight decay 0.01), `set_to_none` zero_grad.

FLOP count (same formula as the Swift bench, documented in BenchCommand.swift):
    forward = 2 * active_params * tokens + attention,
    active_params = per layer (q, k, v, o projections + router + K experts' gate/up/down) + lm_head
                    (embeddings and norm weights excluded: a lookup and O(C) work),
    attention = layers * batch * heads * 2 * 2 * head_dim * T(T+1)/2
                (q·kᵀ and P·v over the causal half only);
    train = 3 * forward (backward costs twice the forward).

Peak RSS: `resource.getrusage(RUSAGE_SELF).ru_maxrss` (kB on Linux) for the whole process,
including the Python interpreter and libtorch (several hundred MB before the model is built); the
`baseline_rss_bytes` field gives the RSS right after import for reference.
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

BASELINE_RSS = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

import torch  # noqa: E402
from transformers import MixtralConfig, MixtralForCausalLM  # noqa: E402

AFTER_IMPORT_RSS = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

# The built-in configs (same values as BenchModelFactory in BenchCommand.swift).
BUILTIN = {
    "A": dict(vocab_size=8000, hidden_size=512, intermediate_size=1024, num_hidden_layers=4,
              num_attention_heads=8, num_key_value_heads=4, num_local_experts=8, num_experts_per_tok=2),
    "B": dict(vocab_size=2000, hidden_size=128, intermediate_size=256, num_hidden_layers=4,
              num_attention_heads=8, num_key_value_heads=4, num_local_experts=8, num_experts_per_tok=2),
}


def load_config(name: str) -> dict:
    if name in BUILTIN:
        values = dict(BUILTIN[name])
    else:
        with open(name) as f:
            values = json.load(f)
        if values.get("model_type", "mixtral") != "mixtral":
            sys.exit(f"{name}: only model_type mixtral is supported by this reference (got {values['model_type']})")
    values.setdefault("rms_norm_eps", 1e-5)
    values.setdefault("rope_theta", 10000.0)
    values.setdefault("max_position_embeddings", 4096)
    values.setdefault("tie_word_embeddings", False)
    values.pop("model_type", None)
    return values


def flop_counts(c: MixtralConfig, batch: int, seq: int) -> tuple[int, int, int]:
    """(forward FLOPs per iteration, total params, active params per token)."""
    h, q_heads, kv_heads = c.hidden_size, c.num_attention_heads, c.num_key_value_heads
    d = getattr(c, "head_dim", None) or h // q_heads
    i, e, k = c.intermediate_size, c.num_local_experts, c.num_experts_per_tok
    attn = h * q_heads * d + 2 * h * kv_heads * d + q_heads * d * h
    router = e * h
    expert = 3 * h * i
    per_layer_active = attn + router + k * expert
    active = c.num_hidden_layers * per_layer_active + c.vocab_size * h
    total = (c.num_hidden_layers * (attn + router + e * expert + 2 * h) + h
             + c.vocab_size * h * (1 if c.tie_word_embeddings else 2))
    tokens = batch * seq
    attention = c.num_hidden_layers * batch * q_heads * 4 * d * (seq * (seq + 1) // 2)
    return 2 * active * tokens + attention, total, active


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("mode", choices=["forward", "train"])
    ap.add_argument("--config", default="A", help="A, B or a config.json path (mixtral)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--iterations", type=int, default=10)
    ap.add_argument("--attention", default="sdpa", choices=["sdpa", "eager"])
    ap.add_argument("--experts", default="eager", help="config._experts_implementation")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="print one JSON object (the default output anyway)")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(args.seed)
    config = MixtralConfig(**load_config(args.config))
    config._attn_implementation = args.attention
    config._experts_implementation = args.experts
    model = MixtralForCausalLM(config).float()
    # Use the requested implementations even if from_config picked others.
    model.config._attn_implementation = args.attention
    model.set_experts_implementation(args.experts)

    tokens = args.batch * args.seq
    ids = torch.randint(0, config.vocab_size, (args.batch, args.seq))
    flops, params, active = flop_counts(config, args.batch, args.seq)

    if args.mode == "forward":
        model.eval()

        def step() -> None:
            with torch.inference_mode():
                model(input_ids=ids, labels=ids, use_cache=False).loss
    else:
        flops *= 3
        model.train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)
        labels = ids.clone()

        def step() -> None:
            out = model(input_ids=ids, labels=labels, use_cache=False)
            out.loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

    for _ in range(args.warmup):
        step()
    times = []
    cpu0 = time.process_time()
    for _ in range(args.iterations):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)

    cpu_per_iteration = (time.process_time() - cpu0) / args.iterations
    median = statistics.median(times)
    result = {
        "implementation": "pytorch",
        "torch": torch.__version__,
        "mode": args.mode,
        "config": args.config,
        "batch": args.batch,
        "seq": args.seq,
        "threads": args.threads,
        "tokens": tokens,
        "warmup": args.warmup,
        "iterations": args.iterations,
        "attention": args.attention,
        "experts_implementation": model.config._experts_implementation,
        "seconds_median": median,
        "seconds_best": min(times),
        "seconds_mean": statistics.fmean(times),
        # PyTorch's OpenMP workers spin while waiting, so this is about threads × wall time even
        # when other processes take the cores; it is not comparable with the Swift figure.
        "cpu_seconds_per_iteration": cpu_per_iteration,
        "tokens_per_s": tokens / median,
        "tokens_per_s_best": tokens / min(times),
        "flops_per_iteration": flops,
        "gflops": flops / median / 1e9,
        "params": params,
        "active_params_per_token": active,
        "weights_bytes": 4 * sum(p.numel() for p in model.parameters()),
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "baseline_rss_bytes": AFTER_IMPORT_RSS,
    }
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
