//===- Einsum.h - Run einsums: compile, cache, execute ----------*- C++ -*-===//
//
// The C++ entry point: `einjit::einsum("ij,jk->ik", {a, b})` binds the
// equation to the operands, compiles a kernel for that signature (equation,
// dtypes, shapes) the first time it is seen, and runs it. Later calls with
// the same signature reuse the compiled kernel from an in-memory cache. The
// signature's equation is canonical (labels renamed in order of first
// appearance), so `ab,bc->ac` reuses the kernel of `ij,jk->ik`; a kernel's
// equation() is the spelling it was first compiled for. Threads compile
// different signatures at the same time; a signature being compiled is
// waited for, never compiled twice.
//===----------------------------------------------------------------------===//

#ifndef EINJIT_RUNTIME_EINSUM_H
#define EINJIT_RUNTIME_EINSUM_H

#include "einjit/Compiler/GpuTarget.h"
#include "einjit/Compiler/Stage.h"
#include "einjit/Compiler/TargetInfo.h"
#include "einjit/Spec/Equation.h"
#include "einjit/Spec/Path.h"
#include "einjit/runtime/Device.h"
#include "einjit/runtime/Tensor.h"

#include "llvm/Support/Error.h"

#include <memory>
#include <string>
#include <vector>

namespace einjit {

class JitKernel;

/// An einsum compiled for one signature.
class CompiledEinsum {
public:
  CompiledEinsum(BoundEquation eq, ContractionPath path,
                 std::unique_ptr<JitKernel> kernel, int64_t workspaceBytes,
                 double compileSeconds, bool fromDisk = false,
                 std::vector<std::vector<int64_t>> inputStrides = {});
  ~CompiledEinsum();

  const BoundEquation &equation() const { return eq; }
  const ContractionPath &path() const { return plan; }
  /// Floating-point operations of one call along the path.
  double flops() const { return plan.flops(); }
  /// Seconds spent lowering and JIT-compiling this kernel (or loading and
  /// linking it, for one from the disk cache).
  double compileSeconds() const { return seconds; }
  /// Whether its code came from the disk cache (setCacheDir), not a compile.
  bool loadedFromDisk() const { return fromDisk; }
  /// Scratch bytes a call needs for intermediates, allocated by run().
  int64_t workspaceBytes() const { return workspace; }
  /// Bytes of the kernel's object code (0 when an empty sum needs none).
  size_t codeBytes() const;
  /// Per operand, the strides the kernel reads it with in place (a view's,
  /// Tensor::kernelStrides); empty: contiguous. Operands in another layout
  /// are copied into this one first.
  const std::vector<std::vector<int64_t>> &inputStrides() const {
    return strides;
  }

