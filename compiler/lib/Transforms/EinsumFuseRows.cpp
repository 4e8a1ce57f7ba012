//===- EinsumFuseRows.cpp - Row reductions fused into their reader --------===//
//
// See Passes.td.
//
//===----------------------------------------------------------------------===//

#include "einjit/Spec/Limits.h"
#include "einjit/Transforms/Passes.h"
#include "einjit/Transforms/RegisterTile.h"
#include "einjit/Transforms/ThreadWork.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/TileUsingInterface.h"
#include "mlir/Dialect/SCF/Transforms/Transforms.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Tensor/Transforms/Transforms.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/Dominance.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Transforms/CSE.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include "llvm/ADT/SetVector.h"

namespace mlir::einsum {
#define GEN_PASS_DEF_EINSUMFUSEROWS
#include "einjit/Transforms/Passes.h.inc"
} // namespace mlir::einsum

using namespace mlir;

/// Blocks of fewer rows make the contractions fused into them too thin for
/// the register tile.
static constexpr int64_t kMinContractionRows = 8;

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

/// Whether `op` is a contraction of two static tensors into one, a
/// multiply-add: attention's scores or weighted sum.
static bool isTensorContraction(Operation *op) {
  auto generic = dyn_cast_if_present<linalg::GenericOp>(op);
  return generic && generic.hasPureTensorSemantics() &&
         generic.getNumDpsInputs() == 2 && generic.getNumDpsInits() == 1 &&
         linalg::isaContractionOpInterface(generic) &&
         llvm::none_of(generic.getStaticLoopRanges(), [](int64_t r) {
           return ShapedType::isDynamic(r) || r == 0;
         });
}

/// The contraction that is the only reader of `op`'s result and sums it
/// along its rows (the last dim a reduction loop, the others parallel loops
/// of the contraction): attention's weighted sum reading the
/// probabilities. Its loop for each of `op`'s dims goes to `loops`.
static linalg::GenericOp rowContraction(linalg::GenericOp op,
                                        SmallVectorImpl<unsigned> &loops) {
  if (!op->hasOneUse() || !isTensorContraction(*op->user_begin()))
    return {};
  OpOperand &use = *op->getUses().begin();
  auto reader = cast<linalg::GenericOp>(use.getOwner());
  if (!reader.isDpsInput(&use))
    return {};
  AffineMap map = reader.getMatchingIndexingMap(&use);
  if (!map.isProjectedPermutation() || map.getNumResults() != op.getNumLoops())
    return {};
  SmallVector<utils::IteratorType> iterators = reader.getIteratorTypesArray();
  loops.clear();
  for (auto [dim, e] : llvm::enumerate(map.getResults())) {
    unsigned loop = cast<AffineDimExpr>(e).getPosition();
    bool last = dim + 1 == map.getNumResults();
    if (iterators[loop] !=
        (last ? utils::IteratorType::reduction : utils::IteratorType::parallel))
      return {};
    loops.push_back(loop);
  }
  return reader;
}

/// The contractions whose results `op` and its row reductions read, and
/// nothing else: attention's scores, which can then be computed block of
/// rows by block of rows too, never written whole.
static llvm::SetVector<Operation *>
rowSources(linalg::GenericOp op, const llvm::SetVector<Operation *> &rows) {
  llvm::SetVector<Operation *> sources;
  auto consider = [&](linalg::GenericOp reader) {
    for (OpOperand *input : reader.getDpsInputOperands()) {
      Operation *def = input->get().getDefiningOp();
      if (!isTensorContraction(def) ||
          !reader.getMatchingIndexingMap(input).isIdentity())
        continue;
      if (llvm::all_of(def->getUsers(), [&](Operation *user) {
            return user == op || rows.contains(user);
          }))
        sources.insert(def);
    }
  };
  consider(op);
  for (Operation *row : rows)
    consider(cast<linalg::GenericOp>(row));
  return sources;
}

/// Marks the ops of one fused group, so that the second tiling (inside the
/// threads' chunks) can tell their tiled copies.
static constexpr llvm::StringLiteral kGroupAttr = "einsum.fuse_rows_group";

