//===- Function.cpp - Traced functions, as tf.function --------------------===//
//
// Tracing records each op on Syms into a Graph, bound by the spec layer as
// the eager call would be (bindEquation, bindOp); the graph compiles into
// one kernel through the session's cache (Einsum.cpp). A Function keeps
// the kernel of each signature it traced, found on later calls by the
// arguments' dtypes and dims.
//
//===----------------------------------------------------------------------===//

#include "einjit/runtime/Function.h"
#include "GradientPlanRunner.h"
#include "Internal.h"
#include "JitKernel.h"
#include "TapeRecord.h"

#include "einjit/Spec/Grad.h"
#include "einjit/Spec/Limits.h"
#include "einjit/runtime/Session.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/bit.h"
#include "llvm/Support/FormatVariadic.h"

#include <cstring>
#include <mutex>

using namespace einjit;

//===----------------------------------------------------------------------===//
// Tracing
//===----------------------------------------------------------------------===//

namespace einjit::detail {
/// One trace: the graph so far and its first error.
struct TraceState {
  Graph graph;
  PlanOptions plan;
  std::string error;

  /// Records `message` (the first one only) and gives an invalid Sym of
  /// this trace.
  static Sym fail(const std::shared_ptr<TraceState> &state,
                  const std::string &message) {
    if (state && state->error.empty())
      state->error = message;
    return Sym(state, -1);
  }
  static const std::shared_ptr<TraceState> &of(const Sym &s) { return s.state; }
  static int idOf(const Sym &s) { return s.id; }
  static Sym make(std::shared_ptr<TraceState> state, int id) {
    return Sym(std::move(state), id);
  }
};
} // namespace einjit::detail

using detail::TraceState;

/// A Sym's node, or null for an invalid one or one whose trace has ended
/// (its graph was moved out).
static const GraphNode *nodeOf(const Sym &s) {
  const auto &state = TraceState::of(s);
  int id = TraceState::idOf(s);
  if (!state || id < 0 || (size_t)id >= state->graph.nodes.size())
    return nullptr;
  return &state->graph.nodes[id];
}

llvm::ArrayRef<int64_t> Sym::shape() const {
  const GraphNode *node = nodeOf(*this);
  return node ? llvm::ArrayRef<int64_t>(node->shape)
              : llvm::ArrayRef<int64_t>();
}

DType Sym::dtype() const {
  const GraphNode *node = nodeOf(*this);
  return node ? node->dtype : DType::F32;
}

/// The trace `operands` belong to, or null after recording why not: an
/// operand is invalid (its error is already recorded) or from another
/// trace.
static std::shared_ptr<TraceState> traceOf(llvm::ArrayRef<Sym> operands,
                                           llvm::StringRef what) {
  std::shared_ptr<TraceState> state;
  for (const Sym &s : operands)
    if (TraceState::of(s)) {
      state = TraceState::of(s);
      break;
    }
  if (!state)
    return nullptr;
  for (auto [i, s] : llvm::enumerate(operands)) {
    if (TraceState::of(s) != state) {
      TraceState::fail(state, (what + ": operand " + llvm::Twine(i) +
                               " is not a value of this trace")
                                  .str());
      return nullptr;
    }
    if (!s.valid()) {
      TraceState::fail(state, (what + ": operand " + llvm::Twine(i) +
                               " comes from an op that failed")
                                  .str());
      return nullptr;
    }
  }
  return state;
}

namespace {
/// The shapes, dtypes and node ids of an op's operands.
struct Operands {
  std::vector<std::vector<int64_t>> shapes;
  std::vector<DType> types;
  std::vector<int> ids;
};
} // namespace

static Operands operandsOf(llvm::ArrayRef<Sym> operands) {
  Operands in;
  for (const Sym &s : operands) {
    in.shapes.emplace_back(s.shape().begin(), s.shape().end());
    in.types.push_back(s.dtype());
    in.ids.push_back(TraceState::idOf(s));
  }
  return in;
}

Sym einjit::einsum(llvm::StringRef equation, llvm::ArrayRef<Sym> operands) {
  auto state = traceOf(operands, "einsum '" + equation.str() + "'");
  if (!state)
    return {};
  Operands in = operandsOf(operands);
  // An output may repeat a label (a diagonal), as in einjit::einsum.
  auto eq = bindEquation(equation, in.shapes, in.types,
                         {/*repeatedOutputLabels=*/true});
  if (!eq)
    return TraceState::fail(state, llvm::toString(eq.takeError()));
  auto path = planEinsumPath(eq->withUniqueOutput(), state->plan);
  if (!path)
    return TraceState::fail(state, llvm::toString(path.takeError()));
  return TraceState::make(
      state, state->graph.addEinsum(std::move(*eq), std::move(*path), in.ids));
}

/// Records op `kind` on `operands`.
static Sym traceOp(OpKind kind, llvm::ArrayRef<Sym> operands,
                   llvm::ArrayRef<int64_t> axes = {}, bool keepDims = false,
                   double scalar = 0) {
  auto state = traceOf(operands, opName(kind));
  if (!state)
    return {};
  Operands in = operandsOf(operands);
  auto sig = bindOp(kind, in.shapes, in.types, axes, keepDims, scalar);
  if (!sig)
    return TraceState::fail(state, llvm::toString(sig.takeError()));
  return TraceState::make(state, state->graph.addOp(std::move(*sig), in.ids));
}

