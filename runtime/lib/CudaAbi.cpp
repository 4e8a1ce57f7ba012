//===- CudaAbi.cpp - The CUDA driver API and the mgpu* host ABI -----------===//

#include "CudaAbi.h"

#include <cstdio>
#include <cstdlib>
#include <dlfcn.h>
#include <mutex>

using namespace einjit;
using namespace einjit::cuda;

// Values of the driver's enums that are used here (cuda.h).
static constexpr int kAttrMultiprocessors = 16;
static constexpr int kAttrMajor = 75, kAttrMinor = 76;
/// Streams are created blocking (flags 0): their work waits for the legacy
/// default stream's, where DeviceTensor's copies from pageable host memory
/// go. Such a copy returns once the data is staged, before the DMA is done,
/// so a kernel on a non-blocking stream could read the device memory
/// before it arrives.
static constexpr unsigned kStreamBlocking = 0;
static constexpr unsigned kEventDisableTiming = 2;
static constexpr int kJitErrorLogBuffer = 5, kJitErrorLogBufferSize = 6,
                     kJitOptimizationLevel = 7;

namespace {
/// The driver as loaded, or why it could not be.
struct Loaded {
  Driver driver{};
  std::string error;
};
} // namespace

/// Looks up `name` in `lib` into `fn`; false (and `missing` set) when the
/// library lacks it.
template <typename Fn>
static bool bind(void *lib, const char *name, Fn &fn, std::string &missing) {
  fn = reinterpret_cast<Fn>(dlsym(lib, name));
  if (!fn && missing.empty())
    missing = name;
  return fn != nullptr;
}

/// A CUresult as `d` names and describes it.
static std::string describe(const Driver &d, CUresult status) {
  const char *name = nullptr, *text = nullptr;
  if (d.cuGetErrorName)
    d.cuGetErrorName(status, &name);
  if (d.cuGetErrorString)
    d.cuGetErrorString(status, &text);
  // Where the library cannot name it (the toolkit's stub cannot).
  if (!name)
    switch (status) {
    case 34:
      name = "CUDA_ERROR_STUB_LIBRARY", text = "the CUDA toolkit's stub "
                                               "library, not a driver";
      break;
    case 35:
      name = "CUDA_ERROR_INSUFFICIENT_DRIVER";
      break;
    case 100:
      name = "CUDA_ERROR_NO_DEVICE";
      break;
    }
  std::string s = name ? name : "CUDA error " + std::to_string(status);
  if (text)
    s += std::string(" (") + text + ")";
  return s;
}