/// Marks the reader of a fused group (the weighted sum), so that its tiled
/// copies (one in the blocks' loop, one in a last, partial block) can be
/// found after the blocks' shapes are folded.
static constexpr llvm::StringLiteral kReaderAttr = "einsum.fuse_rows_reader";

/// Tiles `root` by `sizes` (its loops; 0 untiled) in the loops `interchange`
/// orders, fusing the producers marked kGroupAttr and the fills they and
/// `root` initialize. Returns the tiled root.
static FailureOr<Operation *> tileAndFuseGroup(RewriterBase &rewriter,
                                               TilingInterface root,
                                               ArrayRef<int64_t> sizes,
                                               ArrayRef<int64_t> interchange,
                                               bool forall) {
  scf::SCFTileAndFuseOptions options;
  scf::SCFTilingOptions tiling;
  tiling.setTileSizes(getAsIndexOpFoldResult(rewriter.getContext(), sizes));
  if (!interchange.empty())
    tiling.setInterchange(interchange);
  if (forall)
    tiling.setLoopType(scf::SCFTilingOptions::LoopType::ForallOp);
  options.setTilingOptions(tiling);
  options.setFusionControlFn(
      [&](tensor::ExtractSliceOp, OpResult producer, bool destination)
          -> std::optional<scf::SCFTileAndFuseOptions::ControlFnResult> {
        Operation *def = producer.getOwner();
        if (def->hasAttr(kGroupAttr) ||
            (destination && isa<linalg::FillOp>(def)))
          return scf::SCFTileAndFuseOptions::ControlFnResult{};
        return std::nullopt;
      });
  rewriter.setInsertionPoint(root);
  auto fused =
      scf::tileConsumerAndFuseProducersUsingSCF(rewriter, root, options);
  if (failed(fused))
    return failure();
  for (Value result : root->getResults())
    rewriter.replaceAllUsesWith(result, fused->replacements.lookup(result));
  Operation *tiled = fused->tiledAndFusedOps.front();
  rewriter.eraseOp(root);
  // The group's ops left without readers (the untiled ones, and copies
  // fused once per read) go, so that their inits (whole fills) have the
  // tiles as their only readers.
  auto func = tiled->getParentOfType<FunctionOpInterface>();
  for (bool erased = true; erased;) {
    SmallVector<Operation *> dead;
    func->walk([&](Operation *op) {
      if ((op->hasAttr(kGroupAttr) || isa<tensor::ExtractSliceOp>(op)) &&
          op != tiled && isOpTriviallyDead(op))
        dead.push_back(op);
    });
    for (Operation *op : dead)
      rewriter.eraseOp(op);
    erased = !dead.empty();
  }
  DominanceInfo dominance(func);
  eliminateCommonSubExpressions(rewriter, dominance, func);
  return tiled;
}

/// Intermediates of the fused group are slices of whole-tensor allocations
/// (a traced function's `bufferization.alloc_tensor`, or an empty tensor)
/// that nothing else reads: each slice becomes an allocation of its own,
/// inside the loops, so that the whole tensor is never allocated.
static void allocateSlices(RewriterBase &rewriter, Operation *loops) {
  SmallVector<tensor::ExtractSliceOp> slices;
  loops->walk([&](tensor::ExtractSliceOp slice) {
    Operation *def = slice.getSource().getDefiningOp();
    auto alloc = dyn_cast_if_present<bufferization::AllocTensorOp>(def);
    bool whole =
        (alloc && !alloc.getCopy() && alloc.getDynamicSizes().empty()) ||
        isa_and_present<tensor::EmptyOp>(def);
    if (whole && slice.getType().hasStaticShape() &&
        llvm::all_of(def->getUsers(), [](Operation *user) {
          return isa<tensor::ExtractSliceOp>(user);
        }))
      slices.push_back(slice);
  });
  llvm::SetVector<Operation *> wholes;
  for (tensor::ExtractSliceOp slice : slices) {
    wholes.insert(slice.getSource().getDefiningOp());
    rewriter.setInsertionPoint(slice);
    rewriter.replaceOpWithNewOp<bufferization::AllocTensorOp>(
        slice, slice.getType(), ValueRange{});
  }
  // An unused alloc_tensor would still be allocated.
  for (Operation *whole : wholes)
    if (whole->use_empty())
      rewriter.eraseOp(whole);
}