Sym einjit::op(OpKind kind, llvm::ArrayRef<Sym> operands,
               llvm::ArrayRef<int64_t> axes, bool keepDims, double scalar) {
  return traceOp(kind, operands, axes, keepDims, scalar);
}

Sym einjit::reluGrad(const Sym &g, const Sym &x) {
  return traceOp(OpKind::ReluGrad, {g, x});
}
Sym einjit::geluGrad(const Sym &g, const Sym &x) {
  return traceOp(OpKind::GeluGrad, {g, x});
}
Sym einjit::tanhGrad(const Sym &g, const Sym &y) {
  return traceOp(OpKind::TanhGrad, {g, y});
}
Sym einjit::equalMask(const Sym &x, const Sym &y) {
  return traceOp(OpKind::EqualMask, {x, y});
}

Sym einjit::full(const Sym &like, llvm::ArrayRef<int64_t> shape, double value) {
  auto state = traceOf({like}, "full");
  if (!state)
    return {};
  return TraceState::make(state,
                          state->graph.addConstant(shape, like.dtype(), value));
}

//===----------------------------------------------------------------------===//
// Gradients inside a trace
//===----------------------------------------------------------------------===//

/// `g` summed down to `shape` (the dims an operand was broadcast along).
static Sym sumTo(const Sym &g, llvm::ArrayRef<int64_t> shape) {
  Sym s = g;
  int64_t lead = s.rank() - (int64_t)shape.size();
  if (lead > 0)
    s = sum(s, llvm::to_vector(llvm::seq<int64_t>(0, lead)));
  std::vector<int64_t> ones;
  for (auto [d, size] : llvm::enumerate(shape))
    if (size == 1 && s.shape()[d] != 1)
      ones.push_back(d);
  return ones.empty() ? s : sum(s, ones, /*keepDims=*/true);
}

/// `g`, a reduction's result (or its cotangent), broadcast back to the
/// reduced operand's shape: an einsum with a ones vector per reduced dim
/// (without keepDims), or a multiply by ones (with).
static Sym expandBack(const Sym &g, const GraphNode &reduction,
                      const GraphNode &input) {
  const OpSignature &op = *reduction.op;
  if (op.keepDims)
    return mul(g, full(g, input.shape, 1.0));
  std::string gTerm, xTerm, ones;
  std::vector<Sym> operands = {g};
  for (auto [d, size] : llvm::enumerate(input.shape)) {
    char c = labelName(d)[0];
    xTerm += c;
    if (llvm::is_contained(op.axes, (int64_t)d)) {
      ones += std::string(",") + c;
      operands.push_back(full(g, {size}, 1.0));
    } else {
      gTerm += c;
    }
  }
  return einsum(gTerm + ones + "->" + xTerm, operands);
}

/// Cotangents of `node`'s operands (`in`) from its result's `g`; invalid
/// Syms where an operand gets none.
static std::vector<Sym> backward(const Graph &graph, const GraphNode &node,
                                 llvm::ArrayRef<Sym> in, const Sym &y,
                                 const Sym &g,
                                 llvm::function_ref<bool(int)> needed) {
  std::vector<Sym> grads(in.size());
  if (node.kind == GraphNode::Kind::Einsum) {
    // The forward and backward planned together, as for eager einsums
    // (planGradients: the path's steps backwards where that saves flops).
    std::vector<int> which;
    for (size_t k = 0; k < in.size(); ++k)
      if (needed(k))
        which.push_back(k);
    auto plan = planGradients(*node.eq, *node.path);
    if (!plan) {
      TraceState::fail(TraceState::of(g), llvm::toString(plan.takeError()));
      return grads;
    }
    auto some = runGradientPlan<Sym>(
        *plan, *node.path, in, g, which,
        [](llvm::StringRef equation, llvm::ArrayRef<Sym> args)
            -> llvm::Expected<Sym> { return einsum(equation, args); },
        [&](int64_t n) -> llvm::Expected<Sym> { return full(g, {n}, 1.0); });
    if (!some) { // not reached: Syms record their errors in the trace
      TraceState::fail(TraceState::of(g), llvm::toString(some.takeError()));
      return grads;
    }
    for (auto [k, grad] : llvm::zip(which, *some))
      grads[k] = grad;
    return grads;
  }
  const OpSignature &op = *node.op;
  // A copy: the rules add nodes, which may move the graph's.
  const GraphNode x = graph.nodes[node.operands[0]];
  auto both = [&](Sym ga, Sym gb) {
    return std::vector<Sym>{sumTo(ga, in[0].shape()), sumTo(gb, in[1].shape())};
  };
  switch (op.kind) {
  case OpKind::Add:
    return both(g, g);
  case OpKind::Sub:
    return both(g, neg(g));
  case OpKind::Mul:
    return both(g * in[1], g * in[0]);
  case OpKind::Div:
    return both(g / in[1], neg(g * y / in[1]));
  case OpKind::Scale:
    return {scale(g, op.scalar)};
  case OpKind::Neg:
    return {neg(g)};
  case OpKind::Exp:
    return {g * y};
  case OpKind::Log:
    return {g / in[0]};
  case OpKind::Tanh:
    return {tanhGrad(g, y)};
  case OpKind::Sqrt:
    return {scale(g / y, 0.5)};
  case OpKind::Relu:
    return {reluGrad(g, in[0])};
  case OpKind::Gelu:
    return {geluGrad(g, in[0])};
  case OpKind::Sum:
    return {expandBack(g, node, x)};
  case OpKind::Max: {
    Sym mask = equalMask(in[0], expandBack(y, node, x));
    Sym share = mask / sum(mask, op.axes, /*keepDims=*/true);
    return {share * expandBack(g, node, x)};
  }
  case OpKind::Softmax:
    return {y * (g - sum(g * y, op.axes, /*keepDims=*/true))};
  case OpKind::LogSoftmax:
    return {g - exp(y) * sum(g, op.axes, /*keepDims=*/true)};
  case OpKind::ReluGrad:
    return {sumTo(reluGrad(g, in[1]), in[0].shape()), Sym()};
  case OpKind::TanhGrad:
    return both(tanhGrad(g, in[1]), scale(g * in[0] * in[1], -2));
  case OpKind::EqualMask:
    return {Sym(), Sym()};
  case OpKind::GeluGrad:
    break;
  }
  TraceState::fail(TraceState::of(g), "gradients: no gradient for " +
                                          opName(op.kind).str() +
                                          " (a gradient's gradient)");
  return grads;
}

