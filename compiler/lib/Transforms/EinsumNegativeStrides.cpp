//===- EinsumNegativeStrides.cpp - No unsigned-wrap flags -----------------===//
//
// See Passes.td.
//
//===----------------------------------------------------------------------===//

#include "einjit/Transforms/Passes.h"
#include "einjit/Transforms/RegisterTile.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"

namespace mlir::einsum {
#define GEN_PASS_DEF_EINSUMNEGATIVESTRIDES
#include "einjit/Transforms/Passes.h.inc"
} // namespace mlir::einsum

using namespace mlir;

namespace {
struct EinsumNegativeStrides
    : einsum::impl::EinsumNegativeStridesBase<EinsumNegativeStrides> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (!module->hasAttr(einsum::kNegativeStridesAttrName))
      return;
    module.walk([](Operation *op) {
      if (auto flags = dyn_cast<LLVM::IntegerOverflowFlagsInterface>(op)) {
        flags.setOverflowFlags(flags.getOverflowFlags() &
                               ~LLVM::IntegerOverflowFlags::nuw);
      } else if (auto gep = dyn_cast<LLVM::GEPOp>(op)) {
        gep.setNoWrapFlags(gep.getNoWrapFlags() & ~LLVM::GEPNoWrapFlags::nuw);
      }
    });
  }
};
} // namespace
