//===- DeviceOps.cpp - Eager ops and gradients on device tensors ----------===//
//
// See DeviceOps.h.
//
//===----------------------------------------------------------------------===//

#include "einjit/runtime/DeviceOps.h"

#include "Internal.h"
#include "einjit/runtime/Function.h"
#include "einjit/runtime/Session.h"

#include <map>
#include <set>

using namespace einjit;

llvm::Expected<DeviceTensor>
einjit::runDeviceOp(OpKind kind, llvm::ArrayRef<DeviceTensor> operands,
                    llvm::ArrayRef<int64_t> axes, bool keepDims,
                    double scalar) {
  std::vector<std::vector<int64_t>> shapes;
  std::vector<DType> types;
  for (auto [i, t] : llvm::enumerate(operands)) {
    if (!t.defined())
      return makeEinsumError(opName(kind) + ": operand " + std::to_string(i) +
                             " is an empty tensor handle");
    shapes.emplace_back(t.shape().begin(), t.shape().end());
    types.push_back(t.dtype());
  }
  auto sig = bindOp(kind, shapes, types, axes, keepDims, scalar);
  if (!sig)
    return sig.takeError();
  // A one-op graph: the GPU pipeline compiles it as it compiles traced
  // functions, and the session caches it per signature.
  Graph graph;
  graph.name = opName(kind);
  llvm::SmallVector<int> ids;
  for (auto [shape, type] : llvm::zip(shapes, types))
    ids.push_back(graph.addInput(shape, type));
  graph.outputs.push_back(graph.addOp(std::move(*sig), ids));
  auto gpu = cudaTarget();
  if (!gpu)
    return gpu.takeError();
  Session &session = Session::global();
  auto kernel = compileCudaGraph(session, graph, *gpu);
  if (!kernel)
    return kernel.takeError();
  auto results = (*kernel)->run(operands, session);
  if (!results)
    return results.takeError();
  detail::recordDeviceOp(kind, "", operands, results->front(), axes, keepDims,
                         scalar);
  return std::move(results->front());
}

//===----------------------------------------------------------------------===//
// DeviceGradientTape
//===----------------------------------------------------------------------===//

namespace {
/// An einsum (`equation` set) or an op on device tensors.
struct DeviceRecord {
  OpKind kind;
  std::string equation;
  std::vector<DeviceTensor> operands;
  DeviceTensor result;
  std::vector<int64_t> axes;
  bool keepDims;
  double scalar;
};
} // namespace

struct DeviceGradientTape::Impl {
  bool persistent;
  bool gave = false;
  /// Watched tensors and what recorded ops made, by id.
  std::set<uint64_t> tracked;
  std::vector<DeviceRecord> records;
};

/// The calling thread's device tapes, innermost last.
static thread_local std::vector<std::weak_ptr<DeviceGradientTape::Impl>>
    deviceTapes;

void detail::recordDeviceOp(OpKind kind, llvm::StringRef equation,
                            llvm::ArrayRef<DeviceTensor> operands,
                            const DeviceTensor &result,
                            llvm::ArrayRef<int64_t> axes, bool keepDims,
                            double scalar) {
  for (const auto &weak : deviceTapes) {
    auto tape = weak.lock();
    if (!tape || llvm::none_of(operands, [&](const DeviceTensor &t) {
          return tape->tracked.count(t.id());
        }))
      continue;
    tape->tracked.insert(result.id());
    tape->records.push_back({kind, equation.str(), operands.vec(), result,
                             std::vector<int64_t>(axes.begin(), axes.end()),
                             keepDims, scalar});
  }
}

DeviceGradientTape::DeviceGradientTape(bool persistent)
    : impl(std::make_shared<Impl>()) {
  impl->persistent = persistent;
  deviceTapes.push_back(impl);
}