std::vector<Sym> einjit::gradients(const Sym &target,
                                   llvm::ArrayRef<Sym> sources,
                                   const Sym *outputGradient) {
  std::vector<Sym> all = {target};
  llvm::append_range(all, sources);
  if (outputGradient)
    all.push_back(*outputGradient);
  auto state = traceOf(all, "gradients");
  if (!state)
    return std::vector<Sym>(sources.size());
  if (outputGradient && outputGradient->shape() != target.shape()) {
    TraceState::fail(state, "gradients: the output gradient is " +
                                shapeString(outputGradient->shape()) +
                                " but the target is " +
                                shapeString(target.shape()));
    return std::vector<Sym>(sources.size());
  }
  int top = TraceState::idOf(target);
  // Which nodes depend on a source: only they need cotangents.
  std::vector<bool> depends(top + 1, false);
  for (const Sym &s : sources)
    if (TraceState::idOf(s) <= top)
      depends[TraceState::idOf(s)] = true;
  for (int id = 0; id <= top; ++id)
    for (int operand : state->graph.nodes[id].operands)
      if (depends[operand])
        depends[id] = true;

  std::vector<Sym> cotangents(top + 1);
  cotangents[top] =
      outputGradient ? *outputGradient : full(target, target.shape(), 1.0);
  for (int id = top; id >= 0; --id) {
    if (!cotangents[id].valid() || !depends[id])
      continue;
    // A copy: recording the rules' ops grows the graph.
    GraphNode node = state->graph.nodes[id];
    if (node.kind != GraphNode::Kind::Einsum &&
        node.kind != GraphNode::Kind::Op)
      continue;
    std::vector<Sym> in;
    for (int operand : node.operands)
      in.push_back(TraceState::make(state, operand));
    auto needed = [&](int k) {
      int operand = node.operands[k];
      return depends[operand] && isFloat(state->graph.nodes[operand].dtype);
    };
    std::vector<Sym> grads =
        backward(state->graph, node, in, TraceState::make(state, id),
                 cotangents[id], needed);
    for (auto [k, grad] : llvm::enumerate(grads)) {
      if (!grad.valid() || !needed(k))
        continue;
      Sym &slot = cotangents[node.operands[k]];
      slot = slot.valid() ? add(slot, grad) : grad;
    }
  }
  std::vector<Sym> result;
  for (const Sym &s : sources) {
    int id = TraceState::idOf(s);
    result.push_back(id <= top && cotangents[id].valid()
                         ? cotangents[id]
                         : full(s, s.shape(), 0.0));
  }
  return result;
}

Sym einjit::add(const Sym &a, const Sym &b) {
  return traceOp(OpKind::Add, {a, b});
}
Sym einjit::sub(const Sym &a, const Sym &b) {
  return traceOp(OpKind::Sub, {a, b});
}
Sym einjit::mul(const Sym &a, const Sym &b) {
  return traceOp(OpKind::Mul, {a, b});
}
Sym einjit::div(const Sym &a, const Sym &b) {
  return traceOp(OpKind::Div, {a, b});
}
Sym einjit::scale(const Sym &a, double factor) {
  return traceOp(OpKind::Scale, {a}, {}, false, factor);
}
Sym einjit::neg(const Sym &a) { return traceOp(OpKind::Neg, {a}); }
Sym einjit::exp(const Sym &a) { return traceOp(OpKind::Exp, {a}); }
Sym einjit::log(const Sym &a) { return traceOp(OpKind::Log, {a}); }
Sym einjit::tanh(const Sym &a) { return traceOp(OpKind::Tanh, {a}); }
Sym einjit::sqrt(const Sym &a) { return traceOp(OpKind::Sqrt, {a}); }
Sym einjit::relu(const Sym &a) { return traceOp(OpKind::Relu, {a}); }
Sym einjit::gelu(const Sym &a) { return traceOp(OpKind::Gelu, {a}); }
Sym einjit::sum(const Sym &a, llvm::ArrayRef<int64_t> axes, bool keepDims) {
  return traceOp(OpKind::Sum, {a}, axes, keepDims);
}
Sym einjit::max(const Sym &a, llvm::ArrayRef<int64_t> axes, bool keepDims) {
  return traceOp(OpKind::Max, {a}, axes, keepDims);
}