/// Loads the driver and opens device 0's primary context.
static void load(Loaded &l) {
  const char *path = std::getenv("EINJIT_CUDA_DRIVER");
  if (!path || !*path)
    path = "libcuda.so.1";
  void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char *why = dlerror();
    l.error = why ? why : std::string(path) + " cannot be loaded";
    return;
  }
  Driver &d = l.driver;
  std::string missing;
  // The versioned names are those cuda.h maps the plain ones to.
  bind(lib, "cuInit", d.cuInit, missing);
  bind(lib, "cuDriverGetVersion", d.cuDriverGetVersion, missing);
  bind(lib, "cuDeviceGetCount", d.cuDeviceGetCount, missing);
  bind(lib, "cuDeviceGet", d.cuDeviceGet, missing);
  bind(lib, "cuDeviceGetName", d.cuDeviceGetName, missing);
  bind(lib, "cuDeviceGetAttribute", d.cuDeviceGetAttribute, missing);
  bind(lib, "cuDeviceTotalMem_v2", d.cuDeviceTotalMem, missing);
  bind(lib, "cuDevicePrimaryCtxRetain", d.cuDevicePrimaryCtxRetain, missing);
  bind(lib, "cuCtxSetCurrent", d.cuCtxSetCurrent, missing);
  bind(lib, "cuGetErrorName", d.cuGetErrorName, missing);
  bind(lib, "cuGetErrorString", d.cuGetErrorString, missing);
  bind(lib, "cuMemAlloc_v2", d.cuMemAlloc, missing);
  bind(lib, "cuMemFree_v2", d.cuMemFree, missing);
  bind(lib, "cuMemcpyHtoD_v2", d.cuMemcpyHtoD, missing);
  bind(lib, "cuMemcpyDtoH_v2", d.cuMemcpyDtoH, missing);
  bind(lib, "cuMemcpyAsync", d.cuMemcpyAsync, missing);
  bind(lib, "cuMemsetD32Async", d.cuMemsetD32Async, missing);
  bind(lib, "cuMemsetD16Async", d.cuMemsetD16Async, missing);
  bind(lib, "cuStreamCreate", d.cuStreamCreate, missing);
  bind(lib, "cuStreamDestroy_v2", d.cuStreamDestroy, missing);
  bind(lib, "cuStreamSynchronize", d.cuStreamSynchronize, missing);
  bind(lib, "cuStreamWaitEvent", d.cuStreamWaitEvent, missing);
  bind(lib, "cuEventCreate", d.cuEventCreate, missing);
  bind(lib, "cuEventDestroy_v2", d.cuEventDestroy, missing);
  bind(lib, "cuEventRecord", d.cuEventRecord, missing);
  bind(lib, "cuEventSynchronize", d.cuEventSynchronize, missing);
  bind(lib, "cuEventElapsedTime", d.cuEventElapsedTime, missing);
  bind(lib, "cuModuleLoadDataEx", d.cuModuleLoadDataEx, missing);
  bind(lib, "cuModuleUnload", d.cuModuleUnload, missing);
  bind(lib, "cuModuleGetFunction", d.cuModuleGetFunction, missing);
  bind(lib, "cuLaunchKernel", d.cuLaunchKernel, missing);
  if (!missing.empty()) {
    l.error = std::string(path) + " lacks " + missing;
    return;
  }
  // Optional: without them, memory is allocated and freed synchronously.
  std::string optional;
  if (!bind(lib, "cuMemAllocAsync", d.cuMemAllocAsync, optional) ||
      !bind(lib, "cuMemFreeAsync", d.cuMemFreeAsync, optional))
    d.cuMemAllocAsync = nullptr, d.cuMemFreeAsync = nullptr;

  auto hostMemory =
      reinterpret_cast<int (*)()>(dlsym(lib, "einjitFakeCudaHostMemory"));
  d.hostMemory = hostMemory && hostMemory();
  if (d.hostMemory)
    d.inside = reinterpret_cast<int (*)(const void *, size_t)>(
        dlsym(lib, "einjitFakeCudaInside"));

  auto fail = [&](CUresult status, const char *what) {
    if (!status)
      return false;
    l.error = std::string(what) + " failed: " + describe(d, status);
    return true;
  };
  if (fail(d.cuInit(0), "cuInit"))
    return;
  int count = 0;
  if (fail(d.cuDeviceGetCount(&count), "cuDeviceGetCount"))
    return;
  if (count == 0) {
    l.error = "the driver sees none";
    return;
  }
  char name[256] = {0};
  if (fail(d.cuDeviceGet(&d.device, 0), "cuDeviceGet") ||
      fail(d.cuDeviceGetName(name, sizeof(name) - 1, d.device),
           "cuDeviceGetName") ||
      fail(d.cuDeviceGetAttribute(&d.major, kAttrMajor, d.device),
           "cuDeviceGetAttribute") ||
      fail(d.cuDeviceGetAttribute(&d.minor, kAttrMinor, d.device),
           "cuDeviceGetAttribute") ||
      fail(d.cuDeviceGetAttribute(&d.multiprocessors, kAttrMultiprocessors,
                                  d.device),
           "cuDeviceGetAttribute") ||
      fail(d.cuDeviceTotalMem(&d.memoryBytes, d.device), "cuDeviceTotalMem") ||
      fail(d.cuDriverGetVersion(&d.driverVersion), "cuDriverGetVersion") ||
      fail(d.cuDevicePrimaryCtxRetain(&d.context, d.device),
           "cuDevicePrimaryCtxRetain"))
    return;
  d.name = name;
}

static const Loaded &loaded() {
  static Loaded l;
  static std::once_flag once;
  std::call_once(once, [] { load(l); });
  return l;
}

const Driver *cuda::driver(std::string &error) {
  const Loaded &l = loaded();
  if (!l.error.empty()) {
    error = "no CUDA device: " + l.error;
    return nullptr;
  }
  // The primary context, made current once per thread.
  thread_local bool current = false;
  if (!current) {
    if (CUresult status = l.driver.cuCtxSetCurrent(l.driver.context)) {
      error = "cuCtxSetCurrent failed: " + errorText(status);
      return nullptr;
    }
    current = true;
  }
  return &l.driver;
}

std::string cuda::errorText(CUresult status) {
  return describe(loaded().driver, status);
}

std::pair<std::string, std::string> cuda::chipOf(const Driver &d) {
  int sm = d.major * 10 + d.minor;
  // The oldest PTX ISA that has the SM (PTX ISA release notes), so that
  // the oldest driver that knows the SM also JIT-compiles the PTX.
  int ptx = sm >= 120   ? 87
            : sm >= 100 ? 86
            : sm >= 89  ? 78
            : sm >= 87  ? 74
            : sm >= 86  ? 71
            : sm >= 80  ? 70
            : sm >= 75  ? 63
                        : 60;
  return {"sm_" + std::to_string(sm), "+ptx" + std::to_string(ptx)};
}

