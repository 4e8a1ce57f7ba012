//===- CudaAbi.h - The CUDA driver, loaded with dlopen, and mgpu* -*- C++
//-*-===//
//
// The entry points of libcuda.so.1 that the runtime calls, looked up with
// dlsym on first use, so that a build without a GPU or a driver still links
// and runs. EINJIT_CUDA_DRIVER names another library (a driver installed
// elsewhere, or the test suite's fake driver). Device 0's primary context
// is made current on each thread that uses the device.
//
// The same file's mgpu* functions are the host ABI that the GPU pipeline's
// host code calls (streams, device memory, copies, module loads, launches);
// the JIT resolves them to these definitions (abiSymbols).
//
// Nothing here needs LLVM: the GPU check harness (bench/gpu) builds this
// file alone on a machine without LLVM, to run kernels compiled here.
//
//===----------------------------------------------------------------------===//

#ifndef EINJIT_RUNTIME_CUDAABI_H
#define EINJIT_RUNTIME_CUDAABI_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

namespace einjit::cuda {

// The driver's types as the ABI has them (cuda.h is not needed to build).
using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
using CUcontext = void *;
using CUmodule = void *;
using CUfunction = void *;
using CUstream = void *;
using CUevent = void *;

/// The driver's entry points (null where the library lacks an optional
/// one) and device 0.
struct Driver {
  CUresult (*cuInit)(unsigned);
  CUresult (*cuDriverGetVersion)(int *);
  CUresult (*cuDeviceGetCount)(int *);
  CUresult (*cuDeviceGet)(CUdevice *, int);
  CUresult (*cuDeviceGetName)(char *, int, CUdevice);
  CUresult (*cuDeviceGetAttribute)(int *, int, CUdevice);
  CUresult (*cuDeviceTotalMem)(size_t *, CUdevice);
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *, CUdevice);
  CUresult (*cuCtxSetCurrent)(CUcontext);
  CUresult (*cuGetErrorName)(CUresult, const char **);
  CUresult (*cuGetErrorString)(CUresult, const char **);
  CUresult (*cuMemAlloc)(CUdeviceptr *, size_t);
  CUresult (*cuMemFree)(CUdeviceptr);
  /// Stream-ordered allocation (CUDA 11.2 and later): optional.
  CUresult (*cuMemAllocAsync)(CUdeviceptr *, size_t, CUstream);
  CUresult (*cuMemFreeAsync)(CUdeviceptr, CUstream);
  CUresult (*cuMemcpyHtoD)(CUdeviceptr, const void *, size_t);
  CUresult (*cuMemcpyDtoH)(void *, CUdeviceptr, size_t);
  CUresult (*cuMemcpyAsync)(CUdeviceptr, CUdeviceptr, size_t, CUstream);
  CUresult (*cuMemsetD32Async)(CUdeviceptr, unsigned, size_t, CUstream);
  CUresult (*cuMemsetD16Async)(CUdeviceptr, unsigned short, size_t, CUstream);
  CUresult (*cuStreamCreate)(CUstream *, unsigned);
  CUresult (*cuStreamDestroy)(CUstream);
  CUresult (*cuStreamSynchronize)(CUstream);
  CUresult (*cuStreamWaitEvent)(CUstream, CUevent, unsigned);
  CUresult (*cuEventCreate)(CUevent *, unsigned);
  CUresult (*cuEventDestroy)(CUevent);
  CUresult (*cuEventRecord)(CUevent, CUstream);
  CUresult (*cuEventSynchronize)(CUevent);
  CUresult (*cuEventElapsedTime)(float *, CUevent, CUevent);
  CUresult (*cuModuleLoadDataEx)(CUmodule *, const void *, unsigned, int *,
                                 void **);
  CUresult (*cuModuleUnload)(CUmodule);
  CUresult (*cuModuleGetFunction)(CUfunction *, CUmodule, const char *);
  CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned,
                             unsigned, unsigned, unsigned, CUstream, void **,
                             void **);

  /// Device 0, its primary context and what it is.
  CUdevice device = 0;
  CUcontext context = nullptr;
  std::string name;
  int major = 0, minor = 0, multiprocessors = 0, driverVersion = 0;
  size_t memoryBytes = 0;
  /// Device memory is host memory (the test suite's fake driver, which
  /// exports einjitFakeCudaHostMemory): GPU kernels compiled for the host
  /// (GpuEmulator.h) can run on it.
  bool hostMemory = false;
  /// With host memory: whether `bytes` at an address lie in one live
  /// allocation (einjitFakeCudaInside), or null.
  int (*inside)(const void *, size_t) = nullptr;
};

/// The driver with device 0's primary context current on this thread, or
/// null and `error` set to "no CUDA device: " and why (the library is
/// missing or lacks an entry point, cuInit failed, no device).
const Driver *driver(std::string &error);

/// "CUDA_ERROR_OUT_OF_MEMORY (out of memory)" for a CUresult.
std::string errorText(CUresult status);

/// The first failure of an mgpu* call on this thread since the last call
/// (empty when none failed). The generated host code cannot return errors:
/// each mgpu* function records its failure here, and the ones after it do
/// nothing, until the caller takes it.
std::string takeAbiFailure();
/// Records `message` as this thread's failure, unless one is recorded.
void recordAbiFailure(const std::string &message);
/// Whether this thread has a failure that was not taken.
bool abiFailed();

/// The mgpu* functions, name and address each (null-terminated), for the
/// JIT.
const std::pair<const char *, void *> *abiSymbols();

/// The GPU pipeline's chip and PTX features for device 0 (sm_90 and
/// +ptx80 on an H100).
std::pair<std::string, std::string> chipOf(const Driver &d);

} // namespace einjit::cuda

#endif // EINJIT_RUNTIME_CUDAABI_H
