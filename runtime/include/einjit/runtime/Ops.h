//===- Ops.h - Eager ops besides einsum -------------------------*- C++ -*-===//
//
// Elementwise arithmetic with NumPy broadcasting, unary math, reductions
// along axes and softmax, run eagerly: each call compiles a kernel for its
// signature (op, axes, dtypes, shapes) the first time, through the same
// cache as einsum (hits, retraces, the disk cache, the per-thread table
// for repeated calls), and runs it into a new tensor. Results follow
// NumPy's dtypes: see bindOp in einjit/Spec/Ops.h. Operands may have any
// strides (views: Tensor::transpose, slice, broadcastTo): a view with
// non-negative strides is read in place by a kernel compiled for its
// layout; one with a negative stride is copied first.
//
//===----------------------------------------------------------------------===//

#ifndef EINJIT_RUNTIME_OPS_H
#define EINJIT_RUNTIME_OPS_H

#include "einjit/Spec/Ops.h"
#include "einjit/runtime/Tensor.h"

#include "llvm/Support/Error.h"

#include <memory>

namespace einjit {

class JitKernel;

/// An op compiled for one signature.
class CompiledOp {
public:
  CompiledOp(OpSignature sig, std::unique_ptr<JitKernel> kernel,
             int64_t workspaceBytes, double compileSeconds,
             bool fromDisk = false,
             std::vector<std::vector<int64_t>> inputStrides = {});
  ~CompiledOp();

  const OpSignature &signature() const { return sig; }
  double compileSeconds() const { return seconds; }
  bool loadedFromDisk() const { return fromDisk; }
  size_t codeBytes() const;
  /// Scratch bytes a call needs for intermediates (a softmax's row
  /// statistics).
  int64_t workspaceBytes() const { return workspace; }
  /// As CompiledEinsum::inputStrides.
  const std::vector<std::vector<int64_t>> &inputStrides() const {
    return strides;
  }

  /// Runs on `operands` (of the bound shapes and dtypes; any strides) into
  /// `out`, a contiguous tensor of the result's shape and dtype.
  llvm::Error run(llvm::ArrayRef<Tensor> operands, Tensor &out) const;
  llvm::Expected<Tensor> operator()(llvm::ArrayRef<Tensor> operands) const;

private:
  OpSignature sig;
  std::unique_ptr<JitKernel> kernel;
  int64_t workspace;
  double seconds;
  bool fromDisk;
  std::vector<std::vector<int64_t>> strides;
};

/// The cached kernel of `kind` on `operands`' dtypes and shapes (compiled
/// on first use), with the reductions' `axes` and `keepDims` and scale's
/// `scalar`.
llvm::Expected<std::shared_ptr<const CompiledOp>>
compileOp(OpKind kind, llvm::ArrayRef<Tensor> operands,
          llvm::ArrayRef<int64_t> axes = {}, bool keepDims = false,
          double scalar = 0);

/// numpy.add, subtract, multiply and true_divide, broadcasting.
llvm::Expected<Tensor> add(const Tensor &a, const Tensor &b);
llvm::Expected<Tensor> sub(const Tensor &a, const Tensor &b);
llvm::Expected<Tensor> mul(const Tensor &a, const Tensor &b);
llvm::Expected<Tensor> div(const Tensor &a, const Tensor &b);
/// The backward ops the gradient tape runs, broadcasting like add, in a
/// float type: relu's (g where x > 0, else 0), gelu's (g * gelu'(x)),
/// tanh's from its result y (g * (1 - y^2)), and equalMask (1 where x ==
/// y, else 0; max's gradient goes where the max was).
llvm::Expected<Tensor> reluGrad(const Tensor &g, const Tensor &x);
llvm::Expected<Tensor> geluGrad(const Tensor &g, const Tensor &x);
llvm::Expected<Tensor> tanhGrad(const Tensor &g, const Tensor &y);
llvm::Expected<Tensor> equalMask(const Tensor &x, const Tensor &y);
/// a * factor.
llvm::Expected<Tensor> scale(const Tensor &a, double factor);
llvm::Expected<Tensor> neg(const Tensor &a);
llvm::Expected<Tensor> exp(const Tensor &a);
llvm::Expected<Tensor> log(const Tensor &a);
llvm::Expected<Tensor> tanh(const Tensor &a);
llvm::Expected<Tensor> sqrt(const Tensor &a);
/// max(a, 0); NaN stays NaN.
llvm::Expected<Tensor> relu(const Tensor &a);
/// a * Phi(a) = a / 2 * (1 + erf(a / sqrt 2)): Keras's and torch's exact
/// GELU (not the tanh approximation).
llvm::Expected<Tensor> gelu(const Tensor &a);
/// numpy.sum and numpy.max along `axes` (negative from the end; empty:
/// all), keeping the reduced axes as size 1 with `keepDims`.
llvm::Expected<Tensor> sum(const Tensor &a, llvm::ArrayRef<int64_t> axes = {},
                           bool keepDims = false);
llvm::Expected<Tensor> max(const Tensor &a, llvm::ArrayRef<int64_t> axes = {},
                           bool keepDims = false);
/// exp(a - max) / sum(exp(a - max)) along `axis`, and its log: a - max -
/// log(sum(exp(a - max))). Stable for large inputs.
llvm::Expected<Tensor> softmax(const Tensor &a, int64_t axis = -1);
llvm::Expected<Tensor> logSoftmax(const Tensor &a, int64_t axis = -1);

} // namespace einjit

#endif // EINJIT_RUNTIME_OPS_H
