//===- DeviceOps.h - Eager ops and gradients on device tensors --*- C++ -*-===//
//
// The eager ops of Ops.h on the CUDA device: each call is a one-op graph
// through the GPU pipeline, compiled once per signature (the session's
// kernel cache, in memory and on disk) and run into a new device tensor.
// Shapes, broadcasting and dtypes are bindOp's, as on the host.
//
// DeviceGradientTape records the einsums and ops on device tensors that
// read a watched tensor (or what such an op made), as tf.GradientTape
// does. `gradient` replays the records as a trace (einjit::Function), adds
// the backward with `gradients` (the same rules as the host tape's, one
// graph with the forward, which is computed again inside it), and runs it
// on the device. The graph is cached per signature like any traced
// function, so a training loop compiles its step once.
//
//   einjit::DeviceGradientTape tape;
//   tape.watch(w);
//   auto y = einjit::einsum("ij,jk->ik", {x, w});
//   auto loss = einjit::sum(einjit::tanh(*y).get());
//   auto grads = tape.gradient(*loss, {w});
//
//===----------------------------------------------------------------------===//

#ifndef EINJIT_RUNTIME_DEVICEOPS_H
#define EINJIT_RUNTIME_DEVICEOPS_H

#include "einjit/Spec/Ops.h"
#include "einjit/runtime/Device.h"
#include "einjit/runtime/Tape.h"

#include <memory>
#include <vector>

namespace einjit {

/// `kind` on device tensors, with the reductions' `axes` and `keepDims`,
/// softmax's axis (in `axes`) and scale's `scalar`, as compileOp.
llvm::Expected<DeviceTensor> runDeviceOp(OpKind kind,
                                         llvm::ArrayRef<DeviceTensor> operands,
                                         llvm::ArrayRef<int64_t> axes = {},
                                         bool keepDims = false,
                                         double scalar = 0);

inline llvm::Expected<DeviceTensor> add(const DeviceTensor &a,
                                        const DeviceTensor &b) {
  return runDeviceOp(OpKind::Add, {a, b});
}
inline llvm::Expected<DeviceTensor> sub(const DeviceTensor &a,
                                        const DeviceTensor &b) {
  return runDeviceOp(OpKind::Sub, {a, b});
}
inline llvm::Expected<DeviceTensor> mul(const DeviceTensor &a,
                                        const DeviceTensor &b) {
  return runDeviceOp(OpKind::Mul, {a, b});
}
inline llvm::Expected<DeviceTensor> div(const DeviceTensor &a,
                                        const DeviceTensor &b) {
  return runDeviceOp(OpKind::Div, {a, b});
}
inline llvm::Expected<DeviceTensor> scale(const DeviceTensor &a,
                                          double factor) {
  return runDeviceOp(OpKind::Scale, {a}, {}, false, factor);
}
inline llvm::Expected<DeviceTensor> neg(const DeviceTensor &a) {
  return runDeviceOp(OpKind::Neg, {a});
}
inline llvm::Expected<DeviceTensor> exp(const DeviceTensor &a) {
  return runDeviceOp(OpKind::Exp, {a});
}
inline llvm::Expected<DeviceTensor> log(const DeviceTensor &a) {
  return runDeviceOp(OpKind::Log, {a});
}
inline llvm::Expected<DeviceTensor> tanh(const DeviceTensor &a) {
  return runDeviceOp(OpKind::Tanh, {a});
}
inline llvm::Expected<DeviceTensor> sqrt(const DeviceTensor &a) {
  return runDeviceOp(OpKind::Sqrt, {a});
}
inline llvm::Expected<DeviceTensor> relu(const DeviceTensor &a) {
  return runDeviceOp(OpKind::Relu, {a});
}
inline llvm::Expected<DeviceTensor> gelu(const DeviceTensor &a) {
  return runDeviceOp(OpKind::Gelu, {a});
}
inline llvm::Expected<DeviceTensor> sum(const DeviceTensor &a,
                                        llvm::ArrayRef<int64_t> axes = {},
                                        bool keepDims = false) {
  return runDeviceOp(OpKind::Sum, {a}, axes, keepDims);
}
inline llvm::Expected<DeviceTensor> max(const DeviceTensor &a,
                                        llvm::ArrayRef<int64_t> axes = {},
                                        bool keepDims = false) {
  return runDeviceOp(OpKind::Max, {a}, axes, keepDims);
}
inline llvm::Expected<DeviceTensor> softmax(const DeviceTensor &a,
                                            int64_t axis = -1) {
  return runDeviceOp(OpKind::Softmax, {a}, {axis});
}
inline llvm::Expected<DeviceTensor> logSoftmax(const DeviceTensor &a,
                                               int64_t axis = -1) {
  return runDeviceOp(OpKind::LogSoftmax, {a}, {axis});
}

/// tf.GradientTape for device tensors (see the file comment). It records
/// the calling thread's einsums and ops on device tensors while it lives;
/// tapes of device tensors nest (each records), but gradients are not
/// recorded (no higher derivatives on the device yet).
class DeviceGradientTape {
public:
  explicit DeviceGradientTape(bool persistent = false);
  ~DeviceGradientTape();
  DeviceGradientTape(const DeviceGradientTape &) = delete;
  DeviceGradientTape &operator=(const DeviceGradientTape &) = delete;

  /// Records the ops that read `t` (and what they make) from now on.
  void watch(const DeviceTensor &t);
  /// Ops recorded so far.
  size_t recordedCount() const;
  /// As GradientTape::gradient: the gradient of `target` (summed, or
  /// weighed by `outputGradient`) with respect to each of `sources`.
  llvm::Expected<std::vector<DeviceTensor>>
  gradient(const DeviceTensor &target, llvm::ArrayRef<DeviceTensor> sources,
           const DeviceTensor *outputGradient = nullptr,
           UnconnectedGradients unconnected = UnconnectedGradients::None);

  struct Impl;

private:
  std::shared_ptr<Impl> impl;
};

namespace detail {
/// Records an einsum (`equation` set) or an op on device tensors with the
/// calling thread's device tapes. Called by einsum and runDeviceOp.
void recordDeviceOp(OpKind kind, llvm::StringRef equation,
                    llvm::ArrayRef<DeviceTensor> operands,
                    const DeviceTensor &result, llvm::ArrayRef<int64_t> axes,
                    bool keepDims, double scalar);
} // namespace detail

} // namespace einjit

#endif // EINJIT_RUNTIME_DEVICEOPS_H
