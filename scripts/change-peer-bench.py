#!/usr/bin/env python3
"""PyTorch + peft peer of `change-detect bench`: the same PeftCD network (DINOv2 from a Hugging
Face folder shared by both dates, LoRA r 8 / alpha 32 on query,key,value or frozen, levels
{2,5,8,11} through the final LayerNorm, exchange {0,2}, the same depthwise-ASPP decoder with 64
channels, mean of the two streams' cross-entropies, AdamW + clipping) on random pixels.
Prints one JSON object with train and inference pairs/s. Run with the peer venv's python."""
import argparse, json, time
import torch, torch.nn as nn, torch.nn.functional as F
from transformers import Dinov2Model
from peft import LoraConfig, get_peft_model


def cbg(i, o, k=1, d=1, g=1):
    return nn.Sequential(nn.Conv2d(i, o, k, padding=d * (k - 1) // 2, dilation=d, groups=g, bias=False), nn.BatchNorm2d(o), nn.GELU())


class DWSep(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dw, self.pw = cbg(c, c, 3, 1, c), cbg(c, c)

    def forward(self, x):
        return self.pw(self.dw(x))


class Decoder(nn.Module):
    def __init__(self, levels, dim, c=64, rates=(1, 2, 4, 8), refine=2):
        super().__init__()
        self.lateral = nn.ModuleList([cbg(dim, c) for _ in range(levels)])
        self.scores = nn.ModuleList([nn.Conv2d(c, 1, 1) for _ in range(levels)])
        self.fuse = DWSep(c)
        self.branches = nn.ModuleList([cbg(c, c, 3, r, c) for r in rates])
        self.project = cbg(c * len(rates), c)
        self.refine = nn.ModuleList([DWSep(c) for _ in range(refine)])
        self.classifier = nn.Conv2d(c, 2, 1)

    def forward(self, feats, h, w):
        xs = [l(f) for l, f in zip(self.lateral, feats)]
        wts = torch.softmax(torch.cat([torch.sigmoid(s(x)) for s, x in zip(self.scores, xs)], 1), 1)
        x = sum(x * wts[:, i:i + 1] for i, x in enumerate(xs))
        x = self.fuse(x)
        x = self.project(torch.cat([b(x) for b in self.branches], 1))
        for r in self.refine:
            x = r(F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False))
        return F.interpolate(self.classifier(x), size=(h, w), mode="bilinear", align_corners=False)


class PeftCD(nn.Module):
    def __init__(self, model, peft, levels=(2, 5, 8, 11), exchange=(0, 2)):
        super().__init__()
        enc = Dinov2Model.from_pretrained(model)
        enc.requires_grad_(False)
        if peft == "lora":
            # transformers 4.x names the projections query/key/value, 5.x q_proj/k_proj/v_proj.
            names = {n.split(".")[-1] for n, _ in enc.named_modules()}
            targets = [t for t in ("query", "key", "value", "q_proj", "k_proj", "v_proj") if t in names]
            enc = get_peft_model(enc, LoraConfig(r=8, lora_alpha=32, lora_dropout=0.0, target_modules=targets))
        self.enc, self.levels, self.exchange = enc, levels, exchange
        cfg = enc.config
        self.patch, self.dim = cfg.patch_size, cfg.hidden_size
        self.dec = Decoder(len(levels), self.dim)

    def forward(self, a, b):
        n, _, h, w = a.shape
        out = self.enc(pixel_values=torch.cat([a, b]), output_hidden_states=True)
        norm = self.enc.get_base_model().layernorm if hasattr(self.enc, "get_base_model") else self.enc.layernorm
        rows, cols = h // self.patch, w // self.patch
        maps = [norm(out.hidden_states[i + 1])[:, 1:].transpose(1, 2).reshape(2 * n, self.dim, rows, cols) for i in self.levels]
        fa, fb = [m[:n] for m in maps], [m[n:] for m in maps]
        for i in self.exchange:
            fa[i], fb[i] = fb[i], fa[i]
        logits = self.dec([torch.cat([x, y]) for x, y in zip(fa, fb)], h, w)
        return logits[:n], logits[n:]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--peft", default="lora")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: PyTorch's default)")
    a = p.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    net = PeftCD(a.model, a.peft)
    xa, xb = torch.randn(a.batch, 3, a.size, a.size), torch.randn(a.batch, 3, a.size, a.size)
    y = (torch.arange(a.batch * a.size * a.size) // 97 % 2).reshape(a.batch, a.size, a.size)
    params = [q for q in net.parameters() if q.requires_grad]
    opt = torch.optim.AdamW(params, lr=3e-4, weight_decay=1e-4)

    def step():
        net.train()
        la, lb = net(xa, xb)
        loss = (F.cross_entropy(la, y) + F.cross_entropy(lb, y)) / 2
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()

    step()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        step()
    train = a.steps * a.batch / (time.perf_counter() - t0)
    net.eval()
    with torch.no_grad():
        net(xa, xb)
        t0 = time.perf_counter()
        for _ in range(a.steps):
            la, lb = net(xa, xb)
            _ = (la + lb) / 2
        infer = a.steps * a.batch / (time.perf_counter() - t0)
    print(json.dumps({"engine": f"PyTorch {torch.__version__} + peft", "train_pairs_per_second": train,
                      "inference_pairs_per_second": infer, "trainable": sum(q.numel() for q in params),
                      "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
