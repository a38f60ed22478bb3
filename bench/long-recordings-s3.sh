#!/usr/bin/env bash
# Benchmark: a long recording on S3 (moto_server on loopback) protected with ranged GETs and a multipart upload whose
# unchanged parts S3 copies itself. Generates a float32 stereo WAV of SIZE bytes (default 200 MB), protects it from
# s3://long/src to s3://long/out and, for comparison, from a folder to a folder; prints the bytes the report says went
# through the process, and checks that the S3 output equals the folder output byte for byte.
# Usage: bench/long-recordings-s3.sh [SIZE]
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${1:-200000000}
WORK=$(mktemp -d)
S3PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cleanup() { [ -n "${MOTO_PID:-}" ] && kill "$MOTO_PID" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
moto_server -H 127.0.0.1 -p "$S3PORT" >"$WORK/moto.log" 2>&1 & MOTO_PID=$!
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
export AWS_ENDPOINT_URL="http://127.0.0.1:$S3PORT"
for _ in $(seq 1 100); do curl -sf "$AWS_ENDPOINT_URL" >/dev/null 2>&1 && break; sleep 0.1; done

BIN=$(scripts/publish.sh)
POSCUDA="dotnet $BIN/poscuda.dll"
$POSCUDA keyring create "$WORK/keys.json" >/dev/null
mkdir -p "$WORK/src/rec"
python3 bench/make-long-wav.py "$WORK/src/rec/long.wav" "$SIZE" riff-f32
aws s3 mb s3://long >/dev/null
aws s3 cp --quiet "$WORK/src/rec/long.wav" s3://long/src/rec/long.wav

report() {
  python3 - "$1" "$2" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); t = r["transfer"]
print("%s: protected %d, failed %d; through the process: read %d bytes (%.2f MB), written %d bytes (%.2f MB)"
      % (sys.argv[2], r["totals"]["protected"], r["totals"]["failed"], t["bytesRead"], t["bytesRead"] / 1e6, t["bytesWritten"], t["bytesWritten"] / 1e6))
PY
}
/usr/bin/time -f '%M KB peak RSS, %e s' $POSCUDA protect s3://long/src s3://long/out --keyring "$WORK/keys.json" --labels dir \
  --report "$WORK/s3.json" --state "$WORK/s3-state" --quiet | tail -1
report "$WORK/s3.json" "S3 ($((SIZE / 1000000)) MB)"
$POSCUDA protect "$WORK/src" "$WORK/out" --keyring "$WORK/keys.json" --labels dir --report "$WORK/folder.json" --quiet | tail -1
report "$WORK/folder.json" "folder ($((SIZE / 1000000)) MB)"
aws s3 cp --quiet s3://long/out/rec/long.wav "$WORK/s3-out.wav"
if cmp "$WORK/s3-out.wav" "$WORK/out/rec/long.wav"; then
  echo "S3 output identical to the folder output ($(stat -c %s "$WORK/s3-out.wav") bytes); $( { cmp -l "$WORK/src/rec/long.wav" "$WORK/s3-out.wav" || true; } | wc -l) bytes differ from the source"
else
  echo "FAIL: S3 output differs from the folder output" >&2; exit 1
fi
