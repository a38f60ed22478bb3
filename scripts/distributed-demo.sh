#!/usr/bin/env bash
# The distributed acceptance run on the Akka.NET cluster: FSDD (3,000 clips) in a moto_server bucket, protected by two coordinator
# nodes and three poscuda-worker nodes on loopback (the coordinators' ports are the seeds); one worker is SIGKILLed mid-run. Then:
#   - the figure "reassigned N batches in X s after the kill": from the SIGKILL to the coordinator log lines that give the dead
#     worker's batches back (the cluster downs it; the 60 s lease never runs out);
#   - every output is checked against the independent Python implementation (tools/poscuda_reference.py);
#   - every output's metadata is checked (poscuda-spec, -key-id, -key-version, -job, -source-etag);
#   - the ledger must show exactly 3,000 objects done and no object under two key versions;
#   - the same job through `poscuda protect s3:// s3://` (embedded ledger) must give byte-identical outputs.
# Starts its own PostgreSQL cluster and moto_server on loopback. Usage: scripts/distributed-demo.sh (FSDD=... for another copy)
set -euo pipefail
cd "$(dirname "$0")/.."
FSDD=${FSDD:-../shared/datasets/fsdd/recordings}
[ -d "$FSDD" ] || { echo "FSDD not found at $FSDD (set FSDD=...)" >&2; exit 1; }
. scripts/lib/loopback-stack.sh
stack_start poscuda-demo
$POSCUDA keyring create "$WORK/keys.json" >/dev/null
aws s3 mb s3://corpus >/dev/null
aws s3 cp --recursive --quiet "$FSDD" s3://corpus/raw/
echo "uploaded $(ls "$FSDD"/*.wav | wc -l) clips to s3://corpus/raw"

LABELS='regex:^(?<label>\d+)_'
job=$($POSCUDA submit s3://corpus/raw s3://corpus/dist --keyring "$WORK/keys.json" --labels "$LABELS" --batch-size 50 | tail -1)
echo "submitted job $job"

cluster_start
for i in 1 2 3; do
  $WORKER --keyring "$WORK/keys.json" --worker-id "worker$i" --slots 2 --concurrency 8 --port 0 "${CLUSTER[@]}" >"$WORK/worker$i.log" 2>&1 & pids+=($!)
  eval "w$i=$!"
done
echo "cluster: coordinators on 127.0.0.1:$C1 and :$C2, workers 1-3 (2 slots each, lease 60 s)"
# SIGKILL worker 2 once a third of the job is done.
until [ "$(job_field "$job" done)" -ge 1000 ]; do sleep 0.2; done
kill_and_time_reassignment "$job" worker2 "$w2"

wait_completed "$job"
$POSCUDA status "$job"
kill -TERM "$w1" "$w3"; wait "$w1" "$w3" || true

echo "== ledger"
sql "SELECT 'done objects: ' || count(*) FILTER (WHERE status='done') || ', key versions: ' || count(DISTINCT key_version) FROM objects WHERE job_id='$job'"
sql "SELECT 'keys under two key versions: ' || count(*) FROM (SELECT key FROM objects GROUP BY key HAVING count(DISTINCT key_version) > 1) t"

echo "== independent check of every output"
aws s3 cp --recursive --quiet s3://corpus/dist/ "$WORK/dist/" --exclude '.poscuda/*'
python3 tools/poscuda_reference.py verify "$FSDD" "$WORK/dist" --keyring "$WORK/keys.json" --labels "$LABELS"

echo "== metadata of every output"
python3 - "$job" <<'PY'
import sys, boto3
job = sys.argv[1]
s3 = boto3.client("s3")
keys = [o["Key"] for p in s3.get_paginator("list_objects_v2").paginate(Bucket="corpus", Prefix="dist/") for o in p.get("Contents", []) if o["Key"].endswith(".wav")]
bad = 0
for k in keys:
    m = s3.head_object(Bucket="corpus", Key=k)["Metadata"]
    ok = m.get("poscuda-spec") == "poscuda-v1" and m.get("poscuda-job") == job and m.get("poscuda-key-version") == "1" and m.get("poscuda-key-id") and m.get("poscuda-source-etag")
    bad += not ok
print(f"metadata checked on {len(keys)} objects, {bad} without the full poscuda metadata")
sys.exit(1 if bad or len(keys) != 3000 else 0)
PY

echo "== the same job on one machine (poscuda protect s3:// s3://, embedded ledger)"
$POSCUDA protect s3://corpus/raw s3://corpus/local --keyring "$WORK/keys.json" --labels "$LABELS" --state "$WORK/state" --quiet
aws s3 cp --recursive --quiet s3://corpus/local/ "$WORK/local/" --exclude '.poscuda/*'
diff -r "$WORK/dist" "$WORK/local" && echo "distributed and single-machine outputs are byte-identical"
