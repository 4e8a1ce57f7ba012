//===- RegisterTile.h - Register tile shared by the CPU passes --*- C++ -*-===//
//
// The outer-product register tile of the CPU kernels: rows x two SIMD
// registers of accumulators. einsum-pack-contractions packs panels of
// exactly these sizes, and einsum-tile-and-vectorize tiles loop nests by
// them, so both read them from here.
//
//===----------------------------------------------------------------------===//

#ifndef EINJIT_TRANSFORMS_REGISTERTILE_H
#define EINJIT_TRANSFORMS_REGISTERTILE_H

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Types.h"
#include "mlir/Support/LLVM.h"

#include <algorithm>
#include <array>
#include <cstdint>

namespace mlir::einsum {

/// Elements of `elementType` in one SIMD register of `vectorBits` bits.
inline int64_t simdLanes(Type elementType, unsigned vectorBits) {
  unsigned bits = getElementTypeOrSelf(elementType).getIntOrFloatBitWidth();
  return std::max<int64_t>(1, vectorBits / std::max(8u, bits));
}

/// Rows of the outer-product register tile: two accumulator registers per
/// row, and 4 registers left for the loaded operands (8 with AVX-512's 32
/// registers, 6 with AVX2's 16, as BLIS' haswell kernels).
inline int64_t registerRows(unsigned vectorRegisters) {
  return std::clamp<int64_t>((int64_t(vectorRegisters) - 4) / 2, 1, 8);
}

/// Register-tile rows for `rows` rows of the result, `mr` by default: where
/// `mr` leaves a remainder, a row count from 3/4 to 3/2 of `mr` that
/// divides `rows`, as close to `mr` as there is (the larger on ties), that
/// fits the registers with `registersPerRow` accumulators per row and 4
/// left for the operands. The remainder would be a part of its own: in
/// einsum-pack-contractions an edge contraction, which packs the right
/// input again (attention scores at s = 20 run as 16 + 4 rows with 8 and
/// as two tiles of 10 with none); in einsum-tile-and-vectorize's direct
/// kernel a thin tile that reads the right input again.
inline int64_t evenRows(int64_t rows, int64_t mr, int64_t registersPerRow,
                        unsigned vectorRegisters) {
  if (rows % mr == 0 || registersPerRow <= 0)
    return mr;
  int64_t fewest = (3 * mr + 3) / 4;
  int64_t most = std::min<int64_t>(3 * mr / 2, (int64_t(vectorRegisters) - 4) /
                                                   registersPerRow);
  for (int64_t distance = 1; distance <= std::max(mr - fewest, most - mr);
       ++distance)
    for (int64_t candidate : {mr + distance, mr - distance})
      if (candidate >= fewest && candidate <= most && rows % candidate == 0)
        return candidate;
  return mr;
}

/// The largest divisor of `range` that is at most `cap` and a multiple of
/// `multiple` (which divides `range`): a tile size that divides its loop.
inline int64_t tileFor(int64_t range, int64_t cap, int64_t multiple = 1) {
  if (range <= 0)
    return 0;
  for (int64_t t = std::min(range, cap); t >= multiple; --t)
    if (range % t == 0 && t % multiple == 0)
      return t;
  return multiple;
}

/// The loop roles that einsum-pack-contractions records, one per loop, in
/// the `einsum.gemm` attribute of the micro-kernel op it builds.
enum class GemmLoop : int64_t {
  Outer = 0, ///< batch labels, and M or N labels outside the register tile
  MPanel,    ///< the M panel index (register-tile rows)
  NPanel,    ///< the N panel index (register-tile columns)
  K,         ///< a contracted label
  MTile,     ///< the row inside the register tile
  NTile,     ///< the column inside the register tile
  KPair,     ///< an element of a K pair (bf16 dot products)
};

/// The attribute naming the loop roles of a packed micro-kernel op.
constexpr llvm::StringLiteral kGemmAttrName = "einsum.gemm";

/// The attribute of a square 2-D block transpose (`linalg.transpose`) that
/// einsum-lower-copies lowers to row loads, shuffles and row stores; with
/// kStreamAttrName too, the stores are non-temporal.
constexpr llvm::StringLiteral kTransposeBlockAttrName =
    "einsum.transpose_block";
constexpr llvm::StringLiteral kStreamAttrName = "einsum.stream";

/// Bytes in a cache line: the unit of non-temporal stores and prefetches.
constexpr int64_t kCacheLineBytes = 64;

/// x86's L1 data caches are indexed by the page offset: 4 KiB of sets,
/// 8 ways (Zen 3/4/5; Intel's 48 KiB L1s have 12).
constexpr int64_t kL1SetBytes = 4096, kL1Ways = 8;

/// Whether more than `limit` of `rows` rows `rowBytes` apart, read at one
/// column, fall in one set of the L1: rows 4 KiB apart all share a set,
/// and rows 4092 bytes apart (1023 f32) put 15 of 16 in one. Rows read
/// backwards (a negative stride) crowd the sets as forwards.
inline bool crowdsL1Set(int64_t rowBytes, int64_t rows, int64_t limit) {
  std::array<int64_t, kL1SetBytes / kCacheLineBytes> perSet{};
  int64_t distance = rowBytes < 0 ? -rowBytes : rowBytes;
  for (int64_t r = 0; r < rows; ++r)
    if (++perSet[r * distance % kL1SetBytes / kCacheLineBytes] > limit)
      return true;
  return false;
}

/// Whether `acc`, a vector.contract's accumulator, is a register tile: rows
/// and columns, two dimensions of more than one element (`8x32`, or the
/// packed micro-kernel's `[..., 8, 1, 32]`), the columns innermost.
inline bool isRegisterTile(VectorType acc) {
  return acc.getShape().back() > 1 &&
         llvm::count_if(acc.getShape(), [](int64_t d) { return d > 1; }) == 2;
}

/// The strides of `type` where all are static and the innermost is 1.
inline std::optional<SmallVector<int64_t>> unitInnerStrides(MemRefType type) {
  SmallVector<int64_t> strides;
  int64_t offset;
  if (failed(type.getStridesAndOffset(strides, offset)) ||
      llvm::any_of(strides, ShapedType::isDynamic) || strides.back() != 1)
    return std::nullopt;
  return strides;
}

/// For a vector along the trailing dimensions of a memref of rank `rank`
/// (a minor identity map): the memref dimension of the one dimension of
/// the vector before its last with more than one element (a register
/// tile's rows); nullopt where there is none, failure where there are
/// several.
inline FailureOr<std::optional<unsigned>> tileRowDimension(VectorType vector,
                                                           unsigned rank) {
  unsigned first = rank - vector.getRank();
  std::optional<unsigned> rowDim;
  for (auto [d, extent] : llvm::enumerate(vector.getShape().drop_back())) {
    if (extent == 1)
      continue;
    if (rowDim)
      return failure();
    rowDim = first + d;
  }
  return rowDim;
}

/// A result larger than this many L2 caches, and than half the L3, is
/// written with non-temporal stores (transposes, elementwise ops, and the
/// register tiles of einsum-stream-tile-stores).
constexpr int64_t kStreamL2s = 4;

/// The result size from which stores stream past the caches: a result that
/// half the L3 holds is read from there by the op that comes next, and by
/// the same op's next call (a bias add of 2048 x 768 f32, 6.3 MB, both Zen
/// 4 cores: 0.23 ms streamed, 0.07 ms cached; i,j->ij of 4096 x 4096, 64
/// MB, 2.4 ms either way).
inline int64_t streamBytes(int64_t l2Bytes, int64_t l3Bytes) {
  return std::max(kStreamL2s * l2Bytes, l3Bytes / 2);
}
/// On the linalg.generic that contracts a step of an einsum's path (not on
/// conversions and complex product matrices around it): the label id of
/// each loop (-1 and -2: a complex value's and a product's pair dims).
constexpr llvm::StringLiteral kStepAttrName = "einsum.step";
/// On a kernel module: an input is read with a negative stride
/// (einsum-negative-strides keeps its address arithmetic defined).
constexpr llvm::StringLiteral kNegativeStridesAttrName =
    "einsum.negative_strides";

} // namespace mlir::einsum

#endif // EINJIT_TRANSFORMS_REGISTERTILE_H
