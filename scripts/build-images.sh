#!/usr/bin/env bash
# Builds the three images (coordinator, CPU worker, GPU worker) from deploy/docker and, with --push, pushes them.
#   scripts/build-images.sh REGISTRY/PREFIX TAG [--push]
#   e.g. scripts/build-images.sh registry.example.com/poscuda 1.0.0 --push
# Needs docker (or podman: CONTAINER_ENGINE=podman) and network access to the base images and NuGet. Then point the
# overlay at them: cd deploy/k8s/overlays/production && kustomize edit set image poscuda-worker=REGISTRY/PREFIX/poscuda-worker:TAG ...
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 2 ]; then
  echo "usage: $0 REGISTRY/PREFIX TAG [--push]" >&2
  exit 2
fi
prefix=$1 tag=$2 push=${3:-}
engine=${CONTAINER_ENGINE:-docker}
command -v "$engine" >/dev/null || { echo "build-images.sh: $engine is not installed (no container engine on this machine)" >&2; exit 1; }
for role in coordinator worker worker-gpu; do
  image="$prefix/poscuda-$role:$tag"
  echo "== $image"
  "$engine" build --platform linux/amd64 -f "deploy/docker/Dockerfile.$role" -t "$image" .
  if [ "$push" = "--push" ]; then
    "$engine" push "$image"
  fi
done
