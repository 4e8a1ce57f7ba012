//===- KernelMemory.cpp - Process memory across many compiled kernels -----===//
//
//   einsum-kernel-memory [KERNELS]
//
// Compiles KERNELS (default 500) distinct matmul signatures, then clears the
// cache, and prints the process's resident memory (VmRSS) at each point and
// what the kernels cost each; then three more cycles of compile-and-clear,
// to show that memory after a clear does not grow from cycle to cycle.
//
//===----------------------------------------------------------------------===//

#include "einjit/runtime/Einsum.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <fstream>
#include <string>

using namespace einjit;

/// Resident memory of this process in MiB, from /proc/self/status.
static double residentMiB() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0)
      return std::stod(line.substr(6)) / 1024;
  return -1;
}

/// Compiles and runs `count` distinct signatures of `ij,jk->ik`.
static bool compileMany(int count, int variant) {
  for (int i = 0; i < count; ++i) {
    auto a = Tensor::allocate(DType::F32, {7, 3 + i});
    auto b = Tensor::allocate(DType::F32, {3 + i, 5 + variant});
    if (!a || !b) {
      llvm::errs() << llvm::toString(a ? b.takeError() : a.takeError()) << "\n";
      return false;
    }
    auto c = einsum("ij,jk->ik", {*a, *b});
    if (!c) {
      llvm::errs() << llvm::toString(c.takeError()) << "\n";
      return false;
    }
  }
  return true;
}

int main(int argc, char **argv) {
  int kernels = argc > 1 ? std::atoi(argv[1]) : 500;
  if (kernels <= 0) {
    llvm::errs() << "usage: einsum-kernel-memory [KERNELS > 0]\n";
    return 1;
  }
  setCacheCapacity(kernels);
  // One kernel first, so that one-time JIT and library setup is in the base.
  if (!compileMany(1, -1))
    return 1;
  clearCache();
  double base = residentMiB();
  if (!compileMany(kernels, 0))
    return 1;
  double full = residentMiB();
  clearCache();
  double cleared = residentMiB();
  llvm::outs() << llvm::formatv(
      "base {0:f1} MiB; {1} kernels cached {2:f1} MiB (+{3:f1} MiB, {4:f3} "
      "MiB per kernel); after clearCache {5:f1} MiB ({6:f1} MiB given "
      "back)\n",
      base, kernels, full, full - base, (full - base) / kernels, cleared,
      full - cleared);
  for (int cycle = 1; cycle <= 3; ++cycle) {
    if (!compileMany(kernels, cycle))
      return 1;
    double peak = residentMiB();
    clearCache();
    llvm::outs() << llvm::formatv(
        "cycle {0}: {1} kernels {2:f1} MiB, after clearCache {3:f1} MiB\n",
        cycle, kernels, peak, residentMiB());
  }
  return 0;
}
