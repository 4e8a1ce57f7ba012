//===- TargetInfo.cpp - The CPU kernels are compiled for ------------------===//

#include "einjit/Compiler/TargetInfo.h"
#include "einjit/Spec/Equation.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/Threading.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/Triple.h"

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <mutex>

using namespace einjit;

/// The subtarget of `cpu` with `features` on the host's triple, or an error.
static llvm::Expected<std::unique_ptr<llvm::MCSubtargetInfo>>
subtarget(llvm::StringRef cpu, llvm::StringRef features) {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
  });
  llvm::Triple triple(llvm::sys::getProcessTriple());
  std::string error;
  const llvm::Target *target =
      llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return makeEinsumError("no LLVM target for " + triple.str() + ": " + error);
  std::unique_ptr<llvm::MCSubtargetInfo> sti(
      target->createMCSubtargetInfo(triple, cpu, features));
  if (!sti)
    return makeEinsumError("cannot describe CPU '" + cpu + "'");
  return sti;
}

/// Instruction-set features a kernel may be compiled to use: a target that
/// enables one the host lacks is refused.
static constexpr llvm::StringLiteral kIsaFeatures[] = {"sse4.2",
                                                       "avx",
                                                       "avx2",
                                                       "fma",
                                                       "f16c",
                                                       "bmi",
                                                       "bmi2",
                                                       "lzcnt",
                                                       "popcnt",
                                                       "movbe",
                                                       "avx512f",
                                                       "avx512bw",
                                                       "avx512dq",
                                                       "avx512vl",
                                                       "avx512cd",
                                                       "avx512vnni",
                                                       "avx512bf16",
                                                       "avx512fp16",
                                                       "avx512vbmi",
                                                       "avx512vbmi2",
                                                       "avx512ifma",
                                                       "avx512bitalg",
                                                       "avx512vpopcntdq",
                                                       "avxvnni",
                                                       "amx-tile",
                                                       "amx-bf16",
                                                       "amx-int8",
                                                       "gfni",
                                                       "vaes",
                                                       "vpclmulqdq",
                                                       "sha",
                                                       "adx",
                                                       "avx512vp2intersect",
                                                       "amx-fp16",
                                                       "amx-complex",
                                                       "avxifma",
                                                       "avxvnniint8",
                                                       "avxneconvert",
                                                       "sse4a",
                                                       "fma4",
                                                       "xop",
                                                       "tbm"};

/// Fills the SIMD width and register count from what `sti` can do.
static void setVectorShape(TargetInfo &t, const llvm::MCSubtargetInfo &sti) {
  if (sti.checkFeatures("+avx512f")) {
    t.vectorBits = 512;
    t.vectorRegisters = 32;
    t.isa = "AVX-512";
  } else if (sti.checkFeatures("+avx")) {
    t.vectorBits = 256;
    t.vectorRegisters = 16;
    t.isa = sti.checkFeatures("+avx2")
                ? (sti.checkFeatures("+fma") ? "AVX2+FMA" : "AVX2")
                : "AVX";
  } else {
    t.vectorBits = 128;
    t.vectorRegisters = 16;
    t.isa = sti.checkFeatures("+sse2") ? "SSE" : "128-bit SIMD";
  }
  // The bf16 dot product comes in the register width with AVX512-BF16
  // (256 bits needs AVX512VL too).
  t.bf16Dot = sti.checkFeatures("+avx512bf16") &&
              (t.vectorBits == 512 ||
               (t.vectorBits == 256 && sti.checkFeatures("+avx512vl")));
  // The micro-kernel's vpdpbusd is the 512-bit one.
  t.int8Dot = sti.checkFeatures("+avx512vnni") && t.vectorBits == 512;
}

/// Cache sizes of CPU 0 from sysfs; the defaults stay where it says nothing.
static void readCaches(TargetInfo &t) {
  for (int index = 0; index < 8; ++index) {
    std::string dir =
        "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(index);
    auto read = [&](const char *name) -> std::string {
      // sysfs files claim a size they do not have: read to the end.
      auto buffer = llvm::MemoryBuffer::getFileAsStream(dir + "/" + name);
      return buffer ? (*buffer)->getBuffer().trim().str() : "";
    };
    std::string level = read("level"), type = read("type"), size = read("size");
    if (level.empty())
      break;
    if (type == "Instruction" || size.empty())
      continue;
    llvm::StringRef digits = size;
    int64_t scale = 1;
    if (digits.consume_back("K"))
      scale = 1 << 10;
    else if (digits.consume_back("M"))
      scale = 1 << 20;
    int64_t value;
    if (digits.getAsInteger(10, value) || value <= 0)
      continue;
    value *= scale;
    if (level == "1")
      t.l1Bytes = value;
    else if (level == "2")
      t.l2Bytes = value;
    else if (level == "3")
      t.l3Bytes = value;
  }
}

