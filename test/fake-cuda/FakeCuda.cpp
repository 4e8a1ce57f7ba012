//===- FakeCuda.cpp - A CUDA driver that checks calls and runs nothing ----===//
//
// The entry points of libcuda.so.1 that einjit's runtime loads, over host
// memory, for tests on machines without a GPU (EINJIT_CUDA_DRIVER names
// this library). It runs no kernel. It checks what a driver would refuse
// and logs each call that matters, so that lit tests can check the host
// side of GPU kernels (the mgpu* ABI, module loads, launches, memory):
//
// - device memory is host memory; a copy, a free, a memset or a kernel's
//   pointer argument outside a live allocation is an error, logged;
// - a module must be NUL-terminated PTX with a .version and a .target;
//   cuModuleGetFunction finds only its .entry names;
// - a launch's block must fit the kernel's .maxntid and its grid CUDA's
//   limits (x 2^31-1, y and z 65535);
// - at exit it logs the allocations still live.
//
// It exports einjitFakeCudaHostMemory, so that with EINJIT_GPU_EMULATE=1
// the runtime compiles GPU kernels for the host and runs them itself
// (runtime/lib/GpuEmulator.h): then results are real.
// FAKE_CUDA_DEVICE_MEMORY makes it deny that, as a real driver would.
//
// FAKE_CUDA_LOG names the log file (else stderr). FAKE_CUDA_SM sets the
// compute capability (90: 9.0, the default). FAKE_CUDA_REJECT_PTX makes
// module loads fail as the driver's PTX JIT does, with an error log.
//
//===----------------------------------------------------------------------===//

#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

namespace {
constexpr int kSuccess = 0, kInvalidValue = 1, kOutOfMemory = 2,
              kInvalidPtx = 218, kNotFound = 500, kInvalidHandle = 400,
              kLaunchOutOfResources = 701;

struct Kernel {
  std::string name;
  /// Per parameter, whether it is a pointer (.ptr).
  std::vector<bool> pointers;
  unsigned maxThreads[3] = {1024, 1024, 64};
};
struct Module {
  std::string target;
  std::vector<std::unique_ptr<Kernel>> kernels;
};

struct State {
  std::mutex mutex;
  /// Live allocations: base address to bytes.
  std::map<uintptr_t, size_t> live;
  /// Loaded modules (a runtime may keep its kernels, and their modules,
  /// to the end of the process).
  std::map<void *, std::unique_ptr<Module>> modules;
  FILE *log = nullptr;
  int errors = 0;

  State() {
    const char *path = std::getenv("FAKE_CUDA_LOG");
    log = path && *path ? std::fopen(path, "w") : stderr;
    if (!log)
      log = stderr;
  }
  ~State() {
    std::fprintf(log, "live allocations at exit: %zu\n", live.size());
    std::fprintf(log, "errors: %d\n", errors);
    std::fflush(log);
  }
  void say(const char *format, ...) {
    va_list args;
    va_start(args, format);
    std::vfprintf(log, format, args);
    va_end(args);
    std::fputc('\n', log);
    std::fflush(log);
  }
  int error(int code, const std::string &what) {
    ++errors;
    say("error: %s", what.c_str());
    return code;
  }
  /// Whether [p, p + bytes) lies in one live allocation.
  bool inside(uintptr_t p, size_t bytes) {
    auto it = live.upper_bound(p);
    if (it == live.begin())
      return false;
    --it;
    return p >= it->first && p + bytes <= it->first + it->second;
  }
};

State &state() {
  static State s;
  return s;
}

int sm() {
  const char *v = std::getenv("FAKE_CUDA_SM");
  return v && *v ? std::atoi(v) : 90;
}

/// The .entry kernels of PTX text, with their parameters and .maxntid.
Module parse(const std::string &ptx) {
  Module m;
  std::istringstream lines(ptx);
  std::string line;
  Kernel *current = nullptr;
  bool inParams = false;
  while (std::getline(lines, line)) {
    size_t first = line.find_first_not_of(" \t");
    std::string t = first == std::string::npos ? "" : line.substr(first);
    if (t.rfind(".target ", 0) == 0)
      m.target = t.substr(8);
    size_t entry = t.find(".entry ");
    if (entry != std::string::npos) {
      auto k = std::make_unique<Kernel>();
      std::string rest = t.substr(entry + 7);
      k->name = rest.substr(0, rest.find_first_of("( \t"));
      current = k.get();
      m.kernels.push_back(std::move(k));
      inParams = true;
      continue;
    }
    if (!current)
      continue;
    if (inParams && t.rfind(".param ", 0) == 0)
      current->pointers.push_back(t.find(" .ptr ") != std::string::npos);
    if (inParams && t.rfind(")", 0) == 0)
      inParams = false;
    if (t.rfind(".maxntid ", 0) == 0)
      std::sscanf(t.c_str() + 9, "%u, %u, %u", &current->maxThreads[0],
                  &current->maxThreads[1], &current->maxThreads[2]);
    if (t.rfind("{", 0) == 0)
      current = nullptr;
  }
  return m;
}
} // namespace

