#!/usr/bin/env python3
"""Independent reference implementation of the protection specs `poscuda-v1` and `poscuda-v2` (pure Python 3 stdlib).

Written from docs/spec.md, not from the C# code, so that the two implementations check each other.

Subcommands:
  derive        --secret-b64 S --label L [params]            print {"taps": [...], "position": n} as JSON
  protect-file  IN OUT --keyring K --label L [params]        write the expected protected file, print a summary
  verify        SRC_DIR DST_DIR --keyring K --labels RULE     compare a protected tree with the reference
  labels        --labels RULE [KEY ...]                      print each key's label, or a csv: rule's table, as JSON

Parameters: --spec poscuda-v1|poscuda-v2 (poscuda-v1).
  poscuda-v1: --taps K (80) --blur B (0.01) --window W (4000) --patch P (240) --mode positional|whole.
  poscuda-v2: --code-slots S (8) --code-weight w (4) --code-fmin Hz (0) --code-fmax Hz (4000)
              --code-snr dB (21) --code-depth d (0.99).
Label rules: 'dir', 'regex:PATTERN' (.NET syntax, named group 'label', searched in the relative key), 'csv:PATH'.
"""

import argparse
import base64
import hashlib
import hmac
import json
import math
import operator
import os
import re
import stat
import struct
import sys
from functools import reduce

SPEC = "poscuda-v1"
SPEC_V2 = "poscuda-v2"
KEYRING_FORMAT = "poscuda-keyring/1"

# ---------------------------------------------------------------------------------------------------------------
# Derivation
# ---------------------------------------------------------------------------------------------------------------


def hkdf_expand_sha256(prk, info, length):
    """RFC 5869 section 2.3, HKDF-Expand with HMAC-SHA256."""
    if length > 255 * 32:
        raise ValueError("HKDF-Expand length too large")
    out = b""
    block = b""
    counter = 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def to_float32(value):
    """Rounds a float64 to the nearest float32 (ties to even), returned as a Python float."""
    try:
        return struct.unpack("<f", struct.pack("<f", value))[0]
    except OverflowError:
        return math.copysign(math.inf, value)


def derive(secret, label, taps=80, blur=0.01, window=4000, patch=240):
    """Returns (taps as float32 values in Python floats, position) for one class label."""
    if len(secret) != 32:
        raise ValueError("a key secret is 32 bytes")
    label_bytes = label.encode("utf-8")  # exact UTF-8; lone surrogates raise
    class_key = hmac.new(secret, b"poscuda/v1/class/" + label_bytes, hashlib.sha256).digest()
    tap_bytes = hkdf_expand_sha256(class_key, b"poscuda/v1/filter", 4 * taps)
    pos_bytes = hkdf_expand_sha256(class_key, b"poscuda/v1/position", 8)
    f = []
    for j in range(taps):
        u = int.from_bytes(tap_bytes[4 * j:4 * j + 4], "little")
        f.append(to_float32(blur * u / 4294967296.0))
    position = int.from_bytes(pos_bytes, "little") % (window - patch + 1)
    return f, position


def float32_bits(value):
    return struct.unpack("<I", struct.pack("<f", value))[0]


# ---------------------------------------------------------------------------------------------------------------
# WAV parsing (RIFF chunk walk)
# ---------------------------------------------------------------------------------------------------------------


class WavError(Exception):
    pass


class Layout:
    """Where the samples are: kind is 'u8', 'int' or 'float'; width is the container size in bytes."""

    def __init__(self, kind, channels, width, block_align, data_offset, data_length, rate=0):
        self.kind = kind
        self.rate = rate
        self.channels = channels
        self.width = width
        self.block_align = block_align
        self.data_offset = data_offset
        self.data_length = data_length
        self.frames = data_length // block_align


def parse_wav(data):
    rf64 = data[0:4] in (b"RF64", b"BW64")
    if len(data) < 12 or not (data[0:4] == b"RIFF" or rf64) or data[8:12] != b"WAVE":
        raise WavError("not a RIFF WAVE file")
    pos = 12
    fmt = None
    data_chunk = None
    ds64_data_size = None
    if rf64:
        # RF64/BW64: a ds64 chunk first; a 32-bit size of 0xFFFFFFFF on data means "see ds64".
        if data[12:16] != b"ds64" or int.from_bytes(data[16:20], "little") < 28 or len(data) < 48:
            raise WavError("RF64 file without a ds64 chunk first")
        ds64_data_size = int.from_bytes(data[28:36], "little")
    while pos + 8 <= len(data):
        cid = data[pos:pos + 4]
        size = int.from_bytes(data[pos + 4:pos + 8], "little")
        if rf64 and cid == b"data" and size == 0xFFFFFFFF:
            size = ds64_data_size
        body = pos + 8
        if cid == b"fmt ":
            if fmt is not None:
                raise WavError("two fmt chunks")
            if size < 16 or body + size > len(data):
                raise WavError("bad fmt chunk")
            fmt = data[body:body + size]
        elif cid == b"data":
            if data_chunk is not None:
                raise WavError("two data chunks")
            if body + size > len(data):
                raise WavError("data chunk runs past the end of the file")
            data_chunk = (body, size)
        pos = body + size + (size & 1)
    if fmt is None or data_chunk is None:
        raise WavError("missing fmt or data chunk")
    tag, channels, rate, _byte_rate, block_align, bits = struct.unpack_from("<HHIIHH", fmt, 0)
    if tag == 0xFFFE:
        if len(fmt) < 40:
            raise WavError("short WAVE_FORMAT_EXTENSIBLE fmt chunk")
        tag = int.from_bytes(fmt[24:26], "little")  # first two bytes of the sub-format GUID
    if channels < 1 or block_align < 1 or block_align % channels != 0:
        raise WavError("bad channels/blockAlign")
    width = block_align // channels  # B is the container size, whatever bits/valid-bits say
    if tag == 1:
        if width == 1:
            kind = "u8"
        elif width in (2, 3, 4):
            kind = "int"
        else:
            raise WavError("unsupported PCM width %d" % width)
    elif tag == 3:
        if width not in (4, 8):
            raise WavError("unsupported float width %d" % width)
        kind = "float"
    else:
        raise WavError("unsupported format tag 0x%04x" % tag)
    offset, length = data_chunk
    if length % block_align != 0:
        raise WavError("data size is not a multiple of blockAlign")
    return Layout(kind, channels, width, block_align, offset, length, rate)


# ---------------------------------------------------------------------------------------------------------------
# Sample codec
# ---------------------------------------------------------------------------------------------------------------


def sample_offset(layout, frame, channel):
    return layout.data_offset + frame * layout.block_align + channel * layout.width


def read_raw(data, layout, frame, channel):
    """The stored sample: an int (u8 raw 0..255, signed ints) or a float."""
    o = sample_offset(layout, frame, channel)
    w = layout.width
    if layout.kind == "u8":
        return data[o]
    if layout.kind == "int":
        return int.from_bytes(data[o:o + w], "little", signed=True)
    return struct.unpack_from("<f" if w == 4 else "<d", data, o)[0]


def to_unit(layout, raw):
    if layout.kind == "u8":
        return (raw - 128) / 128.0
    if layout.kind == "int":
        return raw / float(1 << (8 * layout.width - 1))
    return float(raw)


def decode_channel(data, layout, channel, first, count):
    """Frames [first, first + count) of one channel as float64; frames outside [0, N) are 0."""
    out = [0.0] * count
    lo = max(first, 0)
    hi = min(first + count, layout.frames)
    if hi <= lo:
        return out
    n = hi - lo
    start = sample_offset(layout, lo, 0)
    end = start + n * layout.block_align
    w = layout.width
    if layout.kind == "int" and w in (2, 4):
        allv = struct.unpack_from("<%d%s" % (n * layout.channels, "h" if w == 2 else "i"), data, start)
        scale = float(1 << (8 * w - 1))
        vals = [v / scale for v in allv[channel::layout.channels]]
    elif layout.kind == "float":
        allv = struct.unpack_from("<%d%s" % (n * layout.channels, "f" if w == 4 else "d"), data, start)
        vals = list(allv[channel::layout.channels])
    elif layout.kind == "u8":
        vals = [(v - 128) / 128.0 for v in data[start + channel:end:layout.block_align]]
    else:
        vals = [to_unit(layout, read_raw(data, layout, f, channel)) for f in range(lo, hi)]
    out[lo - first:hi - first] = vals
    return out


def round_half_away(v):
    t = math.trunc(v)  # exact: v - t is representable
    if abs(v - t) >= 0.5:
        t += 1 if v > 0 else -1
    return int(t)


