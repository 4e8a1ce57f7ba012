#!/bin/bash
# Instructions a cold compile of one einsum executes, counted by callgrind:
# repeatable where wall-clock compile times move by 30% on a shared VM.
#
#   bench/compile_instructions.sh [--mcpu CPU] EQUATION OPERAND...
#
# Prints the instructions of einsum-run's planning, MLIR pipeline and
# LLVM's O3 (inside einjit::emitLLVMIR, which --emit=llvm-ir calls) and of
# llc -O3 on its output (code generation, as the JIT runs it; llc's own
# start is about 35M of it). valgrind
# does not emulate AVX-512, so the CPU is given explicitly (default
# znver4): without it einsum-run would detect an AVX2 host under valgrind.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
run=${EINSUM_RUN:-$root/build/bin/einsum-run}
llc=${LLC:-/usr/lib/llvm-22/bin/llc}
mcpu=znver4
if [ "${1:-}" = --mcpu ]; then
  mcpu=$2
  shift 2
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Only inside einjit::emitLLVMIR: planning, the module, the MLIR pipeline
# and O3, not the process's start or its random operands.
"$run" "$@" --mcpu="$mcpu" --emit=llvm-ir >"$work/k.ll"
front=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null \
  '--toggle-collect=einjit::emitLLVMIR*' "$run" "$@" --mcpu="$mcpu" \
  --emit=llvm-ir 2>&1 >/dev/null | awk '/Collected/ {print $4}')
back=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$llc" -O3 \
  -mcpu="$mcpu" -relocation-model=pic -filetype=obj "$work/k.ll" \
  -o "$work/k.o" 2>&1 | awk '/Collected/ {print $4}')
echo "$* ($mcpu): MLIR + LLVM O3 $((front / 1000000))M, llc $((back / 1000000))M," \
  "total $(((front + back) / 1000000))M instructions"
