//===- Passes.h - Conversions out of the einsum dialect ---------*- C++ -*-===//

#ifndef EINJIT_CONVERSION_PASSES_H
#define EINJIT_CONVERSION_PASSES_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Pass/Pass.h"

namespace mlir::einsum {

#define GEN_PASS_DECL
#include "einjit/Conversion/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "einjit/Conversion/Passes.h.inc"

} // namespace mlir::einsum

#endif // EINJIT_CONVERSION_PASSES_H
