//===- Device.cpp - CUDA devices, found through the driver ----------------===//

#include "einjit/runtime/Device.h"

#include "einjit/Spec/Equation.h"

#include <dlfcn.h>
#include <mutex>
#include <string>

using namespace einjit;

namespace {
/// The driver entry points used so far, from libcuda.so.1 (CUresult is an
/// int; 0 is CUDA_SUCCESS).
struct CudaDriver {
  int (*cuInit)(unsigned) = nullptr;
  int (*cuDeviceGetCount)(int *) = nullptr;
  /// Why the driver is unusable; empty when it loaded.
  std::string error;
};
} // namespace

static const CudaDriver &driver() {
  static CudaDriver d;
  static std::once_flag once;
  std::call_once(once, [] {
    void *lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      const char *why = dlerror();
      d.error = why ? why : "libcuda.so.1 cannot be loaded";
      return;
    }
    d.cuInit = reinterpret_cast<int (*)(unsigned)>(dlsym(lib, "cuInit"));
    d.cuDeviceGetCount =
        reinterpret_cast<int (*)(int *)>(dlsym(lib, "cuDeviceGetCount"));
    if (!d.cuInit || !d.cuDeviceGetCount) {
      d.error = "libcuda.so.1 lacks cuInit or cuDeviceGetCount";
      return;
    }
    if (int status = d.cuInit(0))
      d.error = "cuInit failed with CUDA error " + std::to_string(status);
  });
  return d;
}

llvm::Expected<int> einjit::cudaDeviceCount() {
  const CudaDriver &d = driver();
  if (!d.error.empty())
    return makeEinsumError("no CUDA device: " + d.error);
  int count = 0;
  if (int status = d.cuDeviceGetCount(&count))
    return makeEinsumError("no CUDA device: cuDeviceGetCount failed with "
                           "CUDA error " +
                           std::to_string(status));
  if (count == 0)
    return makeEinsumError("no CUDA device: the driver sees none");
  return count;
}
