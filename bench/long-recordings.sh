#!/usr/bin/env bash
# Benchmark: long recordings protected in bounded memory.
# Generates, on disk, a float32 stereo 48 kHz RIFF WAV of SIZE_WAV bytes (default 3.2 GB) and a 24-bit stereo RF64
# file of SIZE_RF64 bytes (default 6 GB), protects each with `poscuda protect` under /usr/bin/time -v, prints the peak
# resident memory and the bytes the report says were read and written, then checks the output: every byte that differs
# from the source lies in the first HEAD_FRAMES frames of the data chunk, and those frames (as a short RIFF WAV) pass
# `tools/poscuda_reference.py verify`.
# Then the streamed specs, which change every sample, on the same kind of float32 stereo WAV (SIZE_WAV): poscuda-v2 and
# poscuda-v1 `--mode whole`, each under /usr/bin/time -v. Checking 3.2 GB with the pure-Python reference would take
# days, so each is checked in two links: the file's first frames (three v2 groups; 16,384 frames for v1, whose
# reference convolution is slower) cut out as a short WAV are protected by the same tool and pass the reference's
# verify; and the long output's first frames equal that short output's, byte for byte, up to where the short clip's
# own end reaches back (v2: its last hop, which the next group would complete; v1: the filter's k-1-h frames).
# Headers and sizes must be equal. Deletes everything afterwards.
# Usage: bench/long-recordings.sh [SIZE_WAV] [SIZE_RF64]    (BENCH_ROOT: where to write, default ./out/long-bench;
#        CASES: which to run, default "positional rf64 v2 whole")
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_WAV=${1:-3200000000}
SIZE_RF64=${2:-6000000000}
ROOT=${BENCH_ROOT:-$PWD/out/long-bench}
HEAD_FRAMES=16384
CASES=${CASES:-positional rf64 v2 whole}
trap 'rm -rf "$ROOT"' EXIT

BIN=$(scripts/publish.sh)
POSCUDA="dotnet $BIN/poscuda.dll"
rm -rf "$ROOT"; mkdir -p "$ROOT/src/rec" "$ROOT/head-src/rec" "$ROOT/head-out/rec"
$POSCUDA keyring create "$ROOT/keyring.json" >/dev/null

# make_wav PATH SIZE KIND: KIND is riff-f32 (float32 stereo) or rf64-s24 (24-bit stereo, RF64 with ds64).
make_wav() { python3 bench/make-long-wav.py "$@"; }

# head_of SRC DST [FRAMES]: the header fields and the first FRAMES (default HEAD_FRAMES) frames as a short RIFF WAV;
# prints the data offset and block align.
head_of() {
  python3 - "$1" "$2" "${3:-$HEAD_FRAMES}" <<'PY'
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

# run_stream_case NAME HEAD SAME -- PROTECT_ARGS -- REFERENCE_ARGS: protects $ROOT/src (the long float32 WAV), then
# checks the first SAME frames of the output against the protect of its first HEAD frames, which the reference verifies.
run_stream_case() {
  local name=$1 head=$2 same=$3; shift 4
  local args=() ref=()
  while [ "$1" != -- ]; do args+=("$1"); shift; done; shift
  ref=("$@")
  local src="$ROOT/src/rec/long-f32.wav" out="$ROOT/out"
  rm -rf "$out" "$out.poscuda-state" "$ROOT/head-src" "$ROOT/head-out" "$ROOT/head-big"
  mkdir -p "$ROOT/head-src/rec" "$ROOT/head-big/rec"
  /usr/bin/time -v $POSCUDA protect "$ROOT/src" "$out" --keyring "$ROOT/keyring.json" --labels dir "${args[@]}" \
    --report "$ROOT/report.json" --quiet 2>"$ROOT/time.txt" | tail -1
  local rss wall
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$ROOT/time.txt")
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$ROOT/time.txt")
  python3 - "$ROOT/report.json" "$name" "$(stat -c %s "$src")" "$rss" "$wall" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); t = r["transfer"]
print("%s (%.2f GB): peak RSS %.1f MB, wall %s, protected %d failed %d, read %d bytes, written %d bytes through the process"
      % (sys.argv[2], int(sys.argv[3]) / 1e9, int(sys.argv[4]) / 1024, sys.argv[5], r["totals"]["protected"], r["totals"]["failed"],
         t["bytesRead"], t["bytesWritten"]))
PY
  read -r data align < <(head_of "$src" "$ROOT/head-src/rec/long-f32.wav" "$head")
  head_of "$out/rec/long-f32.wav" "$ROOT/head-big/rec/long-f32.wav" "$head" >/dev/null
  $POSCUDA protect "$ROOT/head-src" "$ROOT/head-out" --keyring "$ROOT/keyring.json" --labels dir "${args[@]}" --quiet | tail -1
  python3 tools/poscuda_reference.py verify "$ROOT/head-src" "$ROOT/head-out" --keyring "$ROOT/keyring.json" --labels dir "${ref[@]}" | head -3
  python3 - "$src" "$out/rec/long-f32.wav" "$ROOT/head-out/rec/long-f32.wav" "$ROOT/head-big/rec/long-f32.wav" "$data" "$align" "$same" <<'PY'
import os, sys
src, out, short, big = sys.argv[1:5]; data, align, same = map(int, sys.argv[5:8])
assert os.path.getsize(src) == os.path.getsize(out), "sizes differ"
with open(src, "rb") as a, open(out, "rb") as b:
    assert a.read(data) == b.read(data), "the header changed"
# The short WAVs hold 44-byte RIFF headers; their data chunks start at 44.
with open(short, "rb") as a, open(big, "rb") as b:
    a.seek(44); b.seek(44)
    x, y = a.read(same * align), b.read(same * align)
assert len(x) == same * align and x == y, "the long output's first frames differ from the short clip's protect"
print("long output: header and size unchanged; first %d frames (%d bytes) identical to the verified short protect" % (same, same * align))
PY
  rm -rf "$out" "$out.poscuda-state" "$ROOT/head-src" "$ROOT/head-out" "$ROOT/head-big"
}

case " $CASES " in *" positional "*) run_case long-f32.wav "$SIZE_WAV" riff-f32 ;; esac
case " $CASES " in *" rf64 "*) run_case long-s24-rf64.wav "$SIZE_RF64" rf64-s24 ;; esac
if [[ " $CASES " == *" v2 "* || " $CASES " == *" whole "* ]]; then
  make_wav "$ROOT/src/rec/long-f32.wav" "$SIZE_WAV" riff-f32
  # v2 at 48 kHz: H = 1,024, a group = 524,288 frames; three groups, the same up to the third's last hop.
  case " $CASES " in *" v2 "*) run_stream_case "poscuda-v2" 1572864 $((1572864 - 1024)) -- --spec poscuda-v2 -- --spec poscuda-v2 ;; esac
  # v1 whole mode, k = 80: output frame n reads up to n + 40.
  case " $CASES " in *" whole "*) run_stream_case "poscuda-v1 --mode whole" "$HEAD_FRAMES" $((HEAD_FRAMES - 40)) -- --mode whole -- --mode whole ;; esac
  rm -f "$ROOT/src/rec/long-f32.wav"
fi
