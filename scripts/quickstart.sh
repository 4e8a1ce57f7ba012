#!/usr/bin/env bash
# Fresh Debian bookworm to a real einsum: install dependencies, build, run a
# matrix product on random data and time a 512x512x512 one.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
BUILD_DIR=${BUILD_DIR:-build}
"$BUILD_DIR"/bin/einsum-run 'ij,jk->ik' f32:2x3 f32:3x4 --print
"$BUILD_DIR"/bin/einsum-run 'ij,jk->ik' f32:512x512 f32:512x512 --bench=20
