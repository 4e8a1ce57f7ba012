//===- Tape.cpp - Reverse-mode gradients: GradientTape, Variable ----------===//
//
// A tape keeps the records of the ops that read a tracked tensor (watched,
// or made by a recorded op). `gradient` seeds the target's cotangent and
// walks the records from the last: each record whose output has a
// cotangent gives its inputs theirs by its op's rule (`backward`), added
// up where a tensor feeds several ops. The rules run eager ops, so the
// tapes around this one record them (higher derivatives).
//
//===----------------------------------------------------------------------===//

#include "einjit/runtime/Tape.h"
#include "GradientPlanRunner.h"
#include "TapeRecord.h"
#include "einjit/Spec/Grad.h"
#include "einjit/runtime/Einsum.h"
#include "einjit/runtime/Ops.h"

#include "llvm/ADT/STLExtras.h"

#include <atomic>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

using namespace einjit;
using detail::TapeRecord;

struct GradientTape::Impl {
  /// False once its GradientTape is gone: a tape destroyed on another
  /// thread than its own stays in its thread's list until that thread
  /// next records, and records nothing.
  std::atomic<bool> alive{true};
  bool persistent;
  bool watchVariables;
  bool recording = true;
  /// Taking its own gradient: its rules' ops are not recorded by itself.
  bool busy = false;
  /// A non-persistent tape after its gradient.
  bool spent = false;
  std::unordered_set<uint64_t> tracked;
  size_t watched = 0;
  std::vector<TapeRecord> records;

  bool records_() const {
    return recording && !busy && !spent &&
           alive.load(std::memory_order_relaxed);
  }
  void watch(const Tensor &t) {
    if (t.id() && tracked.insert(t.id()).second)
      ++watched;
  }
};

namespace {
/// The tapes alive on this thread, innermost last.
thread_local std::vector<std::shared_ptr<GradientTape::Impl>> threadTapes;

/// Drops the thread's tapes whose GradientTape is gone.
void pruneTapes() {
  llvm::erase_if(threadTapes, [](const std::shared_ptr<GradientTape::Impl> &t) {
    return !t->alive.load(std::memory_order_relaxed);
  });
}
thread_local int pauseDepth = 0;
} // namespace

bool detail::recording() { return !threadTapes.empty() && pauseDepth == 0; }

void detail::record(TapeRecord &&r) {
  pruneTapes();
  for (const std::shared_ptr<GradientTape::Impl> &tape : threadTapes) {
    if (!tape->records_())
      continue;
    bool reads = llvm::any_of(r.inputs, [&](const Tensor &t) {
      return tape->tracked.count(t.id()) != 0;
    });
    if (!reads)
      continue;
    tape->tracked.insert(r.output.id());
    tape->records.push_back(r);
  }
}

void detail::noteVariableRead(const Tensor &value) {
  if (pauseDepth)
    return;
  for (const std::shared_ptr<GradientTape::Impl> &tape : threadTapes)
    if (tape->watchVariables && tape->records_())
      tape->watch(value);
}

detail::PauseRecording::PauseRecording() { ++pauseDepth; }
detail::PauseRecording::~PauseRecording() { --pauseDepth; }
NoGradient::NoGradient() { ++pauseDepth; }
NoGradient::~NoGradient() { --pauseDepth; }

//===----------------------------------------------------------------------===//
// Variable
//===----------------------------------------------------------------------===//

struct Variable::State {
  Tensor value;
  std::string name;
  bool trainable;
};

Variable::Variable(Tensor initial, std::string name, bool trainable)
    : state(std::make_shared<State>(
          State{std::move(initial), std::move(name), trainable})) {}

const Tensor &Variable::value() const {
  static const Tensor undefined;
  if (!state)
    return undefined;
  if (state->trainable && !threadTapes.empty())
    detail::noteVariableRead(state->value);
  return state->value;
}

llvm::Error Variable::assign(Tensor value) {
  if (!state)
    return makeEinsumError("assign to an undefined Variable");
  const Tensor &old = state->value;
  if (value.dtype() != old.dtype() || value.shape() != old.shape())
    return makeEinsumError(
        "cannot assign a " + dtypeName(value.dtype()).str() +
        shapeString(value.shape()) + " tensor to variable '" + state->name +
        "' of " + dtypeName(old.dtype()).str() + shapeString(old.shape()));
  state->value = std::move(value);
  return llvm::Error::success();
}

const std::string &Variable::name() const {
  static const std::string none;
  return state ? state->name : none;
}

