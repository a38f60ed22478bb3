#!/usr/bin/env bash
# Protects the bundled FSDD sample (samples/fsdd) into out/sample-protected with a fresh keyring.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p out
BIN=$(scripts/publish.sh)
poscuda() { dotnet "$BIN/poscuda.dll" "$@"; }
if [ ! -f out/sample-keyring.json ]; then
  poscuda keyring create out/sample-keyring.json
fi
set +e
poscuda protect samples/fsdd out/sample-protected \
  --keyring out/sample-keyring.json \
  --labels 'regex:^(?<label>\d+)_' \
  --report out/sample-report.json "$@"
code=$?
set -e
echo "report: out/sample-report.json (exit code $code)"
exit $code
