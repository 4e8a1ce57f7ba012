//===- Device.h - CUDA devices and device tensors ---------------*- C++ -*-===//
//
// The CUDA driver (libcuda.so.1, or the library EINJIT_CUDA_DRIVER names)
// is loaded with dlopen on first use, so a build on a machine without a GPU
// or a driver works and reports "no CUDA device". The runtime uses device 0
// through its primary context.
//
// A DeviceTensor is a contiguous row-major array in device memory;
// einsum(equation, device tensors) runs kernels from the GPU pipeline on
// the device, cached per signature (in memory and in the disk cache) as the
// CPU's are.
//
//===----------------------------------------------------------------------===//

#ifndef EINJIT_RUNTIME_DEVICE_H
#define EINJIT_RUNTIME_DEVICE_H

#include "einjit/Spec/DType.h"
#include "einjit/runtime/Tensor.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <memory>
#include <string>

namespace einjit {

/// The number of CUDA devices the driver sees (at least one), or an error
/// that starts "no CUDA device" and says why: the driver library is
/// missing, cuInit failed, or it sees no device.
llvm::Expected<int> cudaDeviceCount();

/// What device 0 is.
struct CudaDeviceInfo {
  std::string name;
  /// Compute capability (9.0 on an H100).
  int major = 0, minor = 0;
  int multiprocessors = 0;
  size_t memoryBytes = 0;
  /// The driver's CUDA version (12040 is 12.4).
  int driverVersion = 0;
  /// The SM and PTX features kernels are compiled for ("sm_90", "+ptx78").
  std::string chip, features;
  /// Device memory is host memory: the test suite's fake driver
  /// (test/fake-cuda). With EINJIT_GPU_EMULATE=1, einsum on device tensors
  /// then runs its GPU kernels compiled for the host CPU, so that tests
  /// without a GPU check their results.
  bool hostMemory = false;
};
/// Device 0, or the error of cudaDeviceCount.
llvm::Expected<CudaDeviceInfo> cudaDevice();

/// A tensor in device memory: contiguous, row major, owned (freed when the
/// last copy of it goes).
class DeviceTensor {
public:
  DeviceTensor() = default;

  /// Uninitialized device memory for `shape`.
  static llvm::Expected<DeviceTensor> empty(DType dtype,
                                            llvm::ArrayRef<int64_t> shape);
  /// A copy of `host` (of any strides) on the device.
  static llvm::Expected<DeviceTensor> fromHost(const Tensor &host);
  /// A copy on the host.
  llvm::Expected<Tensor> toHost() const;

  /// False for a default-constructed handle.
  bool defined() const { return storage || count == 0; }
  DType dtype() const { return type; }
  llvm::ArrayRef<int64_t> shape() const { return dims; }
  int64_t rank() const { return dims.size(); }
  int64_t numel() const { return count; }
  size_t nbytes() const { return count * dtypeBytes(type); }
  /// The device address of element 0 (null when empty).
  void *data() const { return storage.get(); }
  /// Identity, as Tensor::id(): copies of one handle share it, every new
  /// tensor has its own (gradient tapes tell tensors apart by it).
  uint64_t id() const { return ident; }

private:
  uint64_t ident = 0;
  DType type = DType::F32;
  llvm::SmallVector<int64_t, 6> dims;
  int64_t count = 1;
  std::shared_ptr<void> storage;
};

} // namespace einjit

#endif // EINJIT_RUNTIME_DEVICE_H
