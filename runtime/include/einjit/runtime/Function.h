//===- Function.h - Traced functions, as tf.function ------------*- C++ -*-===//
//
// einjit::Function wraps a C++ callable on symbolic tensors (Sym). The
// first call with a new input signature (the arguments' dtypes and shapes)
// traces it: the callable runs once on Syms of those shapes, and each
// einsum or op it calls is checked and recorded, not run. The recorded
// graph is compiled whole into one kernel, in which elementwise ops fuse
// into the ops that read them (einsum-fuse-elementwise) and intermediates
// live in the workspace instead of new tensors. Later calls with that
// signature run the kernel without tracing; a call with another signature
// traces again (a retrace, counted and explained as for einsum kernels:
// "dim 0 of operand 1: 16 -> 32", printed under EINJIT_LOG=retrace).
//
//   einjit::Function attention([](llvm::ArrayRef<einjit::Sym> x) {
//     einjit::Sym s = einjit::einsum("bqhd,bkhd->bhqk", {x[0], x[1]});
//     einjit::Sym p = einjit::softmax(s * 0.125, -1);
//     return std::vector<einjit::Sym>{
//         einjit::einsum("bhqk,bkhd->bqhd", {p, x[2]})};
//   });
//   auto out = attention({q, k, v}); // Expected<std::vector<Tensor>>
//
// As in tf.function, the callable's side effects happen when it is traced,
// not on every call. Errors in the body (an equation that does not fit
// its operands, shapes that do not broadcast) are reported when it is
// traced, as the error value of the call, naming the function and the op.
// Kernels are cached in the function's session like einsum kernels (in
// memory and on disk), keyed by the graph's text; the function keeps each
// signature's kernel it traced for as long as it lives.
//
//===----------------------------------------------------------------------===//

#ifndef EINJIT_RUNTIME_FUNCTION_H
#define EINJIT_RUNTIME_FUNCTION_H

#include "einjit/Compiler/Stage.h"
#include "einjit/Spec/Graph.h"
#include "einjit/runtime/Device.h"
#include "einjit/runtime/Einsum.h"
#include "einjit/runtime/Tensor.h"

#include "llvm/Support/Error.h"

#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace einjit {

class JitKernel;
class Session;
namespace detail {
struct TraceState;
} // namespace detail

/// A symbolic tensor: a value of the function being traced, with a shape
/// and a dtype but no data. Ops on Syms record themselves; an op that fails
/// (say, shapes that do not broadcast) gives an invalid Sym, and the trace
/// reports its error. A Sym belongs to its trace: one kept after it (or
/// from another function) does not become part of a later one, and has no
/// shape once its trace has ended. A body must not call its own Function.
class Sym {
public:
  Sym() = default;
  /// Whether this is a value of a trace (not a default Sym or the result
  /// of an op that failed).
  bool valid() const { return id >= 0; }
  llvm::ArrayRef<int64_t> shape() const;
  DType dtype() const;
  int64_t rank() const { return (int64_t)shape().size(); }

private:
  friend struct detail::TraceState;
  Sym(std::shared_ptr<detail::TraceState> state, int id)
      : state(std::move(state)), id(id) {}
  std::shared_ptr<detail::TraceState> state;
  int id = -1;
};

/// The eager ops of einsum.h and Ops.h, on symbolic tensors.
Sym einsum(llvm::StringRef equation, llvm::ArrayRef<Sym> operands);
Sym add(const Sym &a, const Sym &b);
Sym sub(const Sym &a, const Sym &b);
Sym mul(const Sym &a, const Sym &b);
Sym div(const Sym &a, const Sym &b);
Sym scale(const Sym &a, double factor);
Sym neg(const Sym &a);
Sym exp(const Sym &a);
Sym log(const Sym &a);
Sym tanh(const Sym &a);
Sym sqrt(const Sym &a);
Sym relu(const Sym &a);
Sym gelu(const Sym &a);
Sym sum(const Sym &a, llvm::ArrayRef<int64_t> axes = {}, bool keepDims = false);
Sym max(const Sym &a, llvm::ArrayRef<int64_t> axes = {}, bool keepDims = false);
Sym softmax(const Sym &a, int64_t axis = -1);
Sym logSoftmax(const Sym &a, int64_t axis = -1);
/// Any op of Spec/Ops.h by its kind, with the reductions' `axes` and
/// `keepDims`, a softmax's axis (in `axes`) and scale's `scalar`.
Sym op(OpKind kind, llvm::ArrayRef<Sym> operands,
       llvm::ArrayRef<int64_t> axes = {}, bool keepDims = false,
       double scalar = 0);