//===----------------------------------------------------------------------===//
// The mgpu* host ABI
//===----------------------------------------------------------------------===//

/// This thread's first failure since the last takeAbiError.
static thread_local std::string abiError;

std::string cuda::takeAbiFailure() {
  std::string message = std::move(abiError);
  abiError.clear();
  return message;
}

void cuda::recordAbiFailure(const std::string &message) {
  if (abiError.empty())
    abiError = message;
}

bool cuda::abiFailed() { return !abiError.empty(); }

/// The driver, or null after a failure on this thread (which is recorded).
static const Driver *abiDriver() {
  if (!abiError.empty())
    return nullptr;
  return cuda::driver(abiError);
}

/// The driver for a call that runs even after a failure (a free, an
/// unload, a synchronize), or null when there is none.
static const Driver *cleanupDriver() {
  std::string ignored;
  return cuda::driver(ignored);
}

/// Records `status` as this thread's failure, unless it is success.
static bool failed(CUresult status, const char *what) {
  if (!status)
    return false;
  if (abiError.empty())
    abiError = std::string(what) + " failed: " + errorText(status);
  return true;
}

static CUdeviceptr devicePtr(void *p) {
  return static_cast<CUdeviceptr>(reinterpret_cast<uintptr_t>(p));
}

extern "C" {
void *mgpuModuleLoadJIT(void *data, int optLevel) {
  const Driver *d = abiDriver();
  if (!d)
    return nullptr;
  // The JIT's error log says which PTX line it refused.
  char log[4096] = {0};
  int options[] = {kJitErrorLogBuffer, kJitErrorLogBufferSize,
                   kJitOptimizationLevel};
  void *values[] = {log, reinterpret_cast<void *>(sizeof(log) - 1),
                    reinterpret_cast<void *>(static_cast<intptr_t>(optLevel))};
  CUmodule module = nullptr;
  CUresult status = d->cuModuleLoadDataEx(&module, data, 3, options, values);
  if (status && abiError.empty())
    abiError = "cuModuleLoadDataEx failed to load the kernels' PTX: " +
               errorText(status) + (log[0] ? ": " + std::string(log) : "");
  return status ? nullptr : module;
}

void *mgpuModuleLoad(void *data, size_t) {
  const Driver *d = abiDriver();
  if (!d)
    return nullptr;
  CUmodule module = nullptr;
  if (failed(d->cuModuleLoadDataEx(&module, data, 0, nullptr, nullptr),
             "cuModuleLoadDataEx"))
    return nullptr;
  return module;
}

void mgpuModuleUnload(void *module) {
  // Called from a kernel's destructor: never skipped for an earlier failure.
  const Driver *d = cleanupDriver();
  if (!d)
    return;
  if (module)
    d->cuModuleUnload(module);
}

void *mgpuModuleGetFunction(void *module, const char *name) {
  const Driver *d = abiDriver();
  if (!d || !module)
    return nullptr;
  CUfunction function = nullptr;
  if (failed(d->cuModuleGetFunction(&function, module, name),
             "cuModuleGetFunction"))
    return nullptr;
  return function;
}

void mgpuLaunchKernel(void *function, intptr_t gridX, intptr_t gridY,
                      intptr_t gridZ, intptr_t blockX, intptr_t blockY,
                      intptr_t blockZ, int32_t smem, void *stream,
                      void **params, void **extra, size_t /*paramsCount*/) {
  const Driver *d = abiDriver();
  if (!d)
    return;
  if (!function) {
    abiError = "a kernel was launched that did not load";
    return;
  }
  failed(d->cuLaunchKernel(function, gridX, gridY, gridZ, blockX, blockY,
                           blockZ, smem, stream, params, extra),
         "cuLaunchKernel");
}

void *mgpuStreamCreate() {
  const Driver *d = abiDriver();
  if (!d)
    return nullptr;
  CUstream stream = nullptr;
  if (failed(d->cuStreamCreate(&stream, kStreamBlocking), "cuStreamCreate"))
    return nullptr;
  return stream;
}

void mgpuStreamDestroy(void *stream) {
  // Streams are destroyed even after a failure, so that none leaks.
  const Driver *d = cleanupDriver();
  if (!d)
    return;
  if (stream)
    failed(d->cuStreamDestroy(stream), "cuStreamDestroy");
}

void mgpuStreamSynchronize(void *stream) {
  const Driver *d = cleanupDriver();
  if (!d)
    return;
  // A launch's failure shows up here; it is recorded even after another.
  if (stream)
    failed(d->cuStreamSynchronize(stream), "cuStreamSynchronize");
}

void mgpuStreamWaitEvent(void *stream, void *event) {
  if (const Driver *d = abiDriver())
    failed(d->cuStreamWaitEvent(stream, event, 0), "cuStreamWaitEvent");
}

void *mgpuEventCreate() {
  const Driver *d = abiDriver();
  if (!d)
    return nullptr;
  CUevent event = nullptr;
  if (failed(d->cuEventCreate(&event, kEventDisableTiming), "cuEventCreate"))
    return nullptr;
  return event;
}

void mgpuEventDestroy(void *event) {
  const Driver *d = cleanupDriver();
  if (!d)
    return;
  if (event)
    d->cuEventDestroy(event);
}

void mgpuEventSynchronize(void *event) {
  if (const Driver *d = abiDriver())
    failed(d->cuEventSynchronize(event), "cuEventSynchronize");
}

void mgpuEventRecord(void *event, void *stream) {
  if (const Driver *d = abiDriver())
    failed(d->cuEventRecord(event, stream), "cuEventRecord");
}

void *mgpuMemAlloc(uint64_t bytes, void *stream, bool isHostShared) {
  const Driver *d = abiDriver();
  if (!d || bytes == 0)
    return nullptr;
  if (isHostShared) {
    abiError = "host-shared device memory (gpu.alloc host_shared) is not "
               "supported";
    return nullptr;
  }
  CUdeviceptr ptr = 0;
  CUresult status = d->cuMemAllocAsync ? d->cuMemAllocAsync(&ptr, bytes, stream)
                                       : d->cuMemAlloc(&ptr, bytes);
  if (failed(status, "cuMemAlloc"))
    return nullptr;
  return reinterpret_cast<void *>(static_cast<uintptr_t>(ptr));
}

void mgpuMemFree(void *ptr, void *stream) {
  // Memory is freed even after a failure, so that none leaks.
  const Driver *d = cleanupDriver();
  if (!d)
    return;
  if (!ptr)
    return;
  if (d->cuMemFreeAsync) {
    failed(d->cuMemFreeAsync(devicePtr(ptr), stream), "cuMemFreeAsync");
    return;
  }
  // Kernels on the stream may still read it.
  if (stream)
    failed(d->cuStreamSynchronize(stream), "cuStreamSynchronize");
  failed(d->cuMemFree(devicePtr(ptr)), "cuMemFree");
}

void mgpuMemcpy(void *dst, void *src, size_t bytes, void *stream) {
  if (const Driver *d = abiDriver())
    if (bytes)
      failed(d->cuMemcpyAsync(devicePtr(dst), devicePtr(src), bytes, stream),
             "cuMemcpyAsync");
}

void mgpuMemset32(void *dst, unsigned value, size_t count, void *stream) {
  if (const Driver *d = abiDriver())
    if (count)
      failed(d->cuMemsetD32Async(devicePtr(dst), value, count, stream),
             "cuMemsetD32Async");
}

/// takeAbiFailure for a caller without C++ (bench/gpu/check.py): 1 and the
/// message in `buffer` (cut to `size`) when an mgpu* call failed, else 0.
int einjitTakeFailure(char *buffer, size_t size) {
  std::string failure = cuda::takeAbiFailure();
  if (failure.empty())
    return 0;
  std::snprintf(buffer, size, "%s", failure.c_str());
  return 1;
}

void mgpuMemset16(void *dst, unsigned short value, size_t count, void *stream) {
  if (const Driver *d = abiDriver())
    if (count)
      failed(d->cuMemsetD16Async(devicePtr(dst), value, count, stream),
             "cuMemsetD16Async");
}
} // extern "C"

