#!/usr/bin/env bash
# After a key leak, on one machine over S3 (moto_server on loopback): FSDD protected under key version 1 with restore
# records, the originals deleted, `keyring rotate --compromised`, `rekey --from-version 1` rebuilt from the vault; then
# every clip checked against the independent reference (tools/poscuda_reference.py) under version 2, its metadata,
# `poscuda verify`, and `poscuda restore` compared byte for byte (cmp) with the deleted originals. Prints the protect
# and rekey times on the same stores and their ratio.
# Usage: bench/rekey-demo.sh [CLIPS]   (FSDD from ../shared/datasets/fsdd/recordings, or FSDD=...; default all 3,000)
set -euo pipefail
cd "$(dirname "$0")/.."
FSDD=${FSDD:-../shared/datasets/fsdd/recordings}
[ -d "$FSDD" ] || { echo "FSDD not found at $FSDD (set FSDD=...)" >&2; exit 1; }
CLIPS=${1:-3000}
WORK=$(mktemp -d /tmp/poscuda-rekey-demo.XXXXXX)
S3PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cleanup() { [ -n "${MOTO_PID:-}" ] && kill "$MOTO_PID" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
moto_server -H 127.0.0.1 -p "$S3PORT" >"$WORK/moto.log" 2>&1 & MOTO_PID=$!
export AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
export AWS_ENDPOINT_URL="http://127.0.0.1:$S3PORT"
for _ in $(seq 1 100); do curl -sf "$AWS_ENDPOINT_URL" >/dev/null 2>&1 && break; sleep 0.1; done
python3 -c "import boto3; boto3.client('s3').create_bucket(Bucket='demo')"

dotnet build src/Coordinator -c Release -v quiet -nologo >/dev/null
POSCUDA="dotnet src/Coordinator/bin/Release/net10.0/poscuda.dll"
LABELS='regex:^(?<label>\d+)_'
mkdir -p "$WORK/src"
mapfile -t all < <(ls "$FSDD"/*.wav)
cp "${all[@]:0:$CLIPS}" "$WORK/src/"
echo "corpus: $(ls "$WORK/src" | wc -l) FSDD clips"
$POSCUDA keyring create "$WORK/keys.json" >/dev/null
$POSCUDA vault create "$WORK/vault.json" >/dev/null
$POSCUDA vault export-public "$WORK/vault.json" "$WORK/vault-public.json" >/dev/null
S3="--state $WORK/state"
now() { date +%s.%N; }

# The originals live in the same store as everything else (s3://demo/raw), so both jobs read and write S3.
python3 - "$WORK/src" <<'PY'
import boto3, os, sys
from concurrent.futures import ThreadPoolExecutor
s3 = boto3.client('s3'); src = sys.argv[1]
with ThreadPoolExecutor(16) as pool:
    list(pool.map(lambda n: s3.upload_file(os.path.join(src, n), 'demo', 'raw/' + n), os.listdir(src)))
PY
t0=$(now)
$POSCUDA protect s3://demo/raw s3://demo/published --keyring "$WORK/keys.json" --labels "$LABELS" \
  --vault "$WORK/vault-public.json" --vault-store s3://demo/vault $S3 --quiet | tail -1
t1=$(now)
# The originals are deleted; a copy is kept outside the pipeline's reach only to compare with at the end.
mv "$WORK/src" "$WORK/kept-for-cmp"
python3 -c "
import boto3; s3 = boto3.client('s3')
for page in s3.get_paginator('list_objects_v2').paginate(Bucket='demo', Prefix='raw/'):
    s3.delete_objects(Bucket='demo', Delete={'Objects': [{'Key': o['Key']} for o in page.get('Contents', [])]})
print('originals deleted from s3://demo/raw:', s3.list_objects_v2(Bucket='demo', Prefix='raw/').get('KeyCount', 0), 'left')"
$POSCUDA keyring rotate "$WORK/keys.json" --compromised

t2=$(now)
$POSCUDA rekey s3://demo/published --keyring "$WORK/keys.json" --labels "$LABELS" --from-version 1 \
  --vault "$WORK/vault.json" --vault-store s3://demo/vault $S3 --quiet | tail -1
t3=$(now)
python3 - "$t0" "$t1" "$t2" "$t3" <<'PY'
import sys
t0, t1, t2, t3 = map(float, sys.argv[1:])
print(f"protect (v1, with restore records): {t1 - t0:.1f} s; rekey to v2 from restore records: {t3 - t2:.1f} s; ratio {(t3 - t2) / (t1 - t0):.2f}x (target <= 1.5x)")
PY

mkdir -p "$WORK/published"
python3 - "$WORK/published" <<'PY'
import boto3, collections, os, sys
s3 = boto3.client('s3'); out = sys.argv[1]; versions = collections.Counter()
for page in s3.get_paginator('list_objects_v2').paginate(Bucket='demo', Prefix='published/'):
    for o in page.get('Contents', []):
        key = o['Key'][len('published/'):]
        if key.startswith('.poscuda/'):
            continue
        r = s3.get_object(Bucket='demo', Key=o['Key'])
        versions[r['Metadata'].get('poscuda-key-version')] += 1
        open(os.path.join(out, key), 'wb').write(r['Body'].read())
print("metadata poscuda-key-version:", dict(versions))
PY
python3 tools/poscuda_reference.py verify --keyring "$WORK/keys.json" --key-version 2 --labels "$LABELS" "$WORK/kept-for-cmp" "$WORK/published" | tail -2
set +e
$POSCUDA verify s3://demo/published --keyring "$WORK/keys.json" --labels "$LABELS" --vault "$WORK/vault.json" --vault-store s3://demo/vault
echo "poscuda verify exit code: $?"
set -e
$POSCUDA restore s3://demo/published "$WORK/restored" --vault "$WORK/vault.json" --vault-store s3://demo/vault --quiet | tail -1
differ=0
for f in "$WORK/kept-for-cmp"/*.wav; do cmp -s "$f" "$WORK/restored/$(basename "$f")" || differ=$((differ + 1)); done
echo "restore: $(ls "$WORK/restored"/*.wav | wc -l) files, $differ differ from the deleted originals (cmp)"
