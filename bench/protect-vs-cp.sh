#!/usr/bin/env bash
# Benchmark: `poscuda protect` against `cp -r` of the same tree, on a RAM-backed folder.
# Builds a corpus by replicating FSDD (../shared/datasets/fsdd/recordings) COPIES times
# (34 -> 102,000 clips), then alternates `cp -r` and `poscuda protect` RUNS times each and prints
# the medians and the ratio. Usage: bench/protect-vs-cp.sh [COPIES] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
COPIES=${1:-34}
RUNS=${2:-3}
ROOT=${BENCH_ROOT:-/dev/shm/poscuda-bench}
. bench/corpus.sh

BIN=$(scripts/publish.sh)
POSCUDA="dotnet $BIN/poscuda.dll"

make_corpus "$ROOT" "$COPIES"
files=$(find "$ROOT/src" -name '*.wav' | wc -l)
$POSCUDA keyring create "$ROOT/keyring.json" >/dev/null

now() { date +%s.%N; }
cp_times=(); pc_times=()
# Each timed run starts from the same state: only the source tree on the RAM disk.
clean() { rm -rf "$ROOT/cp" "$ROOT/out" "$ROOT/out.poscuda-state"; sync; }
for r in $(seq 1 "$RUNS"); do
  clean
  t0=$(now); cp -r "$ROOT/src" "$ROOT/cp"; t1=$(now)
  cp_times+=("$(echo "$t1 - $t0" | bc -l)")
  clean
  t0=$(now)
  $POSCUDA protect "$ROOT/src" "$ROOT/out" --keyring "$ROOT/keyring.json" \
    --labels 'regex:^copy\d+/(?<label>\d+)_' --quiet >/dev/null
  t1=$(now)
  pc_times+=("$(echo "$t1 - $t0" | bc -l)")
  printf 'run %d: cp -r %.2f s, poscuda protect %.2f s\n' "$r" "${cp_times[-1]}" "${pc_times[-1]}"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
mc=$(median "${cp_times[@]}"); mp=$(median "${pc_times[@]}")
printf 'median: cp -r %.2f s, poscuda protect %.2f s (%.0f clips/s), ratio %.2fx\n' "$mc" "$mp" "$(echo "$files / $mp" | bc -l)" "$(echo "$mp / $mc" | bc -l)"
rm -rf "$ROOT"