extern "C" {
/// Says that device memory is host memory: with EINJIT_GPU_EMULATE=1, the
/// runtime then runs GPU kernels compiled for the host CPU
/// (runtime/lib/GpuEmulator.h) on this driver's allocations. Under
/// FAKE_CUDA_DEVICE_MEMORY it says no, as a real driver would.
int einjitFakeCudaHostMemory() {
  return std::getenv("FAKE_CUDA_DEVICE_MEMORY") ? 0 : 1;
}

/// Whether `bytes` at `p` lie inside one live allocation: the emulator's
/// check of each global-memory access of a kernel (compute-sanitizer's
/// memcheck, for the emulated kernels).
int einjitFakeCudaInside(const void *p, size_t bytes) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  return s.inside(reinterpret_cast<uintptr_t>(p), bytes) ? 1 : 0;
}

int cuInit(unsigned) { return kSuccess; }
int cuDriverGetVersion(int *v) {
  *v = 12040;
  return kSuccess;
}
int cuDeviceGetCount(int *n) {
  *n = 1;
  return kSuccess;
}
int cuDeviceGet(int *d, int ordinal) {
  if (ordinal != 0)
    return kInvalidValue;
  *d = 0;
  return kSuccess;
}
int cuDeviceGetName(char *name, int len, int) {
  std::snprintf(name, len, "einjit fake CUDA device");
  return kSuccess;
}
int cuDeviceGetAttribute(int *v, int attribute, int) {
  switch (attribute) {
  case 75:
    *v = sm() / 10;
    return kSuccess;
  case 76:
    *v = sm() % 10;
    return kSuccess;
  case 16:
    *v = 132;
    return kSuccess;
  }
  return kInvalidValue;
}
int cuDeviceTotalMem_v2(size_t *bytes, int) {
  *bytes = size_t(1) << 30;
  return kSuccess;
}
int cuDevicePrimaryCtxRetain(void **ctx, int) {
  static int context;
  *ctx = &context;
  return kSuccess;
}
int cuCtxSetCurrent(void *) { return kSuccess; }
int cuGetErrorName(int status, const char **name) {
  switch (status) {
  case kSuccess:
    *name = "CUDA_SUCCESS";
    return kSuccess;
  case kInvalidValue:
    *name = "CUDA_ERROR_INVALID_VALUE";
    return kSuccess;
  case kOutOfMemory:
    *name = "CUDA_ERROR_OUT_OF_MEMORY";
    return kSuccess;
  case kInvalidPtx:
    *name = "CUDA_ERROR_INVALID_PTX";
    return kSuccess;
  case kNotFound:
    *name = "CUDA_ERROR_NOT_FOUND";
    return kSuccess;
  case kInvalidHandle:
    *name = "CUDA_ERROR_INVALID_HANDLE";
    return kSuccess;
  case kLaunchOutOfResources:
    *name = "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES";
    return kSuccess;
  }
  *name = nullptr;
  return kInvalidValue;
}
int cuGetErrorString(int status, const char **text) {
  *text = status == kInvalidPtx ? "a PTX JIT compilation failed" : nullptr;
  return *text ? kSuccess : kInvalidValue;
}

