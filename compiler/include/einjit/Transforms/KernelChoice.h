//===- KernelChoice.h - Which CPU kernel runs a contraction step -*- C++
//-*-===//
//
// What the CPU passes will make of one contraction step, told in words for
// --explain: the kind of kernel, its label groups and tiles, and why that
// kind. The GEMM answer comes from the same functions that
// einsum-pack-contractions decides with, so the two cannot disagree. The
// answer itself, einjit::KernelChoice, is plain data in
// einjit/Compiler/KernelChoice.h (no MLIR), for the runtime's headers.
//
//===----------------------------------------------------------------------===//

#ifndef EINJIT_TRANSFORMS_KERNELCHOICE_H
#define EINJIT_TRANSFORMS_KERNELCHOICE_H

#include "einjit/Compiler/KernelChoice.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"

#include <optional>
#include <string>

namespace mlir::einsum {

/// The kernel the CPU pipeline builds for `op`, a linalg.generic of
/// convert-einsum-to-linalg whose loop `i` is named `loopNames[i]`, on a
/// target with `vectorBits`-bit SIMD registers, `vectorRegisters` of them
/// and caches of `l1Bytes`, `l2Bytes` and `l3Bytes` (and AVX512-BF16's and
/// AVX512-VNNI's dot products
/// with `bf16Dot` and `int8Dot`).
/// Like the pass, it fuses adjacent labels of one role first, so `op` may
/// be replaced (in a module built to be described).
einjit::KernelChoice
describeKernel(linalg::GenericOp op, ArrayRef<std::string> loopNames,
               unsigned vectorBits, unsigned vectorRegisters, int64_t l1Bytes,
               int64_t l2Bytes, int64_t l3Bytes, bool bf16Dot, bool int8Dot);

/// The register tiles of einsum-tile-and-vectorize's direct kernel for the
/// contraction `op` (loop `i` named `name(i)`): dot products in SIMD lanes,
/// or an outer-product tile with its remainders split off, and the inputs
/// it transposes first ("register tile 10x32 over i x k; split at k = 96,
/// edge tiles 10x4"). Empty for an op without parallel or
/// reduction loops.
std::string describeDirectTiles(linalg::GenericOp op,
                                function_ref<std::string(unsigned)> name,
                                unsigned vectorBits, unsigned vectorRegisters,
                                int64_t l1Bytes, int64_t l2Bytes);

/// For a copy that permutes its input (one input with a permutation map, an
/// identity result map, a body that yields the input) and moves the
/// input's contiguous dimension: the loop of that dimension.
std::optional<unsigned> transposedLoop(linalg::LinalgOp op);

} // namespace mlir::einsum

#endif // EINJIT_TRANSFORMS_KERNELCHOICE_H
