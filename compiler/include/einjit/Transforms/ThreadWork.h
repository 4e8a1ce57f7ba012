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
/// parallel-work threshold (131k iterations of 2^21). Such a nest, bound by
/// the bandwidth of the caches or memory, gains from a second core's loads
/// from about 100k iterations: on two Zen 4 cores `ij->i` at 400 x 400
/// (160k) took 6 us on one thread and 4 on two, `ij->i` and `ij,j->i` at
/// 640 x 640 17-20 us against 9-10; at 256 x 256 (65k) two threads took 3
/// us against 2.
constexpr int64_t kMemoryBoundShare = 16;

/// A nest whose body calls a math function (exp, erf, ...) takes threads at
/// this share of the threshold (16k iterations): each iteration costs tens
/// of vector instructions per SIMD register, where a contraction's costs
/// one FMA. Eager gelu over 1 x 12 x 48 x 48 (27.6k) on two Zen 4 cores:
/// 8 us on one thread, 5-7 on two; exp over 1 x 12 x 56 x 56 8 against 5.
constexpr int64_t kMathShare = 128;

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
