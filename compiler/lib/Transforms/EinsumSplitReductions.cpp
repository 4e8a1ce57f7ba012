//===- EinsumSplitReductions.cpp - Blocked floating-point reductions ------===//
//
// Gives long floating-point reductions a tree of short partial sums, so that
// their rounding error grows with the depth of the tree instead of the length
// of the sum; the algorithm is in Passes.td.
//
//===----------------------------------------------------------------------===//

#include "einjit/Transforms/Passes.h"

#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/IR/IRMapping.h"

namespace mlir::einsum {
#define GEN_PASS_DEF_EINSUMSPLITREDUCTIONS
#include "einjit/Transforms/Passes.h.inc"
} // namespace mlir::einsum

using namespace mlir;

/// Reductions that add more terms than this into one accumulator are split.
static constexpr int64_t kMaxSequentialAdds = 256;
/// The same for the sums of block sums this pass makes: each term is itself
/// a sum of a block, so a longer run costs little accuracy, and every split
/// adds loop nests to compile.
static constexpr int64_t kMaxSequentialBlockSums = 4096;
/// Terms each accumulator adds within one block.
static constexpr int64_t kBlockAdds = 64;

/// The `arith.addf` that accumulates into the output, or null when `op` is
/// not a floating-point sum of that form.
static arith::AddFOp accumulation(linalg::GenericOp op) {
  if (op.getNumDpsInits() != 1 || !op.hasPureTensorSemantics())
    return nullptr;
  auto yield = cast<linalg::YieldOp>(op.getBody()->getTerminator());
  auto add = yield.getOperand(0).getDefiningOp<arith::AddFOp>();
  BlockArgument acc = op.getBody()->getArguments().back();
  if (!add || (add.getLhs() != acc && add.getRhs() != acc))
    return nullptr;
  return add;
}

/// Collapses the reduction loops of `op` into one when they are adjacent in
/// every indexing map; returns the op to continue with.
static linalg::GenericOp collapseReductions(RewriterBase &rewriter,
                                            linalg::GenericOp op) {
  SmallVector<unsigned> reductions;
  op.getReductionDims(reductions);
  if (reductions.size() < 2)
    return op;
  ReassociationIndices run;
  for (unsigned r : reductions) {
    if (!run.empty() && r != run.back() + 1)
      return op;
    run.push_back(r);
  }
  // Neither a diagonal (a loop used twice by one map) nor a broadcast (a
  // constant 0 for a size-1 dimension) can be collapsed with its loop.
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  if (!llvm::all_of(maps,
                    [](AffineMap m) {
                      return m.isProjectedPermutation(
                          /*allowZeroInResults=*/false);
                    }) ||
      !linalg::areDimSequencesPreserved(maps, {run}))
    return op;
  rewriter.setInsertionPoint(op);
  FailureOr<linalg::CollapseResult> collapsed =
      linalg::collapseOpIterationDims(op, {run}, rewriter);
  if (failed(collapsed))
    return op;
  rewriter.replaceOp(op, collapsed->results);
  return cast<linalg::GenericOp>(collapsed->collapsedOp.getOperation());
}

/// `value` sliced to [begin, begin + size) along `dim`.
static Value sliceAlong(OpBuilder &b, Location loc, Value value, unsigned dim,
                        int64_t begin, int64_t size) {
  auto type = cast<RankedTensorType>(value.getType());
  SmallVector<OpFoldResult> offsets(type.getRank(), b.getIndexAttr(0));
  SmallVector<OpFoldResult> sizes, strides(type.getRank(), b.getIndexAttr(1));
  for (int64_t d : type.getShape())
    sizes.push_back(b.getIndexAttr(d));
  offsets[dim] = b.getIndexAttr(begin);
  sizes[dim] = b.getIndexAttr(size);
  return tensor::ExtractSliceOp::create(b, loc, value, offsets, sizes, strides);
}

/// The position of loop `loop` among the results of `map`, if it is one.
static std::optional<unsigned> resultOf(AffineMap map, unsigned loop) {
  return map.getResultPosition(getAffineDimExpr(loop, map.getContext()));
}

