#!/usr/bin/env python3
"""Held-out check of switch_transformers training (Seq2SeqTrainer) against transformers 5.25 on random tiny configs
the tests never saw: 1–4 blocks per stack, 2–8 experts, sparse counts 0…all (so a stack may have sparse step 1
and no router losses), capacity 1–64 (token dropping), tied and untied heads, relu / gelu_new / silu, router-loss
coefficients drawn per case. For each, transformers' training-mode loss (dropout and router jitter off) and its
gradients are recorded by scripts/fixtures/make_switch_training_fixture.py's `case`, and the Swift golden test
`Seq2SeqTrainerTests` compares ExpertLock's cross-entropy, router z/aux sums, total loss and gradients (routers, an
expert's wi/wo, embeddings, relative-position tables, final norm) with them, reading the cases from
EXPERTLOCK_SWITCH_TRAINING_HELDOUT. Router weights are scaled ×4 so that routing is decisive; a draw with a top-1 gap
below 1e-3 is redrawn.

Usage (package root): python3 scripts/checks/switch_training_heldout.py --cases 8 --seed 3
Pinned: transformers 5.25.*, torch 2.x (CPU). Needs `swift` (runs the test target).
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile

import torch
import transformers
from transformers import SwitchTransformersConfig, SwitchTransformersForConditionalGeneration

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "fixtures"))
from make_switch_training_fixture import case  # noqa: E402

assert transformers.__version__.startswith("5.25."), f"pinned to transformers 5.25, found {transformers.__version__}"


def draw(rng):
    layers, dec_layers = rng.randint(1, 4), rng.randint(1, 4)
    buckets = rng.choice([4, 6, 10, 32])
    return dict(
        vocab_size=rng.randint(30, 80), d_model=rng.choice([8, 16, 24]), d_kv=rng.choice([4, 8]),
        d_ff=rng.choice([12, 20, 36]), num_layers=layers, num_decoder_layers=dec_layers,
        num_heads=rng.choice([1, 2, 3]), num_experts=rng.choice([2, 3, 5, 8]),
        num_sparse_encoder_layers=rng.randint(0, layers), num_sparse_decoder_layers=rng.randint(0, dec_layers),
        expert_capacity=rng.choice([1, 2, 3, 5, 64]), relative_attention_num_buckets=buckets,
        relative_attention_max_distance=rng.choice([d for d in (5, 12, 128) if d > buckets // 2]),
        tie_word_embeddings=rng.random() < 0.5, dense_act_fn=rng.choice(["relu", "gelu_new", "silu"]),
        router_z_loss_coef=rng.choice([0.001, 0.01, 0.1]), router_aux_loss_coef=rng.choice([0.001, 0.01, 0.1]),
        decoder_start_token_id=0, dropout_rate=0.0, router_jitter_noise=0.0)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=8)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--keep", help="write the cases here instead of a temporary folder")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    root = args.keep or tempfile.mkdtemp(prefix="switch-training-heldout-")
    os.makedirs(root, exist_ok=True)
    cases = []
    while len(cases) < args.cases:
        cfg = draw(rng)
        torch.manual_seed(rng.randrange(1 << 30))
        model = SwitchTransformersForConditionalGeneration(SwitchTransformersConfig(**cfg))
        with torch.no_grad():
            for name, p in model.named_parameters():
                if "router" in name:
                    p.mul_(4.0)
        name = f"case{len(cases)}"
        model.save_pretrained(os.path.join(root, name))
        result = case(name, rng.randrange(1 << 30), root=root)
        if result["min_top1_gap"] < 1e-3:
            continue
        result["config"] = {k: cfg[k] for k in ("num_layers", "num_decoder_layers", "num_experts", "expert_capacity",
                                                "num_sparse_encoder_layers", "num_sparse_decoder_layers",
                                                "tie_word_embeddings", "dense_act_fn")}
        cases.append(result)
        c = result["config"]
        print(f"{name}: layers {c['num_layers']}+{c['num_decoder_layers']} sparse {c['num_sparse_encoder_layers']}+"
              f"{c['num_sparse_decoder_layers']} experts {c['num_experts']} capacity {c['expert_capacity']} "
              f"tied {c['tie_word_embeddings']} {c['dense_act_fn']}: loss {result['loss']:.5f} "
              f"z {result['encoder_z_loss']:.3f}+{result['decoder_z_loss']:.3f} "
              f"aux {result['encoder_aux_loss']:.3f}+{result['decoder_aux_loss']:.3f} grads {len(result['grads'])}")
    with open(os.path.join(root, "training_expected.json"), "w") as f:
        json.dump({"transformers": transformers.__version__, "cases": cases}, f)
    env = dict(os.environ, EXPERTLOCK_SWITCH_TRAINING_HELDOUT=root)
    run = subprocess.run(["swift", "test", "--filter", "Seq2SeqTrainerTests/lossAndGradientsMatchTransformers"],
                         env=env, capture_output=True, text=True)
    lines = [l for l in (run.stdout + run.stderr).splitlines() if "✘" in l or "passed" in l or "failed" in l
             or "error" in l]
    print("\n".join(lines[-12:]))
    print(f"{len(cases)} held-out cases in {root}: swift test {'passed' if run.returncode == 0 else 'FAILED'}")
    sys.exit(run.returncode)


if __name__ == "__main__":
    main()