bool Variable::trainable() const { return state && state->trainable; }

//===----------------------------------------------------------------------===//
// Gradient rules
//===----------------------------------------------------------------------===//

/// Sums `g` down to `shape`: over its leading dims and the dims where
/// `shape` has 1 and `g` does not (the dims an operand was broadcast
/// along).
static llvm::Expected<Tensor> sumTo(const Tensor &g,
                                    llvm::ArrayRef<int64_t> shape) {
  if (g.shape() == shape)
    return g;
  int64_t lead = g.rank() - (int64_t)shape.size();
  std::vector<int64_t> axes;
  for (int64_t d = 0; d < g.rank(); ++d)
    if (d < lead || (shape[d - lead] == 1 && g.shape()[d] != 1))
      axes.push_back(d);
  if (axes.empty())
    return g.reshape(shape);
  auto summed = sum(g, axes, /*keepDims=*/true);
  if (!summed)
    return summed.takeError();
  return summed->reshape(shape);
}

/// `g`, the cotangent of a reduction's result, with the reduced axes back
/// as size 1 (where the reduction dropped them).
static llvm::Expected<Tensor> keepReducedDims(const Tensor &g,
                                              const TapeRecord &r) {
  const Tensor &x = r.inputs[0];
  if (r.keepDims)
    return g;
  std::vector<int64_t> shape = x.shape().vec();
  std::vector<bool> reduced(x.rank(), r.axes.empty());
  for (int64_t a : r.axes)
    reduced[a < 0 ? a + x.rank() : a] = true;
  for (int64_t d = 0; d < x.rank(); ++d)
    if (reduced[d])
      shape[d] = 1;
  return g.reshape(shape);
}

/// Cotangents of an op's inputs from its output's `g`; an undefined
/// Tensor for an input that gets none.
static llvm::Expected<std::vector<Tensor>> opBackward(const TapeRecord &r,
                                                      const Tensor &g) {
  const std::vector<Tensor> &in = r.inputs;
  const Tensor &y = r.output;
  auto one =
      [](llvm::Expected<Tensor> t) -> llvm::Expected<std::vector<Tensor>> {
    if (!t)
      return t.takeError();
    return std::vector<Tensor>{std::move(*t)};
  };
  // Binary ops: each side's cotangent summed down to its shape.
  auto two =
      [&](llvm::Expected<Tensor> ga,
          llvm::Expected<Tensor> gb) -> llvm::Expected<std::vector<Tensor>> {
    if (!ga)
      return ga.takeError();
    if (!gb)
      return gb.takeError();
    auto a = sumTo(*ga, in[0].shape());
    if (!a)
      return a.takeError();
    auto b = sumTo(*gb, in[1].shape());
    if (!b)
      return b.takeError();
    return std::vector<Tensor>{std::move(*a), std::move(*b)};
  };
  auto then = [](llvm::Expected<Tensor> t, auto f) -> llvm::Expected<Tensor> {
    if (!t)
      return t.takeError();
    return f(*t);
  };

  switch (r.op) {
  case OpKind::Add:
    return two(g, g);
  case OpKind::Sub:
    return two(g, neg(g));
  case OpKind::Mul:
    return two(mul(g, in[1]), mul(g, in[0]));
  case OpKind::Div:
    // d(a/b)/db = -(a/b)/b
    return two(div(g, in[1]), then(mul(g, y), [&](const Tensor &gy) {
                 return then(div(gy, in[1]),
                             [](const Tensor &t) { return neg(t); });
               }));
  case OpKind::Scale:
    return one(scale(g, r.scalar));
  case OpKind::Neg:
    return one(neg(g));
  case OpKind::Exp:
    return one(mul(g, y));
  case OpKind::Log:
    return one(div(g, in[0]));
  case OpKind::Tanh:
    return one(tanhGrad(g, y));
  case OpKind::Sqrt:
    return one(then(div(g, y), [](const Tensor &t) { return scale(t, 0.5); }));
  case OpKind::Relu:
    return one(reluGrad(g, in[0]));
  case OpKind::Gelu:
    return one(geluGrad(g, in[0]));
  case OpKind::Sum:
    return one(then(keepReducedDims(g, r), [&](const Tensor &kept) {
      return kept.broadcastTo(in[0].shape());
    }));
  case OpKind::Max: {
    // Shared equally among the elements equal to the max, as TensorFlow.
    auto kept = keepReducedDims(y, r);
    if (!kept)
      return kept.takeError();
    auto mask = equalMask(in[0], *kept);
    if (!mask)
      return mask.takeError();
    auto count = sum(*mask, r.axes, /*keepDims=*/true);
    if (!count)
      return count.takeError();
    auto share = div(*mask, *count);
    if (!share)
      return share.takeError();
    auto gk = keepReducedDims(g, r);
    if (!gk)
      return gk.takeError();
    return one(mul(*share, *gk));
  }
  case OpKind::Softmax: {
    // y * (g - sum(g * y))
    auto gy = mul(g, y);
    if (!gy)
      return gy.takeError();
    auto s = sum(*gy, r.axes, /*keepDims=*/true);
    if (!s)
      return s.takeError();
    return one(then(sub(g, *s), [&](const Tensor &d) { return mul(y, d); }));
  }
  case OpKind::LogSoftmax: {
    // g - exp(y) * sum(g)
    auto s = sum(g, r.axes, /*keepDims=*/true);
    if (!s)
      return s.takeError();
    auto p = exp(y);
    if (!p)
      return p.takeError();
    return one(then(mul(*p, *s), [&](const Tensor &t) { return sub(g, t); }));
  }
  case OpKind::ReluGrad: {
    // Linear in g, masked where x > 0; x only picks where: no cotangent.
    auto ga = then(reluGrad(g, in[1]),
                   [&](const Tensor &t) { return sumTo(t, in[0].shape()); });
    if (!ga)
      return ga.takeError();
    return std::vector<Tensor>{std::move(*ga), Tensor()};
  }
  case OpKind::TanhGrad: {
    // (g, y) -> g * (1 - y^2): d/dg = 1 - y^2, d/dy = -2 g y.
    auto ga = tanhGrad(g, in[1]);
    auto gy = then(mul(g, in[0]), [&](const Tensor &t) {
      return then(mul(t, in[1]), [](const Tensor &u) { return scale(u, -2); });
    });
    return two(std::move(ga), std::move(gy));
  }
  case OpKind::EqualMask:
    return std::vector<Tensor>{Tensor(), Tensor()}; // piecewise constant
  case OpKind::GeluGrad:
    break;
  }
  return makeEinsumError("the gradient tape has no gradient for " +
                         opName(r.op).str() + " (a gradient's gradient)");
}

