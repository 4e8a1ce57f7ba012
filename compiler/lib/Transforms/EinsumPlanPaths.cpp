//===- EinsumPlanPaths.cpp - Plan the path of each einsum.contract --------===//
//
// Attaches the spec layer's plan to einsum.contract ops that have none; see
// Passes.td.
//
//===----------------------------------------------------------------------===//

#include "einjit/Dialect/Einsum/IR/EinsumOps.h"
#include "einjit/Transforms/Passes.h"

namespace mlir::einsum {
#define GEN_PASS_DEF_EINSUMPLANPATHS
#include "einjit/Transforms/Passes.h.inc"
} // namespace mlir::einsum

using namespace mlir;

namespace {
struct EinsumPlanPaths : einsum::impl::EinsumPlanPathsBase<EinsumPlanPaths> {
  using Base::Base;

  void runOnOperation() override {
    einjit::PlanOptions options;
    auto strategyKind = einjit::parsePathStrategy(strategy);
    if (!strategyKind) {
      getOperation()->emitError() << "unknown path strategy '" << strategy
                                  << "' (auto, greedy, optimal, dp)";
      return signalPassFailure();
    }
    options.strategy = *strategyKind;
    options.memoryLimitBytes = memoryLimit;
    WalkResult result = getOperation()->walk([&](einsum::ContractOp op) {
      if (op.getPath() || op.getInputs().size() <= 2)
        return WalkResult::advance();
      auto bound = einsum::bindContract(op);
      if (!bound) {
        op.emitOpError(llvm::toString(bound.takeError()));
        return WalkResult::interrupt();
      }
      auto plan = einjit::planContraction(bound->withUniqueOutput(), options);
      if (!plan) {
        op.emitOpError(llvm::toString(plan.takeError()));
        return WalkResult::interrupt();
      }
      op.setPathAttr(einsum::pathAttr(op.getContext(), plan->path));
      return WalkResult::advance();
    });
    if (result.wasInterrupted())
      signalPassFailure();
  }
};
} // namespace
