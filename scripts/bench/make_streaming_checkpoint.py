#!/usr/bin/env python3
"""Writes a BF16 checkpoint larger than memory for the layer-streaming read test, one layer per shard,
from a checkpoint made by make_real_shape_checkpoint.py with one layer (transformers' random init):
that layer's tensors are repeated under the names of layers 0..N-1, so transformers could load the
result, and the writing never holds more than one layer in memory.

    python3 scripts/bench/make_streaming_checkpoint.py ONE_LAYER_DIR OUT_DIR --layers 30

Every layer has the same weights (the read and the compute do not depend on the values); config.json
and the tokenizer files are copied with num_hidden_layers set to --layers. Prints the bytes written.
"""
import argparse
import json
import os
import shutil

from safetensors import safe_open
from safetensors.torch import save_file


def main():
    p = argparse.ArgumentParser()
    p.add_argument("source")
    p.add_argument("out")
    p.add_argument("--layers", type=int, required=True)
    a = p.parse_args()
    config = json.load(open(os.path.join(a.source, "config.json")))
    assert config["num_hidden_layers"] == 1, "the source must have exactly one layer"
    with safe_open(os.path.join(a.source, "model.safetensors"), "pt") as f:
        tensors = {name: f.get_tensor(name) for name in f.keys()}
    layer = {k[len("model.layers.0."):]: v for k, v in tensors.items() if k.startswith("model.layers.0.")}
    rest = {k: v for k, v in tensors.items() if not k.startswith("model.layers.")}
    os.makedirs(a.out, exist_ok=True)
    shards = a.layers + 1
    index, total = {}, 0
    for s in range(shards):
        name = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        part = rest if s == a.layers else {f"model.layers.{s}.{k}": v for k, v in layer.items()}
        tmp = os.path.join(a.out, name + ".tmp")
        save_file(part, tmp, metadata={"format": "pt"})
        os.replace(tmp, os.path.join(a.out, name))
        total += os.path.getsize(os.path.join(a.out, name))
        index.update({k: name for k in part})
    json.dump({"metadata": {"total_size": total}, "weight_map": index},
              open(os.path.join(a.out, "model.safetensors.index.json"), "w"), indent=1)
    config["num_hidden_layers"] = a.layers
    for key in ("layer_types", "mlp_only_layers"):
        if isinstance(config.get(key), list) and key == "layer_types":
            config[key] = [config[key][0]] * a.layers
    json.dump(config, open(os.path.join(a.out, "config.json"), "w"), indent=2)
    for f in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json"):
        if os.path.exists(os.path.join(a.source, f)):
            shutil.copy(os.path.join(a.source, f), os.path.join(a.out, f))
    print(json.dumps({"layers": a.layers, "checkpoint_bytes": total}))


if __name__ == "__main__":
    main()
