//===- EinsumFuseElementwise.cpp - Elementwise fusion, not into GEMMs -----===//
//
// See Passes.td.
//
//===----------------------------------------------------------------------===//

#include "einjit/Transforms/Passes.h"

#include "mlir/Dialect/Linalg/IR/LinalgInterfaces.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::einsum {
#define GEN_PASS_DEF_EINSUMFUSEELEMENTWISE
#include "einjit/Transforms/Passes.h.inc"
} // namespace mlir::einsum

using namespace mlir;

/// Whether `op` is a contraction: a multiply-accumulate of two inputs
/// indexed by projected permutations (casts allowed), which the GEMM
/// kernels take.
static bool isContraction(Operation *op) {
  auto linalgOp = dyn_cast<linalg::LinalgOp>(op);
  return linalgOp && linalg::isaContractionOpInterface(linalgOp);
}

namespace {
struct EinsumFuseElementwise
    : einsum::impl::EinsumFuseElementwiseBase<EinsumFuseElementwise> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    linalg::ControlFusionFn control = [](OpOperand *use) {
      Operation *producer = use->get().getDefiningOp();
      return producer && !isContraction(use->getOwner());
    };
    linalg::populateElementwiseOpsFusionPatterns(patterns, control);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace
