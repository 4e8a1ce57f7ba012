//===- Ops.cpp - Eager elementwise ops and reductions -------------------===//

#include "einjit/Spec/Ops.h"
#include "einjit/Spec/Equation.h"
#include "einjit/Spec/Limits.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <cstdio>

using namespace einjit;

llvm::StringRef einjit::opName(OpKind kind) {
  switch (kind) {
  case OpKind::Add:
    return "add";
  case OpKind::Sub:
    return "sub";
  case OpKind::Mul:
    return "mul";
  case OpKind::Div:
    return "div";
  case OpKind::ReluGrad:
    return "relu_grad";
  case OpKind::GeluGrad:
    return "gelu_grad";
  case OpKind::TanhGrad:
    return "tanh_grad";
  case OpKind::EqualMask:
    return "equal_mask";
  case OpKind::Scale:
    return "scale";
  case OpKind::Exp:
    return "exp";
  case OpKind::Log:
    return "log";
  case OpKind::Tanh:
    return "tanh";
  case OpKind::Relu:
    return "relu";
  case OpKind::Gelu:
    return "gelu";
  case OpKind::Sqrt:
    return "sqrt";
  case OpKind::Neg:
    return "neg";
  case OpKind::Sum:
    return "sum";
  case OpKind::Max:
    return "max";
  case OpKind::Softmax:
    return "softmax";
  case OpKind::LogSoftmax:
    return "log_softmax";
  }
  return "?";
}

unsigned einjit::opArity(OpKind kind) {
  return kind <= OpKind::EqualMask ? 2 : 1;
}

bool einjit::isReduction(OpKind kind) {
  return kind == OpKind::Sum || kind == OpKind::Max;
}

bool einjit::isSoftmax(OpKind kind) {
  return kind == OpKind::Softmax || kind == OpKind::LogSoftmax;
}

/// Ops whose result is a float even for int operands (NumPy's ufuncs; scale
/// multiplies by a Python float).
/// The ops defined on complex numbers.
static bool takesComplex(OpKind kind) {
  switch (kind) {
  case OpKind::Add:
  case OpKind::Sub:
  case OpKind::Mul:
  case OpKind::Div:
  case OpKind::Neg:
  case OpKind::Scale:
  case OpKind::Exp:
  case OpKind::Log:
  case OpKind::Sqrt:
  case OpKind::Tanh:
  case OpKind::Sum:
    return true;
  default:
    return false;
  }
}

static bool floatResult(OpKind kind) {
  switch (kind) {
  case OpKind::Div:
  case OpKind::ReluGrad:
  case OpKind::GeluGrad:
  case OpKind::TanhGrad:
  case OpKind::EqualMask:
  case OpKind::Scale:
  case OpKind::Exp:
  case OpKind::Log:
  case OpKind::Tanh:
  case OpKind::Gelu:
  case OpKind::Sqrt:
  case OpKind::Softmax:
  case OpKind::LogSoftmax:
    return true;
  default:
    return false;
  }
}

std::string OpSignature::str() const {
  std::string s = opName(kind).str() + "(";
  for (auto [i, shape] : llvm::enumerate(inputShapes))
    s += (i ? ", " : "") + dtypeName(inputTypes[i]).str() + shapeString(shape);
  if (takesAxes(kind)) {
    s += ", axes=[";
    for (auto [i, axis] : llvm::enumerate(axes))
      s += (i ? "," : "") + std::to_string(axis);
    s += "]";
    if (keepDims)
      s += ", keepdims";
  }
  if (kind == OpKind::Scale) {
    // Every digit: the string is the kernel cache's key, and factors that
    // print alike at a few digits must not share a kernel.
    char exact[32];
    std::snprintf(exact, sizeof(exact), ", %.17g", scalar);
    s += exact;
  }
  return s + ")";
}

llvm::Expected<std::vector<int64_t>>
einjit::broadcastShapes(llvm::ArrayRef<int64_t> a, llvm::ArrayRef<int64_t> b) {
  size_t rank = std::max(a.size(), b.size());
  std::vector<int64_t> out(rank);
  for (size_t i = 0; i < rank; ++i) {
    // Aligned from the right; a missing dim is 1.
    int64_t x = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t y = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (x != y && x != 1 && y != 1)
      return makeEinsumError("operands could not be broadcast together with "
                             "shapes " +
                             shapeString(a) + " and " + shapeString(b) +
                             ": dim " + std::to_string(i) + " is " +
                             std::to_string(x) + " against " +
                             std::to_string(y));
    out[i] = x == 1 ? y : x;
  }
  return out;
}

