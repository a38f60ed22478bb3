#!/usr/bin/env bash
# After a key leak, on the Akka.NET cluster (two coordinators + three poscuda-worker nodes on loopback, own PostgreSQL and
# moto_server; see scripts/lib/loopback-stack.sh): FSDD protected under key version 1 with restore records by three
# workers, the originals deleted, `keyring rotate --compromised`, then `submit --rekey --from-version 1` rebuilt from the
# vault by three workers started with the vault key, one SIGKILLed mid-run. Then:
#   - the figure "reassigned N batches in X s after the kill" (from the coordinators' log lines);
#   - every clip checked against the independent reference (tools/poscuda_reference.py) under key version 2;
#   - every object's metadata says poscuda-v1, key version 2 and the rekey job;
#   - `poscuda verify` (with the vault) exits 0;
#   - `poscuda restore` gives the deleted originals back byte for byte (cmp).
# Prints the protect and rekey times (workers started to job completed, same cluster and stores) and their ratio.
# Usage: scripts/rekey-cluster-demo.sh [CLIPS]   (FSDD from ../shared/datasets/fsdd/recordings, or FSDD=...; default all 3,000)
set -euo pipefail
cd "$(dirname "$0")/.."
FSDD=${FSDD:-../shared/datasets/fsdd/recordings}
[ -d "$FSDD" ] || { echo "FSDD not found at $FSDD (set FSDD=...)" >&2; exit 1; }
CLIPS=${1:-3000}
BATCH=$(( CLIPS / 60 > 5 ? CLIPS / 60 : 5 )) # about 60 batches, so the killed worker holds some
. scripts/lib/loopback-stack.sh
stack_start poscuda-rekey-cluster
LABELS='regex:^(?<label>\d+)_'
now() { date +%s.%N; }

