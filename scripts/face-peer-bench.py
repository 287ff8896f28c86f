"""PyTorch side of the face-adapt speed benchmark (not a test): SFace inference and PETALface
training images/s, the same network and the same measurement as `face-adapt bench`.

The ONNX file is read with a minimal protobuf walker (no onnx package needed) and run as a
hand-written torch module over the graph: Conv (grouped), BatchNormalization (inference
statistics), PRelu, Add, Flatten, Gemm, and the input Sub/Mul. PETALface: two LoRA experts
(rank 8, A ~ N(0, 1/r), B = 0, dropout 0.1 on the output) on every 1x1 convolution and on the
Gemm, mixed per image by alpha; training = forward + CosFace (s 64, m 0.4) over a batch-sized
classifier + backward + grad clip 5 + AdamW (lr 5e-4, wd 0.1), as `face-adapt bench`.

usage: python face-peer-bench.py SFACE.onnx [--batch 16] [--steps 3] [--threads 2]
Prints one `RESULT {json}` line per measurement.
"""
import argparse, json, math, struct, time
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def varint(b, i):
    v = s = 0
    while True:
        c = b[i]; i += 1
        v |= (c & 0x7F) << s; s += 7
        if c < 0x80: return v, i


def fields(b):
    """(field number, wire type, value) of one protobuf message; value = int or bytes."""
    i, out = 0, []
    while i < len(b):
        key, i = varint(b, i)
        f, w = key >> 3, key & 7
        if w == 0: v, i = varint(b, i)
        elif w == 1: v = b[i:i + 8]; i += 8
        elif w == 5: v = b[i:i + 4]; i += 4
        elif w == 2:
            n, i = varint(b, i); v = b[i:i + n]; i += n
        else: raise ValueError(f"wire type {w}")
        out.append((f, w, v))
    return out


def ints(fs, num):
    out = []
    for f, w, v in fs:
        if f != num: continue
        if w == 0: out.append(v if v < 1 << 63 else v - (1 << 64))
        else:
            i = 0
            while i < len(v):
                x, i = varint(v, i); out.append(x if x < 1 << 63 else x - (1 << 64))
    return out


def tensor(b):
    fs = fields(b)
    dims = ints(fs, 1)
    name = next(v.decode() for f, w, v in fs if f == 8)
    raw = next((v for f, w, v in fs if f == 9), None)
    if raw is not None: data = np.frombuffer(raw, dtype=np.float32)
    else:
        packed = b"".join(v for f, w, v in fs if f == 4 and w == 2)
        data = np.frombuffer(packed, dtype=np.float32)
    return name, torch.tensor(data.copy().reshape(dims) if dims else data.copy())


def load(path):
    model = fields(open(path, "rb").read())
    graph = fields(next(v for f, w, v in model if f == 7))
    inits = dict(tensor(v) for f, w, v in graph if f == 5)
    nodes = []
    for f, w, v in graph:
        if f != 1: continue
        nf = fields(v)
        attrs = {}
        for af, aw, av in nf:
            if af != 5: continue
            a = fields(av)
            aname = next(x.decode() for k, _, x in a if k == 1)
            fl = [struct.unpack("<f", x)[0] for k, ww, x in a if k == 2 and ww == 5]
            iv = [x for k, ww, x in a if k == 3 and ww == 0]
            il = ints(a, 8)
            attrs[aname] = il if il else (iv[0] if iv else (fl[0] if fl else None))
        nodes.append(dict(inputs=[x.decode() for k, _, x in nf if k == 1], outputs=[x.decode() for k, _, x in nf if k == 2],
                          op=next(x.decode() for k, _, x in nf if k == 4), attrs=attrs))
    return nodes, inits


class ExpertLoRA(nn.Module):
    def __init__(self, inf, outf, r=8):
        super().__init__()
        self.A = nn.ParameterList([nn.Parameter(torch.randn(r, inf) / r) for _ in range(2)])
        self.B = nn.ParameterList([nn.Parameter(torch.zeros(outf, r)) for _ in range(2)])
        self.drop = nn.Dropout(0.1)

    def forward(self, x, alpha):   # x [B, ..., in], alpha [B]
        shape = [x.shape[0]] + [1] * (x.dim() - 1)
        a = alpha.view(shape)
        y0 = self.drop(x @ self.A[0].t() @ self.B[0].t())
        y1 = self.drop(x @ self.A[1].t() @ self.B[1].t())
        return (1 - a) * y0 + a * y1


