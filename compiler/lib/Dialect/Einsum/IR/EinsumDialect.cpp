//===- EinsumDialect.cpp - The einsum dialect and its operations ----------===//

#include "einjit/Dialect/Einsum/IR/EinsumOps.h"
#include "einjit/Spec/Limits.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
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
  if (type.isBF16())
    return einjit::DType::BF16;
  if (type.isF32())
    return einjit::DType::F32;
  if (type.isF64())
    return einjit::DType::F64;
  if (type.isSignlessInteger(8))
    return einjit::DType::I8;
  if (type.isSignlessInteger(16))
    return einjit::DType::I16;
  if (type.isSignlessInteger(32))
    return einjit::DType::I32;
  if (type.isSignlessInteger(64))
    return einjit::DType::I64;
  return std::nullopt;
}

Type mlir::einsum::toMLIRType(MLIRContext *ctx, einjit::DType type) {
  Builder b(ctx);
  type = einjit::realPart(type);
  if (type == einjit::DType::F16)
    return b.getF16Type();
  if (type == einjit::DType::BF16)
    return b.getBF16Type();
  if (type == einjit::DType::F32)
    return b.getF32Type();
  if (type == einjit::DType::F64)
    return b.getF64Type();
  return b.getIntegerType(8 * einjit::dtypeBytes(type));
}

Value mlir::einsum::convertElement(OpBuilder &b, Location loc, Value v,
                                   einjit::DType from, einjit::DType to) {
  using einjit::DType;
  if (from == to)
    return v;
  Type type = toMLIRType(b.getContext(), to);
  unsigned fromBytes = einjit::dtypeBytes(from),
           toBytes = einjit::dtypeBytes(to);
  if (to == DType::Bool) {
    Value zero = arith::ConstantOp::create(b, loc, b.getZeroAttr(v.getType()));
    Value nonzero =
        einjit::isFloat(from)
            ? arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNE, v, zero)
                  .getResult()
            : arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, v, zero)
                  .getResult();
    return arith::ExtUIOp::create(b, loc, type, nonzero);
  }
  bool zeroExtends = from == DType::Bool || einjit::isUnsigned(from);
  if (einjit::isFloat(to)) {
    if (!einjit::isFloat(from))
      return zeroExtends ? arith::UIToFPOp::create(b, loc, type, v).getResult()
                         : arith::SIToFPOp::create(b, loc, type, v).getResult();
    if (fromBytes == toBytes) { // f16 and bf16: through f32
      v = arith::ExtFOp::create(b, loc, b.getF32Type(), v);
      return arith::TruncFOp::create(b, loc, type, v);
    }
    return toBytes > fromBytes
               ? arith::ExtFOp::create(b, loc, type, v).getResult()
               : arith::TruncFOp::create(b, loc, type, v).getResult();
  }
  if (einjit::isFloat(from))
    return einjit::isUnsigned(to)
               ? arith::FPToUIOp::create(b, loc, type, v).getResult()
               : arith::FPToSIOp::create(b, loc, type, v).getResult();
  if (toBytes == fromBytes)
    return v;
  if (toBytes < fromBytes)
    return arith::TruncIOp::create(b, loc, type, v);
  return zeroExtends ? arith::ExtUIOp::create(b, loc, type, v).getResult()
                     : arith::ExtSIOp::create(b, loc, type, v).getResult();
}

Value mlir::einsum::convertTensor(OpBuilder &b, Location loc, Value v,
                                  einjit::DType from, einjit::DType to) {
  if (from == to)
    return v;
  auto type = cast<RankedTensorType>(v.getType());
  Value init = tensor::EmptyOp::create(b, loc, type.getShape(),
                                       toMLIRType(b.getContext(), to));
  unsigned rank = type.getRank();
  AffineMap id = b.getMultiDimIdentityMap(rank);
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             b, loc, init.getType(), v, init, ArrayRef<AffineMap>{id, id},
             iterators,
             [&](OpBuilder &nb, Location nloc, ValueRange args) {
               linalg::YieldOp::create(
                   nb, nloc, convertElement(nb, nloc, args[0], from, to));
             })
      .getResult(0);
}

std::vector<int64_t> mlir::einsum::storageShape(einjit::DType type,
                                                llvm::ArrayRef<int64_t> shape) {
  std::vector<int64_t> stored(shape.begin(), shape.end());
  if (einjit::isComplex(type))
    stored.push_back(2);
  return stored;
}

RankedTensorType mlir::einsum::storageType(MLIRContext *ctx, einjit::DType type,
                                           llvm::ArrayRef<int64_t> shape) {
  return RankedTensorType::get(storageShape(type, shape),
                               toMLIRType(ctx, type));
}

Value mlir::einsum::complexPart(OpBuilder &b, Location loc, Value v,
                                int64_t index) {
  auto type = cast<RankedTensorType>(v.getType());
  int64_t rank = type.getRank();
  SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0)), sizes,
      strides(rank, b.getIndexAttr(1));
  offsets.back() = b.getIndexAttr(index);
  for (int64_t d : type.getShape().drop_back())
    sizes.push_back(b.getIndexAttr(d));
  sizes.push_back(b.getIndexAttr(1));
  auto partType =
      RankedTensorType::get(type.getShape().drop_back(), type.getElementType());
  return tensor::ExtractSliceOp::create(b, loc, partType, v, offsets, sizes,
                                        strides);
}

