#!/usr/bin/env bash
# Configures and builds einjit into build/ (or $BUILD_DIR) with Ninja against
# Debian's LLVM/MLIR 22. Run scripts/setup.sh first on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
PY=$(command -v "${PYTHON:-python3}")
cmake -S . -B "$BUILD_DIR" -G Ninja \
  -DCMAKE_BUILD_TYPE=Release \
  -DMLIR_DIR=/usr/lib/llvm-22/lib/cmake/mlir \
  -DPython3_EXECUTABLE="$PY" >/dev/null
cmake --build "$BUILD_DIR"