Sym einjit::softmax(const Sym &a, int64_t axis) {
  return traceOp(OpKind::Softmax, {a}, {axis});
}
Sym einjit::logSoftmax(const Sym &a, int64_t axis) {
  return traceOp(OpKind::LogSoftmax, {a}, {axis});
}

//===----------------------------------------------------------------------===//
// Compiled functions
//===----------------------------------------------------------------------===//

CompiledFunction::CompiledFunction(Graph graph,
                                   std::unique_ptr<JitKernel> kernel,
                                   int64_t workspaceBytes,
                                   double compileSeconds, bool fromDisk,
                                   Session &session)
    : g(std::move(graph)), kernel(std::move(kernel)), workspace(workspaceBytes),
      seconds(compileSeconds), fromDisk(fromDisk), session(session) {
  for (int id : g.inputs)
    strides.push_back(g.nodes[id].strides);
}

CompiledFunction::~CompiledFunction() = default;

size_t CompiledFunction::codeBytes() const {
  return kernel ? kernel->codeBytes() : 0;
}

llvm::Error CompiledFunction::run(llvm::ArrayRef<Tensor> args,
                                  llvm::MutableArrayRef<Tensor> outs) const {
  auto typeOf = [](const GraphNode &node) {
    return dtypeName(node.dtype).str() + shapeString(node.shape);
  };
  if (args.size() != g.inputs.size())
    return makeEinsumError(llvm::formatv("'{0}' takes {1} arguments, got {2}",
                                         g.name, g.inputs.size(), args.size()));
  for (auto [i, t] : llvm::enumerate(args)) {
    const GraphNode &node = g.nodes[g.inputs[i]];
    if (!t.defined() || t.shape() != llvm::ArrayRef<int64_t>(node.shape) ||
        t.dtype() != node.dtype)
      return makeEinsumError(llvm::formatv(
          "argument {0} of '{1}' is {2} but it was traced for {3}", i, g.name,
          t.defined() ? dtypeName(t.dtype()).str() + shapeString(t.shape())
                      : std::string("an empty tensor handle"),
          typeOf(node)));
  }
  if (outs.size() != g.outputs.size())
    return makeEinsumError(llvm::formatv("'{0}' has {1} results, got {2}",
                                         g.name, g.outputs.size(),
                                         outs.size()));
  for (auto [i, t] : llvm::enumerate(outs)) {
    const GraphNode &node = g.nodes[g.outputs[i]];
    if (!t.defined() || t.shape() != llvm::ArrayRef<int64_t>(node.shape) ||
        t.dtype() != node.dtype || !t.isContiguous())
      return makeEinsumError(
          llvm::formatv("result {0} of '{1}' must be a contiguous {2}", i,
                        g.name, typeOf(node)));
  }
  if (!kernel)
    return runEagerly(args, outs);
  return runKernel(*kernel, args, outs, workspace, g.name, strides);
}

llvm::Error
CompiledFunction::runEagerly(llvm::ArrayRef<Tensor> args,
                             llvm::MutableArrayRef<Tensor> outs) const {
  std::vector<Tensor> values(g.nodes.size());
  for (auto [i, id] : llvm::enumerate(g.inputs))
    values[id] = args[i];
  for (auto [id, node] : llvm::enumerate(g.nodes)) {
    llvm::SmallVector<Tensor, 3> operands;
    for (int operand : node.operands)
      operands.push_back(values[operand]);
    if (node.kind == GraphNode::Kind::Input)
      continue;
    llvm::Expected<Tensor> value = Tensor();
    if (node.kind == GraphNode::Kind::Einsum) {
      value = session.einsum(node.eq->text, operands);
    } else if (node.kind == GraphNode::Kind::Constant) {
      value = Tensor::full(node.dtype, node.shape, node.value);
    } else {
      const OpSignature &op = *node.op;
      auto compiled =
          session.compileOp(op.kind, operands, op.axes, op.keepDims, op.scalar);
      if (!compiled)
        return compiled.takeError();
      value = (**compiled)(operands);
    }
    if (!value)
      return value.takeError();
    values[id] = std::move(*value);
  }
  for (auto [i, id] : llvm::enumerate(g.outputs)) {
    auto value = values[id].contiguous();
    if (!value)
      return value.takeError();
    if (value->nbytes())
      std::memcpy(outs[i].data(), value->data(), value->nbytes());
  }
  return llvm::Error::success();
}

llvm::Expected<std::vector<Tensor>>
CompiledFunction::operator()(llvm::ArrayRef<Tensor> args) const {
  std::vector<Tensor> outs;
  for (int id : g.outputs) {
    auto out = Tensor::empty(g.nodes[id].dtype, g.nodes[id].shape);
    if (!out)
      return out.takeError();
    outs.push_back(std::move(*out));
  }
  if (auto err = run(args, outs))
    return std::move(err);
  return outs;
}

