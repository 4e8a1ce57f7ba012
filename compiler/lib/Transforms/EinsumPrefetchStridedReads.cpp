//===- EinsumPrefetchStridedReads.cpp - Prefetch far-strided reads --------===//
//
// Software prefetches for vector reads that step through rows too far apart
// for the hardware prefetchers, and for the rows of the next register tile;
// the algorithm is in Passes.td.
//
//===----------------------------------------------------------------------===//

#include "einjit/Transforms/Passes.h"
#include "einjit/Transforms/RegisterTile.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/IRMapping.h"

namespace mlir::einsum {
#define GEN_PASS_DEF_EINSUMPREFETCHSTRIDEDREADS
#include "einjit/Transforms/Passes.h.inc"
} // namespace mlir::einsum

using namespace mlir;

using einsum::kCacheLineBytes;

/// Whether `v` is `iv`, or computed in `loop`'s body from `iv` and values
/// defined outside the loop by one op (an affine.apply or an arith op).
static bool dependsOn(Value v, Value iv, scf::ForOp loop) {
  if (v == iv)
    return true;
  Operation *def = v.getDefiningOp();
  return def && def->getBlock() == loop.getBody() &&
         llvm::is_contained(def->getOperands(), iv);
}

/// `v` (dependsOn `iv`) computed for `ahead` instead of `iv`, at the
/// builder's insertion point.
static Value recompute(OpBuilder &b, Value v, Value iv, Value ahead) {
  if (v == iv)
    return ahead;
  IRMapping map;
  map.map(iv, ahead);
  return b.clone(*v.getDefiningOp(), map)->getResult(0);
}

/// Whether `v` is defined outside `loop`.
static bool definedOutside(Value v, scf::ForOp loop) {
  return !loop->isAncestor(v.getParentBlock()->getParentOp());
}

/// Whether `v` is `iv`, or the result of one pure op in `loop`'s body whose
/// operands are `iv` or defined outside the loop, so that `recompute` is
/// valid; with `iv` null, whether `v` is invariant in the loop that way.
static bool simpleIn(Value v, Value iv, scf::ForOp loop) {
  if (iv && v == iv)
    return true;
  if (definedOutside(v, loop))
    return !iv;
  Operation *def = v.getDefiningOp();
  if (!def || def->getBlock() != loop.getBody() || def->getNumResults() != 1 ||
      !isPure(def))
    return false;
  return llvm::all_of(def->getOperands(), [&](Value operand) {
    return (iv && operand == iv) || definedOutside(operand, loop);
  });
}

