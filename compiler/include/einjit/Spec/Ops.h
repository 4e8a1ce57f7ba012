//===- Ops.h - Eager elementwise ops and reductions ---------------*- C++
//-*-===//
//
// The ops besides einsum that the runtime runs eagerly, each compiled once
// per signature like an einsum: elementwise arithmetic with NumPy
// broadcasting, unary math, and reductions along axes. bindOp checks a call
// (broadcasting, axes, dtypes) and gives its signature: the result's dtype
// and shape by NumPy's rules, which the compiler builds the kernel from.
//
//===----------------------------------------------------------------------===//

#ifndef EINJIT_SPEC_OPS_H
#define EINJIT_SPEC_OPS_H

#include "einjit/Spec/DType.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <string>
#include <vector>

namespace einjit {

enum class OpKind : uint8_t {
  // Binary, broadcasting.
  Add,
  Sub,
  Mul,
  Div,
  // Binary, broadcasting, float: the backward of the ops below, as
  // TensorFlow's ReluGrad, TanhGrad, ... (the gradient tape's).
  ReluGrad,  ///< (g, x): x > 0 ? g : 0
  GeluGrad,  ///< (g, x): g * (Phi(x) + x * phi(x)), phi the normal density
  TanhGrad,  ///< (g, y): g * (1 - y * y), y = tanh(x)
  EqualMask, ///< (x, y): x == y ? 1 : 0 (max's gradient: where the max was)
  // Unary.
  Scale, ///< x * scalar
  Exp,
  Log,
  Tanh,
  Relu,
  Gelu, ///< x * Phi(x), with erf (Keras's approximate=False)
  Sqrt,
  Neg,
  // Reductions along axes.
  Sum,
  Max,
  // Along one axis: exp(x - max) / sum(exp(x - max)), and its log
  // x - max - log(sum(exp(x - max))). Their kernels are those five ops
  // (four for the log) in one function, fused.
  Softmax,
  LogSoftmax,
};

/// "add", "exp", "sum", ...
llvm::StringRef opName(OpKind kind);
unsigned opArity(OpKind kind);
bool isReduction(OpKind kind);
bool isSoftmax(OpKind kind);
/// Whether a call names axes: reductions and softmaxes.
inline bool takesAxes(OpKind kind) {
  return isReduction(kind) || isSoftmax(kind);
}

/// A call of an op, checked: what a kernel is compiled for.
struct OpSignature {
  OpKind kind = OpKind::Add;
  std::vector<std::vector<int64_t>> inputShapes;
  std::vector<DType> inputTypes;
  /// Reductions: the axes reduced, ascending, each once. Softmaxes: their
  /// one axis.
  std::vector<int64_t> axes;
  bool keepDims = false;
  /// Scale's factor.
  double scalar = 0;
  /// The type inputs are converted to and the op computes in (f16 computes
  /// in f32), and the result's type.
  DType computeType = DType::F32, resultType = DType::F32;
  /// The broadcast shape of the inputs (binary ops) or the input's shape:
  /// the loop nest the kernel runs.
  std::vector<int64_t> loopShape;
  std::vector<int64_t> outputShape;

  /// A one-line description for messages and the cache: "add(f32[3,4],
  /// f32[4])", "sum(f32[3,4], axes=[1])".
  std::string str() const;
};

/// Checks a call of `kind` on operands of `shapes` and `types` (one, or two
/// for binary ops) and gives its signature. Binary ops broadcast as NumPy
/// does and promote with promoteTypes; an int or bool divided or scaled
/// gives f64, as NumPy's true division and a Python float do; exp, log,
/// tanh, gelu, sqrt and the softmaxes of an int give inexactType's float
/// (f16 for an int8); sum of an int or bool gives i64 (u64 if unsigned);
/// sub and neg of bools are errors, as in NumPy, and add and mul of bools
/// are OR and AND. Complex operands take add, sub, mul, div, neg, scale,
/// exp, log, sqrt, tanh and sum (NumPy's formulas and branch cuts); the
/// other ops on them are errors.
/// Reductions take `axes` (negative counts from the end; empty: every
/// axis) and `keepDims`; softmaxes take one axis, and give a float like
/// exp. Errors name the op and the offending operand.
llvm::Expected<OpSignature> bindOp(OpKind kind,
                                   llvm::ArrayRef<std::vector<int64_t>> shapes,
                                   llvm::ArrayRef<DType> types,
                                   llvm::ArrayRef<int64_t> axes = {},
                                   bool keepDims = false, double scalar = 0);

/// NumPy's broadcast of two shapes; an error naming both when they do not
/// broadcast.
llvm::Expected<std::vector<int64_t>> broadcastShapes(llvm::ArrayRef<int64_t> a,
                                                     llvm::ArrayRef<int64_t> b);

} // namespace einjit

#endif // EINJIT_SPEC_OPS_H
