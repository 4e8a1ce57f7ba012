//===- EinsumOps.h - Operations of the einsum dialect -----------*- C++ -*-===//

#ifndef EINJIT_DIALECT_EINSUM_IR_EINSUMOPS_H
#define EINJIT_DIALECT_EINSUM_IR_EINSUMOPS_H

#include "einjit/Dialect/Einsum/IR/EinsumDialect.h"
#include "einjit/Spec/Equation.h"
#include "einjit/Spec/Path.h"
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define GET_OP_CLASSES
#include "einjit/Dialect/Einsum/IR/EinsumOps.h.inc"

namespace mlir::einsum {

/// The einjit dtype of an MLIR element type, if it is one einjit supports.
std::optional<einjit::DType> toDType(Type type);
/// The MLIR element type of an einjit dtype.
Type toMLIRType(MLIRContext *ctx, einjit::DType type);

/// Binds the equation of `op` to its operand types; its output may repeat
/// a label (einjit::ParseOptions::repeatedOutputLabels).
llvm::Expected<einjit::BoundEquation> bindContract(ContractOp op);

/// The contraction path of `op` (bound as `eq`): from its `path` attribute,
/// or the single step of an op with one or two operands. An error when the
/// attribute is malformed, or missing on an op of three or more operands.
/// It computes `eq.withUniqueOutput()`.
llvm::Expected<einjit::ContractionPath>
contractPath(ContractOp op, const einjit::BoundEquation &eq);

/// The `path` attribute of `path`'s steps.
ArrayAttr pathAttr(MLIRContext *ctx, const einjit::ContractionPath &path);

} // namespace mlir::einsum

#endif // EINJIT_DIALECT_EINSUM_IR_EINSUMOPS_H