/// The threads libomp starts for a parallel loop: OMP_NUM_THREADS' first
/// count where it holds one, else the CPUs this process may run on.
static unsigned ompThreads() {
  if (const char *env = std::getenv("OMP_NUM_THREADS")) {
    llvm::StringRef first = llvm::StringRef(env).split(',').first.trim();
    unsigned count;
    if (!first.getAsInteger(10, count) && count > 0)
      return count;
  }
  return std::max(1u, llvm::hardware_concurrency().compute_thread_count());
}

const TargetInfo &TargetInfo::host() {
  static const TargetInfo info = [] {
    TargetInfo t;
    t.cpu = llvm::sys::getHostCPUName().str();
    std::vector<std::string> features;
    for (const auto &[name, enabled] : llvm::sys::getHostCPUFeatures())
      features.push_back((enabled ? "+" : "-") + name.str());
    llvm::sort(features);
    t.features = llvm::join(features, ",");
    auto sti = subtarget(t.cpu, t.features);
    if (sti)
      setVectorShape(t, **sti);
    else
      llvm::consumeError(sti.takeError()); // keep the 128-bit defaults
    readCaches(t);
    t.threads = ompThreads();
    return t;
  }();
  return info;
}

llvm::Expected<TargetInfo> TargetInfo::forCPU(llvm::StringRef cpu,
                                              llvm::StringRef mattr) {
  TargetInfo t = host();
  if (!cpu.empty() && cpu != "native") {
    t.cpu = cpu.str();
    t.features.clear();
  }
  // Validate names against the host's subtarget: LLVM prints a warning for
  // a subtarget made with an unknown CPU or feature.
  auto probe = subtarget(host().cpu, "");
  if (!probe)
    return probe.takeError();
  if (!(*probe)->isCPUStringValid(t.cpu))
    return makeEinsumError("unknown CPU '" + t.cpu +
                           "' (LLVM's names, such as haswell, znver3, "
                           "skylake-avx512, sapphirerapids, native)");
  llvm::SmallVector<llvm::StringRef> flags;
  mattr.split(flags, ',', -1, /*KeepEmpty=*/false);
  for (llvm::StringRef flag : flags) {
    flag = flag.trim();
    llvm::StringRef name = flag.drop_front();
    bool known = llvm::any_of(
        (*probe)->getAllProcessorFeatures(),
        [&](const llvm::SubtargetFeatureKV &kv) { return name == kv.Key; });
    if ((!flag.starts_with("+") && !flag.starts_with("-")) || !known)
      return makeEinsumError("unknown CPU feature '" + flag +
                             "' (LLVM's names with + or -, such as +avx2, "
                             "-avx512f)");
    t.features += (t.features.empty() ? "" : ",") + flag.str();
    t.mattr += (t.mattr.empty() ? "" : ",") + flag.str();
  }
  auto sti = subtarget(t.cpu, t.features);
  if (!sti)
    return sti.takeError();
  setVectorShape(t, **sti);
  return t;
}

llvm::Error TargetInfo::checkRunsOnHost() const {
  if (*this == host())
    return llvm::Error::success();
  auto sti = subtarget(cpu, features);
  if (!sti)
    return sti.takeError();
  // Code for instructions this machine lacks would die of SIGILL.
  auto hostSti = subtarget(host().cpu, host().features);
  if (!hostSti)
    return hostSti.takeError();
  for (llvm::StringRef isa : kIsaFeatures) {
    std::string flag = ("+" + isa).str();
    if ((*sti)->checkFeatures(flag) && !(*hostSti)->checkFeatures(flag))
      return makeEinsumError("kernels for CPU '" + cpu + "'" +
                             (mattr.empty() ? "" : " with " + mattr) +
                             " would use '" + isa + "', which this machine (" +
                             host().cpu + ") lacks; add -" + isa +
                             " to the features or pick another CPU");
  }
  return llvm::Error::success();
}

std::string TargetInfo::str() const {
  return llvm::formatv("cpu={0} vector-bits={1} registers={2} l1={3}K "
                       "l2={4}K l3={5}K threads={6}",
                       cpu, vectorBits, vectorRegisters, l1Bytes >> 10,
                       l2Bytes >> 10, l3Bytes >> 10, threads)
      .str();
}
