#!/usr/bin/env bash
# Benchmark: what poscuda-v2 costs per clip against poscuda-v1, on a RAM-backed folder.
# Replicates FSDD (../shared/datasets/fsdd/recordings) COPIES times, then alternates
# `poscuda protect --spec poscuda-v1` and `--spec poscuda-v2` RUNS times each; prints every run,
# the medians (wall and CPU seconds) and the v2/v1 ratios. Usage: bench/spec-cost.sh [COPIES] [RUNS]
# BIN=DIR uses an already published tool instead of publishing this tree; BASE_BIN=DIR (another build's
# scripts/publish.sh output, e.g. of an older commit) adds its poscuda-v2 to every round, for before/after figures
# measured side by side.
set -euo pipefail
cd "$(dirname "$0")/.."
COPIES=${1:-10}
RUNS=${2:-3}
ROOT=${BENCH_ROOT:-/dev/shm/poscuda-spec-bench}
. bench/corpus.sh

BIN=${BIN:-$(scripts/publish.sh)}
POSCUDA="dotnet $BIN/poscuda.dll"
BASE_BIN=${BASE_BIN:-}
make_corpus "$ROOT" "$COPIES"
files=$(find "$ROOT/src" -name '*.wav' | wc -l)
$POSCUDA keyring create "$ROOT/keyring.json" >/dev/null

declare -A wall cpu
for r in $(seq 1 "$RUNS"); do
  for spec in poscuda-v1 poscuda-v2 ${BASE_BIN:+baseline-v2}; do
    tool=$POSCUDA; name=$spec
    [ "$spec" = baseline-v2 ] && tool="dotnet $BASE_BIN/poscuda.dll" && name=poscuda-v2
    rm -rf "$ROOT/out" "$ROOT/out.poscuda-state"; sync
    out=$( { /usr/bin/time -f '%e %U %S' $tool protect "$ROOT/src" "$ROOT/out" --keyring "$ROOT/keyring.json" \
      --labels 'regex:^copy\d+/(?<label>\d+)_' --spec "$name" --quiet >/dev/null; } 2>&1 | tail -1)
    read -r e u s <<<"$out"
    wall[$spec]+="$e "; cpu[$spec]+="$(echo "$u + $s" | bc -l) "
    printf 'run %d %s: %.2f s wall, %.2f CPU-s\n' "$r" "$spec" "$e" "$(echo "$u + $s" | bc -l)"
  done
done
median() { printf '%s\n' $@ | sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
w1=$(median ${wall[poscuda-v1]}); w2=$(median ${wall[poscuda-v2]}); c1=$(median ${cpu[poscuda-v1]}); c2=$(median ${cpu[poscuda-v2]})
printf 'median: v1 %.2f s (%.2f CPU-s), v2 %.2f s (%.2f CPU-s); v2/v1 wall %.2fx, CPU %.2fx; v2 %.0f us CPU per clip more\n' \
  "$w1" "$c1" "$w2" "$c2" "$(echo "$w2 / $w1" | bc -l)" "$(echo "$c2 / $c1" | bc -l)" "$(echo "($c2 - $c1) * 1000000 / $files" | bc -l)"
if [ -n "$BASE_BIN" ]; then
  wb=$(median ${wall[baseline-v2]}); cb=$(median ${cpu[baseline-v2]})
  printf 'baseline v2 (%s): %.2f s (%.2f CPU-s); v2/v1 wall %.2fx, CPU %.2fx\n' \
    "$BASE_BIN" "$wb" "$cb" "$(echo "$wb / $w1" | bc -l)" "$(echo "$cb / $c1" | bc -l)"
fi
rm -rf "$ROOT"
