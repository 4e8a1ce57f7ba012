//===- GpuTarget.h - What the GPU pipeline compiles for ---------*- C++ -*-===//
//
// An NVIDIA SM, the PTX version and the threads of a block: the GPU
// pipeline's target description, as TargetInfo is the CPU pipeline's. Plain
// C++ (no MLIR), so the runtime's public headers can name it. The pipeline
// runs on any machine, GPU or not: nothing here is chosen by #ifdef.
//
//===----------------------------------------------------------------------===//

#ifndef EINJIT_COMPILER_GPUTARGET_H
#define EINJIT_COMPILER_GPUTARGET_H

#include <cstdint>
#include <string>

namespace einjit {

struct GpuTarget {
  std::string chip = "sm_90";
  std::string features = "+ptx80";
  /// gpu-module-to-binary's format: isa (PTX text), bin, fatbin; or host:
  /// the kernels compiled for the host CPU (einsum-gpu-emulate), for the
  /// runtime's emulator on a driver whose device memory is host memory.
  std::string format = "isa";
  /// Threads per block along the result's contiguous dim (thread x, a
  /// warp) and the next parallel dim.
  int64_t tileX = 32, tileY = 8;
};

} // namespace einjit

#endif // EINJIT_COMPILER_GPUTARGET_H