mkdir -p "$WORK/kept-for-cmp"
mapfile -t all < <(ls "$FSDD"/*.wav)
step=$(( ${#all[@]} / CLIPS > 1 ? ${#all[@]} / CLIPS : 1 )) # every step-th clip: all ten digits, not only the 0s
for (( i = 0; i < ${#all[@]} && i / step < CLIPS; i += step )); do cp "${all[$i]}" "$WORK/kept-for-cmp/"; done
CLIPS=$(ls "$WORK/kept-for-cmp" | wc -l)
$POSCUDA keyring create "$WORK/keys.json" >/dev/null
$POSCUDA vault create "$WORK/vault.json" >/dev/null
$POSCUDA vault export-public "$WORK/vault.json" "$WORK/vault-public.json" >/dev/null
python3 - "$WORK/kept-for-cmp" <<'PY'
import boto3, os, sys
from concurrent.futures import ThreadPoolExecutor
s3 = boto3.client('s3'); src = sys.argv[1]
for b in ('corpus', 'vault'):
    s3.create_bucket(Bucket=b)
with ThreadPoolExecutor(16) as pool:
    list(pool.map(lambda n: s3.upload_file(os.path.join(src, n), 'corpus', 'raw/' + n), os.listdir(src)))
PY
echo "uploaded $CLIPS FSDD clips to s3://corpus/raw (batches of $BATCH)"
cluster_start
echo "cluster: coordinators on 127.0.0.1:$C1 and :$C2"

start_workers() { # NAME [OPTIONS...]: three workers NAME1..NAME3, 2 slots each; their pids in w1..w3
  local name=$1 i; shift
  for i in 1 2 3; do
    $WORKER --keyring "$WORK/keys.json" --worker-id "$name$i" --slots 2 --concurrency 8 --port 0 "${CLUSTER[@]}" "$@" \
      >"$WORK/$name$i.log" 2>&1 & pids+=($!)
    eval "w$i=$!"
  done
}
stop_workers() { kill -TERM "$@" 2>/dev/null || true; for p in "$@"; do wait "$p" 2>/dev/null || true; done; }
failed_none() { # JOB: the job completed with no failed or dead object
  $POSCUDA status "$1"
  [ "$(job_field "$1" failed)" = 0 ] || { echo "job $1 has failed objects" >&2; exit 1; }
}

echo "== protect under key version 1 with restore records (three workers, no vault key)"
protect=$($POSCUDA submit s3://corpus/raw s3://corpus/published --keyring "$WORK/keys.json" --labels "$LABELS" \
  --batch-size "$BATCH" --vault "$WORK/vault-public.json" --vault-store s3://vault/records | tail -1)
t0=$(now); start_workers protector
wait_completed "$protect"; t1=$(now)
failed_none "$protect"
stop_workers "$w1" "$w2" "$w3"

# The originals are deleted; the copy in kept-for-cmp stays outside the pipeline's reach, only to compare with at the end.
python3 -c "
import boto3; s3 = boto3.client('s3')
for page in s3.get_paginator('list_objects_v2').paginate(Bucket='corpus', Prefix='raw/'):
    s3.delete_objects(Bucket='corpus', Delete={'Objects': [{'Key': o['Key']} for o in page.get('Contents', [])]})
print('originals deleted from s3://corpus/raw:', s3.list_objects_v2(Bucket='corpus', Prefix='raw/').get('KeyCount', 0), 'left')"
$POSCUDA keyring rotate "$WORK/keys.json" --compromised

echo "== rekey to version 2 from the restore records (three workers with the vault key, one SIGKILLed)"
rekey=$($POSCUDA submit --rekey s3://corpus/published --from-version 1 --keyring "$WORK/keys.json" --labels "$LABELS" \
  --batch-size "$BATCH" --vault "$WORK/vault.json" --vault-store s3://vault/records | tail -1)
echo "submitted rekey job $rekey"
t2=$(now); start_workers rekeyer --vault "$WORK/vault.json"
# SIGKILL rekeyer 2 once a third is done and it holds a batch (it may be between two: wait for one, 30 s at most).
until [ "$(sql "SELECT count(*) FROM objects WHERE job_id='$rekey' AND status='done'")" -ge $(( CLIPS / 3 )) ]; do sleep 0.2; done
for _ in $(seq 1 300); do
  [ "$(sql "SELECT count(*) FROM batches WHERE job_id='$rekey' AND state='leased' AND lease_owner LIKE 'rekeyer2/%'")" -ge 1 ] && break
  sleep 0.1
done
kill_and_time_reassignment "$rekey" rekeyer2 "$w2"
wait_completed "$rekey"; t3=$(now)
failed_none "$rekey"
stop_workers "$w1" "$w3"
python3 - "$t0" "$t1" "$t2" "$t3" <<'PY'
import sys
t0, t1, t2, t3 = map(float, sys.argv[1:])
print(f"protect (v1, with restore records, 3 workers): {t1 - t0:.1f} s; rekey to v2 from restore records (3 workers, one SIGKILLed): {t3 - t2:.1f} s; ratio {(t3 - t2) / (t1 - t0):.2f}x")
PY

echo "== ledger"
sql "SELECT 'rekey done objects: ' || count(*) FILTER (WHERE status='done') || ' of ' || count(*) FROM objects WHERE job_id='$rekey'"

echo "== every object: metadata, then the independent reference under version 2"
mkdir -p "$WORK/published"
python3 - "$WORK/published" "$rekey" "$CLIPS" <<'PY'
import boto3, collections, os, sys
s3 = boto3.client('s3'); out, job, clips = sys.argv[1], sys.argv[2], int(sys.argv[3])
versions, bad = collections.Counter(), 0
for page in s3.get_paginator('list_objects_v2').paginate(Bucket='corpus', Prefix='published/'):
    for o in page.get('Contents', []):
        key = o['Key'][len('published/'):]
        if key.startswith('.poscuda/'):
            continue
        r = s3.get_object(Bucket='corpus', Key=o['Key'])
        m = r['Metadata']
        versions[m.get('poscuda-key-version')] += 1
        bad += not (m.get('poscuda-spec') == 'poscuda-v1' and m.get('poscuda-key-version') == '2' and m.get('poscuda-job') == job
                    and m.get('poscuda-key-id') and m.get('poscuda-source-etag'))
        open(os.path.join(out, key), 'wb').write(r['Body'].read())
n = sum(versions.values())
print(f"metadata poscuda-key-version: {dict(versions)}; {n} objects, {bad} without version 2 of the rekey job")
sys.exit(1 if bad or n != clips else 0)
PY
python3 tools/poscuda_reference.py verify --keyring "$WORK/keys.json" --key-version 2 --labels "$LABELS" "$WORK/kept-for-cmp" "$WORK/published" | tail -2

echo "== poscuda verify"
$POSCUDA verify s3://corpus/published --keyring "$WORK/keys.json" --labels "$LABELS" --vault "$WORK/vault.json" --vault-store s3://vault/records
echo "poscuda verify exit code: 0"

echo "== poscuda restore"
$POSCUDA restore s3://corpus/published "$WORK/restored" --vault "$WORK/vault.json" --vault-store s3://vault/records --quiet | tail -1
differ=0
for f in "$WORK/kept-for-cmp"/*.wav; do cmp -s "$f" "$WORK/restored/$(basename "$f")" || differ=$((differ + 1)); done
echo "restore: $(ls "$WORK/restored"/*.wav | wc -l) files, $differ differ from the deleted originals (cmp)"
[ "$differ" = 0 ]