/// Whether `sum` reduces, along its last loop, what `op`'s body yields: the
/// same inputs at the same maps, the same body ops, then an addf of that
/// value to the accumulator (softmax's sum of the exponentials it divides).
static bool sumsYieldOf(linalg::GenericOp sum, linalg::GenericOp op) {
  unsigned rank = op.getNumLoops();
  if (sum.getNumDpsInputs() != op.getNumDpsInputs() ||
      sum.getNumDpsInits() != 1 || !isRowReduction(sum, rank))
    return false;
  for (auto [a, b] :
       llvm::zip(sum.getDpsInputOperands(), op.getDpsInputOperands()))
    if (a->get() != b->get() ||
        sum.getMatchingIndexingMap(a) != op.getMatchingIndexingMap(b))
      return false;
  Block *from = sum.getBody(), *to = op.getBody();
  IRMapping mapping;
  for (unsigned i = 0, e = op.getNumDpsInputs(); i < e; ++i)
    mapping.map(from->getArgument(i), to->getArgument(i));
  auto ours = to->without_terminator();
  auto theirs = from->without_terminator();
  if (std::distance(theirs.begin(), theirs.end()) !=
      std::distance(ours.begin(), ours.end()) + 1)
    return false;
  auto it = theirs.begin();
  for (Operation &mine : ours) {
    Operation &other = *it++;
    if (other.getName() != mine.getName() ||
        other.getAttrDictionary() != mine.getAttrDictionary() ||
        other.getResultTypes() != mine.getResultTypes() ||
        other.getNumOperands() != mine.getNumOperands() ||
        other.getNumRegions() != 0)
      return false;
    for (auto [a, b] : llvm::zip(other.getOperands(), mine.getOperands()))
      if (mapping.lookupOrNull(a) != b)
        return false;
    mapping.map(other.getResults(), mine.getResults());
  }
  auto add = dyn_cast<arith::AddFOp>(*it);
  Value acc = from->getArgument(sum.getNumDpsInputs());
  Value yielded = to->getTerminator()->getOperand(0);
  if (!add || from->getTerminator()->getOperand(0) != add.getResult())
    return false;
  Value term = add.getLhs() == acc ? add.getRhs() : add.getLhs();
  return (add.getLhs() == acc || add.getRhs() == acc) &&
         mapping.lookupOrNull(term) == yielded;
}

namespace {
/// A quotient x / s in a block of rows (softmax's), whose divisor s is an
/// input constant along each row that only the division reads.
struct RowQuotient {
  linalg::GenericOp op;
  arith::DivFOp div;
  OpOperand *divisor;
};
} // namespace

static std::optional<RowQuotient> rowQuotient(linalg::GenericOp op) {
  if (!op || op.getNumDpsInits() != 1)
    return std::nullopt;
  Block *body = op.getBody();
  auto div =
      body->getTerminator()->getOperand(0).getDefiningOp<arith::DivFOp>();
  if (!div)
    return std::nullopt;
  auto divisor = dyn_cast<BlockArgument>(div.getRhs());
  if (!divisor || divisor.getOwner() != body ||
      divisor.getArgNumber() >= op.getNumDpsInputs() || !div->hasOneUse() ||
      llvm::range_size(divisor.getUses()) != 1)
    return std::nullopt;
  OpOperand *operand = op.getDpsInputOperand(divisor.getArgNumber());
  AffineMap map = op.getMatchingIndexingMap(operand);
  if (map.isFunctionOfDim(op.getNumLoops() - 1) ||
      !map.isProjectedPermutation())
    return std::nullopt;
  return RowQuotient{op, div, operand};
}