Value mlir::einsum::complexFromParts(OpBuilder &b, Location loc, Value re,
                                     Value im) {
  auto type = cast<RankedTensorType>(re.getType());
  SmallVector<int64_t> shape(type.getShape());
  shape.push_back(2);
  Value out = tensor::EmptyOp::create(b, loc, shape, type.getElementType());
  int64_t rank = shape.size();
  SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0)), sizes,
      strides(rank, b.getIndexAttr(1));
  for (int64_t d : type.getShape())
    sizes.push_back(b.getIndexAttr(d));
  sizes.push_back(b.getIndexAttr(1));
  Value parts[] = {re, im};
  for (auto [index, v] : llvm::enumerate(parts)) {
    offsets.back() = b.getIndexAttr(index);
    out =
        tensor::InsertSliceOp::create(b, loc, v, out, offsets, sizes, strides);
  }
  return out;
}

/// Whether `type`'s MLIR element type names it.
static bool spelledByElementType(einjit::DType type) {
  return type != einjit::DType::Bool && !einjit::isUnsigned(type) &&
         !einjit::isComplex(type);
}

ArrayAttr mlir::einsum::dtypesAttr(MLIRContext *ctx,
                                   llvm::ArrayRef<einjit::DType> inputs,
                                   einjit::DType result) {
  if (llvm::all_of(inputs, spelledByElementType) &&
      spelledByElementType(result))
    return {};
  SmallVector<StringRef> names;
  for (einjit::DType t : inputs)
    names.push_back(einjit::dtypeName(t));
  names.push_back(einjit::dtypeName(result));
  return Builder(ctx).getStrArrayAttr(names);
}

llvm::Expected<einjit::BoundEquation>
mlir::einsum::bindContract(ContractOp op) {
  std::vector<std::vector<int64_t>> shapes;
  std::vector<einjit::DType> types;
  std::optional<ArrayAttr> dtypes = op.getDtypes();
  size_t numInputs = op.getInputs().size();
  if (dtypes && dtypes->size() != numInputs + 1)
    return einjit::makeEinsumError(
        "dtypes names " + std::to_string(dtypes->size()) + " types, for " +
        std::to_string(numInputs) + " operand(s) and the result");
  auto typeOf = [&](size_t i, Type element,
                    const std::string &what) -> llvm::Expected<einjit::DType> {
    std::string name;
    llvm::raw_string_ostream os(name);
    os << element;
    if (dtypes) {
      StringRef dtypeName = cast<StringAttr>((*dtypes)[i]).getValue();
      std::optional<einjit::DType> dtype = einjit::parseDType(dtypeName);
      if (!dtype)
        return einjit::makeEinsumError("dtypes names an unknown dtype '" +
                                       dtypeName.str() + "' for " + what);
      if (toMLIRType(op.getContext(), *dtype) != element)
        return einjit::makeEinsumError(
            "dtypes names '" + dtypeName.str() + "' for " + what +
            ", whose element type '" + name + "' does not store it");
      return *dtype;
    }
    std::optional<einjit::DType> dtype = toDType(element);
    if (!dtype)
      return einjit::makeEinsumError(
          what + " has unsupported element type '" + name +
          "' (einjit supports f16, bf16, f32, f64 and i8 to i64)");
    return *dtype;
  };
  // A complex operand is stored with a last dim of 2: (real, imaginary).
  auto logicalShape =
      [&](RankedTensorType type, einjit::DType dtype,
          const std::string &what) -> llvm::Expected<std::vector<int64_t>> {
    ArrayRef<int64_t> shape = type.getShape();
    if (!einjit::isComplex(dtype))
      return std::vector<int64_t>(shape.begin(), shape.end());
    if (shape.empty() || shape.back() != 2)
      return einjit::makeEinsumError(what + " is " +
                                     einjit::dtypeName(dtype).str() +
                                     ", stored with a last dim of 2 (real, "
                                     "imaginary), but its shape is (" +
                                     einjit::dimsString(shape) + ")");
    return std::vector<int64_t>(shape.begin(), shape.end() - 1);
  };
  for (auto [i, input] : llvm::enumerate(op.getInputs())) {
    auto type = cast<RankedTensorType>(input.getType());
    std::string what = "operand " + std::to_string(i);
    auto dtype = typeOf(i, type.getElementType(), what);
    if (!dtype)
      return dtype.takeError();
    auto shape = logicalShape(type, *dtype, what);
    if (!shape)
      return shape.takeError();
    shapes.push_back(std::move(*shape));
    types.push_back(*dtype);
  }
  auto bound = einjit::bindEquation(op.getEquation(), shapes, types,
                                    {/*repeatedOutputLabels=*/true});
  if (!bound || !dtypes)
    return bound;
  auto result =
      typeOf(numInputs,
             cast<RankedTensorType>(op.getResult().getType()).getElementType(),
             "the result");
  if (!result)
    return result.takeError();
  if (*result != bound->resultType)
    return einjit::makeEinsumError(
        "dtypes names '" + einjit::dtypeName(*result).str() +
        "' for the result, but the operands promote to '" +
        einjit::dtypeName(bound->resultType).str() + "'");
  return bound;
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
  std::vector<int64_t> shape =
      storageShape(bound->resultType, bound->outputShape());
  if (resultType.getElementType() != expectedElement)
    return emitOpError() << "result element type "
                         << resultType.getElementType()
                         << " does not match the promoted operand type "
                         << expectedElement;
  if (resultType.getShape() != ArrayRef<int64_t>(shape))
    return emitOpError() << "result shape ("
                         << einjit::dimsString(resultType.getShape())
                         << ") does not match the equation's output shape ("
                         << einjit::dimsString(shape) << ")";
  return success();
}

#define GET_OP_CLASSES
#include "einjit/Dialect/Einsum/IR/EinsumOps.cpp.inc"