namespace {
/// An einsum's forward path and its gradients' plan.
struct PlannedGradients {
  BoundEquation eq;
  ContractionPath forward;
  GradientPlan plan;
};
} // namespace

/// The plan of `equation`'s gradients on operands of `shapes` and `types`,
/// made once per signature: a training loop takes the same gradients every
/// step, and planning a chain's gradient einsums costs more than running
/// them at small sizes (a 4x4 matmul's gradients took 15 us, 14 of them
/// planning).
static llvm::Expected<std::shared_ptr<const PlannedGradients>>
plannedGradients(llvm::StringRef equation,
                 llvm::ArrayRef<std::vector<int64_t>> shapes,
                 llvm::ArrayRef<DType> types, int64_t keepBytes) {
  std::string key = equation.str() + "|" + std::to_string(keepBytes);
  for (auto [shape, type] : llvm::zip(shapes, types))
    key += "|" + dtypeName(type).str() + shapeString(shape);
  static std::mutex mutex;
  static std::unordered_map<std::string,
                            std::shared_ptr<const PlannedGradients>>
      plans;
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto found = plans.find(key);
    if (found != plans.end())
      return found->second;
  }
  auto bound =
      bindEquation(equation, shapes, types, {/*repeatedOutputLabels=*/true});
  if (!bound)
    return bound.takeError();
  auto forward = planContraction(bound->withUniqueOutput());
  if (!forward)
    return forward.takeError();
  auto plan = planGradients(*bound, forward->path, keepBytes);
  if (!plan)
    return plan.takeError();
  auto planned = std::make_shared<const PlannedGradients>(PlannedGradients{
      std::move(*bound), std::move(forward->path), std::move(*plan)});
  std::lock_guard<std::mutex> lock(mutex);
  if (plans.size() >= 4096) // a bound, as the kernel cache has
    plans.clear();
  plans.emplace(key, planned);
  return planned;
}

llvm::Expected<GradientPlan>
einjit::planEinsumGradients(llvm::StringRef equation,
                            llvm::ArrayRef<std::vector<int64_t>> shapes,
                            llvm::ArrayRef<DType> types, int64_t keepBytes) {
  auto planned = plannedGradients(equation, shapes, types, keepBytes);
  if (!planned)
    return planned.takeError();
  return (*planned)->plan;
}

