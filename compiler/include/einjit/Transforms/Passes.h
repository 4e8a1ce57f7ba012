//===- Passes.h - Transformations of einsum kernels -------------*- C++ -*-===//

#ifndef EINJIT_TRANSFORMS_PASSES_H
#define EINJIT_TRANSFORMS_PASSES_H

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/X86Vector/X86VectorDialect.h"
#include "mlir/Pass/Pass.h"

namespace mlir::einsum {

/// The module attribute in which einsum-workspace records the bytes of
/// workspace the module's kernels need.
constexpr llvm::StringLiteral kWorkspaceAttrName = "einsum.workspace_bytes";

#define GEN_PASS_DECL
#include "einjit/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "einjit/Transforms/Passes.h.inc"

} // namespace mlir::einsum

#endif // EINJIT_TRANSFORMS_PASSES_H