//===----------------------------------------------------------------------===//
// Functions
//===----------------------------------------------------------------------===//

struct Function::Impl {
  Body body;
  FunctionOptions options;
  Session &session;

  /// A signature: per argument its dtype, rank and dims.
  using Signature = llvm::SmallVector<int64_t, 16>;
  /// Guards `concretes`; traces hold `tracing` (one at a time).
  mutable std::mutex mutex, tracing;
  std::vector<std::pair<Signature, std::shared_ptr<const CompiledFunction>>>
      concretes;
  FunctionStats stats;
  std::vector<Retrace> retraces;
  /// The arguments of the last trace.
  std::vector<std::vector<int64_t>> lastShapes;
  std::vector<DType> lastTypes;
  KernelLayouts lastLayouts;
  /// Shape-polymorphic calls: the arguments whose dim 0 is the batch
  /// (empty: none), from the input signature or from retraces that
  /// changed only batch sizes (`batchRetraces`, the arguments in
  /// `batchSeen`); `refused` once the body mixed rows of the batch.
  std::vector<bool> batched, batchSeen;
  size_t batchRetraces = 0;
  bool refused = false;
  /// The kernels (of pieces) whose graphs checkBatchSeparable accepted.
  std::vector<const CompiledFunction *> separable;

  Impl(Body body, FunctionOptions options)
      : body(std::move(body)), options(std::move(options)),
        session(this->options.session ? *this->options.session
                                      : Session::global()) {
    for (const auto &shape : this->options.inputSignature)
      batched.push_back(!shape.empty() && shape[0] == kDynamic);
    if (!llvm::is_contained(batched, true))
      batched.clear();
    stats.polymorphic = !batched.empty();
  }

  std::shared_ptr<const CompiledFunction> find(const Signature &sig) const {
    std::lock_guard<std::mutex> lock(mutex);
    for (const auto &[known, fn] : concretes)
      if (known == sig)
        return fn;
    return nullptr;
  }

  /// An error unless `args` (host or device tensors) are as many as the
  /// function takes, each a tensor.
  template <typename T>
  llvm::Error checkArgs(llvm::ArrayRef<T> args) const {
    if (options.arity >= 0 && (int)args.size() != options.arity)
      return makeEinsumError(llvm::formatv("'{0}' takes {1} arguments, got {2}",
                                           options.name, options.arity,
                                           args.size()));
    for (auto [i, t] : llvm::enumerate(args))
      if (!t.defined())
        return makeEinsumError("argument " + std::to_string(i) + " of '" +
                               options.name + "' is an empty tensor handle");
    return llvm::Error::success();
  }
  /// An error unless `args` match the input signature, if there is one.
  llvm::Error checkSignature(llvm::ArrayRef<Tensor> args) const;
  llvm::Error
  checkSignature(llvm::ArrayRef<llvm::ArrayRef<int64_t>> shapes) const;
  /// What a trace takes of an argument: its shape, dtype and kernel
  /// strides (empty: contiguous).
  struct TraceArg {
    llvm::ArrayRef<int64_t> shape;
    DType dtype;
    std::vector<int64_t> strides;
  };
  llvm::Expected<Graph> trace(llvm::ArrayRef<Tensor> args);
  llvm::Expected<Graph> trace(llvm::ArrayRef<TraceArg> args);
  /// Counts a trace of arguments `shapes` and `types` (laid out as
  /// `layouts`): a retrace, when `counted` and not the first, with its
  /// reason. Called with `tracing` held.
  void noteTrace(std::vector<std::vector<int64_t>> shapes,
                 std::vector<DType> types, KernelLayouts layouts, bool counted);
  /// Device tensors: the kernel of their signature, compiled for the
  /// CUDA device `gpu`, and a call on it.
  llvm::Expected<std::shared_ptr<const CudaGraphKernel>>
  concreteCuda(llvm::ArrayRef<DeviceTensor> args, const GpuTarget &gpu);
  llvm::Expected<std::vector<DeviceTensor>>
  callCuda(llvm::ArrayRef<DeviceTensor> args);
  std::vector<std::pair<Signature, std::shared_ptr<const CudaGraphKernel>>>
      cudaConcretes;
  /// The kernel of `args`' signature; a trace for a new one is a retrace
  /// when `counted` (not for a piece of a shape-polymorphic call).
  llvm::Expected<std::shared_ptr<const CompiledFunction>>
  concrete(llvm::ArrayRef<Tensor> args, bool counted = true);
  /// Notes a retrace from `lastShapes` to `shapes` that changed only dim 0
  /// of some arguments, to one size: after the session's count of them,
  /// those arguments become the batch. Called with `mutex` held.
  void noteBatchRetrace(llvm::ArrayRef<std::vector<int64_t>> shapes,
                        llvm::ArrayRef<DType> types,
                        const KernelLayouts &layouts);
  /// Runs a call: as pieces along the batch when the function is
  /// shape-polymorphic and `args` allow it, else on its signature's kernel.
  llvm::Expected<std::vector<Tensor>> call(llvm::ArrayRef<Tensor> args);
  /// The batch size of `args` (their batched arguments' dim 0), or -1
  /// when they cannot run as pieces (an error: against the input
  /// signature).
  llvm::Expected<int64_t> batchSize(llvm::ArrayRef<Tensor> args,
                                    const std::vector<bool> &batch) const;
  llvm::Expected<std::vector<Tensor>> runPieces(llvm::ArrayRef<Tensor> args,
                                                const std::vector<bool> &batch,
                                                int64_t n);
};