llvm::Expected<std::vector<Tensor>> einjit::einsumGradients(
    llvm::StringRef equation, llvm::ArrayRef<Tensor> operands,
    const Tensor &cotangent, llvm::ArrayRef<int> which, int64_t keepBytes) {
  std::vector<std::vector<int64_t>> shapes;
  std::vector<DType> types;
  for (const Tensor &t : operands) {
    shapes.push_back(t.shape().vec());
    types.push_back(t.dtype());
  }
  auto planned = plannedGradients(equation, shapes, types, keepBytes);
  if (!planned)
    return planned.takeError();
  const PlannedGradients &p = **planned;
  if (cotangent.shape() != llvm::ArrayRef<int64_t>(p.eq.outputShape()))
    return makeEinsumError("the cotangent of '" + equation.str() + "' is " +
                           shapeString(cotangent.shape()) +
                           " but its result is " +
                           shapeString(p.eq.outputShape()));
  std::vector<int> all;
  if (which.empty()) {
    for (int i = 0, n = operands.size(); i < n; ++i)
      all.push_back(i);
    which = all;
  }
  // A one-element tensor of 1 in the cotangent's dtype, broadcast (stride
  // 0) to each ones vector's length.
  auto unit = Tensor::full(cotangent.dtype(), {1}, 1.0);
  if (!unit)
    return unit.takeError();
  return runGradientPlan<Tensor>(
      p.plan, p.forward, operands, cotangent, which,
      [](llvm::StringRef equation, llvm::ArrayRef<Tensor> args) {
        return einsum(equation, args);
      },
      [&](int64_t n) { return unit->broadcastTo({n}); });
}

/// Cotangents of a record's inputs from its output's `g`, for the inputs
/// `needed` says (others may get none).
static llvm::Expected<std::vector<Tensor>>
backward(const TapeRecord &r, const Tensor &g,
         llvm::function_ref<bool(const Tensor &)> needed) {
  const Tensor &x = r.inputs[0];
  switch (r.kind) {
  case TapeRecord::Kind::Einsum: {
    std::vector<int> which;
    for (auto [i, t] : llvm::enumerate(r.inputs))
      if (needed(t))
        which.push_back(i);
    std::vector<Tensor> grads(r.inputs.size());
    if (which.empty())
      return grads;
    auto some = einsumGradients(r.equation, r.inputs, g, which);
    if (!some)
      return some.takeError();
    for (auto [i, grad] : llvm::zip(which, *some))
      grads[i] = std::move(grad);
    return grads;
  }
  case TapeRecord::Kind::Op:
    return opBackward(r, g);
  case TapeRecord::Kind::Reshape: {
    auto t = g.reshape(x.shape());
    if (!t)
      return t.takeError();
    return std::vector<Tensor>{std::move(*t)};
  }
  case TapeRecord::Kind::Transpose: {
    std::vector<int64_t> inverse(r.axes.size());
    for (auto [i, d] : llvm::enumerate(r.axes))
      inverse[d] = i;
    auto t = g.transpose(inverse);
    if (!t)
      return t.takeError();
    return std::vector<Tensor>{std::move(*t)};
  }
  case TapeRecord::Kind::Slice: {
    // Zeros of x's shape with g in the slice.
    auto t = Tensor::allocate(g.dtype(), x.shape());
    if (!t)
      return t.takeError();
    auto window = t->slice(r.axes[0], r.axes[1], r.axes[2], r.axes[3]);
    if (!window)
      return window.takeError();
    window->copyFrom(g);
    return std::vector<Tensor>{std::move(*t)};
  }
  case TapeRecord::Kind::BroadcastTo: {
    auto t = sumTo(g, x.shape());
    if (!t)
      return t.takeError();
    return std::vector<Tensor>{std::move(*t)};
  }
  case TapeRecord::Kind::Copy:
    return std::vector<Tensor>{g};
  case TapeRecord::Kind::Opaque:
    return makeEinsumError("no gradient through traced function '" +
                           r.equation +
                           "' yet: call its ops eagerly under the tape");
  }
  llvm_unreachable("unknown record");
}

//===----------------------------------------------------------------------===//
// GradientTape
//===----------------------------------------------------------------------===//

GradientTape::GradientTape(bool persistent, bool watchAccessedVariables)
    : impl(std::make_shared<Impl>()) {
  impl->persistent = persistent;
  impl->watchVariables = watchAccessedVariables;
  threadTapes.push_back(impl);
}

