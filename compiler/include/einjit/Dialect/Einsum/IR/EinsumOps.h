//===- EinsumOps.h - Operations of the einsum dialect -----------*- C++ -*-===//

#ifndef EINJIT_DIALECT_EINSUM_IR_EINSUMOPS_H
#define EINJIT_DIALECT_EINSUM_IR_EINSUMOPS_H

#include "einjit/Dialect/Einsum/IR/EinsumDialect.h"
#include "einjit/Spec/Equation.h"
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

/// Binds the equation of `op` to its operand types.
llvm::Expected<einjit::BoundEquation> bindContract(ContractOp op);

} // namespace mlir::einsum

#endif // EINJIT_DIALECT_EINSUM_IR_EINSUMOPS_H
