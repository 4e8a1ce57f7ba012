//===- EinsumDialect.cpp - The einsum dialect and its operations ----------===//

#include "einjit/Dialect/Einsum/IR/EinsumOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"

using namespace mlir;
using namespace mlir::einsum;

#include "einjit/Dialect/Einsum/IR/EinsumOpsDialect.cpp.inc"

void EinsumDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "einjit/Dialect/Einsum/IR/EinsumOps.cpp.inc"
      >();
}

std::optional<einjit::DType> mlir::einsum::toDType(Type type) {
  if (type.isF16())
    return einjit::DType::F16;
  if (type.isF32())
    return einjit::DType::F32;
  if (type.isF64())
    return einjit::DType::F64;
  if (type.isSignlessInteger(32))
    return einjit::DType::I32;
  if (type.isSignlessInteger(64))
    return einjit::DType::I64;
  return std::nullopt;
}

Type mlir::einsum::toMLIRType(MLIRContext *ctx, einjit::DType type) {
  Builder b(ctx);
  switch (type) {
  case einjit::DType::F16:
    return b.getF16Type();
  case einjit::DType::F32:
    return b.getF32Type();
  case einjit::DType::F64:
    return b.getF64Type();
  case einjit::DType::I32:
    return b.getI32Type();
  case einjit::DType::I64:
    return b.getI64Type();
  }
  return {};
}

llvm::Expected<einjit::BoundEquation> mlir::einsum::bindContract(ContractOp op) {
  std::vector<std::vector<int64_t>> shapes;
  std::vector<einjit::DType> types;
  for (auto [i, input] : llvm::enumerate(op.getInputs())) {
    auto type = cast<RankedTensorType>(input.getType());
    auto dtype = toDType(type.getElementType());
    if (!dtype) {
      std::string name;
      llvm::raw_string_ostream os(name);
      os << type.getElementType();
      return einjit::makeEinsumError("operand " + std::to_string(i) +
                                     " has unsupported element type " + name);
    }
    shapes.emplace_back(type.getShape().begin(), type.getShape().end());
    types.push_back(*dtype);
  }
  return einjit::bindEquation(op.getEquation(), shapes, types);
}

LogicalResult ContractOp::verify() {
  auto bound = bindContract(*this);
  if (!bound)
    return emitOpError() << llvm::toString(bound.takeError());
  auto resultType = cast<RankedTensorType>(getResult().getType());
  Type expectedElement = toMLIRType(getContext(), bound->resultType);
  if (resultType.getElementType() != expectedElement)
    return emitOpError() << "result element type " << resultType.getElementType()
                         << " does not match the promoted operand type "
                         << expectedElement;
  std::vector<int64_t> shape = bound->outputShape();
  if (resultType.getShape() != ArrayRef<int64_t>(shape)) {
    return emitOpError() << "result shape ("
                         << llvm::make_range(resultType.getShape().begin(),
                                             resultType.getShape().end())
                         << ") does not match the equation's output shape ("
                         << ArrayRef<int64_t>(shape) << ")";
  }
  return success();
}

#define GET_OP_CLASSES
#include "einjit/Dialect/Einsum/IR/EinsumOps.cpp.inc"