  /// Runs on `operands` (of the bound shapes and dtypes; any strides) into
  /// `out`, a contiguous tensor of the output shape and result dtype. The
  /// workspace comes from a per-thread buffer kept between calls (up to
  /// 64 MiB; larger ones are freed after the call); failing to allocate it
  /// is an error, and `out` is then left unchanged.
  llvm::Error run(llvm::ArrayRef<Tensor> operands, Tensor &out) const;
  /// Runs into a new tensor.
  llvm::Expected<Tensor> operator()(llvm::ArrayRef<Tensor> operands) const;

private:
  BoundEquation eq;
  ContractionPath plan;
  std::unique_ptr<JitKernel> kernel;
  int64_t workspace;
  double seconds;
  bool fromDisk;
  std::vector<int64_t> outShape;
  std::vector<std::vector<int64_t>> strides;
};

/// Binds `equation` to `operands` and returns the cached kernel for the
/// signature, compiling it on first use. The contraction path is planned
/// once, with `options` (strategy, cap on the largest intermediate), and
/// kernels planned with different options are cached apart.
llvm::Expected<std::shared_ptr<const CompiledEinsum>>
compileEinsum(llvm::StringRef equation, llvm::ArrayRef<Tensor> operands,
              const PlanOptions &options = {});

/// numpy.einsum(equation, *operands).
llvm::Expected<Tensor> einsum(llvm::StringRef equation,
                              llvm::ArrayRef<Tensor> operands,
                              const PlanOptions &options = {});

/// The IR of the kernel for this signature at `stage`, as text.
llvm::Expected<std::string> emitEinsum(llvm::StringRef equation,
                                       llvm::ArrayRef<Tensor> operands,
                                       Stage stage,
                                       const PlanOptions &options = {});
/// The PTX of this signature's GPU kernels for `target`, from the GPU
/// pipeline (einsum-opt --einsum-gpu-pipeline), each after a
/// `// gpu.module @name` line. Runs on any machine, GPU or not.
llvm::Expected<std::string> emitPTX(llvm::StringRef equation,
                                    llvm::ArrayRef<Tensor> operands,
                                    const GpuTarget &target = {},
                                    const PlanOptions &options = {});
/// The LLVM IR of this signature's host code for `target` (after O3, for
/// the session's CPU): it calls the mgpu* ABI, its kernels' PTX is in
/// globals, and `einsum_init`/`einsum_fini` load and unload it. Compiled
/// to an object, it runs the einsum on a machine without LLVM (bench/gpu).
llvm::Expected<std::string> emitCudaLLVMIR(llvm::StringRef equation,
                                           llvm::ArrayRef<Tensor> operands,
                                           const GpuTarget &target = {},
                                           const PlanOptions &options = {});
/// numpy.einsum(equation, *operands) on the CUDA device: kernels from the
/// GPU pipeline for device 0's SM, cached per signature in the default
/// session (and in its disk cache), as the CPU's are. An error starting
/// "no CUDA device" where there is none.
llvm::Expected<DeviceTensor> einsum(llvm::StringRef equation,
                                    llvm::ArrayRef<DeviceTensor> operands,
                                    const PlanOptions &options = {});
/// The LLVM IR the JIT compiles for this signature (after O3), as text.
llvm::Expected<std::string> emitLLVMIR(llvm::StringRef equation,
                                       llvm::ArrayRef<Tensor> operands);

/// The CPU kernels are compiled for from now on: TargetInfo::host() by
/// default, or TargetInfo::forCPU("haswell") to run AVX2 kernels on a
/// machine with AVX-512, say. Kernels for each target are cached apart.
/// compileEinsum refuses a target whose instructions this machine lacks;
/// emitEinsum shows its IR anyway.
void setTarget(const TargetInfo &target);
TargetInfo currentTarget();

struct CacheStats {
  /// Calls served by a cached kernel, or by one another thread was
  /// compiling for the same signature (they wait for it).
  size_t hits = 0;
  /// Calls that found no kernel for their signature and compiled one
  /// (those that failed to compile included).
  size_t misses = 0;
  /// Kernels compiled and cached (not those loaded from the disk cache).
  size_t compiles = 0;
  /// Misses of an equation compiled before for other operands (dtypes or
  /// shapes): recentRetraces() says what differed.
  size_t retraces = 0;
  /// Seconds spent compiling them, in all threads together.
  double compileSeconds = 0;
  size_t entries = 0;
  /// Object code of the cached kernels, in bytes.
  size_t codeBytes = 0;
  /// Kernels dropped to stay within the capacity.
  size_t evictions = 0;
  /// Misses served from the disk cache without compiling.
  size_t diskHits = 0;
  /// Seconds spent reading, checking and linking them.
  double diskLoadSeconds = 0;
  /// Kernels compiled and written to the disk cache.
  size_t diskWrites = 0;
  /// Disk entries found damaged (truncated, checksum or format mismatch)
  /// or for another signature: never linked, compiled again and replaced.
  size_t diskRejected = 0;
  /// Compiled kernels the disk cache could not store (EINJIT_LOG=cache
  /// says why); the calls still succeed.
  size_t diskFailures = 0;
  /// Equations made shape-polymorphic (setInputSignature, or retraces
  /// that changed only sizes: setReduceRetracing), and the calls that ran
  /// as pieces of one.
  size_t polymorphic = 0;
  size_t splitCalls = 0;
};
CacheStats cacheStats();

/// A compile of an equation already compiled for other operands, as
/// tf.function retraces on a new input signature.
struct Retrace {
  /// The equation as the call spelled it.
  std::string equation;
  /// The first difference from its previous compile: "dim 0 of operand 1:
  /// 16 -> 32", "dtype of operand 0: f32 -> f64".
  std::string reason;
  /// Retraces of this equation so far, this one included.
  size_t count = 0;
};
/// The latest retraces (up to 64), oldest first. With EINJIT_LOG=retrace in
/// the environment, each is also printed to stderr as it happens.
std::vector<Retrace> recentRetraces();

/// A dim whose size may change from call to call (setInputSignature).
constexpr int64_t kDynamic = -1;

/// tf.function's input_signature for one equation: `shapes` gives each
/// operand's dims, kDynamic where any size may come. Calls of the equation
/// (spelled with any labels, with any dtypes, planned with `options`)
/// whose static dims match then run shape-polymorphically: as pieces along
/// the dynamic labels, each piece of a power-of-two size and run by a
/// kernel compiled once for it, so that a new size is not a retrace. The
/// dynamic dims must lead every operand and the result (`bij,jk->bik`'s b,
/// `ij,jk->ik`'s i or j); the error says which dim keeps a label static.
/// A label that is summed adds its pieces into the result.
llvm::Error setInputSignature(llvm::StringRef equation,
                              llvm::ArrayRef<std::vector<int64_t>> shapes,
                              const PlanOptions &options = {});
/// tf.function's reduce_retracing: after `retraces` retraces of an
/// equation (kDefaultReduceRetracing) that changed only sizes, the labels
/// whose sizes changed become dynamic, as if setInputSignature had named
/// them (when it would accept them). 0 turns it off.
constexpr size_t kDefaultReduceRetracing = 3;
void setReduceRetracing(size_t retraces);

/// An equation made shape-polymorphic.
struct PolymorphicEquation {
  /// The equation as the call spelled it, and its dynamic labels in that
  /// spelling ("bij,jk->bik", "b").
  std::string equation, labels;
  /// "input signature", or "after 3 retraces that changed only sizes".
  std::string reason;
};
std::vector<PolymorphicEquation> polymorphicEquations();

/// The most kernels the cache holds (default kDefaultCacheCapacity) and the
/// most object code they take together (default kDefaultCacheCodeBytes);
/// past either, the least recently used kernels are evicted, and their
/// code and data are freed once no caller holds their CompiledEinsum. 0
/// keeps nothing.
constexpr size_t kDefaultCacheCapacity = 512;
constexpr size_t kDefaultCacheCodeBytes = size_t(256) << 20;
void setCacheCapacity(size_t kernels,
                      size_t codeBytes = kDefaultCacheCodeBytes);

/// The persistent kernel cache: compiled kernels are stored as object code
/// in `dir` (created on first write, owner-only), one file per signature,
/// and a later process with the same einjit build and CPU links them
/// instead of compiling. Starts as $EINJIT_CACHE_DIR; "" turns it off. A
/// damaged entry is detected by its checksum and compiled again, never run.
/// The checksum guards against corruption, not tampering: the directory
/// must be writable only by its owner, as it holds code this process runs.
void setCacheDir(llvm::StringRef dir);
std::string cacheDir();
/// A hash of this build's compiler (its sources and LLVM's version), part
/// of every cache key, so kernels of another build are never reused.
llvm::StringRef compilerHash();

/// Drops every kernel and the compiler's interned IR (types, attributes),
/// and gives freed heap memory back to the system.
void clearCache();

} // namespace einjit

#endif // EINJIT_RUNTIME_EINSUM_H
