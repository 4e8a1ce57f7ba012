//===- EinsumOps.h - Operations of the einsum dialect -----------*- C++ -*-===//

#ifndef EINJIT_DIALECT_EINSUM_IR_EINSUMOPS_H
#define EINJIT_DIALECT_EINSUM_IR_EINSUMOPS_H

#include "einjit/Dialect/Einsum/IR/EinsumDialect.h"
#include "einjit/Spec/Equation.h"
#include "einjit/Spec/Path.h"
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define GET_OP_CLASSES
#include "einjit/Dialect/Einsum/IR/EinsumOps.h.inc"

namespace mlir::einsum {

/// The einjit dtype of an MLIR element type, if it is one einjit supports:
/// signless ints are signed (i8 is an int8).
std::optional<einjit::DType> toDType(Type type);
/// The MLIR element type an einjit dtype is stored as: signless ints of its
/// width (bool: i8); a complex dtype's part type (f32 for c64).
Type toMLIRType(MLIRContext *ctx, einjit::DType type);
/// The shape a tensor of `type` and `shape` is stored with: a complex one
/// has a last dim of 2 (real, imaginary), as NumPy lays it out.
std::vector<int64_t> storageShape(einjit::DType type,
                                  llvm::ArrayRef<int64_t> shape);
RankedTensorType storageType(MLIRContext *ctx, einjit::DType type,
                             llvm::ArrayRef<int64_t> shape);
/// `v`, a scalar of dtype `from`, as one of dtype `to`, with NumPy's
/// casting: ints widen by their sign (bool and unsigned with zeros), ints
/// become floats by their sign, floats round to the nearest (f16 and bf16
/// through f32), wider ints truncate, floats become ints toward zero, and
/// anything becomes a bool by comparing with 0.
Value convertElement(OpBuilder &b, Location loc, Value v, einjit::DType from,
                     einjit::DType to);

/// The tensor `v` (of dtype `from`) converted elementwise to `to`: one
/// linalg.generic of convertElement; `v` itself when the dtypes are equal.
Value convertTensor(OpBuilder &b, Location loc, Value v, einjit::DType from,
                    einjit::DType to);

/// Part `index` (0: real, 1: imaginary) of `v`, a complex tensor stored
/// with a last dim of 2: a strided slice, read in place.
Value complexPart(OpBuilder &b, Location loc, Value v, int64_t index);
/// The complex tensor (stored with a last dim of 2) of parts `re` and `im`,
/// real tensors of one shape and type.
Value complexFromParts(OpBuilder &b, Location loc, Value re, Value im);

/// A contraction's `dtypes` attribute for operands of `inputs` and a result
/// of `result`: null when the element types say it all (no bool and no
/// unsigned int among them).
ArrayAttr dtypesAttr(MLIRContext *ctx, llvm::ArrayRef<einjit::DType> inputs,
                     einjit::DType result);

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
