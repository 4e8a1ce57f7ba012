//===- GpuEmulator.h - GPU kernels run on the host CPU ----------*- C++ -*-===//
//
// The runtime side of the GPU pipeline's `format=host` (the
// einsum-gpu-emulate pass): kernels compiled for the host CPU, launched on
// a driver whose device memory is host memory (test/fake-cuda), run here.
// Where a kernel has barriers, a block's GPU threads are fibers that run in
// turn from one barrier to the next. Tests without a GPU thus check the
// results of the very kernels the GPU pipeline makes. No LLVM.
//
//===----------------------------------------------------------------------===//

#ifndef EINJIT_RUNTIME_GPUEMULATOR_H
#define EINJIT_RUNTIME_GPUEMULATOR_H

#include <cstdint>
#include <utility>

extern "C" {
/// A GPU thread's special register: tid, ntid, ctaid, nctaid (x, y, z
/// each), numbered 0-11.
int32_t einjitEmuSreg(int32_t which);
/// __syncthreads() of the calling GPU thread's block.
void einjitEmuBarrier();
/// A shared-memory load or store of `bytes` at `address` by the calling
/// GPU thread: two threads of a block that touch one word between two
/// barriers, one of them writing, are a race, which fails the launch.
void einjitEmuShared(void *address, int64_t bytes, int32_t isWrite);
/// A global-memory load or store by the calling GPU thread: outside every
/// live allocation of the driver (where it can tell: the fake driver's
/// einjitFakeCudaInside), it fails the launch.
void einjitEmuGlobal(void *address, int64_t bytes, int32_t isWrite);
/// Runs `thunk(params)` once per thread of a grid, the special registers
/// set for each. With `cooperative` (the kernel has barriers or shared
/// memory), a block's threads are fibers on the calling thread, run in
/// rounds from barrier to barrier, a block at a time; else the blocks are
/// split between the host's cores, their threads run in turn. A
/// failure (no host-memory driver, a bad grid, threads of a block that
/// reach different barriers or race on shared memory, an access outside
/// device memory) is recorded as the thread's mgpu* failure.
void einjitEmuLaunch(void (*thunk)(void **), int32_t cooperative, int64_t gridX,
                     int64_t gridY, int64_t gridZ, int64_t blockX,
                     int64_t blockY, int64_t blockZ, void **params);
}

namespace einjit::cuda {
/// The emulator's entry points, name and address each (null-terminated),
/// for the JIT.
const std::pair<const char *, void *> *emulatorSymbols();
/// Kernel launches the emulator has run in this process (tests count a
/// traced function's kernels with it).
uint64_t emulatedLaunches();
} // namespace einjit::cuda

#endif // EINJIT_RUNTIME_GPUEMULATOR_H