class SFace(nn.Module):
    def __init__(self, nodes, inits, petal):
        super().__init__()
        self.nodes, self.inits, self.alpha = nodes, inits, None
        self.adapters = nn.ModuleDict()
        for n in nodes:
            w = inits.get(n["inputs"][1]) if len(n["inputs"]) > 1 else None
            if not petal or w is None: continue
            if n["op"] == "Conv" and w.shape[2:] == (1, 1) and n["attrs"].get("group", 1) == 1 and n["attrs"].get("strides", [1, 1]) == [1, 1]:
                self.adapters[n["outputs"][0]] = ExpertLoRA(w.shape[1], w.shape[0])
            if n["op"] == "Gemm":
                self.adapters[n["outputs"][0]] = ExpertLoRA(w.shape[1] if n["attrs"].get("transB") else w.shape[0],
                                                            w.shape[0] if n["attrs"].get("transB") else w.shape[1])

    def forward(self, x):
        env = {self.nodes[0]["inputs"][0]: x}
        for n in self.nodes:
            i, a, out = n["inputs"], n["attrs"], n["outputs"][0]
            v = env[i[0]]
            op = n["op"]
            if op == "Sub": y = v - self.inits[i[1]]
            elif op == "Mul": y = v * self.inits[i[1]]
            elif op == "Conv":
                p = a.get("pads", [0, 0, 0, 0])
                y = F.conv2d(v, self.inits[i[1]], self.inits[i[2]] if len(i) > 2 else None, a.get("strides", [1, 1]), p[:2], 1, a.get("group", 1))
                if out in self.adapters:
                    y = y + self.adapters[out](v.permute(0, 2, 3, 1), self.alpha).permute(0, 3, 1, 2)
            elif op == "BatchNormalization":
                y = F.batch_norm(v, self.inits[i[3]], self.inits[i[4]], self.inits[i[1]], self.inits[i[2]], False, 0.0, a.get("epsilon", 1e-5))
            elif op == "PRelu":
                s = self.inits[i[1]]
                y = torch.where(v >= 0, v, v * s.reshape(1, -1, *([1] * (v.dim() - 2))) if s.numel() > 1 else v * s)
            elif op == "Add": y = v + env[i[1]]
            elif op == "Dropout": y = v
            elif op == "Flatten": y = v.flatten(1)
            elif op == "Gemm":
                w = self.inits[i[1]]
                y = F.linear(v, w if a.get("transB") else w.t(), self.inits[i[2]] if len(i) > 2 else None)
                if out in self.adapters: y = y + self.adapters[out](v, self.alpha)
            else: raise ValueError(op)
            env[out] = y
        return env[self.nodes[-1]["outputs"][0]]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("onnx"); ap.add_argument("--batch", type=int, default=16); ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads); torch.manual_seed(0)
    nodes, inits = load(args.onnx)
    x = torch.rand(args.batch, 3, 112, 112) * 255
    alpha = torch.rand(args.batch)
    for method in ["frozen", "petal"]:
        net = SFace(nodes, inits, method == "petal"); net.alpha = alpha
        net.eval()
        with torch.inference_mode():
            net(x)
            t = time.perf_counter()
            for _ in range(args.steps): net(x)
            infer = args.batch * args.steps / (time.perf_counter() - t)
        train = 0.0
        if method == "petal":
            net.train()
            cls = nn.Parameter(torch.randn(args.batch, 128) * 0.01)
            params = list(net.adapters.parameters()) + [cls]
            opt = torch.optim.AdamW(params, lr=5e-4, weight_decay=0.1)
            target = torch.arange(args.batch)
            def step():
                e = F.normalize(net(x)); w = F.normalize(cls)
                cos = e @ w.t()
                logits = 64 * (cos - 0.4 * F.one_hot(target, args.batch))
                loss = F.cross_entropy(logits, target)
                opt.zero_grad(); loss.backward(); torch.nn.utils.clip_grad_norm_(params, 5); opt.step()
            step()
            t = time.perf_counter()
            for _ in range(args.steps): step()
            train = args.batch * args.steps / (time.perf_counter() - t)
        print("RESULT " + json.dumps({"method": method, "batch": args.batch, "infer_images_per_second": infer,
                                      "train_images_per_second": train, "torch": torch.__version__, "threads": args.threads}))


if __name__ == "__main__":
    main()
