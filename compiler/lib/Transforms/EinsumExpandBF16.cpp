//===- EinsumExpandBF16.cpp - bf16 conversions as integer arithmetic ------===//
//
// See Passes.td.
//
//===----------------------------------------------------------------------===//

#include "einjit/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Transforms/Passes.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::einsum {
#define GEN_PASS_DEF_EINSUMEXPANDBF16
#include "einjit/Transforms/Passes.h.inc"
} // namespace mlir::einsum

using namespace mlir;

namespace {
struct EinsumExpandBF16 : einsum::impl::EinsumExpandBF16Base<EinsumExpandBF16> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    arith::populateExpandBFloat16Patterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace
