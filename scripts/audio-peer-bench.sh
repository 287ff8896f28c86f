#!/bin/sh
# Speed benchmark (not a test): training and inference samples/s of PEFTKit's `audio-adapt bench`
# side by side with PyTorch in one run, on the two shapes of the Audio issue:
#   - AST-base (random weights, 1024 frames x 128 mel bins = 1214 tokens) with LoRA r 8, alpha 16 on
#     query and value: the peer is ../shared/bench/peer/peer_bench.py `ast --mode lora-qv`
#     (transformers ASTForAudioClassification + peft);
#   - the Whisper tiny.en encoder (random weights, 3000 frames = 1500 tokens) with PETL-AST's Conformer
#     adapter parallel to each FFN: the peer is the small PyTorch program below (transformers
#     WhisperEncoder + the same adapter in torch.nn), measured the same way.
# Both sides: one fixed random batch, median step time after warm-up, inference without gradients in
# evaluation mode, training = forward + cross-entropy + backward + AdamW (lr 2e-4, wd 0.01). Each
# measurement is its own process; 2 threads.
#
#   scripts/audio-peer-bench.sh                                   # PEFTKit only
#   PEER_PYTHON=/path/to/venv/bin/python scripts/audio-peer-bench.sh
#   BATCH=4 STEPS=3 SHAPE=both ...                                # defaults shown; SHAPE = ast | whisper | both
set -e
cd "$(dirname "$0")/.."
BATCH=${BATCH:-4}
STEPS=${STEPS:-3}
SHAPE=${SHAPE:-both}
if [ -z "$PEER_SCRIPT" ]; then
  for d in ../shared ../../shared; do [ -f "$d/bench/peer/peer_bench.py" ] && PEER_SCRIPT="$d/bench/peer/peer_bench.py" && break; done
fi
OUT=${OUT:-bench-results/audio-peer-bench.jsonl}
mkdir -p "$(dirname "$OUT")"
: > "$OUT"

swift build -c release --product audio-adapt >&2
echo "PEFTKit: audio-adapt bench --shape $SHAPE --batch $BATCH --steps $STEPS" >&2
.build/release/audio-adapt bench --shape "$SHAPE" --batch "$BATCH" --steps "$STEPS" --json \
  | sed -n 's/^RESULT /{"side": "peftkit", "r": /p' | sed 's/$/}/' >> "$OUT"

if [ -n "$PEER_PYTHON" ]; then
  if [ "$SHAPE" != whisper ]; then
    [ -n "$PEER_SCRIPT" ] && [ -f "$PEER_SCRIPT" ] || { echo "peer_bench.py not found (set PEER_SCRIPT)" >&2; exit 1; }
    echo "peer: peer_bench.py ast --mode lora-qv" >&2
    HF_HUB_OFFLINE=1 "$PEER_PYTHON" "$PEER_SCRIPT" ast --mode lora-qv --batch "$BATCH" --max-length 1024 \
      --warmup 1 --train-steps "$STEPS" --infer-steps "$STEPS" --threads 2 \
      | sed -n 's/^RESULT /{"side": "peer_bench", "r": /p' | sed 's/$/}/' >> "$OUT"
  fi
  if [ "$SHAPE" != ast ]; then
    echo "peer: torch Whisper-tiny encoder + Conformer adapter" >&2
    HF_HUB_OFFLINE=1 "$PEER_PYTHON" - "$BATCH" "$STEPS" <<'PY' | sed -n 's/^RESULT /{"side": "torch", "r": /p' | sed 's/$/}/' >> "$OUT"
import json, sys, time
import torch
import torch.nn as nn
from transformers import WhisperConfig
from transformers.models.whisper.modeling_whisper import WhisperEncoder
batch, steps = int(sys.argv[1]), int(sys.argv[2])
frames, labels, d, rr, kernel = 3000, 50, 384, 96, 31
torch.set_num_threads(2)
torch.manual_seed(0)
cfg = WhisperConfig(d_model=d, encoder_layers=4, encoder_attention_heads=6, encoder_ffn_dim=1536, num_mel_bins=80,
                    max_source_positions=1500, dropout=0.0, attention_dropout=0.0, activation_dropout=0.0)
enc = WhisperEncoder(cfg)
for p in enc.parameters():
    p.requires_grad_(False)

class ConformerAdapter(nn.Module):
    """PETL-AST's Conformer-convolution adapter: pointwise conv -> GLU -> depthwise conv -> BN -> SiLU -> pointwise conv."""
    def __init__(self, d, b, k):
        super().__init__()
        self.pw1 = nn.Conv1d(d, 2 * b, 1); self.dw = nn.Conv1d(b, b, k, padding=(k - 1) // 2, groups=b)
        self.bn = nn.BatchNorm1d(b); self.pw2 = nn.Conv1d(b, d, 1)
    def forward(self, x):                      # x [B, T, d]
        h = nn.functional.glu(self.pw1(x.transpose(1, 2)), dim=1)
        return self.pw2(nn.functional.silu(self.bn(self.dw(h)))).transpose(1, 2)

class FC1(nn.Module):                         # remembers the FFN input (after final_layer_norm)
    def __init__(self, lin):
        super().__init__(); self.lin = lin; self.x = None
    def forward(self, x):
        self.x = x; return self.lin(x)
class FC2(nn.Module):                         # FFN output + adapter(FFN input): parallel, no residual
    def __init__(self, lin, fc1, adapter):
        super().__init__(); self.lin = lin; self.fc1 = [fc1]; self.adapter = adapter
    def forward(self, h):
        return self.lin(h) + self.adapter(self.fc1[0].x)

b = round(d / rr)
for layer in enc.layers:
    fc1 = FC1(layer.fc1); layer.fc1 = fc1
    layer.fc2 = FC2(layer.fc2, fc1, ConformerAdapter(d, b, kernel))
    for p in layer.final_layer_norm.parameters():
        p.requires_grad_(True)                 # PETL-AST trains LN2 of every layer with adapters
for p in enc.layer_norm.parameters():
    p.requires_grad_(True)
head = nn.Linear(d, labels)
params = [p for p in enc.parameters() if p.requires_grad] + list(head.parameters())
opt = torch.optim.AdamW(params, lr=2e-4, weight_decay=0.01)
g = torch.Generator().manual_seed(0)
x = torch.randn(batch, 80, frames, generator=g)
y = torch.randint(0, labels, (batch,), generator=g)
def logits():
    return head(enc(x).last_hidden_state.mean(dim=1))
def timed(fn, n):
    ts = []
    for i in range(1 + n):
        t0 = time.perf_counter(); fn(); t = time.perf_counter() - t0
        if i >= 1: ts.append(t)
    ts.sort()
    return ts[len(ts) // 2] if len(ts) % 2 else (ts[len(ts) // 2 - 1] + ts[len(ts) // 2]) / 2
enc.eval()
def infer():
    with torch.inference_mode():
        logits()
ti = timed(infer, steps)
enc.train()
def train():
    loss = nn.functional.cross_entropy(logits(), y)
    loss.backward(); opt.step(); opt.zero_grad(set_to_none=True)
tt = timed(train, steps)
print("RESULT " + json.dumps({"shape": "Whisper-tiny encoder", "method": "conformer-adapter", "batch": batch, "frames": frames,
      "trainable": sum(p.numel() for p in params), "train_samples_per_second": batch / tt,
      "infer_samples_per_second": batch / ti, "torch": torch.__version__}))
PY
  fi
fi

python3 - "$OUT" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def key(r):
    return "AST-base" if r["side"] == "peer_bench" else r["r"]["shape"]
def figures(r):
    x = r["r"]
    if r["side"] == "peer_bench":
        return x["train_samples_per_s"], x["infer_samples_per_s"], x.get("params_trainable", 0)
    return x["train_samples_per_second"], x["infer_samples_per_second"], x["trainable"]
print("| shape | side | trainable | train samples/s | infer samples/s | PEFTKit/peer train | PEFTKit/peer infer |")
print("|---|---|---|---|---|---|---|")
ours = {key(r): figures(r) for r in rows if r["side"] == "peftkit"}
for r in rows:
    k = key(r); t, i, n = figures(r); o = ours.get(k)
    rel = ("%.2fx" % (o[0] / t), "%.2fx" % (o[1] / i)) if o and r["side"] != "peftkit" else ("", "")
    print("| %s | %s | %d | %.3f | %.3f | %s | %s |" % (k, r["side"], n, t, i, rel[0], rel[1]))
print("\n(ratio = PEFTKit / peer: above 1 means PEFTKit is faster; raw results in %s)" % sys.argv[1])
PY