llvm::Error Function::Impl::checkSignature(llvm::ArrayRef<Tensor> args) const {
  std::vector<llvm::ArrayRef<int64_t>> shapes;
  for (const Tensor &t : args)
    shapes.push_back(t.shape());
  return checkSignature(shapes);
}

llvm::Error Function::Impl::checkSignature(
    llvm::ArrayRef<llvm::ArrayRef<int64_t>> args) const {
  const auto &sig = options.inputSignature;
  if (sig.empty())
    return llvm::Error::success();
  auto error = [&](const llvm::Twine &message) {
    return makeEinsumError("input signature of '" + options.name +
                           "': " + message);
  };
  if (sig.size() != args.size())
    return error(llvm::formatv("it has {0} arguments, the call passes {1}",
                               sig.size(), args.size()));
  for (auto [i, shape] : llvm::enumerate(sig)) {
    for (auto [d, dim] : llvm::enumerate(shape))
      if (dim < 0 && (dim != kDynamic || d != 0))
        return error(llvm::formatv("dim {0} of argument {1} is {2}: only dim "
                                   "0 may be dynamic (kDynamic, -1)",
                                   d, i, dim));
    llvm::ArrayRef<int64_t> got = args[i];
    bool fits = got.size() == shape.size();
    for (size_t d = 0; fits && d < got.size(); ++d)
      fits = shape[d] == kDynamic || shape[d] == got[d];
    if (!fits) {
      std::string want = "(";
      for (auto [d, dim] : llvm::enumerate(shape))
        want += (d ? "," : "") +
                (dim == kDynamic ? std::string("?") : std::to_string(dim));
      return error(llvm::formatv("argument {0} is {1}, the signature says {2})",
                                 i, shapeString(got), want));
    }
  }
  return llvm::Error::success();
}

llvm::Expected<int64_t>
Function::Impl::batchSize(llvm::ArrayRef<Tensor> args,
                          const std::vector<bool> &batch) const {
  int64_t n = -1;
  int first = -1;
  for (auto [i, t] : llvm::enumerate(args)) {
    if (i >= batch.size() || !batch[i])
      continue;
    if (t.rank() == 0 || !t.isContiguous())
      return -1; // a view: run on a kernel of its layout
    if (n >= 0 && t.shape()[0] != n) {
      if (options.inputSignature.empty())
        return -1;
      return makeEinsumError(llvm::formatv(
          "input signature of '{0}': the batch is dim 0 of arguments {1} "
          "and {2}, but they are {3} and {4}",
          options.name, first, i, n, t.shape()[0]));
    }
    n = t.shape()[0];
    first = first < 0 ? (int)i : first;
  }
  return n;
}

llvm::Expected<std::vector<Tensor>>
Function::Impl::runPieces(llvm::ArrayRef<Tensor> args,
                          const std::vector<bool> &batch, int64_t n) {
  std::vector<Tensor> outs;
  int64_t offset = 0;
  for (int64_t bit = llvm::bit_floor(uint64_t(n)); bit; bit >>= 1) {
    if (!(n & bit))
      continue;
    std::vector<Tensor> pieces;
    for (auto [i, t] : llvm::enumerate(args)) {
      if (i < batch.size() && batch[i]) {
        auto piece = t.slice(0, offset, offset + bit);
        if (!piece)
          return piece.takeError();
        pieces.push_back(std::move(*piece));
      } else {
        pieces.push_back(t);
      }
    }
    auto fn = concrete(pieces, /*counted=*/false);
    if (!fn)
      return fn.takeError();
    const CompiledFunction *kernel = fn->get();
    bool known;
    {
      std::lock_guard<std::mutex> lock(mutex);
      known = llvm::is_contained(separable, kernel);
    }
    if (!known) {
      if (auto err = checkBatchSeparable(kernel->graph(), batch)) {
        if (!options.inputSignature.empty())
          return makeEinsumError("input signature of '" + options.name +
                                 "' has a batch the body mixes: " +
                                 llvm::toString(std::move(err)));
        // Found by retraces: the function stays shape-specific.
        std::string why = llvm::toString(std::move(err));
        if (logs("retrace"))
          llvm::errs() << "einjit: '" << options.name
                       << "' stays shape-specific: " << why << "\n";
        {
          std::lock_guard<std::mutex> lock(mutex);
          batched.clear();
          refused = true;
          stats.polymorphic = false;
        }
        auto whole = concrete(args);
        if (!whole)
          return whole.takeError();
        return (**whole)(args);
      }
      std::lock_guard<std::mutex> lock(mutex);
      separable.push_back(kernel);
    }
    const Graph &g = kernel->graph();
    if (outs.empty())
      for (int id : g.outputs) {
        std::vector<int64_t> shape = g.nodes[id].shape;
        shape[0] = n;
        auto out = Tensor::empty(g.nodes[id].dtype, shape);
        if (!out)
          return out.takeError();
        outs.push_back(std::move(*out));
      }
    std::vector<Tensor> rows;
    for (const Tensor &out : outs) {
      auto row = out.slice(0, offset, offset + bit);
      if (!row)
        return row.takeError();
      rows.push_back(std::move(*row));
    }
    if (auto err = kernel->run(pieces, rows))
      return std::move(err);
    offset += bit;
  }
  std::lock_guard<std::mutex> lock(mutex);
  ++stats.splitCalls;
  return outs;
}