/// Builds, just before `q`, its numerator: the same op without the
/// division, writing x into q's destination. Where the divisor is a sum in
/// the same block that adds up exactly those x (softmax's sum of
/// exp(x - max)) and only q reads it, a sum of the block of x follows it,
/// so that the exps are computed once, not twice. Returns the numerator and
/// the divisor to use (the new sum, which q then reads too, the old sum
/// erased; or q's divisor); none if `requireSum` and the sum could not be
/// rewritten (the IR is then unchanged).
static std::optional<std::pair<linalg::GenericOp, Value>>
splitQuotient(RewriterBase &rewriter, const RowQuotient &q, bool requireSum) {
  linalg::GenericOp quotient = q.op;
  arith::DivFOp div = q.div;
  Block *body = quotient.getBody();
  unsigned skip = q.divisor->getOperandNumber();
  SmallVector<Value> inputs;
  SmallVector<AffineMap> maps;
  for (OpOperand *input : quotient.getDpsInputOperands())
    if (input != q.divisor) {
      inputs.push_back(input->get());
      maps.push_back(quotient.getMatchingIndexingMap(input));
    }
  AffineMap outMap =
      quotient.getMatchingIndexingMap(quotient.getDpsInitOperand(0));
  maps.push_back(outMap);
  rewriter.setInsertionPoint(quotient);
  auto numerator = linalg::GenericOp::create(
      rewriter, quotient.getLoc(), quotient.getResultTypes(), inputs,
      quotient.getDpsInits(), maps, quotient.getIteratorTypesArray(),
      [&](OpBuilder &b, Location loc, ValueRange args) {
        IRMapping mapping;
        for (unsigned i = 0, j = 0, e = quotient.getNumDpsInputs(); i < e; ++i)
          if (i != skip)
            mapping.map(body->getArgument(i), args[j++]);
        mapping.map(body->getArguments().back(), args.back());
        for (Operation &op : body->without_terminator())
          if (&op != div.getOperation())
            b.clone(op, mapping);
        linalg::YieldOp::create(b, loc, mapping.lookup(div.getLhs()));
      });
  numerator->setAttrs(quotient->getDiscardableAttrDictionary());

  Value s = q.divisor->get();
  auto sum = s.getDefiningOp<linalg::GenericOp>();
  if (sum && sum->getBlock() == quotient->getBlock() && sum->hasOneUse() &&
      sumsYieldOf(sum, numerator)) {
    auto summed = linalg::GenericOp::create(
        rewriter, sum.getLoc(), sum.getResultTypes(), numerator.getResult(0),
        sum.getDpsInits()[0],
        {outMap, sum.getMatchingIndexingMap(sum.getDpsInitOperand(0))},
        sum.getIteratorTypesArray(),
        [&](OpBuilder &b, Location loc, ValueRange args) {
          linalg::YieldOp::create(
              b, loc,
              arith::AddFOp::create(b, loc, args[1], args[0]).getResult());
        });
    summed->setAttrs(sum->getDiscardableAttrDictionary());
    // The old sum goes with the quotient, its only reader.
    rewriter.modifyOpInPlace(quotient,
                             [&] { q.divisor->set(summed.getResult(0)); });
    rewriter.eraseOp(sum);
    return std::pair(numerator, summed.getResult(0));
  }
  if (requireSum) {
    rewriter.eraseOp(numerator);
    return std::nullopt;
  }
  return std::pair(numerator, s);
}

