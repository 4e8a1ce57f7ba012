//===- EinsumLowerDotProducts.cpp - einsum.dot_u8i8 as vpdpbusd -----------===//
//
// See Passes.td.
//
//===----------------------------------------------------------------------===//

#include "einjit/Dialect/Einsum/IR/EinsumOps.h"
#include "einjit/Transforms/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"

namespace mlir::einsum {
#define GEN_PASS_DEF_EINSUMLOWERDOTPRODUCTS
#include "einjit/Transforms/Passes.h.inc"
} // namespace mlir::einsum

using namespace mlir;

namespace {
struct EinsumLowerDotProducts
    : einsum::impl::EinsumLowerDotProductsBase<EinsumLowerDotProducts> {
  void runOnOperation() override {
    IRRewriter rewriter(&getContext());
    getOperation().walk([&](einsum::DotU8I8Op dot) {
      rewriter.setInsertionPoint(dot);
      // The intrinsic takes the bytes as <64 x i8>.
      auto bytes = VectorType::get({64}, rewriter.getI8Type());
      Value a =
          LLVM::BitcastOp::create(rewriter, dot.getLoc(), bytes, dot.getA());
      Value b =
          LLVM::BitcastOp::create(rewriter, dot.getLoc(), bytes, dot.getB());
      auto call = LLVM::CallIntrinsicOp::create(
          rewriter, dot.getLoc(), dot.getType(),
          rewriter.getStringAttr("llvm.x86.avx512.vpdpbusd.512"),
          ValueRange{dot.getAcc(), a, b});
      rewriter.replaceOp(dot, call.getResults());
    });
  }
};
} // namespace
