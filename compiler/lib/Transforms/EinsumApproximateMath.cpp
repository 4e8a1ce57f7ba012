//===- EinsumApproximateMath.cpp - f32 math as polynomials ---------------===//
//
// See Passes.td.
//
//===----------------------------------------------------------------------===//

#include "einjit/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::einsum {
#define GEN_PASS_DEF_EINSUMAPPROXIMATEMATH
#include "einjit/Transforms/Passes.h.inc"
} // namespace mlir::einsum

using namespace mlir;

namespace {
struct EinsumApproximateMath
    : einsum::impl::EinsumApproximateMathBase<EinsumApproximateMath> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    // The functions eager ops use, and those their expansions call.
    // The patterns name ops with their dialect ("math.exp").
    auto wanted = [](StringRef name) {
      name.consume_front("math.");
      return llvm::is_contained(
          {"exp", "expm1", "log", "log1p", "log2", "tanh", "erf"}, name);
    };
    populateMathF32ExpansionPatterns(patterns, wanted);
    populateMathPolynomialApproximationPatterns(patterns, wanted);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace
