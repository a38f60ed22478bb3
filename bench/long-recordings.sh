#!/usr/bin/env bash
# Benchmark: long recordings protected in bounded memory.
# Generates, on disk, a float32 stereo 48 kHz RIFF WAV of SIZE_WAV bytes (default 3.2 GB) and a 24-bit stereo RF64
# file of SIZE_RF64 bytes (default 6 GB), protects each with `poscuda protect` under /usr/bin/time -v, prints the peak
# resident memory and the bytes the report says were read and written, then checks the output: every byte that differs
# from the source lies in the first HEAD_FRAMES frames of the data chunk, and those frames (as a short RIFF WAV) pass
# `tools/poscuda_reference.py verify`. Deletes everything afterwards.
# Usage: bench/long-recordings.sh [SIZE_WAV] [SIZE_RF64]    (BENCH_ROOT: where to write, default ./out/long-bench)
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_WAV=${1:-3200000000}
SIZE_RF64=${2:-6000000000}
ROOT=${BENCH_ROOT:-$PWD/out/long-bench}
HEAD_FRAMES=16384
trap 'rm -rf "$ROOT"' EXIT

BIN=$(scripts/publish.sh)
POSCUDA="dotnet $BIN/poscuda.dll"
rm -rf "$ROOT"; mkdir -p "$ROOT/src/rec" "$ROOT/head-src/rec" "$ROOT/head-out/rec"
$POSCUDA keyring create "$ROOT/keyring.json" >/dev/null

# make_wav PATH SIZE KIND: KIND is riff-f32 (float32 stereo) or rf64-s24 (24-bit stereo, RF64 with ds64).
make_wav() { python3 bench/make-long-wav.py "$@"; }

# head_of SRC DST: the header fields and the first HEAD_FRAMES frames as a short RIFF WAV; prints the data offset and block align.
head_of() {
  python3 - "$1" "$2" "$HEAD_FRAMES" <<'PY'
import struct, sys
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(src, "rb") as fh:
    head = fh.read(1 << 16)
pos, fmt, data = 12, None, None
while pos + 8 <= len(head) and data is None:
    cid, size = head[pos:pos + 4], struct.unpack_from("<I", head, pos + 4)[0]
    if cid == b"fmt ":
        fmt = head[pos + 8:pos + 8 + size]
    if cid == b"data":
        data = pos + 8
    pos += 8 + size + (size & 1)
align = struct.unpack_from("<H", fmt, 12)[0]
with open(src, "rb") as fh:
    fh.seek(data)
    samples = fh.read(n * align)
with open(dst, "wb") as fh:
    fh.write(b"RIFF" + struct.pack("<I", 4 + 8 + len(fmt) + 8 + len(samples)) + b"WAVE")
    fh.write(b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(samples)) + samples)
print(data, align)
PY
}

run_case() {
  local name=$1 size=$2 kind=$3
  local src="$ROOT/src/rec/$name" out="$ROOT/out"
  make_wav "$src" "$size" "$kind"
  rm -rf "$out" "$out.poscuda-state"
  /usr/bin/time -v $POSCUDA protect "$ROOT/src" "$out" --keyring "$ROOT/keyring.json" --labels dir \
    --report "$ROOT/report.json" --quiet 2>"$ROOT/time.txt" | tail -1
  local rss wall
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$ROOT/time.txt")
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$ROOT/time.txt")
  python3 - "$ROOT/report.json" "$name" "$size" "$rss" "$wall" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); t = r["transfer"]
print("%s (%.2f GB): peak RSS %.1f MB, wall %s, protected %d failed %d, read %d bytes, written %d bytes through the process"
      % (sys.argv[2], int(sys.argv[3]) / 1e9, int(sys.argv[4]) / 1024, sys.argv[5], r["totals"]["protected"], r["totals"]["failed"],
         t["bytesRead"], t["bytesWritten"]))
PY
  # Every differing byte must lie in the first HEAD_FRAMES frames of the data chunk, which the reference then checks.
  read -r data align < <(head_of "$src" "$ROOT/head-src/rec/$name")
  head_of "$out/rec/$name" "$ROOT/head-out/rec/$name" >/dev/null
  local limit=$((data + HEAD_FRAMES * align)) outside
  { cmp -l "$src" "$out/rec/$name" || true; } >"$ROOT/diff.txt"
  outside=$(awk -v lo="$data" -v hi="$limit" '$1 - 1 < lo || $1 - 1 >= hi {n++} END {print n + 0}' "$ROOT/diff.txt")
  local differing
  differing=$(wc -l <"$ROOT/diff.txt")
  echo "$name: $differing bytes differ, $outside of them outside the first $HEAD_FRAMES frames; sizes $(stat -c %s "$src") / $(stat -c %s "$out/rec/$name")"
  python3 tools/poscuda_reference.py verify "$ROOT/head-src" "$ROOT/head-out" --keyring "$ROOT/keyring.json" --labels dir | head -3
  [ "$outside" = 0 ] || { echo "FAIL: bytes changed outside the patch region" >&2; exit 1; }
  rm -f "$src" "$ROOT/head-src/rec/$name" "$ROOT/head-out/rec/$name"; rm -rf "$out" "$out.poscuda-state"
}

run_case long-f32.wav "$SIZE_WAV" riff-f32
run_case long-s24-rf64.wav "$SIZE_RF64" rf64-s24
