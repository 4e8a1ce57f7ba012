//===- EinsumLowerReductions.cpp - vector.multi_reduction, zeros unordered ===//
//
// See Passes.td.
//
//===----------------------------------------------------------------------===//

#include "einjit/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Utils/IndexingUtils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/Vector/Transforms/LoweringPatterns.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <numeric>

namespace mlir::einsum {
#define GEN_PASS_DEF_EINSUMLOWERREDUCTIONS
#include "einjit/Transforms/Passes.h.inc"
} // namespace mlir::einsum

using namespace mlir;

namespace {
/// Marks `nsz` on each max or min that the lowering creates.
struct UnorderedZeros : RewriterBase::Listener {
  void notifyOperationInserted(Operation *op,
                               OpBuilder::InsertPoint previous) override {
    auto math = dyn_cast<arith::ArithFastMathInterface>(op);
    if (!math)
      return;
    if (auto reduction = dyn_cast<vector::ReductionOp>(op)) {
      vector::CombiningKind kind = reduction.getKind();
      if (kind != vector::CombiningKind::MAXIMUMF &&
          kind != vector::CombiningKind::MINIMUMF)
        return;
    } else if (!isa<arith::MaximumFOp, arith::MinimumFOp>(op)) {
      return;
    }
    arith::FastMathFlags flags =
        math.getFastMathFlagsAttr().getValue() | arith::FastMathFlags::nsz;
    op->setAttr(math.getFastMathAttrName(),
                arith::FastMathFlagsAttr::get(op->getContext(), flags));
  }
};

/// The permutation that puts the dims of a vector read through `map` (a
/// projected permutation) in iteration order.
static SmallVector<int64_t> iterationOrder(AffineMap map) {
  SmallVector<int64_t> order(map.getNumResults());
  std::iota(order.begin(), order.end(), 0);
  llvm::sort(order, [&](int64_t x, int64_t y) {
    return map.getDimPosition(x) < map.getDimPosition(y);
  });
  return order;
}

/// `v`, an operand of a contraction read through `map`, with its dims in
/// the contraction's iteration order and the unit dims it lacks inserted:
/// a vector of the iteration space `bounds`.
static Value toIterationSpace(OpBuilder &b, Location loc, Value v,
                              AffineMap map, ArrayRef<int64_t> bounds) {
  SmallVector<int64_t> order = iterationOrder(map);
  if (!llvm::is_sorted(order))
    v = vector::TransposeOp::create(b, loc, v, order);
  auto element = cast<VectorType>(v.getType()).getElementType();
  return vector::ShapeCastOp::create(b, loc, VectorType::get(bounds, element),
                                     v);
}

/// `acc + sum(lhs * rhs)` over the contraction's summed dims, as a product
/// of whole vectors and a vector.multi_reduction into the accumulator.
/// Every dim of more than one element is in both operands.
static void rewriteDotProduct(vector::ContractionOp contract) {
  OpBuilder b(contract);
  Location loc = contract.getLoc();
  SmallVector<int64_t> bounds;
  contract.getIterationBounds(bounds);
  SmallVector<AffineMap> maps = contract.getIndexingMapsArray();
  Value lhs = toIterationSpace(b, loc, contract.getLhs(), maps[0], bounds);
  Value rhs = toIterationSpace(b, loc, contract.getRhs(), maps[1], bounds);
  Value product = arith::MulFOp::create(b, loc, lhs, rhs);
  // The accumulator's dims in iteration order, and back.
  AffineMap accMap = maps[2];
  SmallVector<int64_t> order = iterationOrder(accMap);
  bool sorted = llvm::is_sorted(order);
  Value acc = contract.getAcc();
  if (!sorted)
    acc = vector::TransposeOp::create(b, loc, acc, order);
  SmallVector<bool> summed;
  for (unsigned dim = 0; dim < bounds.size(); ++dim)
    summed.push_back(!accMap.isFunctionOfDim(dim));
  Value result = vector::MultiDimReductionOp::create(
      b, loc, product, acc, summed, vector::CombiningKind::ADD);
  if (!sorted)
    result = vector::TransposeOp::create(b, loc, result,
                                         invertPermutationVector(order));
  contract.replaceAllUsesWith(result);
  contract.erase();
}

struct EinsumLowerReductions
    : einsum::impl::EinsumLowerReductionsBase<EinsumLowerReductions> {
  void runOnOperation() override {
    UnorderedZeros listener;
    // Contractions whose dims of more than one element are all in both
    // operands have no outer products in them, and the LLVM stage, which
    // lowers vector.contract to outer products (the GEMM kernels' register
    // tiles, rows from one operand and columns from the other), unrolled
    // them element by element. Those that sum only unit dims become an
    // FMA of whole vectors: `ijkl,jl->ik`'s partial sums in SIMD lanes
    // (`vector<1x1x1x1x64xf32>` by `vector<1x1x64xf32>`) had become 64
    // scalar adds per row. Dot products (a longer summed dim) become a
    // product and a vector.multi_reduction, lowered below with the other
    // reductions: `bhqd,bhkd->bhqk` at q = 1, d = 64 (one row of keys at a
    // time) had become a chain of 64 scalar FMAs per key.
    SmallVector<Operation *> unitContractions;
    SmallVector<vector::ContractionOp> dotProducts;
    getOperation().walk([&](vector::ContractionOp contract) {
      auto acc = dyn_cast<VectorType>(contract.getAccType());
      if (contract.getKind() != vector::CombiningKind::ADD || !acc ||
          !isa<FloatType>(acc.getElementType()) ||
          contract.getLhsType().getElementType() != acc.getElementType() ||
          contract.getRhsType().getElementType() != acc.getElementType())
        return;
      SmallVector<int64_t> bounds;
      contract.getIterationBounds(bounds);
      SmallVector<AffineMap> maps = contract.getIndexingMapsArray();
      if (!llvm::all_of(
              maps, [](AffineMap map) { return map.isProjectedPermutation(); }))
        return;
      bool sumsLongDims = false;
      for (auto [dim, size] : llvm::enumerate(bounds)) {
        if (size == 1)
          continue;
        if (!maps[0].isFunctionOfDim(dim) || !maps[1].isFunctionOfDim(dim))
          return;
        sumsLongDims |= !maps[2].isFunctionOfDim(dim);
      }
      // A dot product's summed dims must be the operands' innermost long
      // ones, which the reduction lowering below sums along; where a kept
      // dim is innermost (`vector<1x4x16xf32>` summed over its 4), the
      // LLVM stage's outer products are FMAs of whole vectors already.
      auto summedInnermost = [&](AffineMap map) {
        bool summing = false;
        for (AffineExpr e : map.getResults()) {
          unsigned dim = cast<AffineDimExpr>(e).getPosition();
          if (bounds[dim] == 1)
            continue;
          bool summed = !maps[2].isFunctionOfDim(dim);
          if (summing && !summed)
            return false;
          summing |= summed;
        }
        return true;
      };
      if (!sumsLongDims && contract.getLhsType().getRank() > 2)
        unitContractions.push_back(contract);
      else if (sumsLongDims && summedInnermost(maps[0]) &&
               summedInnermost(maps[1]))
        dotProducts.push_back(contract);
    });
    if (!unitContractions.empty()) {
      RewritePatternSet elementwise(&getContext());
      vector::populateVectorContractLoweringPatterns(
          elementwise, vector::VectorContractLowering::ParallelArith);
      if (failed(applyOpPatternsGreedily(
              unitContractions, std::move(elementwise),
              GreedyRewriteConfig().setStrictness(
                  GreedyRewriteStrictness::ExistingOps))))
        return signalPassFailure();
    }
    for (vector::ContractionOp contract : dotProducts)
      rewriteDotProduct(contract);
    // Reductions over unit dims become elementwise ops (a column sum's
    // `vector<1x1x64xf32>` over its row of 1 is one add of 64 lanes): the
    // lowering below would turn the 1-long dim innermost and scalarize the
    // add lane by lane.
    RewritePatternSet unitDims(&getContext());
    vector::MultiDimReductionOp::getCanonicalizationPatterns(unitDims,
                                                             &getContext());
    if (failed(applyPatternsGreedily(
            getOperation(), std::move(unitDims),
            GreedyRewriteConfig().setListener(&listener))))
      return signalPassFailure();
    RewritePatternSet patterns(&getContext());
    vector::populateVectorMultiReductionLoweringPatterns(
        patterns, vector::VectorMultiReductionLowering::InnerReduction);
    if (failed(applyPatternsGreedily(
            getOperation(), std::move(patterns),
            GreedyRewriteConfig().setListener(&listener))))
      return signalPassFailure();
    // The LLVM lowering of a reduction into an accumulator combines the
    // two with a max or min of its own, without the reduction's flags:
    // that max is built here instead.
    IRRewriter rewriter(&getContext());
    rewriter.setListener(&listener);
    getOperation().walk([&](vector::ReductionOp reduction) {
      Value acc = reduction.getAcc();
      vector::CombiningKind kind = reduction.getKind();
      if (!acc || (kind != vector::CombiningKind::MAXIMUMF &&
                   kind != vector::CombiningKind::MINIMUMF))
        return;
      rewriter.setInsertionPoint(reduction);
      Value whole = vector::ReductionOp::create(
          rewriter, reduction.getLoc(), kind, reduction.getVector(), Value(),
          reduction.getFastmath());
      rewriter.replaceOp(
          reduction,
          vector::makeArithReduction(rewriter, reduction.getLoc(), kind, whole,
                                     acc, reduction.getFastmathAttr()));
    });
  }
};
} // namespace
