#!/usr/bin/env python3
"""Extracts HF RTDetrImageProcessor's pixel_values of bus.jpg from the speed fixture.

Usage: make_bus_pixel_values.py rtdetr_r18vd_640/io.safetensors bus_pixel_values.safetensors

The fixture's pixel_values (1, 3, 640, 640) float32 is bus.jpg through HF's
RTDetrImageProcessor (transformers 5.17: bilinear resize of the 8-bit image to 640 x 640,
rescale by 1/255 in float32, no normalisation): every value is
float32(k) * float32(1 / 255), rounded to float32, for an 8-bit k. This stores k as uint8
(3, 640, 640), a quarter of the size, after checking that the product gives back every
reference value bit for bit; the metadata keeps the reference's per-channel sums (float64)
as a second check. Plain Python (no numpy), so that it runs anywhere.
"""
import array
import json
import struct
import sys


def read_safetensors(path):
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    return header, data[8 + n:]


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def main(src, dst):
    header, body = read_safetensors(src)
    entry = header["pixel_values"]
    assert entry["dtype"] == "F32" and entry["shape"] == [1, 3, 640, 640], entry
    begin, end = entry["data_offsets"]
    values = array.array("f")
    values.frombytes(body[begin:end])
    if sys.byteorder != "little":
        values.byteswap()
    levels = bytearray(len(values))
    scale = f32(1 / 255)
    level_of = {f32(f32(k) * scale): k for k in range(256)}
    for i, v in enumerate(values):
        if v not in level_of:
            sys.exit(f"value {i} = {v!r} is not float32(k) * float32(1 / 255)")
        levels[i] = level_of[v]
    plane = 640 * 640
    sums = [sum(values[c * plane:(c + 1) * plane]) for c in range(3)]
    out_header = {
        "__metadata__": {
            "source": "shared/fixtures/speed/rtdetr_r18vd_640.tar.xz io.safetensors pixel_values",
            "what": "bus.jpg through HF RTDetrImageProcessor; value = float32(level) * float32(1 / 255)",
            "channel_sums": json.dumps(sums),
        },
        "pixel_levels": {"dtype": "U8", "shape": [3, 640, 640], "data_offsets": [0, len(levels)]},
    }
    text = json.dumps(out_header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(dst, "wb") as out:
        out.write(struct.pack("<Q", len(text)))
        out.write(text)
        out.write(levels)
    print("channel sums", sums)


if __name__ == "__main__":
    main(*sys.argv[1:])
