# Prints the expected bytes pasted into ResampleTests.swift. Run with any recent Pillow:
#   PYTHONPATH=<dir with Pillow> python3 pil_resample_expected.py
# The source images are drawn from the same formula as ResampleTests.pattern(...).
from PIL import Image
import PIL

def pattern(w, h, mode):
    ch = 3 if mode == "RGB" else 1
    data = bytes((x * 37 + y * 61 + c * 83 + ((x * y) % 17) * 11) % 256
                 for y in range(h) for x in range(w) for c in range(ch))
    return Image.frombytes(mode, (w, h), data)

print("# Pillow", PIL.__version__)
cases = [
    ("RGB", 13, 9, 5, 4, "bilinear"), ("RGB", 13, 9, 5, 4, "bicubic"),
    ("RGB", 13, 9, 29, 20, "bilinear"), ("RGB", 13, 9, 29, 20, "bicubic"),
    ("L", 13, 9, 6, 9, "bicubic"), ("L", 13, 9, 13, 5, "bilinear"),
    ("RGB", 50, 37, 32, 24, "bicubic"), ("RGB", 50, 37, 7, 5, "bicubic"), ("L", 50, 37, 11, 40, "bilinear"),
]
filters = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC}
for mode, w, h, ow, oh, f in cases:
    out = pattern(w, h, mode).resize((ow, oh), filters[f])
    print(f'("{mode}", {w}, {h}, {ow}, {oh}, .{f}, "{out.tobytes().hex()}"),')
print("gray", pattern(7, 3, "RGB").convert("L").tobytes().hex())