llvm::Expected<std::vector<Tensor>>
Function::Impl::call(llvm::ArrayRef<Tensor> args) {
  if (auto err = checkArgs(args))
    return std::move(err);
  if (auto err = checkSignature(args))
    return std::move(err);
  std::vector<bool> batch;
  {
    std::lock_guard<std::mutex> lock(mutex);
    batch = batched;
  }
  if (!batch.empty()) {
    auto n = batchSize(args, batch);
    if (!n)
      return n.takeError();
    if (*n > 0)
      return runPieces(args, batch, *n);
  }
  auto fn = concrete(args);
  if (!fn)
    return fn.takeError();
  return (**fn)(args);
}

void Function::Impl::noteBatchRetrace(
    llvm::ArrayRef<std::vector<int64_t>> shapes, llvm::ArrayRef<DType> types,
    const KernelLayouts &layouts) {
  if (refused || !batched.empty())
    return;
  std::optional<std::vector<bool>> changed =
      batchChange(shapes, types, lastShapes, lastTypes, layouts, lastLayouts);
  if (!changed)
    return;
  batchSeen.resize(shapes.size(), false);
  for (auto [seen, c] : llvm::zip(batchSeen, *changed))
    seen = seen || c;
  size_t limit = reduceRetracingOf(session);
  if (limit == 0 || ++batchRetraces < limit)
    return;
  batched = batchSeen;
  stats.polymorphic = true;
  if (logs("retrace")) {
    llvm::errs() << "einjit: '" << options.name
                 << "' is shape-polymorphic in dim 0 of argument(s)";
    for (auto [i, b] : llvm::enumerate(batched))
      if (b)
        llvm::errs() << " " << i;
    llvm::errs() << " (after " << batchRetraces
                 << " retraces that changed only the batch size)\n";
  }
}

llvm::Expected<Graph> Function::Impl::trace(llvm::ArrayRef<Tensor> args) {
  std::vector<TraceArg> traced;
  for (const Tensor &t : args) {
    // A traced graph reads views in place, but copies one with a negative
    // stride (a kernel of many ops could meet a static offset that MLIR's
    // memref verification refuses; see withoutNegativeStrides).
    KernelLayouts layout = withoutNegativeStrides({t.kernelStrides()});
    traced.push_back({t.shape(), t.dtype(), std::move(layout[0])});
  }
  return trace(traced);
}

llvm::Expected<Graph> Function::Impl::trace(llvm::ArrayRef<TraceArg> args) {
  auto state = std::make_shared<TraceState>();
  state->graph.name = options.name;
  state->plan = options.plan;
  std::vector<Sym> syms;
  for (const TraceArg &arg : args)
    syms.push_back(TraceState::make(
        state, state->graph.addInput(arg.shape, arg.dtype, arg.strides)));
  std::vector<Sym> results = body(syms);
  auto error = [&](const std::string &message) {
    return makeEinsumError("in traced function '" + options.name +
                           "': " + message);
  };
  if (!state->error.empty())
    return error(state->error);
  if (results.empty())
    return error("it returns no tensor");
  for (auto [i, s] : llvm::enumerate(results)) {
    if (TraceState::of(s) != state || !s.valid())
      return error("result " + std::to_string(i) +
                   " is not a value of this trace");
    state->graph.outputs.push_back(TraceState::idOf(s));
  }
  // Later ops on Syms that escaped the trace must not change its graph.
  Graph graph = std::move(state->graph);
  state->graph = Graph();
  state->error = "the trace has ended";
  return graph;
}

llvm::Expected<std::shared_ptr<const CompiledFunction>>
Function::Impl::concrete(llvm::ArrayRef<Tensor> args, bool counted) {
  if (auto err = checkArgs(args))
    return std::move(err);
  Signature sig;
  for (const Tensor &t : args) {
    // A view's layout is part of the signature: its kernel reads it in
    // place.
    std::vector<int64_t> strides;
    if (!t.isContiguous())
      strides = t.kernelStrides();
    sig.push_back((int64_t)t.dtype());
    sig.push_back(t.rank() | (strides.empty() ? 0 : int64_t(1) << 16));
    sig.append(t.shape().begin(), t.shape().end());
    sig.append(strides.begin(), strides.end());
  }
  if (auto fn = find(sig))
    return fn;
  std::lock_guard<std::mutex> traceLock(tracing);
  if (auto fn = find(sig)) // traced meanwhile by another thread
    return fn;
  auto graph = trace(args);
  if (!graph)
    return graph.takeError();
  std::vector<std::vector<int64_t>> shapes;
  std::vector<DType> types;
  for (const Tensor &t : args) {
    shapes.emplace_back(t.shape().begin(), t.shape().end());
    types.push_back(t.dtype());
  }
  noteTrace(std::move(shapes), std::move(types), kernelLayouts(args), counted);
  auto fn = compileGraph(session, *graph);
  if (!fn)
    return fn.takeError();
  std::lock_guard<std::mutex> lock(mutex);
  concretes.emplace_back(std::move(sig), *fn);
  stats.signatures = concretes.size() + cudaConcretes.size();
  return *fn;
}

