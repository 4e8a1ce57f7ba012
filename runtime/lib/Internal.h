//===- Internal.h - What Function.cpp takes from the kernel cache -*- C++
//-*-===//
//
// The session's kernel cache lives in Einsum.cpp. Traced functions
// (Function.cpp) compile their graphs through it, plan their einsums as
// einsum calls do, and report retraces to it.
//
//===----------------------------------------------------------------------===//

#ifndef EINJIT_RUNTIME_INTERNAL_H
#define EINJIT_RUNTIME_INTERNAL_H

#include "einjit/runtime/Function.h"

namespace einjit {

/// A traced function compiled for the CUDA device, for one signature (a
/// graph with an empty tensor has no kernel: it runs on the host).
class CudaGraphKernel {
public:
  CudaGraphKernel(Graph graph, std::unique_ptr<JitKernel> kernel,
                  double compileSeconds);
  ~CudaGraphKernel();
  const Graph &graph() const { return g; }
  size_t codeBytes() const;
  double compileSeconds() const { return seconds; }
  /// Runs on `args` (of the traced signature) into new device tensors.
  llvm::Expected<std::vector<DeviceTensor>>
  run(llvm::ArrayRef<DeviceTensor> args, Session &session) const;

private:
  Graph g;
  std::unique_ptr<JitKernel> kernel;
  double seconds;
};

/// The kernel of `graph` for the CUDA device `gpu` from `session`'s cache,
/// compiled (or loaded from its disk cache) on a miss.
llvm::Expected<std::shared_ptr<const CudaGraphKernel>>
compileCudaGraph(Session &session, const Graph &graph, const GpuTarget &gpu);
/// What kernels for device tensors are compiled for: device 0's SM, or,
/// under EINJIT_GPU_EMULATE=1 on a driver whose device memory is host
/// memory, the host (GpuEmulator.h).
llvm::Expected<GpuTarget> cudaTarget();

/// The kernel of `graph` from `session`'s cache, compiled (or loaded from
/// its disk cache) on a miss.
llvm::Expected<std::shared_ptr<const CompiledFunction>>
compileGraph(Session &session, const Graph &graph);
/// The IR of `graph`'s kernel at `stage`, for `session`'s target.
llvm::Expected<std::string> emitGraph(Session &session, const Graph &graph,
                                      Stage stage);
/// The path an einsum call with `options` is contracted along, within
/// einjit's limits and this machine's memory.
llvm::Expected<ContractionPath> planEinsumPath(const BoundEquation &eq,
                                               const PlanOptions &options);
/// Runs an eager op in `session`: on its signature's kernel, or, for an op
/// that retraces made shape-polymorphic, in pieces along dim 0.
llvm::Expected<Tensor> runEagerOp(Session &session, OpKind kind,
                                  llvm::ArrayRef<Tensor> operands,
                                  llvm::ArrayRef<int64_t> axes, bool keepDims,
                                  double scalar);
/// Whether EINJIT_LOG (a comma-separated list) names `what`.
bool logs(llvm::StringRef what);
/// For operands `now` that differ from `before` only in dim 0, where every
/// one that changed now has one size (a batch): which changed. nullopt
/// when anything else differs (a dtype, a rank, another dim, a layout
/// that is not contiguous) or nothing does.
std::optional<std::vector<bool>>
batchChange(llvm::ArrayRef<std::vector<int64_t>> now,
            llvm::ArrayRef<DType> nowTypes,
            llvm::ArrayRef<std::vector<int64_t>> before,
            llvm::ArrayRef<DType> beforeTypes,
            llvm::ArrayRef<std::vector<int64_t>> nowLayouts,
            llvm::ArrayRef<std::vector<int64_t>> beforeLayouts);
/// `session`'s setReduceRetracing count.
size_t reduceRetracingOf(Session &session);
/// Counts and logs a retrace in `session` (recentRetraces, stats,
/// EINJIT_LOG=retrace).
void recordRetrace(Session &session, const Retrace &event);
/// The first difference between operands `now` and `before`: "dim 0 of
/// operand 1: 16 -> 32", or of their layouts (kernelLayouts), when given.
std::string retraceReason(llvm::ArrayRef<std::vector<int64_t>> nowShapes,
                          llvm::ArrayRef<DType> nowTypes,
                          llvm::ArrayRef<std::vector<int64_t>> shapes,
                          llvm::ArrayRef<DType> types,
                          llvm::ArrayRef<std::vector<int64_t>> nowLayouts = {},
                          llvm::ArrayRef<std::vector<int64_t>> layouts = {});

} // namespace einjit

#endif // EINJIT_RUNTIME_INTERNAL_H
