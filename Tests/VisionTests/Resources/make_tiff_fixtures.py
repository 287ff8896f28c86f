#!/usr/bin/env python3
"""Writes the TIFF fixtures of ChangeDetectionTIFFTests with Debian's libtiff (libtiff6, via
ctypes and numpy; no other package). Sample values follow closed formulas that the Swift test
recomputes, so the files are the only input. Run: python3 make_tiff_fixtures.py OUTDIR"""
import ctypes, ctypes.util, os, sys
import numpy as np

lib = ctypes.CDLL(ctypes.util.find_library("tiff") or "libtiff.so.6")
lib.TIFFOpen.restype = ctypes.c_void_p
lib.TIFFOpen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
lib.TIFFClose.argtypes = [ctypes.c_void_p]
lib.TIFFWriteScanline.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint32, ctypes.c_uint16]
lib.TIFFWriteTile.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint32, ctypes.c_uint32, ctypes.c_uint32, ctypes.c_uint16]
lib.TIFFWriteTile.restype = ctypes.c_ssize_t


def setf(t, tag, value):
    if lib.TIFFSetField(ctypes.c_void_p(t), ctypes.c_uint32(tag), ctypes.c_int(value)) != 1:
        raise SystemExit(f"TIFFSetField {tag} failed")


def open_(path, mode, w, h, bands, bits, compression, planar=1, predictor=None, rows=None):
    t = lib.TIFFOpen(path.encode(), mode.encode())
    for tag, v in [(256, w), (257, h), (277, bands), (258, bits), (259, compression), (284, planar),
                   (262, 2 if bands == 3 else 1), (339, 1)]:
        setf(t, tag, v)
    if predictor:
        setf(t, 317, predictor)
    if rows:
        setf(t, 278, rows)
    return t


def lzw_rgb8(path):
    w, h = 37, 23
    y, x, b = np.meshgrid(np.arange(h), np.arange(w), np.arange(3), indexing="ij")
    a = ((x * 7 + y * 13 + b * 50) % 256).astype(np.uint8)
    t = open_(path, "w", w, h, 3, 8, 5, predictor=2, rows=5)
    for r in range(h):
        row = np.ascontiguousarray(a[r])
        lib.TIFFWriteScanline(t, row.ctypes.data, r, 0)
    lib.TIFFClose(t)


def lzw_noise8(path):
    # Seeded LCG noise: fills the LZW table, so the code width reaches 12 bits and clears occur.
    w, h = 211, 97
    state, vals = 12345, []
    for _ in range(w * h):
        state = (state * 1103515245 + 12345) % 2**31
        vals.append((state >> 16) & 0xFF)
    a = np.array(vals, dtype=np.uint8).reshape(h, w)
    t = open_(path, "w", w, h, 1, 8, 5, rows=h)
    for r in range(h):
        row = np.ascontiguousarray(a[r])
        lib.TIFFWriteScanline(t, row.ctypes.data, r, 0)
    lib.TIFFClose(t)


def packbits_u16_be_planar(path):
    w, h = 19, 11
    t = open_(path, "wb", w, h, 4, 16, 32773, planar=2, rows=4)
    for b in range(4):
        for r in range(h):
            if r % 3 == 0:
                row = np.full(w, b * 100, dtype=np.uint16)
            else:
                row = ((np.arange(w) * 300 + r * 1000 + b * 7000 + 5) % 65536).astype(np.uint16)
            lib.TIFFWriteScanline(t, np.ascontiguousarray(row).ctypes.data, r, b)
    lib.TIFFClose(t)


def tiled_u16(path):
    w, h = 40, 33
    t = open_(path, "w", w, h, 2, 16, 1)
    setf(t, 322, 16)
    setf(t, 323, 16)
    for ty in range(0, h, 16):
        for tx in range(0, w, 16):
            tile = np.zeros((16, 16, 2), dtype=np.uint16)
            for yy in range(16):
                for xx in range(16):
                    for b in range(2):
                        tile[yy, xx, b] = ((tx + xx) * 100 + (ty + yy) + b * 5000) % 65536
            lib.TIFFWriteTile(t, np.ascontiguousarray(tile).ctypes.data, tx, ty, 0, 0)
    lib.TIFFClose(t)


def deflate(path):
    w, h = 8, 8
    t = open_(path, "w", w, h, 1, 8, 8, rows=h)
    for r in range(h):
        row = np.full(w, r, dtype=np.uint8)
        lib.TIFFWriteScanline(t, row.ctypes.data, r, 0)
    lib.TIFFClose(t)


out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__)) + "/tiff"
os.makedirs(out, exist_ok=True)
for f in [lzw_rgb8, lzw_noise8, packbits_u16_be_planar, tiled_u16, deflate]:
    f(os.path.join(out, f.__name__ + ".tif"))
print("wrote", sorted(os.listdir(out)))
