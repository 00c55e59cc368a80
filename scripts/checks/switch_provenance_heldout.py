#!/usr/bin/env python3
"""Held-out check of `provenance`, `lock` and `log verify` on switch_transformers models that transformers 5.25
initialises from random tiny configs the tests never saw (other sizes, expert counts, sparse steps, F32/BF16):

1. `prune --keep K --random` (removal renumbers experts) → `provenance --original A --suspect P`: derived, the
   layers named as transformers' sparse blocks (`encoder.N`, `decoder.N`), `kept_experts` = the plan's experts,
   every suspect expert matched to the original it came from;
2. the pruned model fine-tuned by transformers itself (AdamW 1e-3, every weight, dropout and router jitter on,
   --steps steps on random pairs) → the same kept experts, still derived (the lowest similarity is reported);
3. a second model of the same config from another torch seed → `not derived` (the highest similarity of any
   pair, matched or not, is reported);
4. `lock` → valid under `log verify`; one value of one row of one random expert (wi or wo) changed →
   `log verify` exits 1 with exactly one difference naming that tensor, its stack, block and expert.

Usage: python3 scripts/checks/switch_provenance_heldout.py --expertlock .build/debug/expertlock [--cases 6 --seed 3]
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
from safetensors.torch import load_file, save_file
from transformers import SwitchTransformersConfig, SwitchTransformersForConditionalGeneration as Model

assert transformers.__version__.startswith("5.25."), f"pinned to transformers 5.25, found {transformers.__version__}"


def draw(rng):
    layers, dec_layers = rng.randint(1, 4), rng.randint(1, 4)
    return dict(
        vocab_size=rng.randint(30, 90), d_model=rng.choice([16, 24, 40]), d_kv=rng.choice([4, 8]),
        d_ff=rng.choice([12, 20, 36]), num_layers=layers, num_decoder_layers=dec_layers,
        num_heads=rng.choice([1, 2, 4]), num_experts=rng.choice([2, 3, 5, 8, 16]),
        num_sparse_encoder_layers=rng.randint(0, layers), num_sparse_decoder_layers=rng.randint(0, dec_layers),
        expert_capacity=rng.choice([2, 5, 64]), tie_word_embeddings=rng.random() < 0.6,
        decoder_start_token_id=0, eos_token_id=1)


def run(binary, *args):
    out = subprocess.run([binary, *args], capture_output=True, text=True)
    return out.returncode, out.stdout, out.stderr


def cli(binary, *args):
    code, stdout, stderr = run(binary, *args)
    if code != 0:
        raise RuntimeError(f"{args}: exit {code}: {stderr.strip()}")
    return json.loads(stdout)


def sparse_names(model):
    """The sparse blocks as transformers builds them, encoder first: `encoder.N` / `decoder.N`."""
    names = []
    for stack in ("encoder", "decoder"):
        for i, block in enumerate(getattr(model, stack).block):
            if hasattr(block.layer[-1].mlp, "router"):
                names.append(f"{stack}.{i}")
    return names


def fine_tune(folder, out, vocab, steps, seed):
    torch.manual_seed(seed)
    model = Model.from_pretrained(folder, dtype=torch.float32)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    for _ in range(steps):
        ids = torch.randint(2, vocab, (4, 12))
        labels = torch.randint(2, vocab, (4, 6))
        loss = model(input_ids=ids, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.save_pretrained(out)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--expertlock", required=True)
    parser.add_argument("--cases", type=int, default=6)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = tempfile.mkdtemp(prefix="switch-provenance-")
    key = os.path.join(work, "owner.key")
    cli(args.expertlock, "keygen", "--out", key, "--json")
    failures = 0
    lowest_tuned, highest_unrelated = 1.0, 0.0
    for case in range(args.cases):
        cfg = draw(rng)
        bf16 = rng.random() < 0.3
        folders = {n: os.path.join(work, f"{n}{case}") for n in ("a", "b", "pruned", "tuned", "locked", "tampered")}
        models = {}
        for name, seed in (("a", 2000 + case), ("b", 5000 + case)):
            torch.manual_seed(seed)
            model = Model(SwitchTransformersConfig(**cfg)).eval()
            (model.to(torch.bfloat16) if bf16 else model).save_pretrained(folders[name])
            models[name] = model
        names = sparse_names(models["a"])
        experts = cfg["num_experts"]
        keep = rng.randint(1, max(1, experts - 1))
        problems = []

        pruned = cli(args.expertlock, "prune", "--model", folders["a"], "--keep", str(keep), "--random", "--seed",
                     str(case), "--out", folders["pruned"], "--json")
        kept = pruned["kept"]
        fine_tune(folders["pruned"], folders["tuned"], cfg["vocab_size"], args.steps, 9000 + case)
        for suspect in ("pruned", "tuned"):
            report = cli(args.expertlock, "provenance", "--original", folders["a"], "--suspect", folders[suspect],
                         "--json")
            layer_names = [layer.get("name") for layer in report["layers"]]
            matched = [[m["original_expert"] for m in layer["matches"]] for layer in report["layers"]]
            similarities = [m["similarity"] for layer in report["layers"] for m in layer["matches"]]
            if report["verdict"] != "derived" or layer_names != names:
                problems.append(f"{suspect}: verdict {report['verdict']}, layers {layer_names} (transformers {names})")
            if report["kept_experts"] != [sorted(k) for k in kept] or matched != kept:
                problems.append(f"{suspect}: kept {report['kept_experts']}, matched {matched}, plan {kept}")
            if suspect == "tuned":
                lowest_tuned = min(lowest_tuned, min(similarities))
        unrelated = cli(args.expertlock, "provenance", "--original", folders["a"], "--suspect", folders["b"], "--json")
        highest = max([m["similarity"] for layer in unrelated["layers"] for m in layer["matches"]]
                      + [layer["background_maximum"] for layer in unrelated["layers"]])
        highest_unrelated = max(highest_unrelated, highest)
        if unrelated["verdict"] != "not derived":
            problems.append(f"independent model: verdict {unrelated['verdict']} (highest similarity {highest:.3f})")

        cli(args.expertlock, "lock", "--model", folders["a"], "--key", key, "--out", folders["locked"], "--json")
        verify = ["log", "verify", "--public-key", key + ".pub", "--json", "--model"]
        if not cli(args.expertlock, *verify, folders["locked"])["valid"]:
            problems.append("the freshly locked model does not verify")
        shutil.copytree(folders["locked"], folders["tampered"])
        layer = rng.choice(names)
        stack, block = layer.split(".")
        expert, projection = rng.randrange(experts), rng.choice(["wi", "wo"])
        tensor = (f"{stack}.block.{block}.layer.{1 if stack == 'encoder' else 2}.mlp.experts.expert_{expert}."
                  f"{projection}.weight")
        weights = os.path.join(folders["tampered"], "model.safetensors")
        tensors = load_file(weights)
        row = rng.randrange(tensors[tensor].shape[0])
        tensors[tensor][row, 0] += 0.5
        save_file(tensors, weights, metadata={"format": "pt"})
        code, stdout, stderr = run(args.expertlock, *verify, folders["tampered"])
        differences = json.loads(stdout)["differences"] if stdout else []
        want = dict(tensor=tensor, stack=stack, layer=int(block), expert=expert)
        if code != 1 or len(differences) != 1 or any(differences[0].get(k) != v for k, v in want.items()):
            problems.append(f"tampered {tensor} row {row}: exit {code}, differences {differences} {stderr.strip()}")

        status = "ok" if not problems else "FAIL"
        failures += bool(problems)
        print(f"case {case}: {status} layers {names} experts {experts} keep {keep} bf16 {bf16} "
              f"tied {cfg['tie_word_embeddings']}" + "".join(f"\n  {p}" for p in problems))
    print(f"{args.cases - failures}/{args.cases} pass; lowest similarity of a fine-tuned kept expert "
          f"{lowest_tuned:.4f}; "
          f"highest similarity between independent models {highest_unrelated:.4f}")
    shutil.rmtree(work)
    raise SystemExit(1 if failures else 0)


if __name__ == "__main__":
    main()
