#!/bin/bash
# Compiles the GPU check's kernels on a machine with LLVM/MLIR (this one),
# for a GPU machine without them: per workload in workloads.txt, the host
# code that einsum-run --device=cuda --emit=llvm-ir prints (PTX for sm_90
# inside, einsum_init loads it) becomes a shared library OUT/NAME.so. On
# the GPU machine, check.py builds runtime/lib/CudaAbi.cpp (the mgpu* ABI)
# and runs them.
#   bench/gpu/prepare.sh [BUILD_DIR] [OUT]   (defaults: build bench/gpu/out)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
out=${2:-$root/bench/gpu/out}
llc=${LLC:-/usr/lib/llvm-22/bin/llc}
mkdir -p "$out"
rm -f "$out"/*.so "$out"/manifest.txt
grep -v '^#' "$root/bench/gpu/workloads.txt" | grep -v '^\s*$' |
  while IFS='|' read -r kind_name equation operands; do
    read -r kind name <<<"$kind_name"
    equation=$(echo "$equation" | xargs)
    # The GPU machine's CPU is not this one's: the host code is for x86-64-v2.
    # shellcheck disable=SC2086
    "$build/bin/einsum-run" --device=cuda --emit=llvm-ir --gpu-chip=sm_90 \
      --mcpu=x86-64-v2 "$equation" $operands >"$out/$name.ll"
    "$llc" -O2 -relocation-model=pic -filetype=obj "$out/$name.ll" \
      -o "$out/$name.o"
    cc -shared "$out/$name.o" -o "$out/$name.so"
    rm "$out/$name.ll" "$out/$name.o"
    echo "$kind|$name|$equation|$(echo "$operands" | xargs)" >>"$out/manifest.txt"
  done
# The driver and mgpu* ABI library too, for a GPU machine without a C++
# compiler (check.py builds its own where it can).
c++ -O2 -std=c++17 -shared -fPIC -static-libstdc++ -static-libgcc \
  "$root/runtime/lib/CudaAbi.cpp" -o "$out/libeinjit-cuda-abi.so" -ldl
echo "prepared $(wc -l <"$out/manifest.txt") kernels in $out"
