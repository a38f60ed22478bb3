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
WORK=$(mktemp -d /tmp/poscuda-demo.XXXXXX); chmod 755 "$WORK"
PGBIN=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -1)")
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PGPORT=$(free_port); S3PORT=$(free_port)
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  as_pg "$PGBIN/pg_ctl" -D "$WORK/pg" stop -m immediate >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$WORK/pg"; [ "$(id -u)" = 0 ] && chown postgres "$WORK/pg"
as_pg "$PGBIN/initdb" -D "$WORK/pg" -U poscuda --auth=trust >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$WORK/pg" -l "$WORK/pg/log" -w start \
  -o "-c listen_addresses=127.0.0.1 -p $PGPORT -c unix_socket_directories=$WORK/pg -c max_connections=200" >/dev/null
export POSCUDA_LEDGER="postgres://poscuda@127.0.0.1:$PGPORT/postgres"
moto_server -H 127.0.0.1 -p "$S3PORT" >"$WORK/moto.log" 2>&1 & pids+=($!)
export AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
export AWS_ENDPOINT_URL="http://127.0.0.1:$S3PORT"
for _ in $(seq 1 100); do curl -sf "$AWS_ENDPOINT_URL" >/dev/null 2>&1 && break; sleep 0.1; done

dotnet build src/Coordinator -c Release -v quiet -nologo >/dev/null
BIN=src/Coordinator/bin/Release/net10.0
POSCUDA="dotnet $BIN/poscuda.dll"; WORKER="dotnet $BIN/poscuda-worker.dll"
$POSCUDA keyring create "$WORK/keys.json" >/dev/null
aws s3 mb s3://corpus >/dev/null
aws s3 cp --recursive --quiet "$FSDD" s3://corpus/raw/
echo "uploaded $(ls "$FSDD"/*.wav | wc -l) clips to s3://corpus/raw"

LABELS='regex:^(?<label>\d+)_'
job=$($POSCUDA submit s3://corpus/raw s3://corpus/dist --keyring "$WORK/keys.json" --labels "$LABELS" --batch-size 50 | tail -1)
echo "submitted job $job"

# The cluster: coordinator 1 forms it (it is the oldest: the singleton's home), coordinator 2 joins, then the workers.
C1=$(free_port); C2=$(free_port)
CLUSTER=(--hostname 127.0.0.1 --stable-after 3 --seed "127.0.0.1:$C1" --seed "127.0.0.1:$C2")
wait_for_line() { # FILE TEXT: until FILE holds TEXT (60 s at most)
  for _ in $(seq 1 600); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "timed out waiting for '$2' in $1" >&2; tail -20 "$1" >&2; return 1
}
for i in 1 2; do
  port=$C1; [ "$i" = 2 ] && port=$C2
  $POSCUDA coordinator --port "$port" "${CLUSTER[@]}" >"$WORK/coordinator$i.log" 2>&1 & pids+=($!)
  wait_for_line "$WORK/coordinator$i.log" "Coordinator node is up"
done
for i in 1 2 3; do
  $WORKER --keyring "$WORK/keys.json" --worker-id "worker$i" --slots 2 --concurrency 8 --port 0 "${CLUSTER[@]}" >"$WORK/worker$i.log" 2>&1 & pids+=($!)
  eval "w$i=$!"
done
echo "cluster: coordinators on 127.0.0.1:$C1 and :$C2, workers 1-3 (2 slots each, lease 60 s)"
sql() { psql -h 127.0.0.1 -p "$PGPORT" -U poscuda -d postgres -At -c "$1"; }

# SIGKILL worker 2 once a third of the job is done.
until [ "$($POSCUDA status "$job" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["done"])')" -ge 1000 ]; do sleep 0.2; done
{ kill -9 "$w2"; killed_at=$(date +%s.%N); wait "$w2"; } 2>/dev/null || true # (reaped at once: no job-control notice)
held=$(sql "SELECT count(*) FROM batches WHERE job_id='$job' AND state='leased' AND lease_owner LIKE 'worker2/%'")
echo "SIGKILLed worker 2 holding $held batch(es), at $($POSCUDA status "$job" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["done"])') objects done"
reassigned() { # batches the class shards gave back from worker 2, per their log lines
  cat "$WORK"/coordinator*.log | sed -nE 's/.*Reassigned ([0-9]+) batch\(es\) of class .* from lost worker worker2\/.*/\1/p' | awk '{n+=$1} END {print n+0}'
}
for _ in $(seq 1 600); do [ "$(reassigned)" -ge "$held" ] && break; sleep 0.1; done
reassigned_at=$(date +%s.%N)
n=$(reassigned)
[ "$n" -ge "$held" ] || { echo "worker 2's batches were not reassigned within 60 s" >&2; exit 1; }
python3 -c "import sys; print(f'reassigned {sys.argv[1]} batches in {float(sys.argv[3]) - float(sys.argv[2]):.1f} s after the kill (lease 60 s)')" "$n" "$killed_at" "$reassigned_at"
grep -h "from lost worker worker2/" "$WORK"/coordinator*.log | sed 's/^/  /'

until $POSCUDA status "$job" --json | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["state"]=="completed" else 1)'; do sleep 0.5; done
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
