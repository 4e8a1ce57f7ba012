//===- EinsumFuseRows.cpp - Row reductions fused into their reader --------===//
//
// See Passes.td.
//
//===----------------------------------------------------------------------===//

#include "einjit/Spec/Limits.h"
#include "einjit/Transforms/Passes.h"
#include "einjit/Transforms/RegisterTile.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/TileUsingInterface.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/Dominance.h"
#include "mlir/Transforms/CSE.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include "llvm/ADT/SetVector.h"

namespace mlir::einsum {
#define GEN_PASS_DEF_EINSUMFUSEROWS
#include "einjit/Transforms/Passes.h.inc"
} // namespace mlir::einsum

using namespace mlir;

/// Makes `op` read the source of a tensor.expand_shape operand that only
/// adds unit dims which `op` indexes by the constant 0 (a keepdims
/// reduction read with broadcasting), with the map's results for those dims
/// dropped.
static void foldUnitExpands(RewriterBase &rewriter, linalg::GenericOp op) {
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  SmallVector<std::pair<OpOperand *, Value>> sources;
  for (OpOperand *input : op.getDpsInputOperands()) {
    auto expand = input->get().getDefiningOp<tensor::ExpandShapeOp>();
    if (!expand)
      continue;
    AffineMap map = maps[input->getOperandNumber()];
    ArrayRef<int64_t> shape = expand.getResultType().getShape();
    SmallVector<AffineExpr> kept;
    bool foldable = true;
    for (ReassociationIndices group : expand.getReassociationIndices()) {
      // One member carries the source dim; the others are size 1, read at 0.
      std::optional<int64_t> carrier;
      for (int64_t member : group) {
        auto zero = dyn_cast<AffineConstantExpr>(map.getResult(member));
        if (shape[member] == 1 && zero && zero.getValue() == 0)
          continue;
        if (carrier) {
          foldable = false;
          break;
        }
        carrier = member;
      }
      if (!foldable)
        break;
      kept.push_back(map.getResult(carrier ? *carrier : group.front()));
    }
    if (!foldable)
      continue;
    maps[input->getOperandNumber()] =
        AffineMap::get(map.getNumDims(), 0, kept, op.getContext());
    sources.push_back({input, expand.getSrc()});
  }
  if (sources.empty())
    return;
  SmallVector<Operation *> expands;
  for (auto [input, source] : sources)
    expands.push_back(input->get().getDefiningOp());
  rewriter.modifyOpInPlace(op, [&] {
    for (auto [input, source] : sources)
      input->set(source);
    op.setIndexingMapsAttr(rewriter.getAffineMapArrayAttr(maps));
  });
  for (Operation *expand : expands)
    if (expand->use_empty())
      rewriter.eraseOp(expand);
}

/// Whether `op` reduces along its last loop only, with its result indexed
/// by the other loops in order: a row reduction of a rank-`rank` tensor.
static bool isRowReduction(linalg::GenericOp op, unsigned rank) {
  if (op.getNumLoops() != rank || op.getNumDpsInits() != 1 ||
      !op.hasPureTensorSemantics())
    return false;
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  for (unsigned loop = 0; loop + 1 < rank; ++loop)
    if (iterators[loop] != utils::IteratorType::parallel)
      return false;
  if (iterators.back() != utils::IteratorType::reduction)
    return false;
  AffineMap out = op.getMatchingIndexingMap(op.getDpsInitOperand(0));
  return out == AffineMap::getMultiDimIdentityMap(rank, op.getContext())
                    .getMajorSubMap(rank - 1);
}

/// The row reductions `op` reads, directly or through each other, when
/// every one is read only by `op` and the others, at its row: `op` can
/// then compute them row block by row block. Empty otherwise. Folds the
/// unit expand_shapes between them on the way.
static llvm::SetVector<Operation *> rowProducers(RewriterBase &rewriter,
                                                 linalg::GenericOp op) {
  unsigned rank = op.getNumLoops();
  llvm::SetVector<Operation *> found;
  AffineMap rowMap = AffineMap::getMultiDimIdentityMap(rank, op.getContext())
                         .getMajorSubMap(rank - 1);
  SmallVector<std::pair<linalg::GenericOp, OpOperand *>> work;
  for (OpOperand *input : op.getDpsInputOperands())
    work.push_back({op, input});
  while (!work.empty()) {
    auto [reader, input] = work.pop_back_val();
    auto producer = input->get().getDefiningOp<linalg::GenericOp>();
    if (!producer || producer == op)
      continue;
    // A producer of anything else (a contraction's result, an elementwise
    // op left unfused) stays where it is; a reduction must be a row's.
    if (!isRowReduction(producer, rank))
      continue;
    if (reader.getMatchingIndexingMap(input) != rowMap)
      return {};
    if (!found.insert(producer))
      continue;
    foldUnitExpands(rewriter, producer);
    for (OpOperand *next : producer.getDpsInputOperands())
      work.push_back({producer, next});
  }
  // Each found reduction's result is read by `op` or the others only.
  for (Operation *producer : found)
    for (Operation *user : producer->getUsers())
      if (user != op && !found.contains(user))
        return {};
  return found;
}