DeviceGradientTape::~DeviceGradientTape() {
  llvm::erase_if(deviceTapes, [&](const std::weak_ptr<Impl> &weak) {
    auto tape = weak.lock();
    return !tape || tape == impl;
  });
}

void DeviceGradientTape::watch(const DeviceTensor &t) {
  impl->tracked.insert(t.id());
}

size_t DeviceGradientTape::recordedCount() const {
  return impl->records.size();
}

llvm::Expected<std::vector<DeviceTensor>> DeviceGradientTape::gradient(
    const DeviceTensor &target, llvm::ArrayRef<DeviceTensor> sources,
    const DeviceTensor *outputGradient, UnconnectedGradients unconnected) {
  if (impl->gave && !impl->persistent)
    return makeEinsumError("a device gradient tape that is not persistent "
                           "gives gradients once");
  impl->gave = true;
  if (!target.defined())
    return makeEinsumError("the gradient's target is an empty tensor handle");
  if (outputGradient && (outputGradient->shape() != target.shape() ||
                         outputGradient->dtype() != target.dtype()))
    return makeEinsumError("the output gradient must have the target's dtype "
                           "and shape");

  // The records the target depends on, walking back from it.
  std::map<uint64_t, size_t> madeBy;
  for (auto [i, r] : llvm::enumerate(impl->records))
    madeBy[r.result.id()] = i;
  std::set<uint64_t> needed{target.id()};
  std::vector<bool> replay(impl->records.size(), false);
  for (size_t i = impl->records.size(); i-- > 0;) {
    const DeviceRecord &r = impl->records[i];
    if (!needed.count(r.result.id()))
      continue;
    replay[i] = true;
    for (const DeviceTensor &t : r.operands)
      needed.insert(t.id());
  }
  // The trace's arguments: the tensors the replayed records read that no
  // replayed record made, the sources, the target, the output gradient.
  std::vector<DeviceTensor> args;
  std::map<uint64_t, size_t> argOf;
  auto argument = [&](const DeviceTensor &t) {
    auto made = madeBy.find(t.id());
    if (made != madeBy.end() && replay[made->second])
      return;
    if (argOf.emplace(t.id(), args.size()).second)
      args.push_back(t);
  };
  for (auto [i, r] : llvm::enumerate(impl->records))
    if (replay[i])
      for (const DeviceTensor &t : r.operands)
        argument(t);
  for (const DeviceTensor &t : sources) {
    if (!t.defined())
      return makeEinsumError("a gradient source is an empty tensor handle");
    argument(t);
  }
  argument(target);
  size_t seed = args.size();
  if (outputGradient)
    args.push_back(*outputGradient);

  // Replayed symbolically with the backward (einjit::gradients), as one
  // traced function on the device.
  const auto &records = impl->records;
  Function backward(
      [&](llvm::ArrayRef<Sym> x) {
        std::map<uint64_t, Sym> value;
        for (auto [id, at] : argOf)
          value[id] = x[at];
        for (auto [i, r] : llvm::enumerate(records)) {
          if (!replay[i])
            continue;
          std::vector<Sym> in;
          for (const DeviceTensor &t : r.operands)
            in.push_back(value[t.id()]);
          value[r.result.id()] =
              r.equation.empty() ? op(r.kind, in, r.axes, r.keepDims, r.scalar)
                                 : einsum(r.equation, in);
        }
        std::vector<Sym> from;
        for (const DeviceTensor &t : sources)
          from.push_back(value[t.id()]);
        return gradients(value[target.id()], from,
                         outputGradient ? &x[seed] : nullptr);
      },
      FunctionOptions{"device tape gradient"});
  auto grads = backward(args);
  if (!grads)
    return grads.takeError();
  if (unconnected == UnconnectedGradients::None)
    for (auto [i, t] : llvm::enumerate(sources))
      if (!needed.count(t.id()))
        (*grads)[i] = DeviceTensor();
  if (!impl->persistent)
    impl->records.clear();
  return grads;
}
