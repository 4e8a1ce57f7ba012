//===- Compiler.h - The compiler's interface to the runtime -----*- C++ -*-===//
//
// The one interface the runtime and the tools use: register what the
// compiler needs in a context, build the kernel module of a bound einsum and
// lower it to a chosen stage. Nothing here knows about buffers or caches.
//
// A kernel is `func.func @einsum(%in0: memref<..>, ..., %out: memref<..>)`
// over contiguous row-major buffers. From the vector stage on it takes one
// more argument, `%workspace: memref<Nxi8>`: 64-byte aligned scratch memory
// of workspaceBytes(module) bytes that the caller allocates, from which the
// kernel takes every intermediate buffer (it never allocates). After the
// LLVM stage each memref is a bare pointer.
//
// This header needs MLIR and is not installed. What the runtime's public
// headers share with it is plain C++ in headers of its own, installed:
// Stage.h, TargetInfo.h and KernelChoice.h beside it.
//
//===----------------------------------------------------------------------===//

#ifndef EINJIT_COMPILER_COMPILER_H
#define EINJIT_COMPILER_COMPILER_H

#include "einjit/Compiler/GpuTarget.h"
#include "einjit/Compiler/Stage.h"
#include "einjit/Compiler/TargetInfo.h"
#include "einjit/Spec/Equation.h"
#include "einjit/Spec/Graph.h"
#include "einjit/Spec/Ops.h"
#include "einjit/Spec/Path.h"
#include "einjit/Transforms/KernelChoice.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include <cstdint>
#include <string>

namespace mlir {
class DialectRegistry;
class MLIRContext;
class OpPassManager;
} // namespace mlir

namespace einjit {

/// Adds every dialect and interface the CPU pipeline uses.
void registerCompilerDialects(mlir::DialectRegistry &registry);
/// Registers the einsum passes and the named pipelines with the global
/// registry (for einsum-opt). `--einsum-cpu-pipeline` takes the options
/// `mcpu`, `mattr` (see TargetInfo::forCPU), `parallel-work` and
/// `fuse-elementwise`; `--einsum-gpu-pipeline` takes GpuTarget's `chip`,
/// `features`, `format`, `tile-x` and `tile-y`.
void registerCompilerPasses();
/// The CPU `--einsum-cpu-pipeline` compiles for when its options name none
/// (einsum-opt's --mcpu and --mattr); empty: the host.
void setDefaultPipelineCPU(llvm::StringRef cpu, llvm::StringRef mattr);

/// Loop nests of at least this many iterations (product of loop ranges) are
/// split across threads when threading is asked for: about 8 us of work on
/// one core, several times OpenMP's fork and join.
constexpr int64_t kDefaultParallelWork = int64_t(1) << 21;

/// Adds the passes that take a module from stage `from` to stage `to`, with
/// tiles for `target`. Loop nests of `parallelWork` iterations or more run
/// their cache tiles on OpenMP threads (0: never; the kernel then needs no
/// OpenMP runtime). With `fuseElementwise`, elementwise ops fuse into the
/// ops that read them after the linalg stage (einsum-fuse-elementwise).
void buildCpuPipeline(mlir::OpPassManager &pm, Stage from, Stage to,
                      const TargetInfo &target, int64_t parallelWork = 0,
                      bool fuseElementwise = false);

/// Adds `--einsum-gpu-pipeline`'s passes: the linalg stage, then
/// bufferization, parallel loops on blocks and threads
/// (einsum-gpu-map-loops), gpu.modules lowered to NVVM and serialized.
void buildGpuPipeline(mlir::OpPassManager &pm, const GpuTarget &target,
                      bool fuseElementwise = false);
/// Runs the GPU pipeline on an einsum-stage kernel module: the host
/// function `einsum` is left in the LLVM dialect, taking a bare pointer to
/// device memory per memref (static shapes), with its kernels' PTX in
/// globals that a global constructor loads (mgpuModuleLoadJIT).
/// With `fuseElementwise` (traced functions), elementwise ops fuse into
/// the ops that read them first, as on the CPU.
llvm::Error lowerToGpu(mlir::ModuleOp module, const GpuTarget &target,
                       bool fuseElementwise = false);
/// Runs the GPU pipeline on an einsum-stage kernel module and returns the
/// PTX of its gpu.modules, each after a `// gpu.module @name` line.
llvm::Expected<std::string> compileToPTX(mlir::ModuleOp module,
                                         const GpuTarget &target);

/// The name of the kernel function in a module from buildKernelModule.
constexpr llvm::StringLiteral kKernelName = "einsum";

/// Builds the einsum-stage kernel module of `eq`, contracted along `path`
/// (planned once, by planContraction; carried as the op's `path`
/// attribute). Without one, the pipeline's einsum-plan-paths plans with
/// the default options. Input i is a memref with the static strides
/// `inputStrides[i]` (elements) where those are given and not empty, so
/// that a strided view is read in place; else it is contiguous.
mlir::OwningOpRef<mlir::ModuleOp>
buildKernelModule(mlir::MLIRContext &ctx, const BoundEquation &eq,
                  const ContractionPath *path = nullptr,
                  llvm::ArrayRef<std::vector<int64_t>> inputStrides = {});

/// The kernel of an eager op (Spec/Ops.h), with the interface of einsum
/// kernels: `func.func @einsum(%in0: memref<..>, [%in1,] %out: memref<..>)`
/// holding one linalg.generic (two for a reduction whose result type is
/// not its compute type), lowered by the same pipeline. `inputStrides` as
/// for buildKernelModule.
mlir::OwningOpRef<mlir::ModuleOp>
buildOpModule(mlir::MLIRContext &ctx, const OpSignature &sig,
              llvm::ArrayRef<std::vector<int64_t>> inputStrides = {});

/// The kernel of a traced function: `func.func @einsum(%in0, ..., %out0,
/// ...)` with one %out per result of `graph`, its einsums as
/// einsum.contract ops along their paths and its ops as in buildOpModule.
/// Lower it with `fuseElementwise` set.
mlir::OwningOpRef<mlir::ModuleOp> buildGraphModule(mlir::MLIRContext &ctx,
                                                   const Graph &graph);

/// The kernel the CPU pipeline builds for each step of `path` on `target`,
/// in step order (for --explain). Label id `l` is called `labelNames[l]`.
llvm::Expected<std::vector<KernelChoice>>
describeKernels(mlir::MLIRContext &ctx, const BoundEquation &eq,
                const ContractionPath &path, const TargetInfo &target,
                llvm::ArrayRef<std::string> labelNames);

/// The workspace bytes a module lowered to the vector stage or beyond needs
/// (recorded by the einsum-workspace pass).
int64_t workspaceBytes(mlir::ModuleOp module);

/// Lowers `module` from the einsum stage to `to` (see buildCpuPipeline).
llvm::Error lowerKernelModule(mlir::ModuleOp module, Stage to,
                              const TargetInfo &target,
                              int64_t parallelWork = 0,
                              bool fuseElementwise = false);

} // namespace einjit

#endif // EINJIT_COMPILER_COMPILER_H