int cuMemAlloc_v2(unsigned long long *ptr, size_t bytes) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (bytes == 0)
    return s.error(kInvalidValue, "cuMemAlloc of 0 bytes");
  void *p = std::calloc(bytes, 1);
  if (!p)
    return kOutOfMemory;
  s.live[reinterpret_cast<uintptr_t>(p)] = bytes;
  *ptr = reinterpret_cast<uintptr_t>(p);
  s.say("alloc %zu bytes", bytes);
  return kSuccess;
}
int cuMemAllocAsync(unsigned long long *ptr, size_t bytes, void *) {
  return cuMemAlloc_v2(ptr, bytes);
}
int cuMemFree_v2(unsigned long long ptr) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  auto it = s.live.find(ptr);
  if (it == s.live.end())
    return s.error(kInvalidValue, "cuMemFree of an address that is not a "
                                  "live allocation");
  s.say("free %zu bytes", it->second);
  std::free(reinterpret_cast<void *>(it->first));
  s.live.erase(it);
  return kSuccess;
}
int cuMemFreeAsync(unsigned long long ptr, void *) { return cuMemFree_v2(ptr); }

static int fakeCopy(const char *what, void *dst, const void *src, size_t bytes,
                    bool dstDevice, bool srcDevice) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if ((dstDevice && !s.inside(reinterpret_cast<uintptr_t>(dst), bytes)) ||
      (srcDevice && !s.inside(reinterpret_cast<uintptr_t>(src), bytes)))
    return s.error(kInvalidValue, std::string(what) + " of " +
                                      std::to_string(bytes) +
                                      " bytes outside device memory");
  std::memcpy(dst, src, bytes);
  s.say("%s %zu bytes", what, bytes);
  return kSuccess;
}
int cuMemcpyHtoD_v2(unsigned long long dst, const void *src, size_t bytes) {
  return fakeCopy("copy host to device", reinterpret_cast<void *>(dst), src,
                  bytes, true, false);
}
int cuMemcpyDtoH_v2(void *dst, unsigned long long src, size_t bytes) {
  return fakeCopy("copy device to host", dst, reinterpret_cast<void *>(src),
                  bytes, false, true);
}
int cuMemcpyAsync(unsigned long long dst, unsigned long long src, size_t bytes,
                  void *) {
  return fakeCopy("copy device to device", reinterpret_cast<void *>(dst),
                  reinterpret_cast<void *>(src), bytes, true, true);
}
static int fakeMemset(unsigned long long dst, size_t count, size_t width) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (!s.inside(dst, count * width))
    return s.error(kInvalidValue, "memset outside device memory");
  s.say("memset %zu x %zu bytes", count, width);
  return kSuccess;
}
int cuMemsetD32Async(unsigned long long dst, unsigned, size_t n, void *) {
  return fakeMemset(dst, n, 4);
}
int cuMemsetD16Async(unsigned long long dst, unsigned short, size_t n, void *) {
  return fakeMemset(dst, n, 2);
}

int cuStreamCreate(void **stream, unsigned) {
  static int streams[1];
  *stream = streams;
  state().say("stream create");
  return kSuccess;
}
int cuStreamDestroy_v2(void *) {
  state().say("stream destroy");
  return kSuccess;
}
int cuStreamSynchronize(void *) {
  state().say("stream synchronize");
  return kSuccess;
}
int cuStreamWaitEvent(void *, void *, unsigned) { return kSuccess; }
int cuEventCreate(void **event, unsigned) {
  static int events[1];
  *event = events;
  return kSuccess;
}
int cuEventDestroy_v2(void *) { return kSuccess; }
int cuEventRecord(void *, void *) { return kSuccess; }
int cuEventSynchronize(void *) { return kSuccess; }
int cuEventElapsedTime(float *ms, void *, void *) {
  *ms = 0;
  return kSuccess;
}

