//===- Passes.h - Transformations of einsum kernels -------------*- C++ -*-===//

#ifndef EINJIT_TRANSFORMS_PASSES_H
#define EINJIT_TRANSFORMS_PASSES_H

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::einsum {

#define GEN_PASS_DECL
#include "einjit/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "einjit/Transforms/Passes.h.inc"

} // namespace mlir::einsum

#endif // EINJIT_TRANSFORMS_PASSES_H
