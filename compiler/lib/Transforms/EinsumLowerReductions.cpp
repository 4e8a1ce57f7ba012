//===- EinsumLowerReductions.cpp - vector.multi_reduction, zeros unordered ===//
//
// See Passes.td.
//
//===----------------------------------------------------------------------===//

#include "einjit/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/Vector/Transforms/LoweringPatterns.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

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

struct EinsumLowerReductions
    : einsum::impl::EinsumLowerReductionsBase<EinsumLowerReductions> {
  void runOnOperation() override {
    UnorderedZeros listener;
    // Reductions over unit dims first become elementwise ops (a column sum's
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
    // Contractions that sum only unit dims and whose other dims are all
    // in both operands are elementwise products too. The LLVM stage lowers
    // vector.contract to outer products (the GEMM kernels' register tiles,
    // whose rows are in one operand and columns in the other); these it
    // unrolled along their parallel dims, lane by lane: `ijkl,jl->ik`'s
    // partial sums in SIMD lanes (`vector<1x1x1x1x64xf32>` by
    // `vector<1x1x64xf32>`) became 64 scalar adds per row.
    SmallVector<Operation *> unitContractions;
    getOperation().walk([&](vector::ContractionOp contract) {
      if (contract.getKind() != vector::CombiningKind::ADD ||
          contract.getLhsType().getRank() <= 2 ||
          !isa<VectorType>(contract.getAccType()))
        return;
      SmallVector<int64_t> bounds;
      contract.getIterationBounds(bounds);
      SmallVector<AffineMap> maps = contract.getIndexingMapsArray();
      for (auto [dim, size] : llvm::enumerate(bounds))
        if (size != 1 &&
            !(maps[0].isFunctionOfDim(dim) && maps[1].isFunctionOfDim(dim) &&
              maps[2].isFunctionOfDim(dim)))
          return;
      unitContractions.push_back(contract);
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
