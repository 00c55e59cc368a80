"""Greedy decoding with the cache, `expertlock forward --generate N` against transformers' `generate(use_cache=True,
do_sample=False)`, for the held-out checks (heldout_local_attention.py, heldout_hybrid.py import it).

Two runs per checkpoint, each with transformers reading the folder as `from_pretrained` does:
  1. as saved: N new tokens after the prompt (or fewer, should config.json's eos_token_id come up);
  2. with an end token: a copy of the folder whose eos_token_id is [a token run 1 produced, an unused id] -- in
     generation_config.json, or in config.json's `text_config` for a nested language model (Qwen3.5-MoE) -- so
     both must stop right after that token, and keep it.
Tokens must be equal; the logits that chose each token are compared too (max abs difference), and the smallest
top-1/top-2 margin of transformers' logits is printed, since a margin near 1e-5 could flip a token honestly.
Pinned: transformers 5.25, torch 2.x (CPU).
"""
import json
import os
import shutil
import subprocess

import torch


def expertlock_generate(expertlock, path, prompt, count):
    ids_file = os.path.join(os.path.dirname(path), "_prompt_" + os.path.basename(path) + ".json")
    with open(ids_file, "w") as f:
        json.dump(prompt, f)
    p = subprocess.run([expertlock, "forward", "--model", path, "--ids", ids_file, "--generate", str(count), "--json"],
                       capture_output=True, text=True)
    os.remove(ids_file)
    if p.returncode != 0:
        raise RuntimeError(f"expertlock forward --generate on {path}: exit {p.returncode}: {p.stderr.strip()}")
    out = json.loads(p.stdout)
    return out["generated"], out["generated_logits"], out["stop_reason"]


def transformers_generate(model, prompt, count):
    ids = torch.tensor([prompt])
    with torch.no_grad():
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=count, do_sample=False,
                             use_cache=True, output_logits=True, return_dict_in_generate=True)
    return out.sequences[0, len(prompt):].tolist(), [row[0].double() for row in out.logits]


def compare(expertlock, path, model, prompt, count):
    """(tokens equal, number of tokens, max logit difference, smallest top-2 margin, transformers' tokens)."""
    ref_tokens, ref_logits = transformers_generate(model, prompt, count)
    tokens, logits, _ = expertlock_generate(expertlock, path, prompt, count)
    steps = min(len(logits), len(ref_logits))
    diff = max((float((torch.tensor(logits[i], dtype=torch.float64) - ref_logits[i]).abs().max())
                for i in range(steps)), default=0.0)
    margin = min(float(r.topk(2).values[0] - r.topk(2).values[1]) for r in ref_logits)
    return tokens == ref_tokens, len(ref_tokens), diff, margin, ref_tokens


def with_end_token(path, tokens, vocab_size, nested):
    """A copy of `path` whose eos_token_id is [the first token of `tokens` after the third that did not occur
    before, an id `tokens` never has]; returns (copy, the expected number of tokens) or None."""
    index = next((i for i in range(3, len(tokens)) if tokens[i] not in tokens[:i]), None)
    if index is None:
        return None
    unused = next(t for t in range(vocab_size) if t not in tokens)
    eos = [tokens[index], unused]
    copy = path.rstrip("/") + "_eos"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(path, copy)
    if nested:
        config_file = os.path.join(copy, "config.json")
        config = json.load(open(config_file))
        config["text_config"]["eos_token_id"] = eos
        json.dump(config, open(config_file, "w"), indent=2)
    else:
        json.dump({"eos_token_id": eos}, open(os.path.join(copy, "generation_config.json"), "w"))
    return copy, index + 1


def check(expertlock, path, load, prompt, count, vocab_size, nested=False):
    """Both runs; returns (ok, one line of figures). `load(folder)` gives transformers' model of a folder."""
    equal, n, diff, margin, ref_tokens = compare(expertlock, path, load(path), prompt, count)
    line = f"greedy {n} tokens {'equal' if equal else 'DIFFER'} (step logits {diff:.2e}, top-2 margin {margin:.1e})"
    ok = equal and diff <= 1e-4
    variant = with_end_token(path, ref_tokens, vocab_size, nested)
    if variant is None:
        return ok, line + "; no token to end on"
    copy, expected_count = variant
    equal_eos, n_eos, diff_eos, _, _ = compare(expertlock, copy, load(copy), prompt, count)
    ok = ok and equal_eos and n_eos == expected_count and diff_eos <= 1e-4
    where = "text_config" if nested else "generation_config.json"
    line += (f"; eos in {where}: both stop after {n_eos} tokens" if equal_eos else
             f"; eos in {where}: DIFFER ({n_eos} tokens in transformers)")
    shutil.rmtree(copy)
    return ok, line