namespace {
struct EinsumPrefetchStridedReads
    : einsum::impl::EinsumPrefetchStridedReadsBase<EinsumPrefetchStridedReads> {
  using Base::Base;

  void prefetch(scf::ForOp loop, vector::TransferReadOp read) {
    auto type = dyn_cast<MemRefType>(read.getBase().getType());
    if (!type || !type.hasStaticShape() ||
        !read.getPermutationMap().isMinorIdentity() ||
        !llvm::all_of(read.getInBoundsValues(), [](bool b) { return b; }))
      return;
    SmallVector<int64_t> strides;
    int64_t offset;
    if (failed(type.getStridesAndOffset(strides, offset)) ||
        llvm::any_of(strides, ShapedType::isDynamic))
      return;
    // A loop of at most `distance` steps (a block of kColumnSumRows rows
    // read across the whole width, `ij,jk->ik` at 4x4096 by 4096x4096)
    // would prefetch past its own end, rows read only after the sweep.
    std::optional<int64_t> lb = getConstantIntValue(loop.getLowerBound()),
                           ub = getConstantIntValue(loop.getUpperBound()),
                           step = getConstantIntValue(loop.getStep());
    if (lb && ub && step && *step > 0 && (*ub - *lb) / *step <= distance)
      return;
    Value iv = loop.getInductionVar();
    unsigned rank = type.getRank();
    std::optional<unsigned> strided;
    for (auto [d, index] : llvm::enumerate(read.getIndices())) {
      if (!dependsOn(index, iv, loop)) {
        if (!simpleIn(index, Value(), loop))
          return; // varies in the loop some other way
        continue;
      }
      if (strided || d + 1 == rank || !simpleIn(index, iv, loop))
        return;
      strided = d;
    }
    int64_t elementBytes = type.getElementTypeBitWidth() / 8;
    if (!strided || elementBytes == 0 ||
        strides[*strided] * elementBytes < minStrideBytes ||
        type.getNumElements() * elementBytes <= l2Bytes / 2)
      return;

    OpBuilder b(read);
    Location loc = read.getLoc();
    Value ahead = arith::AddIOp::create(
        b, loc, iv,
        arith::MulIOp::create(
            b, loc, loop.getStep(),
            arith::ConstantIndexOp::create(b, loc, distance)));
    Value index = arith::MinSIOp::create(
        b, loc, recompute(b, read.getIndices()[*strided], iv, ahead),
        arith::ConstantIndexOp::create(b, loc, type.getDimSize(*strided) - 1));
    SmallVector<Value> indices(read.getIndices());
    indices[*strided] = index;
    // One prefetch per cache line of the vector's innermost run, and one
    // for its last element (the run may straddle one more line).
    int64_t run = read.getVectorType().getShape().back();
    int64_t lineElements = std::max<int64_t>(1, kCacheLineBytes / elementBytes);
    SmallVector<int64_t> offsets;
    for (int64_t e = 0; e < run; e += lineElements)
      offsets.push_back(e);
    if ((run - 1) % lineElements != 0)
      offsets.push_back(run - 1);
    Value inner = read.getIndices().back();
    for (int64_t e : offsets) {
      indices.back() = e == 0 ? inner
                              : arith::AddIOp::create(
                                    b, loc, inner,
                                    arith::ConstantIndexOp::create(b, loc, e));
      memref::PrefetchOp::create(b, loc, read.getBase(), indices,
                                 /*isWrite=*/false, /*localityHint=*/3,
                                 /*isDataCache=*/true);
    }
  }

  /// The left input of an outer-product register tile: a read of one
  /// element from each of R rows (`vector<1x8x1xf32>` of `[b, m, k]`) whose
  /// innermost index walks K. Each row is read in order, which the
  /// hardware follows, but the next tile's rows start cold. So each step
  /// prefetches the same K of row R + (step mod R) below the read's first:
  /// every R steps touch each row of the next register tile (Passes.td).
  void prefetchNextRows(scf::ForOp loop, vector::TransferReadOp read) {
    auto type = dyn_cast<MemRefType>(read.getBase().getType());
    VectorType vector = read.getVectorType();
    std::optional<int64_t> step = getConstantIntValue(loop.getStep());
    if (!type || !type.hasStaticShape() || !step || *step <= 0 ||
        !read.getPermutationMap().isMinorIdentity() ||
        !llvm::all_of(read.getInBoundsValues(), [](bool b) { return b; }) ||
        vector.getShape().back() != 1)
      return;
    int64_t elementBytes = type.getElementTypeBitWidth() / 8;
    std::optional<SmallVector<int64_t>> strides =
        einsum::unitInnerStrides(type);
    if (!strides || elementBytes == 0 ||
        type.getNumElements() * elementBytes <= l2Bytes / 2)
      return;
    // The one dimension of the vector with more than one element: the
    // rows.
    unsigned rank = type.getRank(), first = rank - vector.getRank();
    FailureOr<std::optional<unsigned>> rowDims =
        einsum::tileRowDimension(vector, rank);
    if (failed(rowDims) || !*rowDims)
      return;
    std::optional<unsigned> rowDim = *rowDims;
    Value iv = loop.getInductionVar();
    for (auto [d, index] : llvm::enumerate(read.getIndices())) {
      bool walksK = d + 1 == rank;
      if (walksK ? !(dependsOn(index, iv, loop) && simpleIn(index, iv, loop))
                 : !simpleIn(index, Value(), loop))
        return;
    }
    int64_t rows = vector.getShape()[*rowDim - first];
    // A packed panel (`[b, panels, 8, k]`, the tile's rows a whole
    // dimension): the next tile's rows are the next panel's.
    std::optional<unsigned> panelDim;
    if (rows == type.getDimSize(*rowDim)) {
      if (*rowDim == 0)
        return;
      panelDim = *rowDim - 1;
    }
    // Where the two tiles' rows crowd a set of the L1, the next tile's
    // rows would evict the current one's, so they are prefetched into the
    // L2 only. Packed panels: matmul 1024³ read in place, 108 GFLOP/s on
    // one Zen 4 core with no prefetch, 83 into the L1, 109 into the L2;
    // 1024 x 1023 by 1023 x 1024: 95 into the L1, 108.5 into the L2. The
    // direct kernel's rows of a long K (12 KiB apart for K = 3072, all in
    // one set): `bi,io->bo` at 100x3072 by 3072x768, 90 -> 109 GFLOP/s;
    // `ij,jk->ik` at 256x4096 by 4096x256, 102 -> 115.
    int locality = 3;
    if (einsum::crowdsL1Set((*strides)[*rowDim] * elementBytes, 2 * rows,
                            einsum::kL1Ways / 2))
      locality = 2;
    OpBuilder b(read);
    Location loc = read.getLoc();
    auto constant = [&](int64_t v) {
      return arith::ConstantIndexOp::create(b, loc, v);
    };
    Value steps =
        *step == 1 ? iv : arith::DivUIOp::create(b, loc, iv, constant(*step));
    Value row = arith::RemUIOp::create(b, loc, steps, constant(rows));
    SmallVector<Value> indices(read.getIndices());
    auto nextClamped = [&](unsigned d, Value ahead) -> Value {
      return arith::MinSIOp::create(
          b, loc, arith::AddIOp::create(b, loc, indices[d], ahead),
          constant(type.getDimSize(d) - 1));
    };
    if (panelDim) {
      indices[*panelDim] = nextClamped(*panelDim, constant(1));
      indices[*rowDim] = row;
    } else {
      indices[*rowDim] = nextClamped(
          *rowDim, arith::AddIOp::create(b, loc, row, constant(rows)));
    }
    memref::PrefetchOp::create(b, loc, read.getBase(), indices,
                               /*isWrite=*/false, locality,
                               /*isDataCache=*/true);
  }

  void runOnOperation() override {
    SmallVector<std::tuple<scf::ForOp, vector::TransferReadOp, bool>> reads;
    getOperation().walk([&](scf::ForOp loop) {
      // Only the K loops of register tiles (Passes.td); a tile whose rows
      // span a cache line or more is wide.
      bool tile = false, wide = false;
      for (vector::ContractionOp c :
           loop.getBody()->getOps<vector::ContractionOp>()) {
        auto acc = dyn_cast<VectorType>(c.getAccType());
        if (!acc || !einsum::isRegisterTile(acc))
          continue;
        tile = true;
        wide |= acc.getShape().back() *
                    acc.getElementType().getIntOrFloatBitWidth() >=
                kCacheLineBytes * 8;
      }
      if (!tile)
        return;
      for (auto read : loop.getBody()->getOps<vector::TransferReadOp>())
        reads.push_back({loop, read, wide});
    });
    for (auto [loop, read, wide] : reads) {
      prefetch(loop, read);
      if (wide)
        prefetchNextRows(loop, read);
    }
  }
};
} // namespace