void Function::Impl::noteTrace(std::vector<std::vector<int64_t>> shapes,
                               std::vector<DType> types, KernelLayouts layouts,
                               bool counted) {
  std::lock_guard<std::mutex> lock(mutex);
  ++stats.traces;
  if (counted && stats.traces - stats.pieceTraces > 1) {
    ++stats.retraces;
    Retrace event{options.name,
                  retraceReason(shapes, types, lastShapes, lastTypes, layouts,
                                lastLayouts),
                  stats.retraces};
    retraces.push_back(event);
    recordRetrace(session, event);
    noteBatchRetrace(shapes, types, layouts);
  }
  if (!counted) {
    ++stats.pieceTraces;
  } else {
    lastShapes = std::move(shapes);
    lastTypes = std::move(types);
    lastLayouts = std::move(layouts);
  }
}

llvm::Expected<std::shared_ptr<const CudaGraphKernel>>
Function::Impl::concreteCuda(llvm::ArrayRef<DeviceTensor> args,
                             const GpuTarget &gpu) {
  // Device tensors are contiguous: dtypes and shapes make the signature,
  // after a mark that keeps it apart from host tensors'.
  Signature sig{-1};
  for (const DeviceTensor &t : args) {
    sig.push_back((int64_t)t.dtype());
    sig.push_back(t.rank());
    sig.append(t.shape().begin(), t.shape().end());
  }
  auto find = [&]() -> std::shared_ptr<const CudaGraphKernel> {
    std::lock_guard<std::mutex> lock(mutex);
    for (const auto &[known, fn] : cudaConcretes)
      if (known == sig)
        return fn;
    return nullptr;
  };
  if (auto fn = find())
    return fn;
  std::lock_guard<std::mutex> traceLock(tracing);
  if (auto fn = find())
    return fn;
  std::vector<TraceArg> traced;
  std::vector<std::vector<int64_t>> shapes;
  std::vector<DType> types;
  for (const DeviceTensor &t : args) {
    traced.push_back({t.shape(), t.dtype(), {}});
    shapes.emplace_back(t.shape().begin(), t.shape().end());
    types.push_back(t.dtype());
  }
  auto graph = trace(traced);
  if (!graph)
    return graph.takeError();
  noteTrace(std::move(shapes), std::move(types), KernelLayouts(args.size()),
            /*counted=*/true);
  auto fn = compileCudaGraph(session, *graph, gpu);
  if (!fn)
    return fn.takeError();
  std::lock_guard<std::mutex> lock(mutex);
  cudaConcretes.emplace_back(std::move(sig), *fn);
  stats.signatures = concretes.size() + cudaConcretes.size();
  return *fn;
}

llvm::Expected<std::vector<DeviceTensor>>
Function::Impl::callCuda(llvm::ArrayRef<DeviceTensor> args) {
  if (auto err = checkArgs(args))
    return std::move(err);
  // The input signature is checked as for host tensors, but each batch
  // size is a signature of its own on the GPU (no pieces).
  std::vector<llvm::ArrayRef<int64_t>> shapes;
  for (const DeviceTensor &t : args)
    shapes.push_back(t.shape());
  if (auto err = checkSignature(shapes))
    return std::move(err);
  auto gpu = cudaTarget();
  if (!gpu)
    return gpu.takeError();
  auto fn = concreteCuda(args, *gpu);
  if (!fn)
    return fn.takeError();
  return (*fn)->run(args, session);
}

Function::Function(Body body, FunctionOptions options)
    : impl(std::make_shared<Impl>(std::move(body), std::move(options))) {}

Function::~Function() = default;

llvm::Expected<std::shared_ptr<const CompiledFunction>>
Function::concrete(llvm::ArrayRef<Tensor> args) const {
  return impl->concrete(args);
}

llvm::Expected<std::vector<Tensor>>
Function::operator()(llvm::ArrayRef<Tensor> args) const {
  auto results = impl->call(args);
  if (results && detail::recording())
    // Tapes do not see inside a compiled function yet: its results are
    // recorded as opaque, so that a gradient through them is an error
    // instead of a silent None.
    for (const Tensor &out : *results)
      detail::record({detail::TapeRecord::Kind::Opaque, args.vec(), out,
                      impl->options.name});
  return results;
}

llvm::Expected<std::vector<DeviceTensor>>
Function::operator()(llvm::ArrayRef<DeviceTensor> args) const {
  return impl->callCuda(args);
}

llvm::Expected<std::string> Function::emit(llvm::ArrayRef<Tensor> args,
                                           Stage stage) const {
  if (auto err = impl->checkArgs(args))
    return std::move(err);
  std::lock_guard<std::mutex> traceLock(impl->tracing);
  auto graph = impl->trace(args);
  if (!graph)
    return graph.takeError();
  return emitGraph(impl->session, *graph, stage);
}

FunctionStats Function::stats() const {
  std::lock_guard<std::mutex> lock(impl->mutex);
  return impl->stats;
}

std::vector<Retrace> Function::retraces() const {
  std::lock_guard<std::mutex> lock(impl->mutex);
  return impl->retraces;
}
