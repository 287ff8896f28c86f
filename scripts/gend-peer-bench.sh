#!/bin/sh
# Speed benchmark (not a test): GenD on DINOv2-small — LayerNorm-only tuning, L2-normalised
# linear head, CE + 0.5·uniformity + 0.1·alignment, AdamW — training and inference images/s,
# PEFTKit (`deepfake-detect bench`) side by side with the same model in PyTorch in one run.
#
#   scripts/gend-peer-bench.sh                                   # PEFTKit only
#   PEER_PYTHON=/work/peer-venv/bin/python scripts/gend-peer-bench.sh
#   BATCH=8 STEPS=3 SIZE=112 ...                                 # defaults shown; SKIP_BUILD=1 uses the built binary
#
# The PyTorch side loads the same weights (models/dinov2-small-imported, Hugging Face layout,
# written by PEFTKit's ONNX import) into transformers' Dinov2Model, freezes everything but
# norm1/norm2/layernorm, and measures exactly what the Swift side does: one fixed random batch,
# median step time after one warm-up step, inference under torch.inference_mode(). Threads: 2.
set -e
cd "$(dirname "$0")/.."
BATCH=${BATCH:-8}
STEPS=${STEPS:-3}
SIZE=${SIZE:-112}
MODELS=${PEFTKIT_MODELS:-models}
OUT=${OUT:-bench-results/gend-peer-bench.jsonl}
mkdir -p "$(dirname "$OUT")"
: > "$OUT"

[ -n "$SKIP_BUILD" ] || swift build -c release --product deepfake-detect >&2
echo "PEFTKit: deepfake-detect bench --batch $BATCH --image-size $SIZE --steps $STEPS" >&2
PEFTKIT_MODELS="$MODELS" .build/release/deepfake-detect bench --batch "$BATCH" --image-size "$SIZE" --steps "$STEPS" --json \
  | sed -n 's/^RESULT /{"side": "peftkit", "r": /p' | sed 's/$/}/' >> "$OUT"

if [ -n "$PEER_PYTHON" ]; then
  echo "peer: torch Dinov2Model GenD" >&2
  HF_HUB_OFFLINE=1 "$PEER_PYTHON" - "$MODELS/dinov2-small-imported" "$BATCH" "$SIZE" "$STEPS" <<'PY' | sed -n 's/^RESULT /{"side": "torch", "r": /p' | sed 's/$/}/' >> "$OUT"
import json, os, sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F
from transformers import Dinov2Config, Dinov2Model
path, batch, size, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(2)
torch.manual_seed(0)
if os.path.exists(os.path.join(path, "config.json")):
    model, weights = Dinov2Model.from_pretrained(path), "real DINOv2-small"
else:
    cfg = Dinov2Config(hidden_size=384, num_hidden_layers=12, num_attention_heads=6, mlp_ratio=4, patch_size=14, image_size=518)
    model, weights = Dinov2Model(cfg), "random ViT-S/14"
for n, p in model.named_parameters():
    p.requires_grad_(any(k in n for k in ("norm1", "norm2", "layernorm")))
head = nn.Linear(384, 2)
params = [p for p in model.parameters() if p.requires_grad] + list(head.parameters())
opt = torch.optim.AdamW(params, lr=3e-4, weight_decay=0)
g = torch.Generator().manual_seed(0)
x = torch.randn(batch, 3, size, size, generator=g)
y = torch.tensor([0] * (batch // 2) + [1] * (batch - batch // 2))

def losses(z, logits):
    d2 = torch.pdist(z, p=2).pow(2)
    unif = torch.exp(-2 * d2).mean().clamp_min(1e-6).log()
    same = (y[:, None] == y[None, :]).triu(1)
    diff = (z[:, None, :] - z[None, :, :]).pow(2).sum(-1)
    align = diff[same].mean() if same.any() else z.sum() * 0
    return F.cross_entropy(logits, y) + 0.5 * unif + 0.1 * align

def timed(fn, n):
    ts = []
    for i in range(1 + n):
        t0 = time.perf_counter(); fn(); t = time.perf_counter() - t0
        if i >= 1: ts.append(t)
    ts.sort()
    return ts[len(ts) // 2] if len(ts) % 2 else (ts[len(ts) // 2 - 1] + ts[len(ts) // 2]) / 2

model.eval()
def infer():
    with torch.inference_mode():
        head(F.normalize(model(pixel_values=x).pooler_output, dim=-1))
ti = timed(infer, steps)
model.train()
def train():
    z = F.normalize(model(pixel_values=x).pooler_output, dim=-1)
    losses(z, head(z)).backward(); opt.step(); opt.zero_grad(set_to_none=True)
tt = timed(train, steps)
print("RESULT " + json.dumps({"weights": weights, "method": "gend", "batch": batch, "imageSize": size,
      "trainable": sum(p.numel() for p in params), "trainImagesPerSecond": batch / tt,
      "inferImagesPerSecond": batch / ti, "torch": torch.__version__}))
PY
fi

python3 - "$OUT" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print("| side | weights | batch | size | trainable | train img/s | infer img/s | train vs PEFTKit | infer vs PEFTKit |")
print("|---|---|---|---|---|---|---|---|---|")
ours = next((r["r"] for r in rows if r["side"] == "peftkit"), None)
for r in rows:
    x = r["r"]
    rel = ("%.2fx" % (ours["trainImagesPerSecond"] / x["trainImagesPerSecond"]), "%.2fx" % (ours["inferImagesPerSecond"] / x["inferImagesPerSecond"])) \
        if ours and r["side"] != "peftkit" else ("", "")
    print("| %s | %s | %d | %d | %d | %.2f | %.2f | %s | %s |" % (r["side"], x["weights"], x["batch"], x["imageSize"], x["trainable"],
          x["trainImagesPerSecond"], x["inferImagesPerSecond"], rel[0], rel[1]))
print("\n(ratio = PEFTKit / PyTorch: above 1 means PEFTKit is faster; raw results in %s)" % sys.argv[1])
PY
