#!/usr/bin/env bash
# Benchmark: the CPU SIMD patch engine against the ILGPU engine (CUDA when found, else ILGPU's CPU accelerator), in memory:
# clips/s, patches/s and multiply-adds/s, positional on 3,000 FSDD-like clips and `whole` on minute-long 48 kHz clips, a
# byte-compare of both engines' outputs, and the CPU engine's cost per patch and per sample on one core. Clips are generated,
# so no dataset is needed. About 1 minute with a GPU, 2-3 minutes on ILGPU's CPU accelerator (plus the publish).
#
#   bench/gpu.sh [SECONDS]   publish (where the .NET SDK is) and run; SECONDS per measurement, default 3.
#                            Without the SDK (a bare device machine) it runs the copy that `prepare` left in .gpu-bench.
#   bench/gpu.sh prepare     publish self-contained, one compressed file (~43 MB), into .gpu-bench (git-ignored),
#                            to carry to a device machine: run(command="bench/gpu.sh", carry=[".gpu-bench"]).
# Exit code 1 when the engines' outputs differ.
set -euo pipefail
cd "$(dirname "$0")/.."
PROJECT=bench/PosCuda.GpuBench/PosCuda.GpuBench.csproj
if [ "${1:-}" = prepare ]; then
  dotnet publish "$PROJECT" -c Release -r linux-x64 --self-contained true -p:PublishSingleFile=true -o .gpu-bench -v quiet -nologo
  rm -f .gpu-bench/*.pdb
  ls -l .gpu-bench
  exit 0
fi
if command -v nvidia-smi >/dev/null 2>&1; then
  echo "nvidia-smi: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -1)"
else
  echo "nvidia-smi: not found"
fi
if command -v dotnet >/dev/null 2>&1; then
  dotnet publish "$PROJECT" -c Release -o out/gpu-bench -v quiet -nologo >/dev/null
  exec dotnet out/gpu-bench/gpu-bench.dll "${1:-3}"
elif [ -x .gpu-bench/gpu-bench ]; then
  exec .gpu-bench/gpu-bench "${1:-3}"
else
  echo "gpu.sh: no .NET SDK here and no .gpu-bench/gpu-bench (run 'bench/gpu.sh prepare' where the SDK is, and carry .gpu-bench)" >&2
  exit 2
fi
