#!/usr/bin/env bash
# The one test command: installs what is missing, builds, and runs every
# test through ctest (GoogleTest, lit, numpy parity, clang-format check).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
BUILD_DIR=${BUILD_DIR:-build}
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$(nproc)"