namespace {
struct EinsumFuseRows : einsum::impl::EinsumFuseRowsBase<EinsumFuseRows> {
  using Base::Base;

  void runOnOperation() override {
    IRRewriter rewriter(&getContext());
    SmallVector<linalg::GenericOp> candidates;
    getOperation().walk([&](linalg::GenericOp op) {
      if (op.hasPureTensorSemantics() && op.getNumLoops() >= 2 &&
          op.getNumDpsInits() == 1 &&
          op.getNumParallelLoops() == op.getNumLoops())
        candidates.push_back(op);
    });
    bool fusedAny = false;
    for (linalg::GenericOp op : candidates) {
      // The keepdims reshapes between the reductions and their readers.
      foldUnitExpands(rewriter, op);
      SmallVector<int64_t> ranges = op.getStaticLoopRanges();
      // Dynamic or empty loop nests have nothing to fuse by rows.
      if (llvm::any_of(ranges, [](int64_t r) {
            return ShapedType::isDynamic(r) || r == 0;
          }))
        continue;
      llvm::SetVector<Operation *> producers = rowProducers(rewriter, op);
      if (producers.empty())
        continue;

      unsigned rank = ranges.size();
      int64_t rowBytes =
          ranges.back() *
          std::max<int64_t>(1,
                            getElementTypeOrSelf(op.getDpsInputs()[0].getType())
                                    .getIntOrFloatBitWidth() /
                                8);
      SmallVector<int64_t> sizes(rank, 1);
      sizes[rank - 2] = einsum::tileFor(
          ranges[rank - 2], std::max<int64_t>(1, l1Bytes / 2 / rowBytes));
      sizes[rank - 1] = 0;
      int64_t work = einjit::saturatingProduct(ranges), tiles = 1;
      for (unsigned loop = 0; loop < rank; ++loop)
        if (sizes[loop])
          tiles *= ranges[loop] / sizes[loop];
      scf::SCFTileAndFuseOptions options;
      scf::SCFTilingOptions tiling;
      tiling.setTileSizes(getAsIndexOpFoldResult(&getContext(), sizes));
      if (parallelWork > 0 && work >= parallelWork && tiles > 1)
        tiling.setLoopType(scf::SCFTilingOptions::LoopType::ForallOp);
      options.setTilingOptions(tiling);
      options.setFusionControlFn(
          [&](tensor::ExtractSliceOp, OpResult producer, bool destination)
              -> std::optional<scf::SCFTileAndFuseOptions::ControlFnResult> {
            Operation *def = producer.getOwner();
            if (producers.contains(def) ||
                (destination && isa<linalg::FillOp>(def)))
              return scf::SCFTileAndFuseOptions::ControlFnResult{};
            return std::nullopt;
          });
      rewriter.setInsertionPoint(op);
      auto fused = scf::tileConsumerAndFuseProducersUsingSCF(
          rewriter, cast<TilingInterface>(op.getOperation()), options);
      if (failed(fused))
        return signalPassFailure();
      for (Value result : op->getResults())
        rewriter.replaceAllUsesWith(result, fused->replacements.lookup(result));
      rewriter.eraseOp(op);
      fusedAny = true;
    }
    if (!fusedAny)
      return;
    // A reduction read twice in a tile (the max, by the sum and the
    // quotient) was fused once per read: the copies are one op again, and
    // the whole reductions, left without readers, go.
    DominanceInfo dominance(getOperation());
    eliminateCommonSubExpressions(rewriter, dominance, getOperation());
    if (failed(applyPatternsGreedily(getOperation(),
                                     RewritePatternSet(&getContext()))))
      signalPassFailure();
  }
};
} // namespace