/// Splits the reduction of `op` into blocks when it is long (see
/// Passes.td); returns the new reduction over the block sums, which may
/// need splitting in turn, or null when `op` is left alone.
static linalg::GenericOp splitReduction(RewriterBase &rewriter,
                                        linalg::GenericOp op,
                                        unsigned vectorBits,
                                        int64_t maxSequentialAdds) {
  arith::AddFOp add = accumulation(op);
  if (!add)
    return nullptr;
  op = collapseReductions(rewriter, op);
  SmallVector<unsigned> reductions;
  op.getReductionDims(reductions);
  if (reductions.size() != 1)
    return nullptr;
  unsigned red = reductions.front();
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  if (llvm::any_of(ranges, [](int64_t r) { return r <= 0; }))
    return nullptr;

  // Streams an input; each input indexes the reduction at most once.
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  bool streams = false, contiguous = false;
  for (OpOperand *input : op.getDpsInputOperands()) {
    AffineMap map = op.getMatchingIndexingMap(input);
    streams |= map.isPermutation();
    unsigned uses = llvm::count_if(
        map.getResults(), [&](AffineExpr e) { return e.isFunctionOfDim(red); });
    if (uses > 1)
      return nullptr;
    // Lanes follow the streamed input: the vector `x` of `i,ij->j` is
    // contiguous along the reduction, but its lanes run along `j`.
    contiguous |= map.isPermutation() &&
                  map.getResults().back() == rewriter.getAffineDimExpr(red);
  }
  if (!streams)
    return nullptr;
  // Terms along a contiguous reduction spread over the SIMD lanes, but only
  // where einsum-tile-and-vectorize makes per-lane partial sums: in an op
  // with a parallel loop (the blocked op always has one, the block loop). A
  // full reduction adds every term into one scalar.
  Type accType = op.getDpsInits()[0].getType();
  unsigned bits = getElementTypeOrSelf(accType).getIntOrFloatBitWidth();
  int64_t lanes = contiguous ? std::max<int64_t>(1, vectorBits / bits) : 1;
  bool hasParallel = op.getNumParallelLoops() > 0;
  int64_t n = ranges[red];
  if (n / (hasParallel ? lanes : 1) <= maxSequentialAdds)
    return nullptr;
  int64_t block = kBlockAdds * lanes;
  int64_t blocks = n / block, rem = n % block;

  MLIRContext *ctx = op.getContext();
  Location loc = op.getLoc();
  rewriter.setInsertionPoint(op);
  unsigned numLoops = op.getNumLoops();

  // 1. partial[b, ...]: the first blocks * block iterations, blocked.
  SmallVector<Value> inputs;
  SmallVector<AffineMap> blockedMaps;
  for (OpOperand *input : op.getDpsInputOperands()) {
    AffineMap map = op.getMatchingIndexingMap(input);
    Value value = input->get();
    std::optional<unsigned> pos = resultOf(map, red);
    if (pos) {
      if (rem)
        value = sliceAlong(rewriter, loc, value, *pos, 0, blocks * block);
      auto type = cast<RankedTensorType>(value.getType());
      SmallVector<int64_t> shape;
      SmallVector<ReassociationIndices> groups;
      for (auto [i, d] : llvm::enumerate(type.getShape())) {
        if (i == *pos) {
          groups.push_back({(int64_t)shape.size(), (int64_t)shape.size() + 1});
          shape.append({blocks, block});
        } else {
          groups.push_back({(int64_t)shape.size()});
          shape.push_back(d);
        }
      }
      value = tensor::ExpandShapeOp::create(
          rewriter, loc, RankedTensorType::get(shape, type.getElementType()),
          value, groups);
    }
    SmallVector<AffineExpr> exprs;
    for (auto [i, e] : llvm::enumerate(map.getResults())) {
      if (pos && i == *pos)
        exprs.push_back(rewriter.getAffineDimExpr(0));
      exprs.push_back(e.shiftDims(numLoops, 1));
    }
    inputs.push_back(value);
    blockedMaps.push_back(AffineMap::get(numLoops + 1, 0, exprs, ctx));
  }
  AffineMap outMap = op.getIndexingMapsArray().back();
  auto outType = cast<RankedTensorType>(accType);
  Type element = outType.getElementType();
  unsigned outRank = outType.getRank();
  // One row per block, and one more for the remainder's sum, so that it
  // too enters the tree as a leaf instead of being added to the total.
  int64_t rows = blocks + (rem ? 1 : 0);
  SmallVector<int64_t> partialShape{rows};
  llvm::append_range(partialShape, outType.getShape());
  Value zero =
      arith::ConstantOp::create(rewriter, loc, rewriter.getZeroAttr(element));
  Value partial =
      linalg::FillOp::create(rewriter, loc, zero,
                             ValueRange{tensor::EmptyOp::create(
                                 rewriter, loc, partialShape, element)})
          .getResult(0);
  // Rows [first, first + count) of `partial`; one row comes without the
  // leading dimension (the output's shape).
  auto rowsOf = [&](int64_t first, int64_t count)
      -> std::pair<SmallVector<OpFoldResult>, SmallVector<OpFoldResult>> {
    SmallVector<OpFoldResult> offsets(outRank + 1, rewriter.getIndexAttr(0));
    SmallVector<OpFoldResult> sizes{rewriter.getIndexAttr(count)};
    offsets[0] = rewriter.getIndexAttr(first);
    for (int64_t d : outType.getShape())
      sizes.push_back(rewriter.getIndexAttr(d));
    return {offsets, sizes};
  };
  SmallVector<OpFoldResult> ones(outRank + 1, rewriter.getIndexAttr(1));

  SmallVector<AffineExpr> outExprs{rewriter.getAffineDimExpr(0)};
  for (AffineExpr e : outMap.getResults())
    outExprs.push_back(e.shiftDims(numLoops, 1));
  blockedMaps.push_back(AffineMap::get(numLoops + 1, 0, outExprs, ctx));
  SmallVector<utils::IteratorType> iterators{utils::IteratorType::parallel};
  llvm::append_range(iterators, op.getIteratorTypesArray());
  auto [blockOffsets, blockSizes] = rowsOf(0, blocks);
  SmallVector<int64_t> blockShape(partialShape);
  blockShape[0] = blocks;
  auto blockType = RankedTensorType::get(blockShape, element);
  Value blockInit = tensor::ExtractSliceOp::create(
      rewriter, loc, blockType, partial, blockOffsets, blockSizes, ones);
  auto blocked =
      linalg::GenericOp::create(rewriter, loc, TypeRange{blockType}, inputs,
                                ValueRange{blockInit}, blockedMaps, iterators);
  IRMapping mapping;
  op.getRegion().cloneInto(&blocked.getRegion(), mapping);
  partial =
      tensor::InsertSliceOp::create(rewriter, loc, blocked.getResult(0),
                                    partial, blockOffsets, blockSizes, ones);

  // 2. The last rem iterations: the original op on the inputs' remaining
  //    slices, summed into the last row.
  if (rem) {
    auto [tailOffsets, tailSizes] = rowsOf(blocks, 1);
    IRMapping tailOperands;
    for (OpOperand *input : op.getDpsInputOperands())
      if (std::optional<unsigned> pos =
              resultOf(op.getMatchingIndexingMap(input), red))
        tailOperands.map(input->get(), sliceAlong(rewriter, loc, input->get(),
                                                  *pos, blocks * block, rem));
    tailOperands.map(op.getDpsInits()[0], tensor::ExtractSliceOp::create(
                                              rewriter, loc, outType, partial,
                                              tailOffsets, tailSizes, ones));
    Value tail = rewriter.clone(*op, tailOperands)->getResult(0);
    partial = tensor::InsertSliceOp::create(rewriter, loc, tail, partial,
                                            tailOffsets, tailSizes, ones);
  }

  // 3. out = init + the sum over the rows of partial.
  SmallVector<AffineExpr> partialExprs{rewriter.getAffineDimExpr(outRank)};
  for (unsigned d = 0; d < outRank; ++d)
    partialExprs.push_back(rewriter.getAffineDimExpr(d));
  SmallVector<AffineMap> sumMaps{
      AffineMap::get(outRank + 1, 0, partialExprs, ctx),
      AffineMap::getMultiDimIdentityMap(outRank + 1, ctx)
          .getSubMap(llvm::to_vector(llvm::seq(0u, outRank)))};
  SmallVector<utils::IteratorType> sumIterators(outRank,
                                                utils::IteratorType::parallel);
  sumIterators.push_back(utils::IteratorType::reduction);
  auto sum = linalg::GenericOp::create(
      rewriter, loc, TypeRange{outType}, ValueRange{partial},
      ValueRange{op.getDpsInits()[0]}, sumMaps, sumIterators,
      [&](OpBuilder &b, Location l, ValueRange args) {
        Value total = arith::AddFOp::create(b, l, args[1], args[0],
                                            add.getFastmathAttr());
        linalg::YieldOp::create(b, l, total);
      });
  Value result = sum.getResult(0);
  rewriter.replaceOp(op, result);
  return sum;
}

namespace {
struct EinsumSplitReductions
    : einsum::impl::EinsumSplitReductionsBase<EinsumSplitReductions> {
  using Base::Base;

  void runOnOperation() override {
    // Each op, with how many terms it may add into one accumulator.
    SmallVector<std::pair<linalg::GenericOp, int64_t>> work;
    getOperation().walk([&](linalg::GenericOp op) {
      work.push_back({op, kMaxSequentialAdds});
    });
    IRRewriter rewriter(&getContext());
    while (!work.empty()) {
      auto [op, maxAdds] = work.pop_back_val();
      if (linalg::GenericOp sum =
              splitReduction(rewriter, op, vectorBits, maxAdds))
        work.push_back({sum, kMaxSequentialBlockSums});
    }
  }
};
} // namespace