/// The backward ops of Ops.h, on symbolic tensors.
Sym reluGrad(const Sym &g, const Sym &x);
Sym geluGrad(const Sym &g, const Sym &x);
Sym tanhGrad(const Sym &g, const Sym &y);
Sym equalMask(const Sym &x, const Sym &y);
/// A tensor of `shape` with every element `value`, of `like`'s dtype, in
/// `like`'s trace.
Sym full(const Sym &like, llvm::ArrayRef<int64_t> shape, double value);

/// Reverse mode inside a trace, as tf.GradientTape inside tf.function: the
/// gradient of `target` (summed over its elements, or weighed by
/// `outputGradient` of its shape) with respect to each of `sources`, by the
/// rules of the gradient tape (docs/autodiff.md), recorded into the same
/// graph, so that the forward and the backward compile into one kernel. A
/// source the target does not depend on gets zeros.
std::vector<Sym> gradients(const Sym &target, llvm::ArrayRef<Sym> sources,
                           const Sym *outputGradient = nullptr);

inline Sym operator+(const Sym &a, const Sym &b) { return add(a, b); }
inline Sym operator-(const Sym &a, const Sym &b) { return sub(a, b); }
inline Sym operator*(const Sym &a, const Sym &b) { return mul(a, b); }
inline Sym operator/(const Sym &a, const Sym &b) { return div(a, b); }
inline Sym operator*(const Sym &a, double factor) { return scale(a, factor); }
inline Sym operator*(double factor, const Sym &a) { return scale(a, factor); }
inline Sym operator-(const Sym &a) { return neg(a); }

/// A traced function compiled for one input signature.
class CompiledFunction {
public:
  CompiledFunction(Graph graph, std::unique_ptr<JitKernel> kernel,
                   int64_t workspaceBytes, double compileSeconds, bool fromDisk,
                   Session &session);
  ~CompiledFunction();

  /// What was traced: the arguments, the ops and the results.
  const Graph &graph() const { return g; }
  double compileSeconds() const { return seconds; }
  bool loadedFromDisk() const { return fromDisk; }
  int64_t workspaceBytes() const { return workspace; }
  size_t codeBytes() const;

  /// Runs on `args` (of the traced shapes and dtypes; any strides) into
  /// `outs`, contiguous tensors of the results' shapes and dtypes.
  llvm::Error run(llvm::ArrayRef<Tensor> args,
                  llvm::MutableArrayRef<Tensor> outs) const;
  /// Runs into new tensors.
  llvm::Expected<std::vector<Tensor>>
  operator()(llvm::ArrayRef<Tensor> args) const;

private:
  /// A graph with an empty tensor has no kernel: its nodes run as eager
  /// ops, one by one.
  llvm::Error runEagerly(llvm::ArrayRef<Tensor> args,
                         llvm::MutableArrayRef<Tensor> outs) const;
  Graph g;
  std::unique_ptr<JitKernel> kernel;
  int64_t workspace;
  double seconds;
  bool fromDisk;
  Session &session;
  /// The inputs' layouts (Graph input nodes' strides).
  std::vector<std::vector<int64_t>> strides;
};

struct FunctionOptions {
  /// The name in messages, retraces and the kernel's IR.
  std::string name = "function";
  /// The session whose cache holds the kernels; null: Session::global().
  Session *session = nullptr;
  /// How the einsums inside are planned.
  PlanOptions plan;
  /// The number of arguments a call must pass; -1: any (the body checks).
  /// einjit::function sets it from the callable's parameters.
  int arity = -1;
  /// tf.function's input_signature: per argument its shape, kDynamic
  /// (-1) for a batch dim, which only dim 0 may be; every batch dim of a
  /// call has one size. Calls then run shape-polymorphically, as pieces of
  /// power-of-two sizes along the batch, each piece a signature traced
  /// and compiled once (checkBatchSeparable must accept the body: no op
  /// mixes rows of the batch). A call that does not match the signature is
  /// an error. Empty: none; a function also turns shape-polymorphic after
  /// its session's setReduceRetracing count of retraces that changed only
  /// batch sizes, when its body allows.
  std::vector<std::vector<int64_t>> inputSignature;
};

