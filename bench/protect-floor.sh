#!/usr/bin/env bash
# Where `poscuda protect` stands between `cp -r` and the floor: alternates `cp -r`, bench/syscall-floor.c (only the
# system calls a short clip needs, two threads; "write": read whole + write whole, today's design; "kcopy":
# copy_file_range of the source + pwrite of the patch) and `poscuda protect` on one RAM-disk corpus, RUNS times, and
# prints the medians of wall time and of CPU time (user + system), and each against cp -r.
# Usage: bench/protect-floor.sh [COPIES] [RUNS]   (COPIES x 3,000 FSDD clips; BIN=DIR uses a published build)
set -euo pipefail
cd "$(dirname "$0")/.."
COPIES=${1:-34}; RUNS=${2:-3}
ROOT=${BENCH_ROOT:-/dev/shm/poscuda-floor}
. bench/corpus.sh
BIN=${BIN:-$(scripts/publish.sh)}
work=$(mktemp -d); trap 'rm -rf "$work" "$ROOT"' EXIT
cc -O2 -pthread -o "$work/floor" bench/syscall-floor.c
make_corpus "$ROOT" "$COPIES"
dotnet "$BIN/poscuda.dll" keyring create "$ROOT/keyring.json" >/dev/null
clean() { rm -rf "$ROOT/out" "$ROOT/out.poscuda-state"; sync; }
# timed NAME CMD...: appends "wall cpu" to $work/NAME
timed() {
  local name=$1; shift; clean
  /usr/bin/time -o "$work/t" -f '%e %U %S' "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
  read -r w u s <"$work/t"; echo "$w $(echo "$u + $s" | bc -l)" >>"$work/$name"
  printf '%s %.2f s (cpu %.2f s)  ' "$name" "$w" "$(echo "$u + $s" | bc -l)"
}
for r in $(seq 1 "$RUNS"); do
  printf 'run %d: ' "$r"
  timed cp cp -r "$ROOT/src" "$ROOT/out"
  timed write "$work/floor" "$ROOT/src" "$ROOT/out" w 2
  timed kcopy "$work/floor" "$ROOT/src" "$ROOT/out" c 2
  timed protect dotnet "$BIN/poscuda.dll" protect "$ROOT/src" "$ROOT/out" --keyring "$ROOT/keyring.json" \
    --labels 'regex:^copy\d+/(?<label>\d+)_' --quiet
  echo
done
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
cw=$(cut -d' ' -f1 "$work/cp" | median); cc=$(cut -d' ' -f2 "$work/cp" | median)
for name in cp write kcopy protect; do
  w=$(cut -d' ' -f1 "$work/$name" | median); c=$(cut -d' ' -f2 "$work/$name" | median)
  printf 'median %-7s wall %.2f s (%.2fx cp -r), cpu %.2f s (%.2fx cp -r)\n' "$name" "$w" "$(echo "$w / $cw" | bc -l)" "$c" "$(echo "$c / $cc" | bc -l)"
done
