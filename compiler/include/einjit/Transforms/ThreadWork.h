//===- ThreadWork.h - When a loop nest is worth threads ---------*- C++ -*-===//
//
// einsum-tile-and-vectorize and einsum-fuse-rows put a loop nest on threads
// (an scf.forall) from a share of `parallel-work` iterations, by what the
// nest spends its iterations on: FMAs of a contraction, memory bandwidth,
// or math functions.
//
//===----------------------------------------------------------------------===//

#ifndef EINJIT_TRANSFORMS_THREADWORK_H
#define EINJIT_TRANSFORMS_THREADWORK_H

#include "mlir/IR/Operation.h"

#include <algorithm>
#include <cstdint>

namespace mlir::einsum {

/// A contraction (an op that sums products of inputs it reads many times,
/// packed or direct GEMM kernels) takes threads at this share of the
/// parallel-work threshold: its FMAs pay for waking the other thread from
/// about 64³ iterations. `ij,jk->ik` on two Zen 4 cores at 96³: 116
/// GFLOP/s on one thread, 184 on two; at 112³ 114 against 166; at 64³ the
/// same either way. (The packed micro-kernel's chunks on one thread, which
/// only block the caches, keep the whole threshold.)
constexpr int64_t kContractionShare = 8;

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
