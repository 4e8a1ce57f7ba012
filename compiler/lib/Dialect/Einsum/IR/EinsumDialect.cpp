//===- EinsumDialect.cpp - The einsum dialect and its operations ----------===//

#include "einjit/Dialect/Einsum/IR/EinsumOps.h"
#include "einjit/Spec/Limits.h"

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

llvm::Expected<einjit::BoundEquation>
mlir::einsum::bindContract(ContractOp op) {
  std::vector<std::vector<int64_t>> shapes;
  std::vector<einjit::DType> types;
  for (auto [i, input] : llvm::enumerate(op.getInputs())) {
    auto type = cast<RankedTensorType>(input.getType());
    auto dtype = toDType(type.getElementType());
    if (!dtype) {
      std::string name;
      llvm::raw_string_ostream os(name);
      os << type.getElementType();
      return einjit::makeEinsumError(
          "operand " + std::to_string(i) + " has unsupported element type '" +
          name + "' (einjit supports f16, f32, f64, i32, i64)");
    }
    shapes.emplace_back(type.getShape().begin(), type.getShape().end());
    types.push_back(*dtype);
  }
  return einjit::bindEquation(op.getEquation(), shapes, types,
                              {/*repeatedOutputLabels=*/true});
}

llvm::Expected<einjit::ContractionPath>
mlir::einsum::contractPath(ContractOp op, const einjit::BoundEquation &bound) {
  // The path computes the output with each label once; a repeated label's
  // diagonal is laid out after it.
  einjit::BoundEquation eq = bound.withUniqueOutput();
  std::optional<ArrayAttr> attr = op.getPath();
  if (!attr) {
    if (eq.inputs.size() > 2)
      return einjit::makeEinsumError(
          "an einsum of " + std::to_string(eq.inputs.size()) +
          " operands needs a contraction path (run einsum-plan-paths)");
    return einjit::greedyPath(eq);
  }
  std::vector<std::vector<int>> steps;
  for (Attribute step : *attr) {
    ArrayRef<int64_t> ids = cast<DenseI64ArrayAttr>(step).asArrayRef();
    std::vector<int> ints;
    for (int64_t id : ids)
      ints.push_back(id < INT32_MIN || id > INT32_MAX ? -1 : int(id));
    steps.push_back(std::move(ints));
  }
  return einjit::pathFromSteps(eq, steps);
}

ArrayAttr mlir::einsum::pathAttr(MLIRContext *ctx,
                                 const einjit::ContractionPath &path) {
  Builder b(ctx);
  SmallVector<Attribute> steps;
  for (const einjit::ContractionStep &step : path.steps)
    steps.push_back(b.getDenseI64ArrayAttr(
        SmallVector<int64_t>(step.operands.begin(), step.operands.end())));
  return b.getArrayAttr(steps);
}

LogicalResult ContractOp::verify() {
  auto bound = bindContract(*this);
  if (!bound) {
    // One line: the message and, where known, the column it points at.
    std::string message;
    llvm::handleAllErrors(bound.takeError(), [&](const einjit::EinsumError &e) {
      message = e.getMessage();
      if (e.getColumn() >= 0)
        message += " (at position " + std::to_string(e.getColumn()) + ")";
    });
    return emitOpError() << message;
  }
  if (getPath()) {
    auto path = contractPath(*this, *bound);
    if (!path)
      return emitOpError() << "has an invalid path: "
                           << llvm::toString(path.takeError());
  }
  auto resultType = cast<RankedTensorType>(getResult().getType());
  Type expectedElement = toMLIRType(getContext(), bound->resultType);
  if (resultType.getElementType() != expectedElement)
    return emitOpError() << "result element type "
                         << resultType.getElementType()
                         << " does not match the promoted operand type "
                         << expectedElement;
  std::vector<int64_t> shape = bound->outputShape();
  if (resultType.getShape() != ArrayRef<int64_t>(shape))
    return emitOpError() << "result shape ("
                         << einjit::dimsString(resultType.getShape())
                         << ") does not match the equation's output shape ("
                         << einjit::dimsString(shape) << ")";
  return success();
}

#define GET_OP_CLASSES
#include "einjit/Dialect/Einsum/IR/EinsumOps.cpp.inc"