GradientTape::~GradientTape() {
  impl->alive.store(false, std::memory_order_relaxed);
  // On its own thread it leaves the list now; on another, its thread
  // drops it when it next records.
  auto it = llvm::find(threadTapes, impl);
  if (it != threadTapes.end())
    threadTapes.erase(it);
}

void GradientTape::watch(const Tensor &t) { impl->watch(t); }
void GradientTape::watch(const Variable &v) {
  if (v.defined())
    impl->watch(v.value());
}
size_t GradientTape::watchedCount() const { return impl->watched; }
void GradientTape::stopRecording() { impl->recording = false; }
void GradientTape::resumeRecording() { impl->recording = true; }
size_t GradientTape::recordedCount() const { return impl->records.size(); }

llvm::Expected<std::vector<Tensor>>
GradientTape::gradient(const Tensor &target, llvm::ArrayRef<Variable> sources,
                       const Tensor *outputGradient,
                       UnconnectedGradients unconnected) {
  std::vector<Tensor> values;
  {
    // Reading the variables to differentiate is not an access to watch.
    detail::PauseRecording pause;
    for (const Variable &v : sources)
      values.push_back(v.value());
  }
  return gradient(target, values, outputGradient, unconnected);
}

llvm::Expected<std::vector<Tensor>>
GradientTape::gradient(const Tensor &target, llvm::ArrayRef<Tensor> sources,
                       const Tensor *outputGradient,
                       UnconnectedGradients unconnected) {
  if (impl->spent)
    return makeEinsumError("this GradientTape has given its gradient already; "
                           "make it persistent to take more than one");
  if (!target.defined())
    return makeEinsumError("the gradient's target is an undefined tensor");
  struct Busy {
    Impl &tape;
    explicit Busy(Impl &tape) : tape(tape) { tape.busy = true; }
    ~Busy() {
      tape.busy = false;
      if (!tape.persistent) {
        tape.spent = true;
        tape.records.clear();
        tape.tracked.clear();
      }
    }
  } busy(*impl);

  std::unordered_map<uint64_t, Tensor> cotangents;
  if (outputGradient) {
    if (outputGradient->shape() != target.shape())
      return makeEinsumError(
          "the output gradient is " + shapeString(outputGradient->shape()) +
          " but the target is " + shapeString(target.shape()));
    cotangents[target.id()] = *outputGradient;
  } else {
    auto ones = Tensor::full(target.dtype(), target.shape(), 1.0);
    if (!ones)
      return ones.takeError();
    cotangents[target.id()] = std::move(*ones);
  }

  // Only records the target depends on need a cotangent: walking back
  // from the last, a record whose output has none is skipped.
  for (auto it = impl->records.rbegin(); it != impl->records.rend(); ++it) {
    const TapeRecord &r = *it;
    auto found = cotangents.find(r.output.id());
    if (found == cotangents.end())
      continue;
    Tensor g = found->second;
    auto needed = [&](const Tensor &t) {
      return impl->tracked.count(t.id()) && isFloat(t.dtype());
    };
    auto grads = backward(r, g, needed);
    if (!grads) {
      if (r.kind == TapeRecord::Kind::Opaque)
        return grads.takeError();
      std::string what = r.kind == TapeRecord::Kind::Einsum
                             ? "einsum '" + r.equation + "'"
                         : r.kind == TapeRecord::Kind::Op ? opName(r.op).str()
                                                          : "a view";
      return makeEinsumError("the gradient of " + what + ": " +
                             llvm::toString(grads.takeError()));
    }
    for (auto [input, grad] : llvm::zip(r.inputs, *grads)) {
      if (!grad.defined() || !needed(input))
        continue;
      auto [slot, fresh] = cotangents.try_emplace(input.id(), grad);
      if (fresh)
        continue;
      auto total = add(slot->second, grad);
      if (!total)
        return total.takeError();
      slot->second = std::move(*total);
    }
  }

  std::vector<Tensor> result;
  for (const Tensor &source : sources) {
    auto found = cotangents.find(source.id());
    if (found != cotangents.end() && source.id()) {
      // Views (a broadcast cotangent) come back dense.
      auto dense = found->second.contiguous();
      if (!dense)
        return dense.takeError();
      result.push_back(std::move(*dense));
      continue;
    }
    if (unconnected == UnconnectedGradients::None) {
      result.push_back(Tensor());
      continue;
    }
    auto zeros = Tensor::allocate(source.dtype(), source.shape());
    if (!zeros)
      return zeros.takeError();
    result.push_back(std::move(*zeros));
  }
  return result;
}