llvm::Expected<OpSignature>
einjit::bindOp(OpKind kind, llvm::ArrayRef<std::vector<int64_t>> shapes,
               llvm::ArrayRef<DType> types, llvm::ArrayRef<int64_t> axes,
               bool keepDims, double scalar) {
  llvm::StringRef name = opName(kind);
  if (shapes.size() != opArity(kind) || types.size() != shapes.size())
    return makeEinsumError(llvm::formatv("{0} takes {1} operand(s), got {2}",
                                         name, opArity(kind), shapes.size()));
  OpSignature sig;
  sig.kind = kind;
  sig.inputShapes.assign(shapes.begin(), shapes.end());
  sig.inputTypes.assign(types.begin(), types.end());
  sig.keepDims = keepDims;
  sig.scalar = scalar;
  for (auto [i, shape] : llvm::enumerate(shapes))
    if (auto count = checkTensorSize(
            llvm::formatv("operand {0} of {1}", i, name), types[i], shape);
        !count)
      return count.takeError();

  DType type = types[0];
  if (shapes.size() == 2) {
    type = promoteTypes(types[0], types[1]);
    auto shape = broadcastShapes(shapes[0], shapes[1]);
    if (!shape)
      return makeEinsumError(name + ": " + llvm::toString(shape.takeError()));
    sig.loopShape = std::move(*shape);
  } else {
    sig.loopShape = shapes[0];
  }
  if (type == DType::Bool && (kind == OpKind::Sub || kind == OpKind::Neg))
    return makeEinsumError(
        name + " of bools is not supported, as in NumPy (use add for a "
               "logical or, or convert to an int type first)");
  // NumPy's true division and a Python float's product make an int f64;
  // float functions make it the smallest float that holds it (an int8's
  // exp is f16).
  if (isComplex(type) && !takesComplex(kind))
    return makeEinsumError(
        name + " of complex numbers is not supported (einjit's complex ops: "
               "add, sub, mul, div, neg, scale, exp, log, sqrt, tanh, sum)");
  if (floatResult(kind) && !isFloat(type) && !isComplex(type))
    type = kind == OpKind::Div || kind == OpKind::Scale ? DType::F64
                                                        : inexactType(type);
  // NumPy sums ints and bools into the platform's integer of their sign.
  if (kind == OpKind::Sum && !isFloat(type) && !isComplex(type))
    type = isUnsigned(type) ? DType::U64 : DType::I64;
  sig.resultType = type;
  sig.computeType = accumulatorType(type);

  int64_t rank = sig.loopShape.size();
  if (isSoftmax(kind)) {
    if (rank == 0)
      return makeEinsumError(name + " needs an operand of rank 1 or more");
    if (axes.size() != 1)
      return makeEinsumError(name + " takes one axis");
    int64_t a = axes[0] < 0 ? axes[0] + rank : axes[0];
    if (a < 0 || a >= rank)
      return makeEinsumError(llvm::formatv(
          "{0}: axis {1} is out of range for an operand of rank {2}", name,
          axes[0], rank));
    sig.axes = {a};
    sig.outputShape = sig.loopShape;
    return sig;
  }
  if (!isReduction(kind)) {
    if (!axes.empty())
      return makeEinsumError(name + " takes no axes");
    sig.outputShape = sig.loopShape;
    return sig;
  }
  std::vector<bool> reduced(rank, axes.empty());
  for (int64_t axis : axes) {
    int64_t a = axis < 0 ? axis + rank : axis;
    if (a < 0 || a >= rank)
      return makeEinsumError(llvm::formatv(
          "{0}: axis {1} is out of range for an operand of rank {2}", name,
          axis, rank));
    if (reduced[a])
      return makeEinsumError(
          llvm::formatv("{0}: axis {1} is given twice", name, axis));
    reduced[a] = true;
  }
  for (int64_t d = 0; d < rank; ++d) {
    if (reduced[d]) {
      sig.axes.push_back(d);
      // NumPy: max over an empty axis has no identity.
      if (kind == OpKind::Max && sig.loopShape[d] == 0)
        return makeEinsumError(llvm::formatv(
            "max: axis {0} has size 0, and max of nothing is undefined", d));
    }
    if (!reduced[d] || keepDims)
      sig.outputShape.push_back(reduced[d] ? 1 : sig.loopShape[d]);
  }
  return sig;
}
