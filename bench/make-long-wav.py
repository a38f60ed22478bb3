#!/usr/bin/env python3
"""Writes a synthetic long WAV: make-long-wav.py PATH SIZE KIND, KIND riff-f32 (float32 stereo) or rf64-s24 (24-bit stereo RF64)."""
import math, random, struct, sys
path, size, kind = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rate, channels = 48000, 2
width, tag = (4, 3) if kind == "riff-f32" else (3, 1)
align = channels * width
rf64 = kind.startswith("rf64")
header_len = 12 + (36 if rf64 else 0) + 24 + 8
frames = (size - header_len) // align
data_len = frames * align
fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * align, align, 8 * width)
if rf64:
    head = b"RF64" + struct.pack("<I", 0xFFFFFFFF) + b"WAVE"
    head += b"ds64" + struct.pack("<IQQQI", 28, header_len + data_len - 8, data_len, frames, 0)
    head += b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", 0xFFFFFFFF)
else:
    head = b"RIFF" + struct.pack("<I", header_len + data_len - 8) + b"WAVE"
    head += b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", data_len)
assert len(head) == header_len
# A 1 s block of two tones and noise, repeated: a real signal, cheap to write.
rnd = random.Random(1)
block = bytearray()
for n in range(rate):
    for c in range(channels):
        v = 0.4 * math.sin(2 * math.pi * (440 + 110 * c) * n / rate) + 0.05 * (rnd.random() - 0.5)
        block += struct.pack("<f", v) if width == 4 else int(round(v * 8388607)).to_bytes(3, "little", signed=True)
with open(path, "wb") as fh:
    fh.write(head)
    left = data_len
    while left > 0:
        chunk = bytes(block[: min(left, len(block))])
        fh.write(chunk)
        left -= len(chunk)
print("%s: %d bytes, %d frames, data at %d" % (path, header_len + data_len, frames, header_len))
