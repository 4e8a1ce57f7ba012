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
    RewritePatternSet patterns(&getContext());
    vector::populateVectorMultiReductionLoweringPatterns(
        patterns, vector::VectorMultiReductionLowering::InnerReduction);
    UnorderedZeros listener;
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
