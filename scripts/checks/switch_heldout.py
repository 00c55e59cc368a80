#!/usr/bin/env python3
"""Held-out parity of `switch_transformers` against transformers 5.25 on random tiny configs the tests never saw
(other sizes, expert counts, sparse steps, capacities, bucket settings, tied/untied, F32/BF16):

1. `expertlock forward --ids ENC --decoder-ids DEC --json`: decoder logits and every sparse layer's router logits
   within 1e-4 of transformers (`output_router_logits=True`);
2. `expertlock forward --generate N`: greedy sequences token-identical to `generate(do_sample=False)`;
3. `expertlock prune --drop ... --mode remove`: transformers loads the result, and its logits equal ExpertLock's
   on the mask-pruned original (`--mode mask`) within 1e-4.

Usage: python3 scripts/checks/switch_heldout.py --expertlock .build/debug/expertlock [--cases 12 --seed 5]
"""
import argparse
import json
import os
import random
import shutil
import subprocess
import tempfile

import torch
import transformers
from transformers.cache_utils import DynamicCache, EncoderDecoderCache
from transformers import SwitchTransformersConfig, SwitchTransformersForConditionalGeneration as Model

assert transformers.__version__ == "5.25.0", f"pinned to transformers 5.25.0, found {transformers.__version__}"


