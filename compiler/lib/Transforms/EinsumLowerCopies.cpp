//===- EinsumLowerCopies.cpp - memref.copy to linalg.copy -----------------===//
//
// Keeps JIT kernels free of calls into MLIR's runner-utils library; see
// Passes.td.
//
//===----------------------------------------------------------------------===//

#include "einjit/Transforms/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

namespace mlir::einsum {
#define GEN_PASS_DEF_EINSUMLOWERCOPIES
#include "einjit/Transforms/Passes.h.inc"
} // namespace mlir::einsum

using namespace mlir;

/// Copies of at most this many elements with a static shape (the rows that
/// packing moves) become one vector read and write.
static constexpr int64_t kMaxVectorCopy = 256;

namespace {
struct EinsumLowerCopies
    : einsum::impl::EinsumLowerCopiesBase<EinsumLowerCopies> {
  void runOnOperation() override {
    SmallVector<memref::CopyOp> copies;
    getOperation().walk([&](memref::CopyOp op) { copies.push_back(op); });
    IRRewriter rewriter(&getContext());
    for (memref::CopyOp op : copies) {
      rewriter.setInsertionPoint(op);
      auto type = cast<MemRefType>(op.getSource().getType());
      if (type.hasStaticShape() && type.getNumElements() <= kMaxVectorCopy &&
          succeeded(linalg::vectorizeCopy(rewriter, op)))
        continue;
      rewriter.replaceOpWithNewOp<linalg::CopyOp>(op, op.getSource(),
                                                  op.getTarget());
    }
  }
};
} // namespace
