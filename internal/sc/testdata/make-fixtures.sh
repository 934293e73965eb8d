#!/usr/bin/env bash
# Regenerates the JPEG fixtures that image/jpeg cannot write: 4:4:4 and
# 4:2:2 sampling, progressive, untransformed RGB (Adobe APP14 transform 0),
# arithmetic coding and Adobe CMYK. The tests read the committed files;
# run this only to change them. Needs cjpeg (Debian libjpeg-turbo-progs)
# and Pillow (python3-pil).
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# A 37×29 colour gradient with a bright "tooth" and a 33×21 grey one: odd
# sizes, so partial MCUs and odd fragment lengths are exercised.
/usr/bin/python3 - "$tmp" <<'PY'
import sys
d = sys.argv[1]
w, h = 37, 29
px = bytearray()
for y in range(h):
    for x in range(w):
        tooth = 12 <= x < 24 and 6 <= y < 22
        px += bytes([(x * 7) % 256, (y * 9) % 256, 230 if tooth else (x * y) % 256])
open(f"{d}/colour.ppm", "wb").write(b"P6 %d %d 255\n" % (w, h) + px)
w, h = 33, 21
g = bytes(((x * 5 + y * 3) % 200 + (50 if 10 <= x < 20 else 0)) for y in range(h) for x in range(w))
open(f"{d}/grey.pgm", "wb").write(b"P5 %d %d 255\n" % (w, h) + g)
PY

cjpeg -quality 90 -sample 1x1 "$tmp/colour.ppm" > baseline-444.jpg
cjpeg -quality 90 -sample 2x1 "$tmp/colour.ppm" > baseline-422.jpg
cjpeg -quality 90 -rgb "$tmp/colour.ppm" > baseline-rgb.jpg
cjpeg -quality 90 -progressive "$tmp/colour.ppm" > progressive-colour.jpg
cjpeg -quality 90 -progressive "$tmp/grey.pgm" > progressive-grey.jpg
cjpeg -quality 90 -arithmetic "$tmp/colour.ppm" > arithmetic.jpg
/usr/bin/python3 - "$tmp" <<'PY'
import sys
from PIL import Image
Image.open(f"{sys.argv[1]}/colour.ppm").convert("CMYK").save("cmyk.jpg", quality=90)
PY
ls -l ./*.jpg
