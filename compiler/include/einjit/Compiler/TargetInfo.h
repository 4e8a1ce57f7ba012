//===- TargetInfo.h - The CPU kernels are compiled for ----------*- C++ -*-===//
//
// What the compiler needs to know of a CPU to choose tiles and generate code:
// its LLVM name and features (for instruction selection), the SIMD width and
// register count (for register tiles) and the cache sizes (for cache tiles).
// `host()` reads them off the machine; `forCPU()` builds them for a named CPU
// and feature list, as llc's -mcpu/-mattr do, so that the choices for AVX2
// and AVX-512 can be tested, and their kernels run, on any host that has
// the instructions.
//
//===----------------------------------------------------------------------===//

#ifndef EINJIT_COMPILER_TARGETINFO_H
#define EINJIT_COMPILER_TARGETINFO_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>

namespace einjit {

struct TargetInfo {
  /// LLVM's CPU name ("znver3", "sapphirerapids", "haswell").
  std::string cpu;
  /// LLVM feature string added to the CPU's own ("+avx2,-avx512f"); the
  /// host's full list for host().
  std::string features;
  /// The features asked for on top of the CPU's (forCPU's `mattr`).
  std::string mattr;
  /// SIMD register width in bits that register tiles are built from: 512
  /// with AVX-512, 256 with AVX, 128 otherwise.
  /// The SIMD instruction set kernels use: "AVX-512", "AVX2+FMA", ...
  std::string isa = "128-bit SIMD";
  unsigned vectorBits = 128;
  /// SIMD registers: 32 with AVX-512, 16 otherwise.
  unsigned vectorRegisters = 16;
  /// Packed-type dot products the GEMM micro-kernel may use: AVX512-BF16's
  /// vdpbf16ps (pairs of bf16 into f32 lanes).
  bool bf16Dot = false;
  /// AVX512-VNNI's vpdpbusd (groups of four u8 x i8 into i32 lanes).
  bool int8Dot = false;
  /// Data cache sizes in bytes (per core for L1 and L2), from the host.
  int64_t l1Bytes = 32 << 10, l2Bytes = 1 << 20, l3Bytes = 8 << 20;
  /// Threads that OpenMP runs parallel loops on, from the host: the first
  /// count in OMP_NUM_THREADS, else the CPUs this process may use (as
  /// libomp counts them). Packed GEMMs balance their chunks on them.
  unsigned threads = 2;

  /// The machine this process runs on.
  static const TargetInfo &host();
  /// A named CPU with `mattr` ("+avx2,-fma": LLVM feature names) applied
  /// on top of its own features; an error names an unknown CPU or feature.
  /// "native" (or "") is the host's CPU. Caches are the host's. The host
  /// need not have the CPU's instructions (see checkRunsOnHost).
  static llvm::Expected<TargetInfo> forCPU(llvm::StringRef cpu,
                                           llvm::StringRef mattr = "");

  /// An error if kernels for this target would use instructions the host
  /// lacks (they would die of SIGILL); compiling them is fine anywhere.
  llvm::Error checkRunsOnHost() const;

  /// "cpu=haswell vector-bits=256 registers=16 l1=48K l2=2048K l3=...
  /// threads=2"
  std::string str() const;
  bool operator==(const TargetInfo &o) const {
    return cpu == o.cpu && features == o.features &&
           vectorBits == o.vectorBits && vectorRegisters == o.vectorRegisters &&
           bf16Dot == o.bf16Dot && int8Dot == o.int8Dot;
  }
};

} // namespace einjit

#endif // EINJIT_COMPILER_TARGETINFO_H
