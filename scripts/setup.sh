#!/usr/bin/env bash
# Installs every dependency einjit needs on a fresh Debian bookworm machine:
# LLVM/MLIR 22 (from bookworm-security), lld-22, clang-format-22, clang-22
# with its sanitizer and libFuzzer run-time libraries (libclang-rt-22-dev,
# for scripts/sanitize.sh and scripts/fuzz.sh), ninja,
# ccache, GoogleTest, Google Benchmark, numpy from pip (which bundles
# OpenBLAS, the fair peer; Debian's python3-numpy uses reference BLAS), and
# NVIDIA's ptxas and libdevice from pip (nvidia-cuda-nvcc-cu12).
set -euo pipefail

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

pkgs=(cmake ninja-build ccache g++ python3 python3-pip
      llvm-22-dev llvm-22-tools libmlir-22-dev mlir-22-tools lld-22
      libomp-22-dev clang-format-22 libgtest-dev libbenchmark-dev libopenblas-dev
      clang-22 libclang-rt-22-dev
      zlib1g-dev
      libzstd-dev)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # LLVM/MLIR 22 come from bookworm-security: say so if it is not enabled.
  policy=$(apt-cache policy libmlir-22-dev)
  if ! grep -q 'Candidate: [0-9]' <<<"$policy"; then
    echo "setup.sh: error: no libmlir-22-dev candidate; enable the" \
      "bookworm-security suite (deb.debian.org/debian-security) in apt" >&2
    exit 1
  fi
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

PY=${PYTHON:-python3}
if ! "$PY" -c 'import numpy' 2>/dev/null; then
  "$PY" -m pip install --quiet numpy ||
    "$PY" -m pip install --quiet --break-system-packages numpy
fi
"$PY" -c 'import numpy; print("numpy", numpy.__version__)'
# NVIDIA's ptxas and libdevice (no driver, no GPU needed): the GPU tests
# link libdevice into kernels that call math functions and assemble their
# PTX with ptxas (test/lit.cfg.py finds them). Optional: without them,
# those tests are unsupported.
if ! "$PY" -c 'import nvidia.cuda_nvcc' 2>/dev/null; then
  "$PY" -m pip install --quiet nvidia-cuda-nvcc-cu12 ||
    "$PY" -m pip install --quiet --break-system-packages \
      nvidia-cuda-nvcc-cu12 ||
    echo "setup.sh: nvidia-cuda-nvcc-cu12 not installed; the ptxas and" \
      "libdevice tests will be unsupported" >&2
fi
