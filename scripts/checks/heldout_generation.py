"""Greedy decoding with the cache, `expertlock forward --generate N` against transformers' `generate(use_cache=True,
do_sample=False)`, for the held-out checks (heldout_local_attention.py, heldout_hybrid.py import it).

Three runs per checkpoint, each with transformers reading the folder as `from_pretrained` does:
  1. as saved: N new tokens after the prompt (or fewer, should config.json's eos_token_id come up);
  2. a copy whose eos_token_id is null -- in generation_config.json, or in config.json's `text_config` for a nested
     language model (Qwen3.5-MoE): all N tokens;
  3. a copy whose eos_token_id is [a token run 2 produced, an id it never has], written the same way: both must
     stop right after that token, and keep it.
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


def transformers_generate(model, prompt, count, use_cache=True):
    ids = torch.tensor([prompt])
    with torch.no_grad():
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=count, do_sample=False,
                             use_cache=use_cache, output_logits=True, return_dict_in_generate=True)
    return out.sequences[0, len(prompt):].tolist(), [row[0].double() for row in out.logits]


def compare(expertlock, path, model, prompt, count):
    """(tokens equal, number of tokens, max logit difference, smallest top-2 margin, transformers' tokens, note).

    transformers' cached `generate` is also checked against its own uncached one (each step a full forward): where
    the two disagree, its cache is wrong for that model (sliding_window 1: its DynamicSlidingWindowLayer keeps
    `[-sliding_window + 1:]` = `[-0:]`, every key, which its mask does not expect), and
    the uncached tokens, the ones its forward gives, are the reference; the note says so."""
    ref_tokens, ref_logits = transformers_generate(model, prompt, count)
    full_tokens, full_logits = transformers_generate(model, prompt, count, use_cache=False)
    note = ""
    if full_tokens != ref_tokens:
        note = (f" [transformers' cached generate {ref_tokens} differs from its uncached generate {full_tokens}; "
                f"reference: the uncached one]")
        ref_tokens, ref_logits = full_tokens, full_logits
    tokens, logits, _ = expertlock_generate(expertlock, path, prompt, count)
    steps = min(len(logits), len(ref_logits))
    diff = max((float((torch.tensor(logits[i], dtype=torch.float64) - ref_logits[i]).abs().max())
                for i in range(steps)), default=0.0)
    margin = min(float(r.topk(2).values[0] - r.topk(2).values[1]) for r in ref_logits)
    return tokens == ref_tokens, len(ref_tokens), diff, margin, ref_tokens, note


def with_eos(path, eos, nested, suffix):
    """A copy of `path` whose eos_token_id is `eos` (None: null, no end token) -- in generation_config.json, or in
    config.json's text_config for a nested language model."""
    copy = path.rstrip("/") + suffix
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(path, copy)
    if nested:
        config_file = os.path.join(copy, "config.json")
        config = json.load(open(config_file))
        config["text_config"]["eos_token_id"] = eos
        json.dump(config, open(config_file, "w"), indent=2)
    else:
        json.dump({"eos_token_id": eos}, open(os.path.join(copy, "generation_config.json"), "w"))
    return copy


def check(expertlock, path, load, prompt, count, vocab_size, nested=False):
    """The three runs; returns (ok, one line of figures). `load(folder)` gives transformers' model of a folder."""
    where = "text_config" if nested else "generation_config.json"
    parts, ok = [], True
    # 1. as saved (config.json's eos, if any); 2. no end token: all `count` tokens.
    full = with_eos(path, None, nested, "_no_eos")
    for label, folder in (("as saved", path), (f"eos null in {where}", full)):
        equal, n, diff, margin, ref_tokens, note = compare(expertlock, folder, load(folder), prompt, count)
        ok = ok and equal and diff <= 1e-4
        parts.append(f"{label}: {n} tokens {'equal' if equal else 'DIFFER'} (step logits {diff:.2e}, top-2 margin "
                     f"{margin:.1e}){note}")
    shutil.rmtree(full)
    # 3. eos [the first token of run 2 after the third that did not occur before, an id run 2 never has].
    index = next((i for i in range(3, len(ref_tokens)) if ref_tokens[i] not in ref_tokens[:i]), None)
    if index is None:
        return ok, "; ".join(parts + ["no token to end on"])
    eos = [ref_tokens[index], next(t for t in range(vocab_size) if t not in ref_tokens)]
    copy = with_eos(path, eos, nested, "_eos")
    equal, n, diff, _, _, note = compare(expertlock, copy, load(copy), prompt, count)
    ok = ok and equal and n == index + 1 and diff <= 1e-4
    parts.append((f"eos {eos} in {where}: both stop after {n} tokens" if equal else
                  f"eos {eos} in {where}: DIFFER ({n} tokens in transformers)") + note)
    shutil.rmtree(copy)
    return ok, "greedy " + "; ".join(parts)