const std::pair<const char *, void *> *cuda::abiSymbols() {
#define EINJIT_ABI(name)                                                       \
  {                                                                            \
    #name, reinterpret_cast<void *>(&name)                                     \
  }
  static const std::pair<const char *, void *> symbols[] = {
      EINJIT_ABI(mgpuModuleLoadJIT),
      EINJIT_ABI(mgpuModuleLoad),
      EINJIT_ABI(mgpuModuleUnload),
      EINJIT_ABI(mgpuModuleGetFunction),
      EINJIT_ABI(mgpuLaunchKernel),
      EINJIT_ABI(mgpuStreamCreate),
      EINJIT_ABI(mgpuStreamDestroy),
      EINJIT_ABI(mgpuStreamSynchronize),
      EINJIT_ABI(mgpuStreamWaitEvent),
      EINJIT_ABI(mgpuEventCreate),
      EINJIT_ABI(mgpuEventDestroy),
      EINJIT_ABI(mgpuEventSynchronize),
      EINJIT_ABI(mgpuEventRecord),
      EINJIT_ABI(mgpuMemAlloc),
      EINJIT_ABI(mgpuMemFree),
      EINJIT_ABI(mgpuMemcpy),
      EINJIT_ABI(mgpuMemset32),
      EINJIT_ABI(mgpuMemset16),
      {nullptr, nullptr}};
#undef EINJIT_ABI
  return symbols;
}