/// `x` divided in place by `s`, read at `sMap` in x's loops (`xMap` its own
/// map, `iterators` all parallel): x times 1 / s, one division per element
/// of s (a row) rather than per element of x, as torch's softmax does;
/// within 1.5 ulp of x / s. Eager softmax of 4 x 12 x 129 x 129 f32, both
/// Zen 4 cores: 0.37 -> 0.34 ms.
static Value divideBy(RewriterBase &rewriter, Location loc, Value s, Value x,
                      AffineMap sMap, AffineMap xMap,
                      ArrayRef<utils::IteratorType> iterators) {
  auto sType = cast<RankedTensorType>(s.getType());
  Value reciprocal =
      linalg::GenericOp::create(
          rewriter, loc, sType, ValueRange{}, s,
          rewriter.getMultiDimIdentityMap(sType.getRank()),
          SmallVector<utils::IteratorType>(sType.getRank(),
                                           utils::IteratorType::parallel),
          [&](OpBuilder &b, Location at, ValueRange args) {
            Value one = arith::ConstantOp::create(
                b, at, b.getFloatAttr(sType.getElementType(), 1.0));
            linalg::YieldOp::create(
                b, at, arith::DivFOp::create(b, at, one, args[0]).getResult());
          })
          .getResult(0);
  return linalg::GenericOp::create(
             rewriter, loc, x.getType(), reciprocal, x, {sMap, xMap}, iterators,
             [&](OpBuilder &b, Location at, ValueRange args) {
               linalg::YieldOp::create(
                   b, at,
                   arith::MulFOp::create(b, at, args[1], args[0]).getResult());
             })
      .getResult(0);
}

/// In a fused block, `reader` (the weighted sum) reads at input `operand` a
/// quotient x / s whose divisor s is constant along each row (softmax's
/// sum): sum_t (x_t / s) v_t is (sum_t x_t v_t) / s, so the reader reads x
/// and its result is divided once per output element, d divisions per row
/// instead of one per key. Where s sums those x (softmax: the exponentials),
/// it is then summed from the block of x, not recomputed: one exp per
/// score instead of two. The reader's result must start from zero.
static void divideAfterReader(RewriterBase &rewriter, linalg::GenericOp reader,
                              unsigned operand,
                              ArrayRef<unsigned> readerLoops) {
  auto op = reader->getOperand(operand).getDefiningOp<linalg::GenericOp>();
  std::optional<RowQuotient> q = rowQuotient(op);
  if (!q || !op->hasOneUse())
    return;
  auto fill = reader.getDpsInits()[0].getDefiningOp<linalg::FillOp>();
  if (!fill || !matchPattern(fill.getInputs()[0], m_AnyZeroFloat()) ||
      getElementTypeOrSelf(q->divisor->get().getType()) !=
          getElementTypeOrSelf(reader.getResult(0).getType()))
    return;
  // The divisor's map in the reader's result's dims.
  AffineMap out = reader.getMatchingIndexingMap(reader.getDpsInitOperand(0));
  SmallVector<AffineExpr> sExprs;
  for (AffineExpr e : op.getMatchingIndexingMap(q->divisor).getResults()) {
    unsigned loop = readerLoops[cast<AffineDimExpr>(e).getPosition()];
    std::optional<unsigned> pos =
        out.getResultPosition(rewriter.getAffineDimExpr(loop));
    if (!pos)
      return;
    sExprs.push_back(rewriter.getAffineDimExpr(*pos));
  }
  AffineMap sInOut =
      AffineMap::get(out.getNumResults(), 0, sExprs, rewriter.getContext());

  auto split = splitQuotient(rewriter, *q, /*requireSum=*/false);
  auto [numerator, s] = *split;
  rewriter.modifyOpInPlace(
      reader, [&] { reader->setOperand(operand, numerator.getResult(0)); });
  rewriter.eraseOp(op);

  // The reader's result divided by the divisor, in place.
  rewriter.setInsertionPointAfter(reader);
  Value result = reader.getResult(0);
  Value divided =
      divideBy(rewriter, reader.getLoc(), s, result, sInOut,
               AffineMap::getMultiDimIdentityMap(out.getNumResults(),
                                                 rewriter.getContext()),
               SmallVector<utils::IteratorType>(out.getNumResults(),
                                                utils::IteratorType::parallel));
  rewriter.replaceAllUsesExcept(result, divided, divided.getDefiningOp());
}

