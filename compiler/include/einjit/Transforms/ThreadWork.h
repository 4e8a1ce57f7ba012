//===- ThreadWork.h - When a loop nest is worth threads ---------*- C++ -*-===//
//
// einsum-tile-and-vectorize and einsum-fuse-rows put a loop nest on threads
// (an scf.forall) from `parallel-work` iterations: the size from which a
// contraction's FMAs pay for waking the other threads. A nest bound by
// memory, or one whose iterations each call a math function, pays from a
// share of that.
//
//===----------------------------------------------------------------------===//

#ifndef EINJIT_TRANSFORMS_THREADWORK_H
#define EINJIT_TRANSFORMS_THREADWORK_H

#include "mlir/IR/Operation.h"

#include <algorithm>
#include <cstdint>

namespace mlir::einsum {

/// A nest that reads an input once takes threads at this share of the
/// parallel-work threshold. A nest bound by memory bandwidth gains from a
/// second core's loads at a quarter of the work: a 768 x 768
/// matrix-vector product (590k iterations, 2.4 MB read once) took 27 us on
/// one thread, where OpenBLAS's sgemv on two took 21.
constexpr int64_t kMemoryBoundShare = 4;

/// A nest whose body calls a math function (exp, erf, ...) takes threads at
/// this share of the threshold: each iteration costs tens of vector
/// instructions per SIMD register, where a contraction's costs one FMA.
constexpr int64_t kMathShare = 16;

/// The threshold at `share` of `parallelWork`: at least 1, unless
/// `parallelWork` is 0 (no threads ever).
inline int64_t shareOf(int64_t parallelWork, int64_t share) {
  return parallelWork > 0 ? std::max<int64_t>(1, parallelWork / share) : 0;
}

/// Whether an op nested in `op` is a math-dialect op (a function call once
/// lowered: exp, erf, tanh, log, ...).
bool callsMath(Operation *op);

} // namespace mlir::einsum

#endif // EINJIT_TRANSFORMS_THREADWORK_H
