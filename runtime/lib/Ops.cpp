//===- Ops.cpp - Eager ops besides einsum ---------------------------------===//
//
// The kernels come from the cache in Einsum.cpp (compileOp); a softmax's
// kernel is its max, sub, exp, sum and div, fused (emitOp).
//
//===----------------------------------------------------------------------===//

#include "einjit/runtime/Ops.h"
#include "Internal.h"
#include "JitKernel.h"
#include "TapeRecord.h"
#include "einjit/runtime/Session.h"

#include "einjit/Spec/Equation.h"
#include "einjit/Spec/Limits.h"

#include <cstring>

using namespace einjit;

CompiledOp::CompiledOp(OpSignature sig, std::unique_ptr<JitKernel> kernel,
                       int64_t workspaceBytes, double compileSeconds,
                       bool fromDisk,
                       std::vector<std::vector<int64_t>> inputStrides)
    : sig(std::move(sig)), kernel(std::move(kernel)), workspace(workspaceBytes),
      seconds(compileSeconds), fromDisk(fromDisk),
      strides(std::move(inputStrides)) {}

CompiledOp::~CompiledOp() = default;

size_t CompiledOp::codeBytes() const {
  return kernel ? kernel->codeBytes() : 0;
}

llvm::Error CompiledOp::run(llvm::ArrayRef<Tensor> operands,
                            Tensor &out) const {
  if (operands.size() != sig.inputShapes.size())
    return makeEinsumError(opName(sig.kind) + " takes " +
                           std::to_string(sig.inputShapes.size()) +
                           " operands, got " + std::to_string(operands.size()));
  for (auto [i, t] : llvm::enumerate(operands))
    if (t.shape() != llvm::ArrayRef<int64_t>(sig.inputShapes[i]) ||
        t.dtype() != sig.inputTypes[i])
      return makeEinsumError("operand " + std::to_string(i) + " is " +
                             dtypeName(t.dtype()).str() +
                             shapeString(t.shape()) +
                             " but the kernel was compiled for " + sig.str());
  if (out.dtype() != sig.resultType ||
      out.shape() != llvm::ArrayRef<int64_t>(sig.outputShape) ||
      !out.isContiguous())
    return makeEinsumError("output must be a contiguous " +
                           dtypeName(sig.resultType).str() +
                           shapeString(sig.outputShape));
  if (out.numel() == 0)
    return llvm::Error::success();
  if (!kernel) { // a reduction over an axis of size 0: the sum is 0
    std::memset(out.data(), 0, out.nbytes());
    return llvm::Error::success();
  }
  return runKernel(*kernel, operands, out, workspace, opName(sig.kind),
                   strides);
}

llvm::Expected<Tensor>
CompiledOp::operator()(llvm::ArrayRef<Tensor> operands) const {
  auto out = Tensor::empty(sig.resultType, sig.outputShape);
  if (!out)
    return out.takeError();
  if (auto err = run(operands, *out))
    return std::move(err);
  return out;
}

/// Compiles (or finds) and runs one op.
static llvm::Expected<Tensor> runOp(OpKind kind,
                                    llvm::ArrayRef<Tensor> operands,
                                    llvm::ArrayRef<int64_t> axes = {},
                                    bool keepDims = false, double scalar = 0) {
  auto result =
      runEagerOp(Session::global(), kind, operands, axes, keepDims, scalar);
  if (result && detail::recording()) {
    detail::TapeRecord r{detail::TapeRecord::Kind::Op, operands, *result};
    r.op = kind;
    r.axes.assign(axes.begin(), axes.end());
    r.keepDims = keepDims;
    r.scalar = scalar;
    detail::record(std::move(r));
  }
  return result;
}

llvm::Expected<Tensor> einjit::add(const Tensor &a, const Tensor &b) {
  return runOp(OpKind::Add, {a, b});
}
llvm::Expected<Tensor> einjit::sub(const Tensor &a, const Tensor &b) {
  return runOp(OpKind::Sub, {a, b});
}
llvm::Expected<Tensor> einjit::mul(const Tensor &a, const Tensor &b) {
  return runOp(OpKind::Mul, {a, b});
}
llvm::Expected<Tensor> einjit::reluGrad(const Tensor &g, const Tensor &x) {
  return runOp(OpKind::ReluGrad, {g, x});
}
llvm::Expected<Tensor> einjit::geluGrad(const Tensor &g, const Tensor &x) {
  return runOp(OpKind::GeluGrad, {g, x});
}
llvm::Expected<Tensor> einjit::tanhGrad(const Tensor &g, const Tensor &y) {
  return runOp(OpKind::TanhGrad, {g, y});
}
llvm::Expected<Tensor> einjit::equalMask(const Tensor &x, const Tensor &y) {
  return runOp(OpKind::EqualMask, {x, y});
}
llvm::Expected<Tensor> einjit::div(const Tensor &a, const Tensor &b) {
  return runOp(OpKind::Div, {a, b});
}
llvm::Expected<Tensor> einjit::scale(const Tensor &a, double factor) {
  return runOp(OpKind::Scale, {a}, {}, false, factor);
}
llvm::Expected<Tensor> einjit::neg(const Tensor &a) {
  return runOp(OpKind::Neg, {a});
}
llvm::Expected<Tensor> einjit::exp(const Tensor &a) {
  return runOp(OpKind::Exp, {a});
}
llvm::Expected<Tensor> einjit::log(const Tensor &a) {
  return runOp(OpKind::Log, {a});
}
llvm::Expected<Tensor> einjit::tanh(const Tensor &a) {
  return runOp(OpKind::Tanh, {a});
}
llvm::Expected<Tensor> einjit::sqrt(const Tensor &a) {
  return runOp(OpKind::Sqrt, {a});
}
llvm::Expected<Tensor> einjit::relu(const Tensor &a) {
  return runOp(OpKind::Relu, {a});
}
llvm::Expected<Tensor> einjit::gelu(const Tensor &a) {
  return runOp(OpKind::Gelu, {a});
}
llvm::Expected<Tensor>
einjit::sum(const Tensor &a, llvm::ArrayRef<int64_t> axes, bool keepDims) {
  return runOp(OpKind::Sum, {a}, axes, keepDims);
}
llvm::Expected<Tensor>
einjit::max(const Tensor &a, llvm::ArrayRef<int64_t> axes, bool keepDims) {
  return runOp(OpKind::Max, {a}, axes, keepDims);
}

llvm::Expected<Tensor> einjit::softmax(const Tensor &a, int64_t axis) {
  return runOp(OpKind::Softmax, {a}, {axis});
}

llvm::Expected<Tensor> einjit::logSoftmax(const Tensor &a, int64_t axis) {
  return runOp(OpKind::LogSoftmax, {a}, {axis});
}
