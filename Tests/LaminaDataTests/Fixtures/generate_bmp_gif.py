"""Writes the BMP and GIF fixtures of ImageDecoderBMPGIFTests and what Pillow decodes from
each (bmp_gif_expected.json: width, height and the RGBA, RGB and L pixels of
`Image.open(f).convert(mode)`). Pillow writes the plain files; the RLE, top-down, 16-bit and
bit-field bitmaps are written byte by byte here (Pillow only reads them).

    /root/peers-venv/bin/python generate_bmp_gif.py   # in Tests/LaminaDataTests/Fixtures
"""
import json
import os
import random
import struct

from PIL import Image

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bmp_gif")
os.makedirs(out, exist_ok=True)
rng = random.Random(7)
W, H = 13, 7


def rgb_image():
    im = Image.new("RGB", (W, H))
    im.putdata([(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(W * H)])
    return im


def palette_image(colors):
    im = Image.new("P", (W, H))
    im.putpalette([rng.randrange(256) for _ in range(3 * colors)] + [0] * (3 * (256 - colors)))
    im.putdata([rng.randrange(colors) for _ in range(W * H)])
    return im


def bmp(bpp, width, height, pixels, compression=0, palette=(), header=40, masks=()):
    """A BMP file of `pixels` (the stored rows, bottom-up unless height < 0)."""
    pal = b"".join(bytes([b, g, r, 0]) for r, g, b in palette)
    extra = b"".join(struct.pack("<I", m) for m in masks)
    if header == 40:
        dib = struct.pack("<IiiHHIIiiII", 40, width, height, 1, bpp, compression, len(pixels), 2835, 2835, len(palette), 0) + extra
    else:  # V4 (108 bytes): masks inside the header
        m = list(masks) + [0] * (4 - len(masks))
        dib = struct.pack("<IiiHHIIiiII", 108, width, height, 1, bpp, compression, len(pixels), 2835, 2835, len(palette), 0)
        dib += struct.pack("<IIII", *m) + struct.pack("<I", 0x73524742) + bytes(36) + bytes(12)
    offset = 14 + len(dib) + len(pal)
    return b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset) + dib + pal + pixels


def rows(width, height, row_bytes, stride_bits):
    stride = (stride_bits * width + 31) // 32 * 4
    return b"".join(row_bytes(y).ljust(stride, b"\0") for y in range(height))


files = {}
rgb_image().save(os.path.join(out, "rgb24.bmp"))
palette_image(200).save(os.path.join(out, "pal8.bmp"))
bw = Image.new("1", (W, H))
bw.putdata([rng.randrange(2) * 255 for _ in range(W * H)])
bw.save(os.path.join(out, "mono1.bmp"))

# 4-bit palette, uncompressed; and a top-down 24-bit one.
pal16 = [(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(16)]
idx4 = [[rng.randrange(16) for _ in range(W)] for _ in range(H)]
files["pal4.bmp"] = bmp(4, W, H, rows(W, H, lambda y: bytes((idx4[y][x] << 4 | (idx4[y][x + 1] if x + 1 < W else 0)) for x in range(0, W, 2)), 4), palette=pal16)
px24 = [[(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(W)] for _ in range(H)]
files["topdown24.bmp"] = bmp(24, W, -H, rows(W, H, lambda y: b"".join(bytes([b, g, r]) for r, g, b in px24[y]), 24))
# 32-bit: BGRX (BI_RGB), and bit fields with alpha in a V4 header.
files["bgrx32.bmp"] = bmp(32, W, H, rows(W, H, lambda y: b"".join(bytes([b, g, r, 77]) for r, g, b in px24[y]), 32))
alpha = [[rng.randrange(256) for _ in range(W)] for _ in range(H)]
files["bgra32_v4.bmp"] = bmp(32, W, H, rows(W, H, lambda y: b"".join(bytes([b, g, r, alpha[y][x]]) for x, (r, g, b) in enumerate(px24[y])), 32),
                             compression=3, header=108, masks=(0xFF0000, 0xFF00, 0xFF, 0xFF000000))
# 16-bit: 5-5-5 (BI_RGB) and 5-6-5 bit fields.
v16 = [[rng.randrange(65536) for _ in range(W)] for _ in range(H)]
files["rgb555.bmp"] = bmp(16, W, H, rows(W, H, lambda y: b"".join(struct.pack("<H", v & 0x7FFF) for v in v16[y]), 16))
files["rgb565.bmp"] = bmp(16, W, H, rows(W, H, lambda y: b"".join(struct.pack("<H", v) for v in v16[y]), 16), compression=3,
                          masks=(0xF800, 0x07E0, 0x001F))
# RLE8: runs, a literal run (odd length, padded), a delta that skips pixels, end of line, end of bitmap.
pal8 = [(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(6)]
rle8 = bytes([3, 1, 0, 5, 2, 3, 4, 5, 1, 0, 4, 5, 0, 0])        # row 0: 1 1 1 2 3 4 5 1 5 5 5 5 + 1 skipped
rle8 += bytes([13, 2, 0, 0])                                       # row 1
rle8 += bytes([2, 3, 0, 2, 4, 1, 2, 4, 0, 0])                      # row 2: 3 3, delta +4 x +1 row → row 3 from x=6: 4 4
rle8 += bytes([0, 3, 1, 2, 3, 0, 0, 0])                            # row 4: literal 1 2 3 (padded), the rest color 0
rle8 += bytes([20, 5, 0, 0, 13, 4, 0, 1])                          # rows 5, 6: a run cut at the row's end; end of bitmap
files["rle8.bmp"] = bmp(8, W, H, rle8, compression=1, palette=pal8)
rle4 = bytes([5, 0x12, 0, 4, 0x34, 0x56, 0, 0])                    # row 0: 1 2 1 2 1 3 4 5 6
rle4 += bytes([0, 3, 0x78, 0x90, 6, 0xAB, 0, 0])                   # row 1: 7 8 9 a b a b a b
rle4 += bytes([0, 2, 1, 1, 2, 0xCD, 0, 0])                         # row 2: delta → row 3 x=1: c d
rle4 += bytes([13, 0xE1, 0, 0, 13, 0x2F, 0, 0, 13, 0x33, 0, 1])    # rows 4-6; end of bitmap
files["rle4.bmp"] = bmp(4, W, H, rle4, compression=2, palette=[(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(16)])
for name, data in files.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)

# GIF: Pillow's LZW, interlaced and not, with a transparent index; a wider palette image.
g = palette_image(40)
g.save(os.path.join(out, "plain.gif"), interlace=False)
big = Image.new("P", (61, 37))
big.putpalette([rng.randrange(256) for _ in range(768)])
big.putdata([(x * 7 + y * 3 + rng.randrange(3)) % 256 for y in range(37) for x in range(61)])
big.save(os.path.join(out, "interlaced.gif"), interlace=True)
t = palette_image(16)
t.save(os.path.join(out, "transparent.gif"), transparency=3, interlace=False)

expected = {}
for name in sorted(os.listdir(out)):
    with Image.open(os.path.join(out, name)) as im:
        im.load()
        entry = {"width": im.width, "height": im.height}
        for mode in ["RGBA", "RGB", "L"]:
            entry[mode] = list(im.convert(mode).tobytes())
        expected[name] = entry
with open(os.path.join(os.path.dirname(out), "bmp_gif_expected.json"), "w") as f:
    json.dump(expected, f)
print(len(expected), "fixtures")