def draw(rng):
    layers, dec_layers = rng.randint(1, 5), rng.randint(1, 5)
    heads = rng.choice([1, 2, 3, 4, 6])
    buckets = rng.choice([4, 6, 10, 32])  # max distance above buckets / 2: transformers indexes out of range below
    return dict(
        vocab_size=rng.randint(30, 90), d_model=rng.choice([16, 24, 40]), d_kv=rng.choice([4, 5, 8]),
        d_ff=rng.choice([12, 20, 36]), num_layers=layers, num_decoder_layers=dec_layers, num_heads=heads,
        num_experts=rng.choice([2, 3, 5, 8, 16]), num_sparse_encoder_layers=rng.randint(0, layers),
        num_sparse_decoder_layers=rng.randint(0, dec_layers), expert_capacity=rng.choice([1, 2, 3, 5, 64]),
        relative_attention_num_buckets=buckets, relative_attention_max_distance=rng.choice(
            [d for d in (5, 12, 128) if d > buckets // 2]), tie_word_embeddings=rng.random() < 0.6,
        decoder_start_token_id=0, eos_token_id=1)


def cli(binary, *args):
    out = subprocess.run([binary, *args], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{args}: {out.stderr.strip()}")
    return json.loads(out.stdout) if "--json" in args else None


def max_diff(a, b):
    return float((torch.tensor(a, dtype=torch.float64) - torch.tensor(b, dtype=torch.float64)).abs().max())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--expertlock", required=True)
    parser.add_argument("--cases", type=int, default=12)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = tempfile.mkdtemp(prefix="switch-heldout-")
    worst = dict(logits=0.0, router=0.0, pruned=0.0)
    failures = 0
    for case in range(args.cases):
        cfg_dict = draw(rng)
        bf16 = rng.random() < 0.3
        torch.manual_seed(1000 + case)
        model = Model(SwitchTransformersConfig(**cfg_dict)).eval()
        folder = os.path.join(work, f"case{case}")
        if bf16:
            model.to(torch.bfloat16).save_pretrained(folder)
            model = Model.from_pretrained(folder, dtype=torch.float32).eval()
        else:
            model.save_pretrained(folder)
        v = cfg_dict["vocab_size"]
        enc = [rng.randrange(2, v) for _ in range(rng.randint(1, 40))] + [1]
        dec = [0] + [rng.randrange(2, v) for _ in range(rng.randint(0, 20))]
        paths = {n: os.path.join(work, f"{n}{case}.json") for n in ("enc", "dec")}
        json.dump(enc, open(paths["enc"], "w"))
        json.dump(dec, open(paths["dec"], "w"))
        with torch.no_grad():
            o = model(input_ids=torch.tensor([enc]), decoder_input_ids=torch.tensor([dec]), output_router_logits=True)
            ref_router = [r[0].tolist() for r in list(o.encoder_router_logits) + list(o.decoder_router_logits)]
            # transformers 5.25 sizes the decoder's DynamicCache by num_layers (the encoder's): with more decoder
            # than encoder blocks its default cache fails; a cache without a config grows per layer instead.
            # (An uncached generate is no reference: it re-routes the whole decoder sequence every step, so expert
            # capacity drops tokens that cached decoding, one token per call, never drops.)
            cache = EncoderDecoderCache(DynamicCache(), DynamicCache())
            gen = model.generate(torch.tensor([enc]), max_new_tokens=10, do_sample=False, num_beams=1,
                                 past_key_values=cache)[0].tolist()
        mine = cli(args.expertlock, "forward", "--model", folder, "--ids", paths["enc"], "--decoder-ids", paths["dec"],
                   "--generate", "10", "--json")
        d_logits = max_diff(mine["logits"], o.logits[0].tolist())
        d_router = max([max_diff(a, b) for a, b in zip(mine["router_logits"], ref_router)] or [0.0])
        same_layers = len(mine["router_logits"]) == len(ref_router)
        same_gen = mine["generated"] == gen
        e = cfg_dict["num_experts"]
        d_pruned, pruned_note = None, "one expert: not pruned"
        if e > 1:
            drop = ",".join(map(str, sorted(rng.sample(range(e), rng.randint(1, e - 1)))))
            removed, masked = os.path.join(work, f"removed{case}"), os.path.join(work, f"masked{case}")
            cli(args.expertlock, "prune", "--model", folder, "--drop", drop, "--mode", "remove", "--out", removed,
                "--json")
            cli(args.expertlock, "prune", "--model", folder, "--drop", drop, "--mode", "mask", "--out", masked, "--json")
            reloaded = Model.from_pretrained(removed, dtype=torch.float32).eval()
            with torch.no_grad():
                ref = reloaded(input_ids=torch.tensor([enc]), decoder_input_ids=torch.tensor([dec])).logits[0].tolist()
            ours = cli(args.expertlock, "forward", "--model", masked, "--ids", paths["enc"], "--decoder-ids",
                       paths["dec"], "--json")
            d_pruned = max_diff(ours["logits"], ref)
            pruned_note = f"drop {drop}: {d_pruned:.2e}"
            worst["pruned"] = max(worst["pruned"], d_pruned)
        ok = d_logits < 1e-4 and d_router < 1e-4 and same_layers and same_gen and (d_pruned is None or d_pruned < 1e-4)
        failures += 0 if ok else 1
        worst["logits"] = max(worst["logits"], d_logits)
        worst["router"] = max(worst["router"], d_router)
        print(f"case {case} {'bf16' if bf16 else 'f32 '} layers {cfg_dict['num_layers']}+{cfg_dict['num_decoder_layers']} "
              f"sparse {cfg_dict['num_sparse_encoder_layers']}+{cfg_dict['num_sparse_decoder_layers']} "
              f"experts {e} capacity {cfg_dict['expert_capacity']} tied {cfg_dict['tie_word_embeddings']} "
              f"enc {len(enc)} dec {len(dec)}: logits {d_logits:.2e} router {d_router:.2e} "
              f"({len(ref_router)} layers) generate {'same' if same_gen else 'DIFFERENT'} pruned {pruned_note} "
              f"{'ok' if ok else 'FAIL'}")
    shutil.rmtree(work)
    print(f"worst: logits {worst['logits']:.2e}, router logits {worst['router']:.2e}, pruned {worst['pruned']:.2e}; "
          f"{args.cases - failures}/{args.cases} cases pass")
    raise SystemExit(1 if failures else 0)


if __name__ == "__main__":
    main()