int cuModuleLoadDataEx(void **module, const void *image, unsigned count,
                       int *options, void **values) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  const char *text = static_cast<const char *>(image);
  size_t length = strnlen(text, size_t(64) << 20);
  std::string ptx(text, length);
  auto reject = [&](const std::string &why) {
    // The driver writes its PTX JIT's message into the error log buffer.
    for (unsigned i = 0; i + 1 < count; ++i)
      if (options[i] == 5 && options[i + 1] == 6)
        std::snprintf(static_cast<char *>(values[i]),
                      reinterpret_cast<uintptr_t>(values[i + 1]), "%s",
                      why.c_str());
    return s.error(kInvalidPtx, "module load: " + why);
  };
  if (std::getenv("FAKE_CUDA_REJECT_PTX"))
    return reject("ptxas fatal   : rejected by FAKE_CUDA_REJECT_PTX");
  if (ptx.find(".version ") == std::string::npos)
    return reject("not PTX text: no .version");
  auto m = std::make_unique<Module>(parse(ptx));
  if (m->target.empty())
    return reject("no .target");
  std::string names;
  for (auto &k : m->kernels)
    names += (names.empty() ? "" : ",") + k->name;
  int optLevel = -1;
  for (unsigned i = 0; i < count; ++i)
    if (options[i] == 7)
      optLevel = int(reinterpret_cast<intptr_t>(values[i]));
  s.say("module load: target %s, entries %s, O%d", m->target.c_str(),
        names.c_str(), optLevel);
  *module = m.get();
  s.modules[m.get()] = std::move(m);
  return kSuccess;
}
int cuModuleUnload(void *module) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (!s.modules.erase(module))
    return s.error(kInvalidHandle, "cuModuleUnload of a module not loaded");
  s.say("module unload");
  return kSuccess;
}
int cuModuleGetFunction(void **function, void *module, const char *name) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (!s.modules.count(module))
    return s.error(kInvalidHandle, "cuModuleGetFunction in a module not "
                                   "loaded");
  for (auto &k : static_cast<Module *>(module)->kernels)
    if (k->name == name) {
      *function = k.get();
      return kSuccess;
    }
  return s.error(kNotFound, std::string("no kernel ") + name);
}
int cuLaunchKernel(void *function, unsigned gx, unsigned gy, unsigned gz,
                   unsigned bx, unsigned by, unsigned bz, unsigned smem, void *,
                   void **params, void **extra) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  auto *k = static_cast<Kernel *>(function);
  if (!gx || !gy || !gz || !bx || !by || !bz)
    return s.error(kInvalidValue, "launch of " + k->name +
                                      " with a zero "
                                      "grid or block");
  if (gx > 2147483647u || gy > 65535 || gz > 65535)
    return s.error(kInvalidValue, "launch of " + k->name +
                                      " with a grid over CUDA's limits (x "
                                      "2^31-1, y and z 65535)");
  if (bx > k->maxThreads[0] || by > k->maxThreads[1] || bz > k->maxThreads[2] ||
      bx * by * bz > 1024)
    return s.error(kLaunchOutOfResources,
                   "launch of " + k->name + " with a block over its .maxntid");
  if (extra || !params)
    return s.error(kInvalidValue, "launch without kernel parameters");
  // Each pointer argument must be device memory (or null).
  int pointers = 0;
  for (size_t i = 0; i < k->pointers.size(); ++i) {
    if (!k->pointers[i])
      continue;
    ++pointers;
    uintptr_t p = *static_cast<uintptr_t *>(params[i]);
    if (p && !s.inside(p, 1))
      return s.error(kInvalidValue, "launch of " + k->name + ": parameter " +
                                        std::to_string(i) +
                                        " is not device memory");
  }
  s.say("launch %s grid %u,%u,%u block %u,%u,%u smem %u params %zu "
        "(%d device pointers checked)",
        k->name.c_str(), gx, gy, gz, bx, by, bz, smem, k->pointers.size(),
        pointers);
  return kSuccess;
}
} // extern "C"