/// In a block of rows of a softmax that no contraction reads (an eager
/// softmax), the quotient exp(x - max) / sum computes its exps a second
/// time: they are written into its destination once, summed from there
/// and divided in place.
static void divideInPlace(RewriterBase &rewriter, linalg::GenericOp op) {
  std::optional<RowQuotient> q = rowQuotient(op);
  if (!q)
    return;
  auto split = splitQuotient(rewriter, *q, /*requireSum=*/true);
  if (!split)
    return;
  auto [numerator, s] = *split;
  rewriter.replaceOp(
      op, divideBy(rewriter, op.getLoc(), s, numerator.getResult(0),
                   op.getMatchingIndexingMap(q->divisor),
                   op.getMatchingIndexingMap(op.getDpsInitOperand(0)),
                   op.getIteratorTypesArray()));
}

/// Fuses the contractions around a row-block op into its blocks: `sources`
/// (the scores the rows are read from) and `reader` (the weighted sum that
/// reads the result along rows, at its loops `readerLoops`), so that a block
/// of `rows` rows of scores, their softmax and their weighted sum are
/// computed while they are in the L2. With `chunks` > 1, the blocks are
/// split first into that many chunks, an scf.forall, along the first of
/// the op's dims whose blocks they divide. Returns failure when the IR
/// could not be tiled.
static LogicalResult
fuseWithContractions(RewriterBase &rewriter, linalg::GenericOp op,
                     const llvm::SetVector<Operation *> &group,
                     linalg::GenericOp reader, ArrayRef<unsigned> readerLoops,
                     int64_t rows, bool partial, int64_t chunks) {
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  unsigned rank = ranges.size();
  // The reader's operand that reads op's result.
  unsigned operand = reader ? op->getUses().begin()->getOperandNumber() : 0;
  for (Operation *member : group)
    member->setAttr(kGroupAttr, rewriter.getUnitAttr());
  op->setAttr(kGroupAttr, rewriter.getUnitAttr());
  if (reader)
    reader->setAttr(kReaderAttr, rewriter.getUnitAttr());

  // The root's loop for each of op's dims, and its tile sizes.
  Operation *root = reader ? reader.getOperation() : op.getOperation();
  unsigned rootLoops = cast<linalg::LinalgOp>(root).getNumLoops();
  SmallVector<unsigned> loopOf;
  for (unsigned dim = 0; dim + 1 < rank; ++dim)
    loopOf.push_back(reader ? readerLoops[dim] : dim);
  SmallVector<int64_t> block(rootLoops, 0), chunk(rootLoops, 0);
  for (unsigned dim = 0; dim + 1 < rank; ++dim)
    block[loopOf[dim]] = dim + 2 == rank ? rows : 1;
  // Op's dims outermost, in op's order (the heads before the rows, so that
  // consecutive blocks read the same keys), then the root's other loops.
  SmallVector<int64_t> interchange;
  for (unsigned loop : loopOf)
    interchange.push_back(loop);
  for (unsigned loop = 0; loop < rootLoops; ++loop)
    if (!llvm::is_contained(loopOf, loop))
      interchange.push_back(loop);

  if (chunks > 1) {
    for (unsigned dim = 0; dim + 1 < rank; ++dim) {
      int64_t blocks = ranges[dim] / block[loopOf[dim]];
      if ((!partial || dim + 2 != rank) && blocks % chunks == 0) {
        chunk[loopOf[dim]] = ranges[dim] / chunks;
        break;
      }
    }
    assert(llvm::any_of(chunk, [](int64_t c) { return c > 0; }));
    FailureOr<Operation *> tiled =
        tileAndFuseGroup(rewriter, cast<TilingInterface>(root), chunk,
                         /*interchange=*/{}, /*forall=*/true);
    if (failed(tiled))
      return failure();
    root = *tiled;
  }
  FailureOr<Operation *> tiled =
      tileAndFuseGroup(rewriter, cast<TilingInterface>(root), block,
                       interchange, /*forall=*/false);
  if (failed(tiled))
    return failure();
  Operation *outer = *tiled;
  while (auto parent = outer->getParentOfType<LoopLikeOpInterface>()) {
    outer = parent;
    if (isa<scf::ForallOp>(parent))
      break;
  }
  // With a last, partial block of rows: the rows' loop (the innermost
  // around the root) runs the whole blocks, and the last block is peeled
  // off after it, each with static shapes once the blocks' sizes fold.
  if (partial) {
    auto rowsLoop = (*tiled)->getParentOfType<scf::ForOp>();
    scf::ForOp last;
    if (!rowsLoop ||
        failed(scf::peelForLoopAndSimplifyBounds(rewriter, rowsLoop, last)) ||
        !last)
      return failure();
    if (rowsLoop == outer)
      outer = rowsLoop->getParentOp();
    // The last block's loop runs once, from its lower bound.
    rewriter.replaceAllUsesWith(last.getInductionVar(), last.getLowerBound());
    RewritePatternSet patterns(rewriter.getContext());
    MLIRContext *context = rewriter.getContext();
    for (Dialect *dialect : context->getLoadedDialects())
      dialect->getCanonicalizationPatterns(patterns);
    for (RegisteredOperationName name : context->getRegisteredOperations())
      name.getCanonicalizationPatterns(patterns, context);
    SmallVector<Operation *> inside;
    for (scf::ForOp loop : {rowsLoop, last})
      loop.getBody()->walk([&](Operation *op) { inside.push_back(op); });
    GreedyRewriteConfig config;
    config.setStrictness(GreedyRewriteStrictness::ExistingAndNewOps);
    (void)applyOpPatternsGreedily(inside, std::move(patterns), config);
    bool dynamic = false;
    for (scf::ForOp loop : {rowsLoop, last})
      loop.getBody()->walk(
          [&](linalg::LinalgOp op) { dynamic |= op.hasDynamicShape(); });
    if (dynamic)
      return failure();
  }
  // MLIR fuses the fills of the root's destination but not those of the
  // fused producers (the scores', the reductions'): a slice of a chunk's
  // slice becomes one slice, and a slice of a whole fill a fill of a slice.
  RewritePatternSet patterns(rewriter.getContext());
  tensor::populateMergeConsecutiveInsertExtractSlicePatterns(patterns);
  SmallVector<Operation *> inside;
  outer->walk([&](tensor::ExtractSliceOp slice) { inside.push_back(slice); });
  if (failed(applyOpPatternsGreedily(inside, std::move(patterns))))
    return failure();
  SmallVector<tensor::ExtractSliceOp> ofFills;
  outer->walk([&](tensor::ExtractSliceOp slice) {
    auto fill = slice.getSource().getDefiningOp<linalg::FillOp>();
    if (fill && fill.hasPureTensorSemantics() &&
        llvm::all_of(fill->getUsers(), [](Operation *user) {
          return isa<tensor::ExtractSliceOp>(user);
        }))
      ofFills.push_back(slice);
  });
  for (tensor::ExtractSliceOp slice : ofFills) {
    auto fill = slice.getSource().getDefiningOp<linalg::FillOp>();
    rewriter.setInsertionPoint(slice);
    Value dest = tensor::ExtractSliceOp::create(
        rewriter, slice.getLoc(), slice.getType(), fill.getOutputs()[0],
        slice.getMixedOffsets(), slice.getMixedSizes(),
        slice.getMixedStrides());
    rewriter.replaceOpWithNewOp<linalg::FillOp>(slice, fill.getInputs()[0],
                                                dest);
    if (fill->use_empty())
      rewriter.eraseOp(fill);
  }
  allocateSlices(rewriter, outer);
  SmallVector<linalg::GenericOp> readers;
  outer->walk([&](linalg::GenericOp op) {
    if (op->hasAttr(kReaderAttr))
      readers.push_back(op);
  });
  for (linalg::GenericOp tiledReader : readers) {
    tiledReader->removeAttr(kReaderAttr);
    divideAfterReader(rewriter, tiledReader, operand, readerLoops);
  }
  return success();
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
      int64_t work = einjit::saturatingProduct(ranges);

      // The scores and the weighted sum, when there are such contractions
      // and blocks of at least kMinContractionRows rows divide the rows
      // (and, with threads, chunks of whole blocks divide a dim).
      llvm::SetVector<Operation *> sources = rowSources(op, producers);
      SmallVector<unsigned> readerLoops;
      linalg::GenericOp reader = rowContraction(op, readerLoops);
      if (!sources.empty() || reader) {
        int64_t cap = std::max<int64_t>(1, l2Bytes / 8 / rowBytes);
        int64_t rows =
            ranges[rank - 2] % kMinContractionRows == 0 &&
                    cap >= kMinContractionRows
                ? einsum::tileFor(ranges[rank - 2], cap, kMinContractionRows)
                : einsum::tileFor(ranges[rank - 2], cap);
        // No block of at least kMinContractionRows rows divides the rows
        // (509, a prime): blocks of the largest multiple of 8 under the
        // cap, and a last, partial one.
        bool partial = rows < kMinContractionRows && rows != ranges[rank - 2] &&
                       cap >= kMinContractionRows;
        if (partial)
          rows = cap / kMinContractionRows * kMinContractionRows;
        // Threads as the contractions would have taken them alone.
        int64_t contractionWork = work;
        for (Operation *c : sources)
          contractionWork =
              std::max(contractionWork,
                       einjit::saturatingProduct(
                           cast<linalg::LinalgOp>(c).getStaticLoopRanges()));
        if (reader)
          contractionWork =
              std::max(contractionWork,
                       einjit::saturatingProduct(reader.getStaticLoopRanges()));
        int64_t chunks = parallelWork > 0 && contractionWork >= parallelWork
                             ? std::max<int64_t>(1, threads)
                             : 1;
        bool divides = chunks == 1;
        for (unsigned dim = 0; dim + 1 < rank; ++dim)
          divides |= (!partial || dim + 2 != rank) &&
                     (ranges[dim] / (dim + 2 == rank ? rows : 1)) % chunks == 0;
        if ((rows >= kMinContractionRows || rows == ranges[rank - 2]) &&
            divides) {
          llvm::SetVector<Operation *> group = producers;
          group.insert(sources.begin(), sources.end());
          if (failed(fuseWithContractions(rewriter, op, group, reader,
                                          readerLoops, rows, partial, chunks)))
            return signalPassFailure();
          fusedAny = true;
          continue;
        }
      }

      SmallVector<int64_t> sizes(rank, 1);
      sizes[rank - 2] = einsum::tileFor(
          ranges[rank - 2], std::max<int64_t>(1, l1Bytes / 2 / rowBytes));
      sizes[rank - 1] = 0;
      int64_t tiles = 1;
      for (unsigned loop = 0; loop < rank; ++loop)
        if (sizes[loop])
          tiles *= ranges[loop] / sizes[loop];
      for (Operation *producer : producers)
        producer->setAttr(kGroupAttr, rewriter.getUnitAttr());
      // Rows read once, by a group that may call exp: threads from a share
      // of the threshold (ThreadWork.h). Eager softmax of 4x12x129x129 f32
      // (799k iterations) took them: 0.336 -> 0.174 ms on two Zen 4 cores.
      bool math = einsum::callsMath(op) ||
                  llvm::any_of(producers, [](Operation *producer) {
                    return einsum::callsMath(producer);
                  });
      int64_t threshold = einsum::shareOf(
          parallelWork, math ? einsum::kMathShare : einsum::kMemoryBoundShare);
      FailureOr<Operation *> tiled = tileAndFuseGroup(
          rewriter, cast<TilingInterface>(*op), sizes,
          /*interchange=*/{},
          threads > 1 && threshold > 0 && work >= threshold && tiles > 1);
      if (failed(tiled))
        return signalPassFailure();
      divideInPlace(rewriter, cast<linalg::GenericOp>(*tiled));
      fusedAny = true;
    }
    if (!fusedAny)
      return;
    // tileAndFuseGroup merged the copies of a reduction fused once per
    // read; what is left without readers (whole fills, allocations) goes.
    if (failed(applyPatternsGreedily(getOperation(),
                                     RewritePatternSet(&getContext()))))
      signalPassFailure();
    getOperation().walk([](Operation *op) { op->removeAttr(kGroupAttr); });
  }
};
} // namespace