struct FunctionStats {
  /// Traces of the body (the first one included), and those that were
  /// retraces: a trace for a signature other than the first.
  size_t traces = 0;
  size_t retraces = 0;
  /// Signatures the function holds a kernel for (host and device).
  size_t signatures = 0;
  /// Whether calls run shape-polymorphically along a batch dim, the calls
  /// that ran as pieces, and the traces of pieces' signatures (in
  /// `traces`, never retraces).
  bool polymorphic = false;
  size_t splitCalls = 0;
  size_t pieceTraces = 0;
};

class Function {
public:
  using Body = std::function<std::vector<Sym>(llvm::ArrayRef<Sym>)>;
  explicit Function(Body body, FunctionOptions options = {});
  ~Function();
  /// Copies share the body, the kernels and the statistics.
  Function(const Function &) = default;
  Function &operator=(const Function &) = default;

  /// Runs the function on `args`, tracing and compiling it first for a new
  /// signature.
  llvm::Expected<std::vector<Tensor>>
  operator()(llvm::ArrayRef<Tensor> args) const;
  /// Runs the function on the CUDA device: the graph, traced as for host
  /// tensors, is compiled by the GPU pipeline (every op a kernel, fused
  /// where einsum-fuse-elementwise fuses, intermediates in device memory)
  /// and cached per signature. Each batch size is a signature of its own.
  llvm::Expected<std::vector<DeviceTensor>>
  operator()(llvm::ArrayRef<DeviceTensor> args) const;
  /// The kernel for `args`' signature (traced and compiled on first use),
  /// as tf.function's get_concrete_function.
  llvm::Expected<std::shared_ptr<const CompiledFunction>>
  concrete(llvm::ArrayRef<Tensor> args) const;
  /// The IR of the function's kernel for `args` at `stage`, as text
  /// (traces the body; compiles nothing).
  llvm::Expected<std::string> emit(llvm::ArrayRef<Tensor> args,
                                   Stage stage) const;

  FunctionStats stats() const;
  /// Its retraces, oldest first: what differed from the signature traced
  /// before each.
  std::vector<Retrace> retraces() const;

  struct Impl;

private:
  std::shared_ptr<Impl> impl;
};

namespace detail {
template <typename T>
struct Callable : Callable<decltype(&T::operator())> {};
template <typename C, typename R, typename... A>
struct Callable<R (C::*)(A...) const> {
  static constexpr size_t arity = sizeof...(A);
};
template <typename C, typename R, typename... A>
struct Callable<R (C::*)(A...)> {
  static constexpr size_t arity = sizeof...(A);
};
template <typename R, typename... A>
struct Callable<R (*)(A...)> {
  static constexpr size_t arity = sizeof...(A);
};
inline std::vector<Sym> results(Sym s) { return {std::move(s)}; }
inline std::vector<Sym> results(std::vector<Sym> s) { return s; }
template <typename F, size_t... I>
std::vector<Sym> callWith(F &f, llvm::ArrayRef<Sym> x,
                          std::index_sequence<I...>) {
  return results(f(x[I]...));
}
} // namespace detail

/// A Function of a callable that takes Syms, one per argument, and returns
/// a Sym or a std::vector<Sym>: `function([](Sym a, Sym b) { return
/// relu(a + b); })`. Calls must pass as many tensors as it has parameters.
template <typename F>
Function function(F f, FunctionOptions options = {}) {
  if constexpr (std::is_invocable_v<F &, llvm::ArrayRef<Sym>>) {
    return Function(
        [f](llvm::ArrayRef<Sym> x) mutable { return detail::results(f(x)); },
        std::move(options));
  } else {
    constexpr size_t n = detail::Callable<F>::arity;
    options.arity = (int)n;
    return Function(
        [f](llvm::ArrayRef<Sym> x) mutable {
          return detail::callWith(f, x, std::make_index_sequence<n>());
        },
        std::move(options));
  }
}

} // namespace einjit

#endif // EINJIT_RUNTIME_FUNCTION_H
