#!/usr/bin/env bash
# A/B benchmark: `poscuda protect` of two builds (e.g. before and after a change), alternating on one RAM-disk corpus,
# with `cp -r` of the same tree before each pair. Publish each build first: `scripts/publish.sh DIR` in each checkout.
# Usage: bench/protect-ab.sh BASE_BIN NEW_BIN [COPIES] [RUNS]   (COPIES x 3,000 FSDD clips; 34 -> 102,000)
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=$1; NEW=$2; COPIES=${3:-34}; RUNS=${4:-5}
ROOT=${BENCH_ROOT:-/dev/shm/poscuda-ab}
. bench/corpus.sh
make_corpus "$ROOT" "$COPIES"
files=$(find "$ROOT/src" -name '*.wav' | wc -l)
dotnet "$NEW/poscuda.dll" keyring create "$ROOT/keyring.json" >/dev/null
now() { date +%s.%N; }
clean() { rm -rf "$ROOT/cp" "$ROOT/out" "$ROOT/out.poscuda-state"; sync; }
protect() { dotnet "$1/poscuda.dll" protect "$ROOT/src" "$ROOT/out" --keyring "$ROOT/keyring.json" --labels 'regex:^copy\d+/(?<label>\d+)_' --quiet >/dev/null 2>&1; }
c=(); b=(); n=()
for r in $(seq 1 "$RUNS"); do
  clean; t0=$(now); cp -r "$ROOT/src" "$ROOT/cp"; c+=("$(echo "$(now) - $t0" | bc -l)")
  clean; t0=$(now); protect "$BASE"; b+=("$(echo "$(now) - $t0" | bc -l)")
  clean; t0=$(now); protect "$NEW"; n+=("$(echo "$(now) - $t0" | bc -l)")
  printf 'run %d (%d clips): cp -r %.2f s, protect base %.2f s, protect new %.2f s\n' "$r" "$files" "${c[-1]}" "${b[-1]}" "${n[-1]}"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
mc=$(median "${c[@]}"); mb=$(median "${b[@]}"); mn=$(median "${n[@]}")
printf 'median: cp -r %.2f s, base %.2f s (%.2fx cp), new %.2f s (%.2fx cp): new/base %.2fx\n' "$mc" "$mb" "$(echo "$mb / $mc" | bc -l)" "$mn" "$(echo "$mn / $mc" | bc -l)" "$(echo "$mn / $mb" | bc -l)"
rm -rf "$ROOT"
