#!/bin/sh
# Regenerates the JPEG/PNM test inputs in this folder. Needs Debian's libjpeg-turbo-progs
# (cjpeg/djpeg 2.1.5) and python3; cmyk.jpg additionally needs Pillow (any recent version).
# Expected pixels come from djpeg (libjpeg-turbo's own decoder, default islow IDCT + fancy
# upsampling) or, for CMYK, from Pillow's Image.open(...).convert("RGB").
set -eu
cd "$(dirname "$0")"
python3 - <<'PY'
# Synthetic sources (no third-party content): smooth gradients plus a sharp edge and a diagonal.
w, h = 21, 13
rgb = bytearray()
for y in range(h):
    for x in range(w):
        rgb += bytes(((x * 12) % 256, (y * 19 + x * 3) % 256, 255 if x > y + 4 else 40))
open("src_rgb.ppm", "wb").write(b"P6\n%d %d\n255\n" % (w, h) + rgb)
gw, gh = 9, 7
g = bytes(((x * 28 + y * 9) % 256) if (x + y) % 5 else 250 for y in range(gh) for x in range(gw))
open("src_gray.pgm", "wb").write(b"P5\n%d %d\n255\n" % (gw, gh) + g)
PY
cjpeg -quality 90 -outfile rgb420.jpg src_rgb.ppm                       # 4:2:0, odd size
cjpeg -quality 75 -sample 1x1 -progressive -outfile rgb444_progressive.jpg src_rgb.ppm
cjpeg -grayscale -quality 85 -outfile gray.jpg src_gray.pgm
for f in rgb420 rgb444_progressive; do djpeg -pnm -outfile "$f.expected.ppm" "$f.jpg"; done
djpeg -pnm -outfile gray.expected.pgm gray.jpg
if python3 -c "import PIL" 2>/dev/null; then
python3 - <<'PY'
from PIL import Image
src = Image.open("src_rgb.ppm").convert("CMYK")
src.save("cmyk.jpg", quality=95)
Image.open("cmyk.jpg").convert("RGB").save("cmyk.expected.ppm")
PY
fi
rm -f src_rgb.ppm src_gray.pgm
