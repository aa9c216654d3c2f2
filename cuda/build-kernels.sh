#!/usr/bin/env bash
# Builds the CUDA kernels (src/main/cuda/*.cu) into classpath resources io/cohort/cuda/kernels/<name>.{fatbin,ptx}.
#   fatbin: sm_90 machine code (Hopper) + compute_80 PTX that the driver JIT-compiles for other GPUs
#   ptx:    the same PTX alone (readable; the loaders' fallback should a fatbin be refused)
# Where nvcc is missing, the committed fatbins in src/main/kernels/ are used instead (the PTX is not committed:
# the fatbin carries it).
# usage: build-kernels.sh <output dir> [--update-prebuilt]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?output dir}
mkdir -p "$out"
nvcc=${NVCC:-$(command -v nvcc || true)}
[ -n "$nvcc" ] || { [ -x /usr/local/cuda/bin/nvcc ] && nvcc=/usr/local/cuda/bin/nvcc; }
if [ -z "$nvcc" ]; then
  echo "[cohort-cuda] nvcc not found: using prebuilt kernels from src/main/kernels"
  cp "$here"/src/main/kernels/*.fatbin "$out"/
  exit 0
fi
for cu in "$here"/src/main/cuda/*.cu; do
  name=$(basename "$cu" .cu)
  fresh=1
  for dep in "$cu" "$here"/src/main/cuda/*.cuh; do [ "$out/$name.fatbin" -nt "$dep" ] || fresh=0; done
  [ $fresh = 1 ] && continue
  echo "[cohort-cuda] nvcc $name.cu"
  "$nvcc" -O3 -std=c++17 -ptx -arch=compute_80 -o "$out/$name.ptx" "$cu"
  "$nvcc" -O3 -std=c++17 -fatbin -Xfatbin -compress-all \
      -gencode arch=compute_80,code=compute_80 -gencode arch=compute_90,code=sm_90 -o "$out/$name.fatbin" "$cu"
  cmp -s "$out/$name.fatbin" "$here/src/main/kernels/$name.fatbin" ||
    echo "[cohort-cuda] warning: src/main/kernels/$name.fatbin differs from the fresh build; refresh with --update-prebuilt"
done
if [ "${2:-}" = "--update-prebuilt" ]; then
  cp "$out"/*.fatbin "$here"/src/main/kernels/
  echo "[cohort-cuda] updated src/main/kernels"
fi