def quantise(layout, y):
    """The value stored for y and whether it was clamped (or, for float, beyond full scale)."""
    if layout.kind == "u8":
        q = round_half_away(y * 128.0) + 128
        if q < 0:
            return 0, True
        if q > 255:
            return 255, True
        return q, False
    if layout.kind == "int":
        bits = 8 * layout.width
        q = round_half_away(y * float(1 << (bits - 1)))
        lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        if q < lo:
            return lo, True
        if q > hi:
            return hi, True
        return q, False
    clipped = not (-1.0 <= y <= 1.0) and not math.isnan(y)
    return y, clipped


def write_raw(buf, layout, frame, channel, value):
    o = sample_offset(layout, frame, channel)
    w = layout.width
    if layout.kind == "u8":
        buf[o] = value
    elif layout.kind == "int":
        buf[o:o + w] = value.to_bytes(w, "little", signed=True)
    elif w == 4:
        buf[o:o + 4] = struct.pack("<f", to_float32(value))
    else:
        buf[o:o + 8] = struct.pack("<d", value)


# ---------------------------------------------------------------------------------------------------------------
# Applying the patch
# ---------------------------------------------------------------------------------------------------------------

if sys.version_info >= (3, 12):
    # sum() of floats is compensated from 3.12 on; the spec sums j in order with plain float64 additions.
    def dot(taps, window):
        return reduce(operator.add, map(operator.mul, taps, window), 0.0)
else:
    def dot(taps, window):
        return sum(map(operator.mul, taps, window), 0.0)


def patch_range(frames, position, patch, mode):
    if mode == "whole":
        return 0, frames
    if frames <= patch:
        return 0, frames
    return min(position, frames - patch), patch


def reference_patch(data, layout, taps, start, length):
    """Expected y[n] for every channel: a list per channel of length `length`, in float64."""
    k = len(taps)
    h = (k - 1) // 2
    result = []
    for ch in range(layout.channels):
        x = decode_channel(data, layout, ch, start - h, length + k - 1)
        result.append([dot(taps, x[i:i + k]) for i in range(length)])
    return result


def protect_bytes_v2(data, code, params):
    """Returns (protected bytes, start, length, clipped) under poscuda-v2."""
    layout = parse_wav(data)
    out = bytearray(data)
    clipped = 0
    for ch, y in enumerate(reference_v2(data, layout, code, params)):
        for i, v in enumerate(y):
            q, c = quantise(layout, v)
            clipped += c
            write_raw(out, layout, i, ch, q)
    return bytes(out), 0, layout.frames, clipped


def protect_bytes(data, taps, position, patch, mode):
    """Returns (protected bytes, start, length, clipped)."""
    layout = parse_wav(data)
    start, length = patch_range(layout.frames, position, patch, mode)
    out = bytearray(data)
    clipped = 0
    ys = reference_patch(data, layout, taps, start, length)
    for ch, y in enumerate(ys):
        for i, v in enumerate(y):
            q, c = quantise(layout, v)
            clipped += c
            write_raw(out, layout, start + i, ch, q)
    return bytes(out), start, length, clipped


# ---------------------------------------------------------------------------------------------------------------
# poscuda-v2: the keyed spectral code (docs/spec.md)
# ---------------------------------------------------------------------------------------------------------------

V2_GROUP_FRAMES = 512


def derive_v2(secret, label, slots=8, weight=4):
    """Returns the class's code: `weight` slot indices in ascending order."""
    if len(secret) != 32:
        raise ValueError("a key secret is 32 bytes")
    class_key = hmac.new(secret, b"poscuda/v2/class/" + label.encode("utf-8"), hashlib.sha256).digest()
    code_bytes = hkdf_expand_sha256(class_key, b"poscuda/v2/code", 4 * slots)
    order = list(range(slots))
    for i in range(slots - 1, 0, -1):
        j = int.from_bytes(code_bytes[4 * i:4 * i + 4], "little") % (i + 1)
        order[i], order[j] = order[j], order[i]
    return sorted(order[:weight])


def v2_frame_length(rate):
    """The smallest power of two >= ceil(0.032 * rate)."""
    wanted = max(2, (32 * rate + 999) // 1000)
    n = 1
    while n < wanted:
        n *= 2
    return n


def mel(hertz):
    return 2595.0 * math.log10(1.0 + hertz / 700.0)


class Fft:
    """Iterative radix-2 decimation-in-time FFT, operation for operation as docs/spec.md writes it."""

    def __init__(self, n):
        self.n = n
        self.cos = [math.cos(2.0 * math.pi * j / n) for j in range(n // 2)]
        self.sin = [math.sin(2.0 * math.pi * j / n) for j in range(n // 2)]
        bits = n.bit_length() - 1
        self.rev = [int(format(i, "0%db" % bits)[::-1], 2) if bits else 0 for i in range(n)]

    def transform(self, re, im, inverse):
        n = self.n
        for i in range(n):
            j = self.rev[i]
            if j > i:
                re[i], re[j] = re[j], re[i]
                im[i], im[j] = im[j], im[i]
        sign = 1.0 if inverse else -1.0
        cos, sin = self.cos, self.sin
        size = 2
        while size <= n:
            half = size // 2
            step = n // size
            for start in range(0, n, size):
                for j in range(half):
                    wr = cos[j * step]
                    wi = sign * sin[j * step]
                    a = start + j
                    b = a + half
                    tr = wr * re[b] - wi * im[b]
                    ti = wr * im[b] + wi * re[b]
                    re[b] = re[a] - tr
                    im[b] = im[a] - ti
                    re[a] = re[a] + tr
                    im[a] = im[a] + ti
            size *= 2
        if inverse:
            scale = 1.0 / n
            for i in range(n):
                re[i] *= scale
                im[i] *= scale


def water_level(values, budget):
    values = sorted(values)
    rest = budget
    count = len(values)
    for i in range(count):
        level = rest / (count - i)
        if values[i] >= level:
            return level
        rest -= values[i]
    return math.inf


def v2_perturbation(x, rate, code, slots=8, fmin=0.0, fmax=4000.0, snr=21.0, depth=0.99):
    """What poscuda-v2 adds to one channel x (a list of float64)."""
    n = len(x)
    p = [0.0] * n
    L = v2_frame_length(rate)
    H = L // 2
    half = L // 2
    fft = Fft(L)
    window = [math.sqrt(0.5 - 0.5 * math.cos(2.0 * math.pi * i / L)) for i in range(L)]
    lo, hi = float(fmin), min(float(fmax), rate / 2.0)
    bins, cells_of = [], []
    if hi > lo:
        mlo, mhi = mel(lo), mel(hi)
        for k in range(half + 1):
            f = k * rate / L
            if f < lo or f >= hi:
                continue
            slot = math.floor(slots * (mel(f) - mlo) / (mhi - mlo))
            if slot in code:
                bins.append(k)
                cells_of.append(code.index(slot))
    if n == 0 or not bins:
        return p
    bin_index = {k: b for b, k in enumerate(bins)}
    w = len(code)
    budget_fraction = math.pow(10.0, -snr / 10.0)
    d2 = depth * depth
    frame_count = (n + H - 1) // H + 1
    def load(t):
        start = (t - 1) * H
        return [x[start + i] * window[i] if 0 <= start + i < n else 0.0 for i in range(L)]

    def add(q, t):
        start = (t - 1) * H
        for i in range(L):
            m = start + i
            if 0 <= m < n:
                p[m] += window[i] * q[i]

    for first in range(0, frame_count, V2_GROUP_FRAMES):
        frames = min(V2_GROUP_FRAMES, frame_count - first)
        total = 0.0
        cells = [0.0] * (frames * w)
        coded = [None] * frames
        # Analysis: frames f and f+1 as the real and imaginary parts of one transform.
        for f in range(0, frames, 2):
            pair = f + 1 < frames
            re = load(first + f)
            im = load(first + f + 1) if pair else [0.0] * L
            fft.transform(re, im, False)
            for g in ((f, True), (f + 1, False)) if pair else ((f, True),):
                t, is_real = g
                energy = 0.0
                row = []
                for k in range(half + 1):
                    m = (L - k) % L
                    if is_real:
                        xr = 0.5 * (re[k] + re[m])
                        xi = 0.5 * (im[k] - im[m])
                    else:
                        xr = 0.5 * (im[k] + im[m])
                        xi = 0.5 * (re[m] - re[k])
                    power = xr * xr + xi * xi
                    weighted = power if k == 0 or k == half else 2.0 * power
                    energy += weighted
                    if k in bin_index:
                        b = bin_index[k]
                        cells[t * w + cells_of[b]] += weighted
                        row.append((xr, xi))
                total += energy
                coded[t] = row
        level = water_level([d2 * e for e in cells], budget_fraction * total)

        def gain(energy):
            return depth if energy == 0 or d2 * energy <= level else math.sqrt(level / energy)

        # Synthesis: W = Q_f + i Q_(f+1), one inverse transform per pair.
        for f in range(0, frames, 2):
            pair = f + 1 < frames
            re = [0.0] * L
            im = [0.0] * L
            for b, k in enumerate(bins):
                ga = gain(cells[f * w + cells_of[b]])
                ar = -(ga * coded[f][b][0])
                ai = -(ga * coded[f][b][1])
                br = bi = 0.0
                if pair:
                    gb = gain(cells[(f + 1) * w + cells_of[b]])
                    br = -(gb * coded[f + 1][b][0])
                    bi = -(gb * coded[f + 1][b][1])
                re[k] = ar - bi
                im[k] = ai + br
                if k != 0 and k != half:
                    re[L - k] = ar + bi
                    im[L - k] = br - ai
            fft.transform(re, im, True)
            add(re, first + f)
            if pair:
                add(im, first + f + 1)
    return p


def reference_v2(data, layout, code, params):
    """Expected y[n] for every channel (whole clip), in float64, with the keep-the-original rule applied."""
    result = []
    for ch in range(layout.channels):
        x = decode_channel(data, layout, ch, 0, layout.frames)
        p = v2_perturbation(x, layout.rate, code, **params)
        y = []
        for i in range(layout.frames):
            v = x[i] + p[i]
            if layout.kind == "float":
                in_range = -1.0 <= v <= 1.0  # NaN is not in range either
            else:
                in_range = not quantise(layout, v)[1]
            y.append(v if in_range else x[i])
        result.append(y)
    return result


def v2_params(args):
    return {"slots": args.code_slots, "fmin": args.code_fmin, "fmax": args.code_fmax,
            "snr": args.code_snr, "depth": args.code_depth}


# ---------------------------------------------------------------------------------------------------------------
# Keyring and labels
# ---------------------------------------------------------------------------------------------------------------


def load_keyring_secret(path, version=None):
    mode = stat.S_IMODE(os.stat(path).st_mode)
    if mode & 0o077:
        raise SystemExit("keyring %s is readable by group or others (mode %04o); run chmod 600" % (path, mode))
    with open(path, "rb") as fh:
        doc = json.load(fh)
    if doc.get("format") != KEYRING_FORMAT:
        raise SystemExit("keyring %s: format is not %s" % (path, KEYRING_FORMAT))
    want = doc["active"] if version is None else version
    for v in doc["versions"]:
        if v["version"] == want:
            secret = base64.b64decode(v["secret"], validate=True)
            if len(secret) != 32:
                raise SystemExit("keyring %s: version %d secret is not 32 bytes" % (path, want))
            return secret, want
    raise SystemExit("keyring %s has no version %s" % (path, want))


def dotnet_regex_to_python(pattern):
    """Translates .NET named groups (?<name>...) and \\k<name> to Python syntax; lookbehinds are left alone."""
    pattern = re.sub(r"\(\?<(?![=!])([A-Za-z_][A-Za-z0-9_]*)>", r"(?P<\1>", pattern)
    pattern = re.sub(r"\(\?'([A-Za-z_][A-Za-z0-9_]*)'", r"(?P<\1>", pattern)
    return re.sub(r"\\k<([A-Za-z_][A-Za-z0-9_]*)>", r"(?P=\1)", pattern)


class LabelFileError(ValueError):
    """A label CSV file breaks one of the rules of read_label_csv."""


def read_label_csv(data):
    """Reads a label CSV file's bytes into {key: label}, by the rules the C# CsvLabelRule documents.

    UTF-8 (invalid bytes refused), one leading BOM ignored; records end with LF or CRLF (a CR outside quotes not
    followed by LF is refused); exactly two fields, key and label (a third is refused); a field may be enclosed in
    double quotes ("" is one quote, CR/LF/commas literal inside), a quote inside an unquoted field or anything but a
    comma or the record's end after a closing quote is refused, as is an unclosed quote; a first record exactly
    'key,label' is a header; empty lines are skipped; no trimming; empty key or label, a key listed twice and NUL are
    refused. Written by hand rather than with the csv module, whose dialect is more forgiving than this.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise LabelFileError("the file is not valid UTF-8")
    if text.startswith("\ufeff"):
        text = text[1:]
    n = len(text)
    pos = 0
    line = 1
    labels = {}
    first = True

    def at_line_end(i):
        return text[i] == "\n" or (text[i] == "\r" and i + 1 < n and text[i + 1] == "\n")

    while pos < n:
        if at_line_end(pos):  # an empty line
            pos += 2 if text[pos] == "\r" else 1
            line += 1
            continue
        start_line = line
        fields = []
        while True:
            field = []
            quoted = text[pos] == '"' if pos < n else False
            if quoted:
                pos += 1
                while True:
                    if pos >= n:
                        raise LabelFileError("line %d: a quoted field is not closed before the end of the file" % start_line)
                    c = text[pos]
                    pos += 1
                    if c == '"':
                        if pos < n and text[pos] == '"':
                            field.append('"')
                            pos += 1
                            continue
                        break
                    if c == "\0":
                        raise LabelFileError("line %d holds a NUL character" % line)
                    if c == "\n":
                        line += 1
                    field.append(c)
            else:
                while pos < n and text[pos] not in ",\r\n":
                    c = text[pos]
                    if c == "\0":
                        raise LabelFileError("line %d holds a NUL character" % line)
                    if c == '"':
                        raise LabelFileError("line %d: a quote inside an unquoted field" % line)
                    field.append(c)
                    pos += 1
            fields.append("".join(field))
            if pos >= n:
                break
            if text[pos] == ",":
                pos += 1
                continue
            if at_line_end(pos):
                pos += 2 if text[pos] == "\r" else 1
                line += 1
                break
            if quoted:
                raise LabelFileError("line %d: only a comma or the end of the line may follow a closing quote" % line)
            raise LabelFileError("line %d: a carriage return must be followed by a line feed" % line)
        if len(fields) != 2:
            raise LabelFileError("line %d has %d fields; expected 2 (key,label)" % (start_line, len(fields)))
        key, label = fields
        if first and key == "key" and label == "label":
            first = False
            continue
        first = False
        if not key or not label:
            raise LabelFileError("line %d has an empty key or label" % start_line)
        if key in labels:
            raise LabelFileError("key %r is listed twice (line %d)" % (key, start_line))
        labels[key] = label
    return labels


def label_resolver(rule):
    if rule == "dir":
        def by_dir(key):
            # The parent segment; none for a top-level key, nor for '' ('a//b.wav'), '.' or '..'.
            parts = key.split("/")
            return parts[-2] if len(parts) >= 2 and parts[-2] not in ("", ".", "..") else None
        return by_dir
    if rule.startswith("regex:"):
        rx = re.compile(dotnet_regex_to_python(rule[len("regex:"):]))
        if "label" not in rx.groupindex:
            raise SystemExit("the label regex needs a named group 'label'")

        def by_regex(key):
            m = rx.search(key)
            return m.group("label") if m and m.group("label") else None
        return by_regex
    if rule.startswith("csv:"):
        with open(rule[len("csv:"):], "rb") as fh:
            try:
                table = read_label_csv(fh.read())
            except LabelFileError as e:
                raise SystemExit("label rule %r: %s" % (rule, e))
        return table.get
    raise SystemExit("unknown label rule %r (dir | regex:PATTERN | csv:PATH)" % rule)


def cmd_labels(args):
    """Prints a label CSV's table, or each given key's label, as JSON: {"labels": {...}} or {"error": "..."}."""
    if args.keys:
        resolve = label_resolver(args.labels)
        print(json.dumps({"labels": {key: resolve(key) for key in args.keys}}))
        return 0
    if not args.labels.startswith("csv:"):
        raise SystemExit("without keys, labels prints a csv: rule's table")
    with open(args.labels[len("csv:"):], "rb") as fh:
        try:
            print(json.dumps({"labels": read_label_csv(fh.read())}))
        except LabelFileError as e:
            print(json.dumps({"error": str(e)}))
    return 0


# ---------------------------------------------------------------------------------------------------------------
# Verification
# ---------------------------------------------------------------------------------------------------------------


def compare(src, dst, layout, ys, start, length, stats):
    """Compares one output with the reference; returns a list of problems (empty when it agrees)."""
    problems = []
    stats["samples"] += length * layout.channels
    if len(src) != len(dst):
        return ["length %d != %d" % (len(dst), len(src))]
    a = layout.data_offset + start * layout.block_align
    b = a + length * layout.block_align
    if src[:a] != dst[:a] or src[b:] != dst[b:]:
        first = next(i for i in range(len(src)) if (i < a or i >= b) and src[i] != dst[i])
        problems.append("byte %d outside the patch changed" % first)
    for ch, y in enumerate(ys):
        for i, v in enumerate(y):
            got = read_raw(dst, layout, start + i, ch)
            if layout.kind == "float":
                want = to_float32(v) if layout.width == 4 else v
                if math.isnan(want) and math.isnan(got):
                    continue
                diff = abs(got - want)
                rel = diff / max(abs(want), 1e-300)
                stats["max_rel"] = max(stats["max_rel"], rel if diff > 1e-12 else 0.0)
                if diff > 1e-6 * abs(want) + 1e-12:
                    problems.append("frame %d channel %d: %r != %r" % (start + i, ch, got, want))
            else:
                want, _ = quantise(layout, v)
                diff = abs(got - want)
                stats["max_lsb"] = max(stats["max_lsb"], diff)
                if diff > 1:
                    problems.append("frame %d channel %d: %d != %d" % (start + i, ch, got, want))
            if len(problems) > 5:
                return problems
    return problems


def cmd_verify(args):
    secret, version = load_keyring_secret(args.keyring, args.key_version)
    resolve = label_resolver(args.labels)
    patches = {}
    stats = {"files": 0, "samples": 0, "max_lsb": 0, "max_rel": 0.0}
    mismatches = 0
    skipped = 0
    for root, dirs, files in os.walk(args.src_dir):
        dirs.sort()
        for name in sorted(files):
            if not name.lower().endswith(".wav"):
                continue
            path = os.path.join(root, name)
            key = os.path.relpath(path, args.src_dir).replace(os.sep, "/")
            label = resolve(key)
            if label is None:
                skipped += 1
                print("skip %s: no label" % key, file=sys.stderr)
                continue
            with open(path, "rb") as fh:
                src = fh.read()
            try:
                layout = parse_wav(src)
            except WavError as e:
                skipped += 1
                print("skip %s: invalid source (%s)" % (key, e), file=sys.stderr)
                continue
            out_path = os.path.join(args.dst_dir, *key.split("/"))
            if not os.path.isfile(out_path):
                mismatches += 1
                print("MISSING %s" % key)
                continue
            with open(out_path, "rb") as fh:
                dst = fh.read()
            if args.spec == SPEC_V2:
                if label not in patches:
                    patches[label] = derive_v2(secret, label, args.code_slots, args.code_weight)
                start, length = 0, layout.frames
                ys = reference_v2(src, layout, patches[label], v2_params(args))
            else:
                if label not in patches:
                    patches[label] = derive(secret, label, args.taps, args.blur, args.window, args.patch)
                taps, position = patches[label]
                start, length = patch_range(layout.frames, position, args.patch, args.mode)
                ys = reference_patch(src, layout, taps, start, length)
            stats["files"] += 1
            problems = compare(src, dst, layout, ys, start, length, stats)
            if problems:
                mismatches += 1
                print("MISMATCH %s (label %r): %s" % (key, label, "; ".join(problems[:5])))
    print("checked %d files, %d patched samples, max diff %d LSB, mismatches %d"
          % (stats["files"], stats["samples"], stats["max_lsb"], mismatches))
    if stats["max_rel"] > 0:
        print("float samples: max relative diff %.3g" % stats["max_rel"])
    if skipped:
        print("skipped %d source files (no label or not a supported WAV)" % skipped)
    print("key version %d, %d classes" % (version, len(patches)))
    return 1 if mismatches or stats["files"] == 0 else 0


def cmd_derive(args):
    secret = base64.b64decode(args.secret_b64, validate=True)
    if args.spec == SPEC_V2:
        print(json.dumps({"code": derive_v2(secret, args.label, args.code_slots, args.code_weight)}))
        return 0
    taps, position = derive(secret, args.label, args.taps, args.blur, args.window, args.patch)
    doc = {"taps": taps, "position": position}
    if args.bits:
        doc["tapBits"] = ["%08x" % float32_bits(t) for t in taps]
        doc["tapsSha256"] = hashlib.sha256(b"".join(struct.pack("<f", t) for t in taps)).hexdigest()
    print(json.dumps(doc))
    return 0


def cmd_protect_file(args):
    secret, version = load_keyring_secret(args.keyring, args.key_version)
    with open(args.input, "rb") as fh:
        data = fh.read()
    if args.spec == SPEC_V2:
        code = derive_v2(secret, args.label, args.code_slots, args.code_weight)
        position = None
        out, start, length, clipped = protect_bytes_v2(data, code, v2_params(args))
    else:
        taps, position = derive(secret, args.label, args.taps, args.blur, args.window, args.patch)
        out, start, length, clipped = protect_bytes(data, taps, position, args.patch, args.mode)
    with open(args.output, "wb") as fh:
        fh.write(out)
    print(json.dumps({"keyVersion": version, "position": position, "patchStart": start, "patchLength": length,
                      "clippedSamples": clipped, "sha256": hashlib.sha256(out).hexdigest()}))
    return 0


def add_params(p):
    p.add_argument("--taps", type=int, default=80, help="k, filter taps (1..2040)")
    p.add_argument("--blur", type=float, default=0.01, help="b, blur factor (> 0)")
    p.add_argument("--window", type=int, default=4000, help="W, position window in samples")
    p.add_argument("--patch", type=int, default=240, help="p, patch length in samples")
    p.add_argument("--spec", choices=(SPEC, SPEC_V2), default=SPEC, help="the spec version")
    p.add_argument("--code-slots", type=int, default=8, help="poscuda-v2: S, mel-spaced slots")
    p.add_argument("--code-weight", type=int, default=4, help="poscuda-v2: w, slots per class code")
    p.add_argument("--code-fmin", type=float, default=0.0, help="poscuda-v2: lowest frequency, Hz")
    p.add_argument("--code-fmax", type=float, default=4000.0, help="poscuda-v2: highest frequency, Hz")
    p.add_argument("--code-snr", type=float, default=21.0, help="poscuda-v2: target SNR, dB")
    p.add_argument("--code-depth", type=float, default=0.99, help="poscuda-v2: largest attenuation factor")


def check_params(args):
    if not 1 <= args.taps <= 2040:
        raise SystemExit("--taps must be in 1..2040")
    if args.patch < 1:
        raise SystemExit("--patch must be >= 1")
    if not (math.isfinite(args.blur) and args.blur > 0):
        raise SystemExit("--blur must be finite and > 0")
    if args.window < args.patch:
        raise SystemExit("--window must be >= --patch")
    if not 2 <= args.code_slots <= 256 or not 1 <= args.code_weight < args.code_slots:
        raise SystemExit("--code-slots must be in 2..256 and --code-weight in 1..slots-1")
    if not (0 <= args.code_fmin < args.code_fmax) or not (0 <= args.code_snr <= 120) or not (0 < args.code_depth <= 1):
        raise SystemExit("need 0 <= --code-fmin < --code-fmax, --code-snr in [0, 120], --code-depth in (0, 1]")


def main(argv=None):
    parser = argparse.ArgumentParser(description="Reference implementation of %s and %s" % (SPEC, SPEC_V2))
    sub = parser.add_subparsers(dest="command", required=True)

    d = sub.add_parser("derive", help="derive one class's taps and position")
    d.add_argument("--secret-b64", required=True)
    d.add_argument("--label", required=True)
    d.add_argument("--bits", action="store_true", help="also print the float32 bit patterns and their SHA-256")
    add_params(d)
    d.set_defaults(func=cmd_derive)

    pf = sub.add_parser("protect-file", help="write the expected protected file")
    pf.add_argument("input")
    pf.add_argument("output")
    pf.add_argument("--keyring", required=True)
    pf.add_argument("--key-version", type=int)
    pf.add_argument("--label", required=True)
    pf.add_argument("--mode", choices=("positional", "whole"), default="positional")
    add_params(pf)
    pf.set_defaults(func=cmd_protect_file)

    v = sub.add_parser("verify", help="check a protected tree against the reference")
    v.add_argument("src_dir")
    v.add_argument("dst_dir")
    v.add_argument("--keyring", required=True)
    v.add_argument("--key-version", type=int)
    v.add_argument("--labels", required=True, help="dir | regex:PATTERN | csv:PATH")
    v.add_argument("--mode", choices=("positional", "whole"), default="positional")
    add_params(v)
    v.set_defaults(func=cmd_verify)

    lb = sub.add_parser("labels", help="print what a label rule makes of keys (or a label CSV's whole table)")
    lb.add_argument("--labels", required=True, help="dir | regex:PATTERN | csv:PATH")
    lb.add_argument("keys", nargs="*")
    lb.set_defaults(func=cmd_labels)

    args = parser.parse_args(argv)
    if args.command != "labels":
        check_params(args)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
