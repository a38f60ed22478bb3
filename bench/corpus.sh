# Sourced by the bench scripts: make_corpus ROOT COPIES replicates FSDD ($FSDD) COPIES times into ROOT/src
# (folders copy001, copy002, ...) and prints its size.
FSDD=${FSDD:-../shared/datasets/fsdd/recordings}
make_corpus() {
  local root=$1 copies=$2 i d
  [ -d "$FSDD" ] || { echo "FSDD not found at $FSDD (set FSDD=...)" >&2; exit 1; }
  rm -rf "$root"; mkdir -p "$root/src"
  for i in $(seq 1 "$copies"); do
    d="$root/src/copy$(printf %03d "$i")"; mkdir -p "$d"; cp "$FSDD"/*.wav "$d/"
  done
  echo "corpus: $(find "$root/src" -name '*.wav' | wc -l) clips, $(($(du -sb "$root/src" | cut -f1) / 1000000)) MB in $root/src"
}
