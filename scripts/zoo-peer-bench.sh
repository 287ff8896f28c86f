#!/usr/bin/env bash
# RandLoRA, LoKr and LoRA training steps: peft (PyTorch) next to PEFTKit in one run.
# Usage: scripts/zoo-peer-bench.sh [--threads 1] [--r 8] [--methods lora,randlora,lokr] ...
# Needs the peer venv (PEER_PYTHON, default /work/peer-venv/bin/python) and a release build.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
py="${PEER_PYTHON:-/work/peer-venv/bin/python}"
[ -x "$py" ] || { echo "zoo-peer-bench: no Python at $py; set PEER_PYTHON to a venv with torch, transformers, peft" >&2; exit 2; }
export PEFTKIT_MODELS="${PEFTKIT_MODELS:-$here/models}"
bench="$here/.build/release/peftkit-bench"
[ -x "$bench" ] || { echo "zoo-peer-bench: $bench missing; run swift build -c release first" >&2; exit 2; }
exec "$py" "$here/scripts/zoo-peer-bench.py" --bench "$bench" "$@"
