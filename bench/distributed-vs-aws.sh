#!/usr/bin/env bash
# Benchmark: distributed protection over S3 (moto_server) on the Akka.NET cluster (one coordinator node, 1, 2 and 4 worker
# nodes, 32 objects in flight in all), against two baselines run alternately in the same session: `aws s3 cp --recursive`
# download plus upload, and the floor: the same SDK doing a bare GET+PUT of every object at the same concurrency (no
# processing, no ledger, no cluster; bench/PosCuda.Benchmarks s3-floor).
# Starts its own throwaway PostgreSQL cluster and moto_server on loopback.
# Usage: bench/distributed-vs-aws.sh [RUNS]   (FSDD from ../shared/datasets/fsdd/recordings, or FSDD=...)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
FSDD=${FSDD:-../shared/datasets/fsdd/recordings}
[ -d "$FSDD" ] || { echo "FSDD not found at $FSDD (set FSDD=...)" >&2; exit 1; }
WORK=$(mktemp -d /tmp/poscuda-dist-bench.XXXXXX)
chmod 755 "$WORK"
PGBIN=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -1)")
PGPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
S3PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  as_pg "$PGBIN/pg_ctl" -D "$WORK/pg" stop -m immediate >/dev/null 2>&1 || true
  [ -n "${MOTO_PID:-}" ] && kill "$MOTO_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

mkdir -p "$WORK/pg" && [ "$(id -u)" = 0 ] && chown postgres "$WORK/pg"
as_pg "$PGBIN/initdb" -D "$WORK/pg" -U poscuda --auth=trust >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$WORK/pg" -l "$WORK/pg/log" -w start \
  -o "-c listen_addresses=127.0.0.1 -p $PGPORT -c fsync=off -c unix_socket_directories=$WORK/pg -c max_connections=200" >/dev/null
export POSCUDA_LEDGER="Host=127.0.0.1;Port=$PGPORT;Username=poscuda;Database=postgres"
moto_server -H 127.0.0.1 -p "$S3PORT" >"$WORK/moto.log" 2>&1 & MOTO_PID=$!
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
export AWS_ENDPOINT_URL="http://127.0.0.1:$S3PORT"
for _ in $(seq 1 100); do curl -sf "$AWS_ENDPOINT_URL" >/dev/null 2>&1 && break; sleep 0.1; done

dotnet build src/Coordinator -c Release -v quiet -nologo >/dev/null
dotnet build bench/PosCuda.Benchmarks -c Release -v quiet -nologo >/dev/null
POSCUDA="dotnet src/Coordinator/bin/Release/net10.0/poscuda.dll"
WORKER="dotnet src/Coordinator/bin/Release/net10.0/poscuda-worker.dll"
FLOOR="dotnet bench/PosCuda.Benchmarks/bin/Release/net10.0/PosCuda.Benchmarks.dll s3-floor"
PSQL="$PGBIN/psql -h 127.0.0.1 -p $PGPORT -U poscuda -d postgres -tAc"
$POSCUDA keyring create "$WORK/keys.json" >/dev/null
aws s3 mb s3://corpus >/dev/null
aws s3 cp --recursive --quiet "$FSDD" s3://corpus/raw/
n=$(ls "$FSDD"/*.wav | wc -l)
echo "corpus: $n objects in s3://corpus/raw (moto_server on loopback)"

CPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export POSCUDA_SEED_NODES="127.0.0.1:$CPORT"
$POSCUDA coordinator --port "$CPORT" >"$WORK/coordinator.log" 2>&1 & COORD_PID=$!
trap 'kill $COORD_PID 2>/dev/null || true; cleanup' EXIT
until grep -q "Coordinator node is up" "$WORK/coordinator.log"; do sleep 0.2; done

now() { date +%s.%N; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
declare -A times
for r in $(seq 1 "$RUNS"); do
  rm -rf "$WORK/dl"
  t0=$(now)
  aws s3 cp --recursive --quiet s3://corpus/raw/ "$WORK/dl/"
  aws s3 cp --recursive --quiet "$WORK/dl/" "s3://corpus/copy$r/"
  t1=$(now); times[aws]+="$(echo "$t1 - $t0" | bc -l) "
  times[floor]+="$($FLOOR "$AWS_ENDPOINT_URL" corpus raw/ "floor$r/" 32 | tail -1) "
  for w in 1 2 4; do
    pids=()
    for i in $(seq 1 "$w"); do
      $WORKER --keyring "$WORK/keys.json" --worker-id "w$i" --slots 2 --concurrency $((32 / w)) >"$WORK/worker-$r-$w-$i.log" 2>&1 & pids+=($!)
    done
    for i in $(seq 1 "$w"); do until grep -q "is up at" "$WORK/worker-$r-$w-$i.log"; do sleep 0.2; done; done
    job=$($POSCUDA submit s3://corpus/raw "s3://corpus/out-$r-$w" --keyring "$WORK/keys.json" \
      --labels 'regex:^(?<label>\d+)_' --batch-size 100 2>/dev/null | tail -1)
    t0=$(now)   # planned; the warm cluster protects it and the coordinator completes it (manifest written)
    until [ "$($PSQL "SELECT state FROM jobs WHERE job_id = '$job'")" = completed ]; do sleep 0.05; done
    t1=$(now); times[$w]+="$(echo "$t1 - $t0" | bc -l) "
    kill -TERM "${pids[@]}"; wait "${pids[@]}" || true
  done
  echo "run $r: aws s3 cp down+up $(echo "${times[aws]}" | awk '{print $NF}') s; SDK floor $(echo "${times[floor]}" | awk '{print $NF}') s; workers 1/2/4: $(echo "${times[1]}" | awk '{print $NF}') / $(echo "${times[2]}" | awk '{print $NF}') / $(echo "${times[4]}" | awk '{print $NF}') s"
done
ma=$(median ${times[aws]})
mf=$(median ${times[floor]})
printf 'median aws s3 cp download+upload: %.2f s (%.0f objects/s)\n' "$ma" "$(echo "$n / $ma" | bc -l)"
printf 'median SDK floor (bare GET+PUT, 32 in flight): %.2f s (%.0f objects/s)\n' "$mf" "$(echo "$n / $mf" | bc -l)"
for w in 1 2 4; do
  m=$(median ${times[$w]})
  printf 'median %d worker node(s): %.2f s (%.0f objects/s), %.2fx the speed of aws s3 cp, %.2fx the floor'"'"'s time\n' "$w" "$m" "$(echo "$n / $m" | bc -l)" "$(echo "$ma / $m" | bc -l)" "$(echo "$m / $mf" | bc -l)"
done
