//===- KernelChoice.h - A contraction step's kernel, in words ---*- C++ -*-===//
//
// What the CPU passes make of one contraction step, as plain strings for
// --explain and einjit::explain. Plain C++ (no MLIR); the function that
// decides it is in einjit/Transforms/KernelChoice.h.
//
//===----------------------------------------------------------------------===//

#ifndef EINJIT_COMPILER_KERNELCHOICE_H
#define EINJIT_COMPILER_KERNELCHOICE_H

#include <string>

namespace einjit {

struct KernelChoice {
  /// "GEMM, packed panels", "GEMM, direct kernel", "transpose", "copy",
  /// "reduction" or "loop nest".
  std::string kind;
  /// Label groups (batch/M/N/K, or the summed labels) and tiles.
  std::string detail;
  /// Why this kind.
  std::string why;
};

} // namespace einjit

#endif // EINJIT_COMPILER_KERNELCHOICE_H
