# Sourced by scripts/distributed-demo.sh and scripts/rekey-cluster-demo.sh: a throwaway stack on loopback for the Akka.NET
# cluster demos. `stack_start NAME` makes $WORK, starts its own PostgreSQL cluster (POSCUDA_LEDGER) and moto_server
# (AWS_ENDPOINT_URL, demo credentials), builds src/Coordinator ($POSCUDA, $WORKER) and removes everything on exit;
# `cluster_start` starts two coordinators (the seeds) and sets CLUSTER (the options a worker needs to join).
# Background processes go in `pids` (cleanup kills them). KEEP_WORK=1 keeps $WORK (the logs) for a look afterwards. Callers have `set -euo pipefail` and run from the repository root.

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pids=()
stack_cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  as_pg "$PGBIN/pg_ctl" -D "$WORK/pg" stop -m immediate >/dev/null 2>&1 || true
  if [ -n "${KEEP_WORK:-}" ]; then echo "kept $WORK (logs, keys, outputs)" >&2; else rm -rf "$WORK"; fi
}

stack_start() { # NAME: PostgreSQL + moto_server on free loopback ports, the CLI built
  WORK=$(mktemp -d "/tmp/$1.XXXXXX"); chmod 755 "$WORK"
  PGBIN=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -1)")
  PGPORT=$(free_port); S3PORT=$(free_port)
  trap stack_cleanup EXIT
  mkdir -p "$WORK/pg"; if [ "$(id -u)" = 0 ]; then chown postgres "$WORK/pg"; fi
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
}

sql() { psql -h 127.0.0.1 -p "$PGPORT" -U poscuda -d postgres -At -c "$1"; }

wait_for_line() { # FILE TEXT: until FILE holds TEXT (60 s at most)
  for _ in $(seq 1 600); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "timed out waiting for '$2' in $1" >&2; tail -20 "$1" >&2; return 1
}

cluster_start() { # coordinator 1 forms the cluster (it is the oldest: the singleton's home), coordinator 2 joins
  C1=$(free_port); C2=$(free_port)
  CLUSTER=(--hostname 127.0.0.1 --stable-after 3 --seed "127.0.0.1:$C1" --seed "127.0.0.1:$C2")
  local i port
  for i in 1 2; do
    port=$C1; [ "$i" = 2 ] && port=$C2
    $POSCUDA coordinator --port "$port" "${CLUSTER[@]}" >"$WORK/coordinator$i.log" 2>&1 & pids+=($!)
    wait_for_line "$WORK/coordinator$i.log" "Coordinator node is up"
  done
}

job_field() { # JOB FIELD: one field of `poscuda status JOB --json` (done, failed, state...)
  $POSCUDA status "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$2"
}

wait_completed() { # JOB
  until [ "$(job_field "$1" state)" = completed ]; do sleep 0.5; done
}

reassigned() { # WORKER_ID: batches the class shards gave back from that worker, per the coordinators' log lines
  cat "$WORK"/coordinator*.log | sed -nE "s/.*Reassigned ([0-9]+) batch\(es\) of class .* from lost worker $1\/.*/\1/p" | awk '{n+=$1} END {print n+0}'
}

kill_and_time_reassignment() { # JOB WORKER_ID PID: SIGKILL the worker, print "reassigned N batches in X s after the kill"
  local job=$1 id=$2 pid=$3 killed_at held n
  { kill -9 "$pid"; killed_at=$(date +%s.%N); wait "$pid"; } 2>/dev/null || true # (reaped at once: no job-control notice)
  held=$(sql "SELECT count(*) FROM batches WHERE job_id='$job' AND state='leased' AND lease_owner LIKE '$id/%'")
  echo "SIGKILLed $id holding $held batch(es), at $(job_field "$job" done) objects done"
  for _ in $(seq 1 600); do [ "$(reassigned "$id")" -ge "$held" ] && break; sleep 0.1; done
  n=$(reassigned "$id")
  [ "$n" -ge "$held" ] || { echo "$id's batches were not reassigned within 60 s" >&2; return 1; }
  python3 -c "import sys; print(f'reassigned {sys.argv[1]} batches in {float(sys.argv[3]) - float(sys.argv[2]):.1f} s after the kill (lease 60 s)')" \
    "$n" "$killed_at" "$(date +%s.%N)"
  grep -h "from lost worker $id/" "$WORK"/coordinator*.log | sed 's/^/  /' || true
}
