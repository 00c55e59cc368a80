#!/usr/bin/env python3
"""Runs `expertlock attribute` (or perplexity `eval`) in N shards as Ray tasks and merges them.

  python3 scripts/shards/ray_shards.py --expertlock .build/release/expertlock --shards 3 --out /tmp/ray-shards \
      -- attribute --model M --ids ids.txt --context 64
  python3 scripts/shards/ray_shards.py --expertlock ... --shards 3 --out DIR --eval -- --model M --ids ids.txt

Each task runs one shard as a process (`--shard i/N --out DIR/shard-i.json`) and returns the file's
path; the driver merges the files (attribute --merge, or eval --task perplexity --merge) into
DIR/merged.json. Without a cluster address, Ray starts a local one on 127.0.0.1. On a cluster, the
paths must be on storage every node sees. Tested with ray 2.x on one machine (docs/SHARDS.md).
"""
import argparse
import os
import subprocess

import ray


@ray.remote(num_cpus=1)
def shard(expertlock, arguments, index, count, out):
    path = os.path.join(out, f"shard-{index}.json")
    env = dict(os.environ, EXPERTLOCK_THREADS=os.environ.get("EXPERTLOCK_THREADS", "1"))
    subprocess.run([expertlock] + arguments + ["--shard", f"{index}/{count}", "--out", path, "--overwrite"],
                   check=True, env=env)
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--expertlock", required=True)
    parser.add_argument("--shards", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--eval", action="store_true", help="perplexity eval instead of attribute")
    parser.add_argument("--address", default=None, help="Ray cluster address (default: a local one)")
    parser.add_argument("arguments", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    arguments = [a for a in args.arguments if a != "--"]
    if args.eval:
        arguments = ["eval", "--task", "perplexity"] + arguments
    expertlock = os.path.abspath(args.expertlock)
    os.makedirs(args.out, exist_ok=True)
    if args.address:
        ray.init(address=args.address)
    else:
        ray.init(_node_ip_address="127.0.0.1", include_dashboard=False)
    paths = ray.get([shard.remote(expertlock, arguments, i, args.shards, args.out) for i in range(args.shards)])
    merged = os.path.join(args.out, "merged.json")
    merge = ["eval", "--task", "perplexity", "--merge"] if args.eval else ["attribute", "--merge"]
    subprocess.run([expertlock] + merge + paths + ["--out", merged, "--overwrite"], check=True)
    print(merged)


if __name__ == "__main__":
    main()
