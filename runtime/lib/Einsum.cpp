//===- Einsum.cpp - Run einsums: compile, cache, execute ------------------===//
//
// Compiles take MLIR contexts from a pool, one each, so that threads compile
// different signatures at the same time; the cache maps a canonical
// signature key to its compiled kernel, and a signature being compiled is
// waited for. Kernels take contiguous row-major buffers as bare pointers
// (see Compiler.h), so strided operands are copied first.
//
//===----------------------------------------------------------------------===//

#include "einjit/runtime/Einsum.h"
#include "CudaDriver.h"
#include "DiskCache.h"
#include "Internal.h"
#include "JitKernel.h"
#include "Memory.h"
#include "Split.h"
#include "TapeRecord.h"
#include "einjit/Compiler/Compiler.h"
#include "einjit/runtime/DeviceOps.h"
#include "einjit/runtime/Ops.h"
#include "einjit/runtime/Session.h"

#include "CompilerHash.inc"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/xxhash.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <list>
#include <map>
#include <mutex>
#include <unistd.h>
#include <unordered_map>
#ifdef __GLIBC__
#include <malloc.h>
#endif

using namespace einjit;

CompiledEinsum::CompiledEinsum(BoundEquation eq, ContractionPath path,
                               std::unique_ptr<JitKernel> kernel,
                               int64_t workspaceBytes, double compileSeconds,
                               bool fromDisk,
                               std::vector<std::vector<int64_t>> inputStrides)
    : eq(std::move(eq)), plan(std::move(path)), kernel(std::move(kernel)),
      workspace(workspaceBytes), seconds(compileSeconds), fromDisk(fromDisk),
      outShape(this->eq.outputShape()), strides(std::move(inputStrides)) {}

namespace {
/// Scratch memory for kernels: one 64-byte aligned buffer per calling
/// thread, grown on demand and kept for the next call unless it is larger
/// than kKeepBytes. Packed GEMM operands live there: a buffer given back
/// after every call costs its page faults again on the next one (half the
/// time of a 48 MB attention product).
class Workspace {
public:
  static constexpr size_t kKeepBytes = size_t(256) << 20;

  ~Workspace() { std::free(ptr); }

  /// At least `bytes` bytes, or an error naming `what` needs them.
  llvm::Expected<void *> get(int64_t bytes, llvm::StringRef what) {
    if (bytes == 0)
      return nullptr;
    if ((size_t)bytes <= size)
      return ptr;
    std::free(ptr);
    size = 0;
    size_t rounded = bufferSize(bytes);
    ptr = allocateBuffer(rounded);
    if (!ptr)
      return makeEinsumError(llvm::formatv(
          "cannot allocate {0} bytes of workspace for the intermediates of "
          "'{1}'",
          bytes, what));
    size = rounded;
    return ptr;
  }

  /// Gives a large buffer back to the system after a call.
  void release() {
    if (size <= kKeepBytes)
      return;
    std::free(ptr);
    ptr = nullptr;
    size = 0;
  }

private:
  void *ptr = nullptr;
  size_t size = 0;
};
} // namespace

static Workspace &threadWorkspace() {
  thread_local Workspace workspace;
  return workspace;
}

CompiledEinsum::~CompiledEinsum() = default;

size_t CompiledEinsum::codeBytes() const {
  return kernel ? kernel->codeBytes() : 0;
}

llvm::Error CompiledEinsum::run(llvm::ArrayRef<Tensor> operands,
                                Tensor &out) const {
  if (operands.size() != eq.inputs.size())
    return makeEinsumError("compiled einsum takes " +
                           std::to_string(eq.inputs.size()) +
                           " operands, got " + std::to_string(operands.size()));
  for (auto [i, t] : llvm::enumerate(operands)) {
    if (t.shape() != llvm::ArrayRef<int64_t>(eq.inputShapes[i]) ||
        t.dtype() != eq.inputTypes[i])
      return makeEinsumError(
          "operand " + std::to_string(i) + " is " + dtypeName(t.dtype()).str() +
          shapeString(t.shape()) + " but the kernel was compiled for " +
          dtypeName(eq.inputTypes[i]).str() + shapeString(eq.inputShapes[i]));
  }
  if (out.dtype() != eq.resultType ||
      out.shape() != llvm::ArrayRef<int64_t>(outShape) || !out.isContiguous())
    return makeEinsumError("output must be a contiguous " +
                           dtypeName(eq.resultType).str() +
                           shapeString(outShape));
  if (out.numel() == 0)
    return llvm::Error::success();
  if (!kernel) { // a summed label has size 0: the sum is empty
    std::memset(out.data(), 0, out.nbytes());
    return llvm::Error::success();
  }
  return runKernel(*kernel, operands, out, workspace, eq.text, strides);
}

bool einjit::hasNegativeStride(const KernelLayouts &layouts) {
  return llvm::any_of(layouts, [](const std::vector<int64_t> &l) {
    return llvm::any_of(l, [](int64_t s) { return s < 0; });
  });
}

KernelLayouts einjit::withoutNegativeStrides(const KernelLayouts &layouts) {
  KernelLayouts out = layouts;
  for (std::vector<int64_t> &l : out)
    if (llvm::any_of(l, [](int64_t s) { return s < 0; }))
      l.clear();
  return out;
}

KernelLayouts einjit::kernelLayouts(llvm::ArrayRef<Tensor> operands) {
  KernelLayouts layouts;
  for (const Tensor &t : operands)
    layouts.push_back(t.kernelStrides());
  return layouts;
}

/// Whether `t` has the layout `strides` (empty: contiguous).
static bool hasLayout(const Tensor &t, llvm::ArrayRef<int64_t> strides) {
  if (strides.empty())
    return t.isContiguous();
  if (t.isContiguous())
    return false;
  for (auto [stride, want, dim] : llvm::zip(t.strides(), strides, t.shape()))
    if (dim != 1 && stride != want)
      return false;
  return true;
}

llvm::Error einjit::runKernel(const JitKernel &kernel,
                              llvm::ArrayRef<Tensor> operands,
                              llvm::MutableArrayRef<Tensor> outs,
                              int64_t workspace, llvm::StringRef what,
                              llvm::ArrayRef<std::vector<int64_t>> layouts) {
  // Operands in the kernel's layout are passed as they are; others are
  // copied into it.
  llvm::SmallVector<Tensor, 0> copies;
  llvm::SmallVector<void *, 8> pointers;
  for (auto [i, t] : llvm::enumerate(operands)) {
    llvm::ArrayRef<int64_t> layout;
    if (i < layouts.size())
      layout = layouts[i];
    if (hasLayout(t, layout)) {
      pointers.push_back(t.data());
      continue;
    }
    if (layout.empty()) {
      auto c = t.contiguous();
      if (!c)
        return c.takeError();
      copies.push_back(std::move(*c));
      pointers.push_back(copies.back().data());
      continue;
    }
    // A buffer spanning the layout, with the elements at its strides; the
    // first element sits above those a negative stride puts below it.
    int64_t span = 1, below = 0;
    for (auto [dim, stride] : llvm::zip(t.shape(), layout)) {
      span += (dim - 1) * std::abs(stride);
      if (stride < 0)
        below += (dim - 1) * -stride;
    }
    auto buffer = Tensor::empty(t.dtype(), {span});
    if (!buffer)
      return buffer.takeError();
    char *first =
        static_cast<char *>(buffer->data()) + below * dtypeBytes(t.dtype());
    auto view = Tensor::borrow(first, t.dtype(), t.shape(), layout);
    if (!view)
      return view.takeError();
    view->copyFrom(t);
    copies.push_back(std::move(*buffer));
    pointers.push_back(first);
  }
  for (Tensor &out : outs)
    pointers.push_back(out.data());
  Workspace &scratch = threadWorkspace();
  auto memory = scratch.get(workspace, what);
  if (!memory)
    return memory.takeError();
  pointers.push_back(*memory);
  kernel.call(pointers);
  scratch.release();
  return llvm::Error::success();
}

llvm::Expected<Tensor>
CompiledEinsum::operator()(llvm::ArrayRef<Tensor> operands) const {
  auto out = Tensor::empty(eq.resultType, outShape);
  if (!out)
    return out.takeError();
  if (auto err = run(operands, *out))
    return std::move(err);
  return out;
}

namespace {
/// An MLIR context that one compile or emit at a time uses: concurrent
/// compiles each take their own from a process-wide pool, so no IR is
/// shared between threads. A context is dropped after kContextCompiles
/// compiles, so that its interned types and attributes (shapes, maps,
/// equation strings), which grow with every new signature, stay bounded.
struct CompileContext {
  std::unique_ptr<mlir::MLIRContext> mlir;
  size_t compiles = 0;
  /// The pool's generation when it was made; dropIdle() drops older ones.
  size_t generation = 0;
};

class ContextPool {
public:
  /// Never destroyed, like the JIT.
  static ContextPool &get() {
    static ContextPool *pool = new ContextPool();
    return *pool;
  }
  /// An idle context from the pool, or a new one.
  std::unique_ptr<CompileContext> take();
  /// Returns `ctx` to the pool, unless it is due for renewal or older than
  /// the last dropIdle().
  void give(std::unique_ptr<CompileContext> ctx);
  /// Drops the idle contexts; those in use are dropped when given back.
  void dropIdle();

private:
  std::mutex mutex;
  std::vector<std::unique_ptr<CompileContext>> idle;
  size_t generation = 0;
  static constexpr size_t kContextCompiles = 256;
};

/// A context from the pool for one scope.
struct PooledContext {
  PooledContext() : ctx(ContextPool::get().take()) { ++ctx->compiles; }
  ~PooledContext() { ContextPool::get().give(std::move(ctx)); }
  mlir::MLIRContext &operator*() { return *ctx->mlir; }
  std::unique_ptr<CompileContext> ctx;
};
} // namespace

std::unique_ptr<CompileContext> ContextPool::take() {
  size_t current;
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (!idle.empty()) {
      std::unique_ptr<CompileContext> ctx = std::move(idle.back());
      idle.pop_back();
      return ctx;
    }
    current = generation;
  }
  auto ctx = std::make_unique<CompileContext>();
  mlir::DialectRegistry registry;
  registerCompilerDialects(registry);
  // One small module per compile: MLIR's own thread pool would not help.
  ctx->mlir = std::make_unique<mlir::MLIRContext>(
      registry, mlir::MLIRContext::Threading::DISABLED);
  ctx->mlir->loadAllAvailableDialects();
  ctx->generation = current;
  return ctx;
}

void ContextPool::give(std::unique_ptr<CompileContext> ctx) {
  std::lock_guard<std::mutex> lock(mutex);
  if (ctx->compiles < kContextCompiles && ctx->generation == generation)
    idle.push_back(std::move(ctx));
}

void ContextPool::dropIdle() {
  std::lock_guard<std::mutex> lock(mutex);
  idle.clear();
  ++generation;
}

namespace {
/// One session's kernel cache and settings (Session::Impl): the target,
/// the disk cache's directory, the capacity, the cached kernels and their
/// statistics. The JIT and the MLIR contexts are shared by every session.
/// An einsum compiled for the CUDA device: host code that allocates the
/// intermediates and launches the kernels on a stream of its own, returning
/// when they are done.
struct CudaEinsum {
  std::unique_ptr<JitKernel> kernel;
  ContractionPath path;
  double seconds = 0;
  size_t codeBytes() const { return kernel->codeBytes(); }
  double compileSeconds() const { return seconds; }
};

class Runtime {
public:
  /// The default session's.
  static Runtime &get();

  /// A cached kernel: a CompiledEinsum or a CompiledOp (by its key). Calls
  /// served by the per-thread fast table do not reorder the LRU list; they
  /// set `used`, and an entry about to be evicted that was used since it
  /// last moved gets a second chance (the CLOCK approximation of LRU).
  struct Cached {
    std::shared_ptr<const void> kernel;
    size_t codeBytes = 0;
    double seconds = 0;
    std::atomic<bool> used{false};
    /// A shape-polymorphic call's plan (`kernel` is a SplitPlan), not a
    /// kernel: kept in `splitEntries`, never in the LRU list.
    bool split = false;
  };
  /// How a shape-polymorphic call runs: its bound equation and dynamic
  /// labels.
  struct SplitPlan {
    BoundEquation eq;
    std::vector<int> labels;
    /// An op's signature, for an op run in pieces along dim 0 (then `eq`
    /// describes the op's dims as labels, label 0 the batch).
    std::optional<OpSignature> op;
  };

  /// What a build did with the disk cache.
  struct DiskUse {
    bool loaded = false, written = false, rejected = false, failed = false;
  };

  /// A call's signature as the cache sees it.
  struct Call {
    /// The key without the operands (retraces are counted per `traced`;
    /// empty: by the caller).
    std::string traced;
    std::string key;
    /// The equation or op as called, and its operands, for retraces.
    std::string text;
    llvm::ArrayRef<std::vector<int64_t>> shapes;
    llvm::ArrayRef<DType> types;
    llvm::ArrayRef<std::vector<int64_t>> layouts;
    /// An einsum's equation and plan options (null for ops): retraces
    /// that change only sizes may make it shape-polymorphic.
    const BoundEquation *eq = nullptr;
    const PlanOptions *options = nullptr;
    /// An op's signature (null for einsums): retraces that change only
    /// dim 0 may make the op shape-polymorphic along it.
    const OpSignature *op = nullptr;
  };
  /// Builds the kernel of a call for a target, using the disk cache in
  /// `dir` when it is not empty.
  using BuildFn = llvm::function_ref<llvm::Expected<std::shared_ptr<Cached>>(
      const TargetInfo &target, const std::string &dir, DiskUse &disk)>;
  /// The cache entry of `call`, built on a miss (exactly once: concurrent
  /// callers of the same key wait for it). `makeCall` runs under the lock,
  /// with the target.
  llvm::Expected<std::shared_ptr<Cached>>
  acquire(llvm::function_ref<Call(const TargetInfo &)> makeCall, BuildFn build);

  /// The kernel of `eq`, compiled on a miss; with `cached`, also its cache
  /// entry.
  /// `layouts` are the operands' (kernelLayouts; empty: all contiguous).
  /// A compile with `traced` false (a piece of a shape-polymorphic einsum)
  /// is not a retrace.
  llvm::Expected<std::shared_ptr<const CompiledEinsum>>
  compile(BoundEquation eq, const PlanOptions &options,
          const KernelLayouts &layouts = {},
          std::shared_ptr<Cached> *cached = nullptr, bool traced = true);
  /// The same for an eager op.
  llvm::Expected<std::shared_ptr<const CompiledOp>>
  compileOp(const OpSignature &sig, const KernelLayouts &layouts = {},
            std::shared_ptr<Cached> *cached = nullptr, bool traced = true);

  /// The same for the CUDA device that `gpu` describes (device 0).
  llvm::Expected<std::shared_ptr<const CudaEinsum>>
  compileCuda(const BoundEquation &eq, const PlanOptions &options,
              const GpuTarget &gpu);

  /// The dynamic labels of `eq` (label ids) when calls of its equation and
  /// `options` run shape-polymorphically; empty otherwise.
  std::vector<int> dynamicLabels(const BoundEquation &eq,
                                 const PlanOptions &options);
  /// Makes `eq`'s equation under `options` shape-polymorphic in `labels`
  /// (label ids of `eq`), which checkSplittable accepted. Called with
  /// `mutex` held.
  void makeDynamic(const BoundEquation &eq, const PlanOptions &options,
                   llvm::ArrayRef<int> labels, std::string reason,
                   bool declared);
  /// Retraces of an equation that changed only sizes, after which its
  /// varying labels become dynamic (setReduceRetracing); 0: never.
  size_t reduceRetracing = kDefaultReduceRetracing;
  /// Whether any equation is shape-polymorphic (read without the lock).
  std::atomic<bool> anyDynamic{false};
  /// The entry that runs calls of `eq`'s signature as pieces along
  /// `labels`, for the fast tables (which hold entries weakly).
  std::shared_ptr<Cached> splitEntry(BoundEquation eq,
                                     const PlanOptions &options,
                                     std::vector<int> labels);
  /// The same for an op whose calls run in pieces along dim 0, when its
  /// retraces made it shape-polymorphic and `sig` allows it; else null.
  std::shared_ptr<Cached> opSplitEntry(const OpSignature &sig);
  /// Calls that ran as pieces.
  std::atomic<size_t> splitCalls{0};
  /// The same for a traced function's graph, in `session`.
  llvm::Expected<std::shared_ptr<const CompiledFunction>>
  compileGraph(const Graph &graph, Session &session);
  llvm::Expected<std::shared_ptr<const CudaGraphKernel>>
  compileCudaGraph(const Graph &graph, const GpuTarget &gpu);
  /// Counts and logs a traced function's retrace.
  void recordRetrace(const Retrace &event);
  llvm::Expected<std::string> emit(const BoundEquation &eq, Stage stage,
                                   const PlanOptions &options,
                                   bool llvmIR = false);

  /// Drops every kernel and every idle MLIR context. Called with `mutex`
  /// held.
  void clear();
  /// Evicts least recently used kernels down to `capacity` kernels and
  /// `codeCapacity` bytes of code. Called with `mutex` held.
  void shrink();

  /// Guards the cache, the stats, the capacity and the target. Compiles run
  /// without it, so that different signatures compile at the same time.
  std::mutex mutex;
  CacheStats stats;
  size_t capacity = kDefaultCacheCapacity;
  size_t codeCapacity = kDefaultCacheCodeBytes;
  /// The CPU kernels are compiled for (setTarget).
  TargetInfo target = TargetInfo::host();
  /// The persistent cache's directory; empty when there is none.
  std::string diskDir;

  Runtime() {
    initializeNativeJit();
    if (const char *dir = std::getenv("EINJIT_CACHE_DIR"))
      diskDir = dir;
  }

private:
  /// Plans, lowers and JIT-compiles `eq` for `target` in a context of its
  /// own from the pool (or loads it from the disk cache in `dir`, when
  /// given, and stores it there after a compile).
  llvm::Expected<std::shared_ptr<Cached>>
  buildEinsum(const BoundEquation &eq, const PlanOptions &options,
              const KernelLayouts &layouts, const TargetInfo &target,
              const std::string &key, const std::string &dir, DiskUse &disk);
  llvm::Expected<std::shared_ptr<Cached>>
  buildCuda(const BoundEquation &eq, const PlanOptions &options,
            const GpuTarget &gpu, const TargetInfo &target,
            const std::string &key, const std::string &dir, DiskUse &disk);
  llvm::Expected<std::shared_ptr<Cached>>
  buildOp(const OpSignature &sig, const KernelLayouts &layouts,
          const TargetInfo &target, const std::string &key,
          const std::string &dir, DiskUse &disk);
  llvm::Expected<std::shared_ptr<Cached>>
  buildGraph(const Graph &graph, Session &session, const TargetInfo &target,
             const std::string &key, const std::string &dir, DiskUse &disk);
  /// Wraps a kernel (null for an empty loop nest) in a cache entry.
  using MakeEntry = llvm::function_ref<std::shared_ptr<Cached>(
      std::unique_ptr<JitKernel> kernel, int64_t workspace, double seconds,
      bool fromDisk)>;
  /// What buildOp and buildGraph share: the kernel of a module that has no
  /// contraction path (`what`, "an op" or "a function"), loaded from the
  /// disk cache or built by `buildModule` and compiled (nothing when
  /// `empty`).
  llvm::Expected<std::shared_ptr<Cached>> buildWithoutPath(
      bool empty, llvm::StringRef what,
      llvm::function_ref<mlir::OwningOpRef<mlir::ModuleOp>(mlir::MLIRContext &)>
          buildModule,
      bool fuse, const TargetInfo &target, const std::string &key,
      const std::string &dir, DiskUse &disk, MakeEntry make);
  /// Lowers and JIT-compiles a kernel module (storing its object in the
  /// disk cache under `key` when `dir` is given, with the path's `steps`),
  /// fusing elementwise ops with `fuse`.
  llvm::Expected<std::unique_ptr<JitKernel>>
  jitModule(mlir::ModuleOp module, const TargetInfo &target,
            const std::string &key, const std::string &dir,
            std::vector<std::vector<int>> steps, int64_t &workspace,
            DiskUse &disk, bool fuse = false);

  /// A signature being compiled: callers of the same signature wait for it
  /// (on `mutex`'s condition) instead of compiling it again.
  struct Pending {
    std::condition_variable done;
    bool finished = false;
    std::shared_ptr<Cached> entry;
    std::string error;
  };

public:
  /// Bumped whenever a kernel leaves the cache or the target changes: a
  /// fast table slot from an older epoch is not trusted.
  std::atomic<uint64_t> epoch{0};
  /// Hits served by fast tables (added to stats.hits when read).
  std::atomic<size_t> fastHits{0};

private:
  /// Kernels most recently used first; `cache` maps each key to its entry.
  using Entry = std::pair<std::string, std::shared_ptr<Cached>>;
  std::list<Entry> lru;
  std::unordered_map<std::string, std::list<Entry>::iterator> cache;
  std::unordered_map<std::string, std::shared_ptr<Pending>> pending;
  /// Records a compile of `call`: a retrace when its equation (or op) was
  /// compiled before for other operands. Called with `mutex` held.
  void noteTrace(const Call &call);
  /// Counts, logs and keeps a retrace. Called with `mutex` held.
  void logRetrace(Retrace event);
  /// Per equation or op (without operands): the operands of its last
  /// compile and its retraces.
  struct Trace {
    std::vector<std::vector<int64_t>> shapes;
    std::vector<DType> types;
    KernelLayouts layouts;
    size_t retraces = 0;
    /// An einsum's retraces that changed only sizes, and the labels
    /// (canonical numbers) whose sizes changed.
    size_t sizeRetraces = 0;
    std::vector<int> varying;
    /// Whether its varying labels could not be made dynamic.
    bool refused = false;
  };
  std::unordered_map<std::string, Trace> traces;
  std::deque<Retrace> recent;
  /// Shape-polymorphic equations, by dynamicKey: their dynamic labels
  /// (canonical numbers) and how they came to be.
  struct Dynamic {
    std::vector<int> labels;
    PolymorphicEquation info;
    /// Named by setInputSignature (kept by clear()).
    bool declared = false;
  };
  std::unordered_map<std::string, Dynamic> dynamic;
  /// Ops (opKey without operands) made shape-polymorphic along dim 0.
  std::unordered_map<std::string, size_t> batchedOps;
  /// splitEntry's entries, by dynamicKey and operands.
  std::unordered_map<std::string, std::shared_ptr<Cached>> splitEntries;

public:
  std::vector<PolymorphicEquation> polymorphicEquations() const {
    std::vector<PolymorphicEquation> all;
    for (const auto &[key, d] : dynamic)
      all.push_back(d.info);
    llvm::sort(all, [](const auto &a, const auto &b) {
      return a.equation < b.equation;
    });
    return all;
  }

private:
public:
  std::vector<Retrace> recentRetraces() const {
    return {recent.begin(), recent.end()};
  }

private:
  static constexpr size_t kRecentRetraces = 64;
  static constexpr size_t kTracedEquations = 4096;
};
} // namespace

class einjit::Session::Impl {
public:
  Runtime rt;
};

Runtime &Runtime::get() { return Session::global().impl().rt; }

/// Work from which kernels use threads; 0 where libomp is missing.
static int64_t parallelWork() {
  return kThreadedKernels ? kDefaultParallelWork : 0;
}

/// Each label id of `eq` numbered in order of first appearance.
static llvm::DenseMap<int, int> canonicalLabels(const BoundEquation &eq) {
  llvm::DenseMap<int, int> canonical;
  for (const std::vector<int> &input : eq.inputs)
    for (int id : input)
      canonical.try_emplace(id, canonical.size());
  for (int id : eq.output)
    canonical.try_emplace(id, canonical.size());
  return canonical;
}

/// `eq` with its labels numbered in order of first appearance.
static std::string canonicalEquation(const BoundEquation &eq) {
  llvm::DenseMap<int, int> canonical = canonicalLabels(eq);
  std::string key;
  for (const std::vector<int> &input : eq.inputs) {
    for (int id : input)
      key += std::to_string(canonical[id]) + ".";
    key += ",";
  }
  key += ">";
  for (int id : eq.output)
    key += std::to_string(canonical[id]) + ".";
  return key;
}

/// The start of every CPU kernel key: the compiler's hash (which keeps
/// another build's kernels on disk apart), then the target: the CPU and
/// its features, and what tiles follow, the register file, the caches and
/// the threads.
static std::string cpuKey(const TargetInfo &target) {
  return llvm::formatv("einjit {0}|{1}|{2}|{3}.{4}.{5}.{6}.{7}.{8}|",
                       kCompilerHash, target.cpu, target.features,
                       target.vectorBits, target.vectorRegisters,
                       target.l1Bytes, target.l2Bytes, target.l3Bytes,
                       target.threads)
      .str();
}

/// The signature a kernel is specialized to, the target it is for and how
/// its path was planned. The equation is canonical: labels are numbered in
/// order of first appearance after binding (ellipses expanded, implicit
/// outputs made explicit), so `ij,jk->ik`, `ab,bc->ac` and `ij,jk` share a
/// kernel.
static std::string equationKey(const BoundEquation &eq,
                               const TargetInfo &target,
                               const PlanOptions &options) {
  std::string key =
      cpuKey(target) + llvm::formatv("{0}|{1}|{2}|",
                                     pathStrategyName(options.strategy),
                                     options.memoryLimitBytes, parallelWork())
                           .str();
  return key + canonicalEquation(eq);
}

/// What makes calls of one equation shape-polymorphic, whatever the target
/// and the operands: the canonical equation and the plan options.
static std::string dynamicKey(const BoundEquation &eq,
                              const PlanOptions &options) {
  return llvm::formatv("{0}|{1}|", pathStrategyName(options.strategy),
                       options.memoryLimitBytes)
             .str() +
         canonicalEquation(eq);
}

/// The operands' dtypes and shapes, the rest of the key.
static std::string operandKey(const BoundEquation &eq) {
  std::string key;
  for (auto [shape, type] : llvm::zip(eq.inputShapes, eq.inputTypes))
    key += "|" + dtypeName(type).str() + shapeString(shape);
  return key;
}

/// "strides [80,1]", or "contiguous" for an empty layout.
static std::string layoutString(llvm::ArrayRef<int64_t> strides) {
  if (strides.empty())
    return "contiguous";
  std::string s = "strides [";
  for (auto [i, stride] : llvm::enumerate(strides))
    s += (i ? "," : "") + std::to_string(stride);
  return s + "]";
}

/// The operands' layouts, the last part of a key: empty when all are
/// contiguous.
static std::string layoutKey(const KernelLayouts &layouts) {
  if (allContiguous(layouts))
    return "";
  std::string key = "|layouts";
  for (const std::vector<int64_t> &layout : layouts)
    key += "|" + layoutString(layout);
  return key;
}

std::string
einjit::retraceReason(llvm::ArrayRef<std::vector<int64_t>> nowShapes,
                      llvm::ArrayRef<DType> nowTypes,
                      llvm::ArrayRef<std::vector<int64_t>> shapes,
                      llvm::ArrayRef<DType> types,
                      llvm::ArrayRef<std::vector<int64_t>> nowLayouts,
                      llvm::ArrayRef<std::vector<int64_t>> layouts) {
  for (size_t i = 0; i < nowShapes.size() && i < shapes.size(); ++i) {
    if (nowTypes[i] != types[i])
      return llvm::formatv("dtype of operand {0}: {1} -> {2}", i,
                           dtypeName(types[i]), dtypeName(nowTypes[i]));
    llvm::ArrayRef<int64_t> a = shapes[i], b = nowShapes[i];
    if (a.size() != b.size())
      return llvm::formatv("rank of operand {0}: {1} -> {2}", i, a.size(),
                           b.size());
    for (size_t d = 0; d < a.size(); ++d)
      if (a[d] != b[d])
        return llvm::formatv("dim {0} of operand {1}: {2} -> {3}", d, i, a[d],
                             b[d]);
  }
  if (nowShapes.size() != shapes.size())
    return llvm::formatv("number of operands: {0} -> {1}", shapes.size(),
                         nowShapes.size());
  for (size_t i = 0; i < nowShapes.size(); ++i) {
    llvm::ArrayRef<int64_t> a, b;
    if (i < layouts.size())
      a = layouts[i];
    if (i < nowLayouts.size())
      b = nowLayouts[i];
    if (a != b)
      return llvm::formatv("layout of operand {0}: {1} -> {2}", i,
                           layoutString(a), layoutString(b));
  }
  return "the same operands (the kernel had been evicted)";
}

/// A path whose intermediates together exceed this machine's memory is
/// refused before it is compiled (the exact workspace, with buffers that
/// share bytes, is known and allocated only after compiling). Called after
/// checkPathLimits, so each intermediate's size fits.
static llvm::Error checkIntermediates(const BoundEquation &eq,
                                      const ContractionPath &path) {
  int64_t bytes = 0;
  for (size_t i = 0; i + 1 < path.steps.size(); ++i) {
    int64_t step = saturatingProduct(path.steps[i].shape) *
                   (int64_t)dtypeBytes(eq.computeType);
    bytes = checkedAdd(bytes, step).value_or(INT64_MAX);
  }
  int64_t memory = saturatingProduct(
      {(int64_t)sysconf(_SC_PHYS_PAGES), (int64_t)sysconf(_SC_PAGE_SIZE)});
  if (bytes <= memory)
    return llvm::Error::success();
  return makeEinsumError(llvm::formatv("the contraction path {0} needs {1} "
                                       "bytes of intermediates, more than "
                                       "this machine's {2} bytes of memory",
                                       path.describe(), bytes, memory));
}

/// The path of `eq` under `options`, planned once per compile, within
/// einjit's limits and this machine's memory.
static llvm::Expected<ContractionPath> planFor(const BoundEquation &eq,
                                               const PlanOptions &options) {
  auto plan = planContraction(eq, options);
  if (!plan)
    return plan.takeError();
  if (auto err = checkPathLimits(eq, plan->path))
    return std::move(err);
  if (auto err = checkIntermediates(eq, plan->path))
    return std::move(err);
  return std::move(plan->path);
}

/// Read on every event (misses only), so a test or a debugger can turn it
/// on at any time.
bool einjit::logs(llvm::StringRef what) {
  const char *env = std::getenv("EINJIT_LOG");
  return env &&
         llvm::is_contained(llvm::split(llvm::StringRef(env), ','), what);
}

/// The labels (canonical numbers) of `eq` whose sizes differ from
/// `before`, or nullopt when something else differs (a dtype, a rank, a
/// layout).
static std::optional<std::vector<int>>
sizeChanges(const BoundEquation &eq,
            llvm::ArrayRef<std::vector<int64_t>> before,
            llvm::ArrayRef<DType> beforeTypes,
            const KernelLayouts &beforeLayouts, const KernelLayouts &layouts) {
  if (before.size() != eq.inputShapes.size() ||
      llvm::ArrayRef(beforeTypes) != llvm::ArrayRef(eq.inputTypes) ||
      !allContiguous(layouts) || !allContiguous(beforeLayouts))
    return std::nullopt;
  llvm::DenseMap<int, int> canonical = canonicalLabels(eq);
  std::vector<int> changed;
  for (auto [shape, old, labels] :
       llvm::zip(eq.inputShapes, before, eq.inputs)) {
    if (shape.size() != old.size())
      return std::nullopt;
    for (auto [now, was, id] : llvm::zip(shape, old, labels))
      if (now != was && !llvm::is_contained(changed, canonical[id]))
        changed.push_back(canonical[id]);
  }
  return changed;
}

static std::string opKey(const OpSignature &sig, const TargetInfo &target,
                         bool withOperands);

std::optional<std::vector<bool>>
einjit::batchChange(llvm::ArrayRef<std::vector<int64_t>> now,
                    llvm::ArrayRef<DType> nowTypes,
                    llvm::ArrayRef<std::vector<int64_t>> before,
                    llvm::ArrayRef<DType> beforeTypes,
                    llvm::ArrayRef<std::vector<int64_t>> nowLayouts,
                    llvm::ArrayRef<std::vector<int64_t>> beforeLayouts) {
  if (now.size() != before.size() || nowTypes != beforeTypes ||
      !allContiguous(nowLayouts) || !allContiguous(beforeLayouts))
    return std::nullopt;
  int64_t size = -1;
  std::vector<bool> changed(now.size(), false);
  for (auto [i, a, b] : llvm::enumerate(now, before)) {
    if (a.size() != b.size() ||
        !std::equal(a.begin() + !a.empty(), a.end(), b.begin() + !b.empty()))
      return std::nullopt; // not a batch: another dim changed
    if (a.empty() || a[0] == b[0])
      continue;
    if (size >= 0 && a[0] != size)
      return std::nullopt; // two sizes: not one batch
    size = a[0];
    changed[i] = true;
  }
  if (size < 0)
    return std::nullopt;
  return changed;
}

/// Whether `sig` computes each row of its result (dim 0) from the same
/// rows of its operands: an elementwise op whose full-rank operands have
/// the result's dim 0 (or 1, broadcast), or a reduction or softmax that
/// does not run along dim 0.
static bool batchSeparable(const OpSignature &sig) {
  if (sig.outputShape.empty())
    return false;
  if (takesAxes(sig.kind))
    return !sig.inputShapes[0].empty() && !llvm::is_contained(sig.axes, 0);
  for (const std::vector<int64_t> &shape : sig.inputShapes)
    if (shape.size() == sig.outputShape.size() && shape[0] != 1 &&
        shape[0] != sig.outputShape[0])
      return false;
  return true;
}

std::shared_ptr<Runtime::Cached> Runtime::opSplitEntry(const OpSignature &sig) {
  if (!anyDynamic.load(std::memory_order_acquire) || !batchSeparable(sig))
    return nullptr;
  std::lock_guard<std::mutex> lock(mutex);
  if (!batchedOps.count(opKey(sig, target, /*withOperands=*/false)))
    return nullptr;
  std::string key = "op " + opKey(sig, target, /*withOperands=*/true);
  std::shared_ptr<Cached> &entry = splitEntries[key];
  if (!entry) {
    // The op's dims as labels: 0 the batch (dim 0 of the result and of
    // each operand of the result's rank), the others each its own.
    BoundEquation eq;
    int next = 1;
    size_t rank = sig.outputShape.size();
    eq.labelSizes.push_back(sig.outputShape[0]);
    auto labelsOf = [&](llvm::ArrayRef<int64_t> shape, bool full) {
      std::vector<int> labels;
      for (size_t d = 0; d < shape.size(); ++d) {
        labels.push_back(full && d == 0 ? 0 : next++);
        if (labels.back())
          eq.labelSizes.push_back(shape[d]);
      }
      return labels;
    };
    for (const std::vector<int64_t> &shape : sig.inputShapes)
      eq.inputs.push_back(
          labelsOf(shape, shape.size() == rank || takesAxes(sig.kind)));
    eq.output = labelsOf(sig.outputShape, true);
    eq.inputShapes = sig.inputShapes;
    eq.inputTypes = sig.inputTypes;
    eq.resultType = eq.computeType = sig.resultType;
    eq.text = opName(sig.kind).str();
    entry = std::make_shared<Cached>();
    entry->split = true;
    entry->kernel =
        std::make_shared<const SplitPlan>(SplitPlan{std::move(eq), {0}, sig});
  }
  return entry;
}

void Runtime::noteTrace(const Call &call) {
  auto [it, first] = traces.try_emplace(call.traced);
  Trace &trace = it->second;
  if (!first) {
    logRetrace({call.text,
                retraceReason(call.shapes, call.types, trace.shapes,
                              trace.types, call.layouts, trace.layouts),
                ++trace.retraces});
    if (call.op && reduceRetracing && !batchedOps.count(call.traced) &&
        batchChange(call.shapes, call.types, trace.shapes, trace.types,
                    call.layouts, trace.layouts)
            .has_value() &&
        ++trace.sizeRetraces >= reduceRetracing) {
      batchedOps[call.traced] = trace.sizeRetraces;
      ++stats.polymorphic;
      anyDynamic.store(true, std::memory_order_release);
      if (logs("retrace"))
        llvm::errs() << "einjit: op '" << call.text
                     << "' is shape-polymorphic in dim 0 (after "
                     << trace.sizeRetraces
                     << " retraces that changed only dim 0)\n";
    }
    std::optional<std::vector<int>> changed;
    if (call.eq && reduceRetracing)
      changed = sizeChanges(*call.eq, trace.shapes, trace.types, trace.layouts,
                            call.layouts);
    if (changed && !changed->empty() && !trace.refused) {
      for (int label : *changed)
        if (!llvm::is_contained(trace.varying, label))
          trace.varying.push_back(label);
      std::string key = dynamicKey(*call.eq, *call.options);
      if (++trace.sizeRetraces >= reduceRetracing && !dynamic.count(key)) {
        llvm::DenseMap<int, int> canonical = canonicalLabels(*call.eq);
        std::vector<int> ids;
        for (auto [id, number] : canonical)
          if (llvm::is_contained(trace.varying, number))
            ids.push_back(id);
        llvm::sort(ids,
                   [&](int a, int b) { return canonical[a] < canonical[b]; });
        if (llvm::Error err = detail::checkSplittable(*call.eq, ids)) {
          trace.refused = true;
          std::string why = llvm::toString(std::move(err));
          if (logs("retrace"))
            llvm::errs() << "einjit: '" << call.text
                         << "' stays shape-specific: " << why << "\n";
        } else {
          makeDynamic(*call.eq, *call.options, ids,
                      llvm::formatv("after {0} retraces that changed only "
                                    "sizes",
                                    trace.sizeRetraces),
                      /*declared=*/false);
        }
      }
    }
  }
  trace.shapes.assign(call.shapes.begin(), call.shapes.end());
  trace.types.assign(call.types.begin(), call.types.end());
  trace.layouts.assign(call.layouts.begin(), call.layouts.end());
  if (traces.size() > kTracedEquations) // keep the bookkeeping bounded
    traces.clear();
}

void Runtime::makeDynamic(const BoundEquation &eq, const PlanOptions &options,
                          llvm::ArrayRef<int> labels, std::string reason,
                          bool declared) {
  llvm::DenseMap<int, int> canonical = canonicalLabels(eq);
  Dynamic d;
  for (int id : labels) {
    d.labels.push_back(canonical[id]);
    d.info.labels += labelName(id);
  }
  d.info.equation = eq.text;
  d.info.reason = std::move(reason);
  d.declared = declared;
  if (logs("retrace"))
    llvm::errs() << "einjit: '" << eq.text << "' is shape-polymorphic in "
                 << d.info.labels << " (" << d.info.reason << ")\n";
  auto [it, inserted] =
      dynamic.insert_or_assign(dynamicKey(eq, options), std::move(d));
  if (inserted)
    ++stats.polymorphic;
  anyDynamic.store(true, std::memory_order_release);
}

std::vector<int> Runtime::dynamicLabels(const BoundEquation &eq,
                                        const PlanOptions &options) {
  if (!anyDynamic.load(std::memory_order_acquire))
    return {};
  std::string key = dynamicKey(eq, options);
  std::lock_guard<std::mutex> lock(mutex);
  auto it = dynamic.find(key);
  if (it == dynamic.end())
    return {};
  // 16-bit float results would add the pieces of a sum in 16 bits: such
  // calls keep their summed labels static (declared for another dtype).
  bool narrow = eq.resultType == DType::F16 || eq.resultType == DType::BF16;
  std::vector<int> ids;
  for (auto [id, number] : canonicalLabels(eq))
    if (llvm::is_contained(it->second.labels, number) &&
        (!narrow || llvm::is_contained(eq.output, id)))
      ids.push_back(id);
  return ids;
}

std::shared_ptr<Runtime::Cached> Runtime::splitEntry(BoundEquation eq,
                                                     const PlanOptions &options,
                                                     std::vector<int> labels) {
  std::string key = dynamicKey(eq, options) + operandKey(eq);
  std::lock_guard<std::mutex> lock(mutex);
  std::shared_ptr<Cached> &entry = splitEntries[key];
  if (!entry) {
    if (splitEntries.size() > kTracedEquations) { // keep it bounded
      splitEntries.clear();
      entry = splitEntries[key];
    }
    entry = std::make_shared<Cached>();
    entry->split = true;
    entry->kernel = std::make_shared<const SplitPlan>(
        SplitPlan{std::move(eq), std::move(labels)});
  }
  return entry;
}

void Runtime::logRetrace(Retrace event) {
  ++stats.retraces;
  if (logs("retrace"))
    llvm::errs() << "einjit: retrace " << event.count << " of '"
                 << event.equation << "': " << event.reason << "\n";
  recent.push_back(std::move(event));
  if (recent.size() > kRecentRetraces)
    recent.pop_front();
}

void Runtime::recordRetrace(const Retrace &event) {
  std::lock_guard<std::mutex> lock(mutex);
  logRetrace(event);
}

llvm::Expected<std::shared_ptr<Runtime::Cached>>
Runtime::acquire(llvm::function_ref<Call(const TargetInfo &)> makeCall,
                 BuildFn build) {
  std::unique_lock<std::mutex> lock(mutex);
  Call call = makeCall(target);
  auto it = cache.find(call.key);
  if (it != cache.end()) {
    ++stats.hits;
    lru.splice(lru.begin(), lru, it->second);
    return it->second->second;
  }
  if (auto found = pending.find(call.key); found != pending.end()) {
    std::shared_ptr<Pending> slot = found->second;
    ++stats.hits;
    slot->done.wait(lock, [&] { return slot->finished; });
    if (!slot->entry)
      return makeEinsumError(slot->error);
    return slot->entry;
  }
  auto slot = std::make_shared<Pending>();
  pending.emplace(call.key, slot);
  ++stats.misses;
  if (!call.traced.empty())
    noteTrace(call);
  TargetInfo compileTarget = target;
  std::string dir = diskDir;
  lock.unlock();
  DiskUse disk;
  auto built = build(compileTarget, dir, disk);
  lock.lock();
  stats.diskHits += disk.loaded;
  stats.diskWrites += disk.written;
  stats.diskRejected += disk.rejected;
  stats.diskFailures += disk.failed;
  pending.erase(call.key);
  slot->finished = true;
  if (!built) {
    slot->error = llvm::toString(built.takeError());
    slot->done.notify_all();
    return makeEinsumError(slot->error);
  }
  slot->entry = *built;
  slot->done.notify_all();
  if (disk.loaded) {
    stats.diskLoadSeconds += slot->entry->seconds;
  } else {
    ++stats.compiles;
    stats.compileSeconds += slot->entry->seconds;
  }
  lru.emplace_front(call.key, slot->entry);
  cache[call.key] = lru.begin();
  stats.codeBytes += slot->entry->codeBytes;
  shrink();
  return slot->entry;
}

llvm::Expected<std::shared_ptr<const CompiledEinsum>>
Runtime::compile(BoundEquation eq, const PlanOptions &options,
                 const KernelLayouts &layouts, std::shared_ptr<Cached> *cached,
                 bool traced) {
  std::string key;
  auto entry = acquire(
      [&](const TargetInfo &target) {
        Call call;
        std::string equation = equationKey(eq, target, options);
        call.key = key = equation + operandKey(eq) + layoutKey(layouts);
        if (traced)
          call.traced = std::move(equation);
        call.text = eq.text;
        call.shapes = eq.inputShapes;
        call.types = eq.inputTypes;
        call.layouts = layouts;
        call.eq = &eq;
        call.options = &options;
        return call;
      },
      [&](const TargetInfo &target, const std::string &dir, DiskUse &disk) {
        return buildEinsum(eq, options, layouts, target, key, dir, disk);
      });
  if (!entry)
    return entry.takeError();
  if (cached)
    *cached = *entry;
  return std::static_pointer_cast<const CompiledEinsum>((*entry)->kernel);
}

/// The key of an op's kernel: the op with its axes and scalar, the
/// operands, the target and the compiler.
static std::string opKey(const OpSignature &sig, const TargetInfo &target,
                         bool withOperands) {
  std::string key = cpuKey(target) + "op " + opName(sig.kind).str() + "|";
  if (withOperands)
    key += sig.str();
  return key;
}

llvm::Expected<std::shared_ptr<const CompiledOp>>
Runtime::compileOp(const OpSignature &sig, const KernelLayouts &layouts,
                   std::shared_ptr<Cached> *cached, bool traced) {
  std::string key;
  auto entry = acquire(
      [&](const TargetInfo &target) {
        Call call;
        if (traced)
          call.traced = opKey(sig, target, /*withOperands=*/false);
        call.op = &sig;
        call.key = key =
            opKey(sig, target, /*withOperands=*/true) + layoutKey(layouts);
        call.text = opName(sig.kind).str();
        call.shapes = sig.inputShapes;
        call.types = sig.inputTypes;
        call.layouts = layouts;
        return call;
      },
      [&](const TargetInfo &target, const std::string &dir, DiskUse &disk) {
        return buildOp(sig, layouts, target, key, dir, disk);
      });
  if (!entry)
    return entry.takeError();
  if (cached)
    *cached = *entry;
  return std::static_pointer_cast<const CompiledOp>((*entry)->kernel);
}

/// The key of a traced function's kernel: the graph's text (ops, shapes,
/// dtypes, paths), the target and the compiler.
static std::string graphKey(const Graph &graph, const TargetInfo &target) {
  return cpuKey(target) + llvm::formatv("{0}|graph\n", parallelWork()).str() +
         graph.str();
}

llvm::Expected<std::shared_ptr<const CompiledFunction>>
Runtime::compileGraph(const Graph &graph, Session &session) {
  std::string key;
  auto entry = acquire(
      [&](const TargetInfo &target) {
        // Retraces are the Function's to count (Function.cpp).
        Call call;
        call.key = key = graphKey(graph, target);
        call.text = graph.name;
        return call;
      },
      [&](const TargetInfo &target, const std::string &dir, DiskUse &disk) {
        return buildGraph(graph, session, target, key, dir, disk);
      });
  if (!entry)
    return entry.takeError();
  return std::static_pointer_cast<const CompiledFunction>((*entry)->kernel);
}

/// The part of a GPU kernel's cache key that says what it runs on: the
/// host CPU (its host code) and the SM, PTX features, thread tiles and
/// format of its kernels.
static std::string cudaKeyOf(const TargetInfo &target, const GpuTarget &gpu) {
  return llvm::formatv("einjit {0}|{1}|{2}|cuda {3} {4} {5}x{6} {7}|",
                       kCompilerHash, target.cpu, target.features, gpu.chip,
                       gpu.features, gpu.tileX, gpu.tileY, gpu.format)
      .str();
}

/// The host code of `module`'s GPU kernels, JIT-compiled for `target`
/// (with its object code in `entry` for the disk cache when `dir` is set);
/// a traced graph's elementwise ops fused (`fuseElementwise`).
static llvm::Expected<std::unique_ptr<JitKernel>>
jitForGpu(mlir::ModuleOp module, const GpuTarget &gpu, const TargetInfo &target,
          const std::string &dir, DiskEntry &entry,
          bool fuseElementwise = false) {
  if (auto err = lowerToGpu(module, gpu, fuseElementwise))
    return std::move(err);
  return JitKernel::create(module, kKernelName, target,
                           dir.empty() ? nullptr : &entry.object);
}

/// Seconds since `start`.
static double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

/// A cache entry for `kernel`.
template <typename Kernel>
static std::shared_ptr<Runtime::Cached>
cachedEntry(std::shared_ptr<const Kernel> kernel) {
  auto entry = std::make_shared<Runtime::Cached>();
  entry->codeBytes = kernel->codeBytes();
  entry->seconds = kernel->compileSeconds();
  entry->kernel = std::move(kernel);
  return entry;
}

/// The object code of `key` from the disk cache in `dir`, linked, or null
/// (`disk` says whether an entry was there and rejected). `check` accepts
/// the entry's description (an error: rejected).
static std::unique_ptr<JitKernel>
loadFromDisk(const std::string &key, const std::string &dir, DiskEntry &entry,
             llvm::function_ref<llvm::Error(const DiskEntry &)> check,
             Runtime::DiskUse &disk, bool constructors = false) {
  std::string why;
  DiskRead read = readDiskEntry(dir, key, entry, why);
  if (read == DiskRead::Missing)
    return nullptr;
  if (read == DiskRead::Loaded) {
    if (auto err = check(entry)) {
      why = llvm::toString(std::move(err));
    } else {
      auto kernel = JitKernel::load(entry.object, kKernelName, constructors);
      if (kernel) {
        disk.loaded = true;
        return std::move(*kernel);
      }
      why = "its object code does not link: " +
            llvm::toString(kernel.takeError());
    }
    why = diskEntryPath(dir, key) + ": " + why;
  }
  disk.rejected = true;
  if (logs("cache"))
    llvm::errs() << "einjit: disk cache entry rejected, compiling again: "
                 << why << "\n";
  return nullptr;
}

/// Writes `entry` to the disk cache in `dir` under `key`; a failure is
/// counted (and logged under EINJIT_LOG=cache), never an error.
static void storeOnDisk(const std::string &dir, const std::string &key,
                        const DiskEntry &entry, Runtime::DiskUse &disk) {
  if (auto err = writeDiskEntry(dir, key, entry)) {
    disk.failed = true;
    std::string message = llvm::toString(std::move(err));
    if (logs("cache"))
      llvm::errs() << "einjit: " << message << "\n";
  } else {
    disk.written = true;
  }
}

/// The contraction path a disk entry of `eq` was compiled along, into
/// `path` (an error: the entry does not fit `eq`, and is rejected).
static llvm::Error pathOfEntry(const BoundEquation &eq, const DiskEntry &entry,
                               std::optional<ContractionPath> &path) {
  auto rebuilt = pathFromSteps(eq, entry.steps);
  if (!rebuilt)
    return makeEinsumError("its contraction path does not fit the equation: " +
                           llvm::toString(rebuilt.takeError()));
  path = std::move(*rebuilt);
  return llvm::Error::success();
}

llvm::Expected<std::unique_ptr<JitKernel>>
Runtime::jitModule(mlir::ModuleOp module, const TargetInfo &target,
                   const std::string &key, const std::string &dir,
                   std::vector<std::vector<int>> steps, int64_t &workspace,
                   DiskUse &disk, bool fuse) {
  if (auto err =
          lowerKernelModule(module, Stage::LLVM, target, parallelWork(), fuse))
    return std::move(err);
  workspace = workspaceBytes(module);
  DiskEntry entry;
  auto jit = JitKernel::create(module, kKernelName, target,
                               dir.empty() ? nullptr : &entry.object);
  if (!jit || dir.empty())
    return jit;
  entry.workspaceBytes = workspace;
  entry.steps = std::move(steps);
  storeOnDisk(dir, key, entry, disk);
  return jit;
}

llvm::Expected<std::shared_ptr<Runtime::Cached>>
Runtime::buildEinsum(const BoundEquation &eq, const PlanOptions &options,
                     const KernelLayouts &layouts, const TargetInfo &target,
                     const std::string &key, const std::string &dir,
                     DiskUse &disk) {
  // Kernels are compiled (or loaded) only for a CPU this machine can run.
  if (auto err = target.checkRunsOnHost())
    return std::move(err);
  auto start = std::chrono::steady_clock::now();
  bool empty = llvm::any_of(eq.labelSizes, [](int64_t s) { return s == 0; });
  if (!dir.empty() && !empty) {
    DiskEntry entry;
    std::optional<ContractionPath> path;
    auto check = [&](const DiskEntry &entry) {
      return pathOfEntry(eq, entry, path);
    };
    if (auto kernel = loadFromDisk(key, dir, entry, check, disk))
      return cachedEntry(std::make_shared<const CompiledEinsum>(
          eq, std::move(*path), std::move(kernel), entry.workspaceBytes,
          secondsSince(start), /*fromDisk=*/true, layouts));
  }

  PooledContext ctx;
  auto planned = planFor(eq, options);
  if (!planned)
    return planned.takeError();
  ContractionPath &path = *planned;
  std::unique_ptr<JitKernel> kernel;
  int64_t workspace = 0;
  KernelLayouts used = layouts;
  if (!empty) {
    std::vector<std::vector<int>> steps;
    for (const ContractionStep &step : path.steps)
      steps.push_back(step.operands);
    auto compile = [&](const KernelLayouts &l, const std::string &toDir) {
      auto module = buildKernelModule(*ctx, eq, &path, l);
      return jitModule(*module, target, key, toDir, steps, workspace, disk);
    };
    auto jit = compile(layouts, dir);
    if (!jit && hasNegativeStride(layouts)) {
      // See withoutNegativeStrides; not stored on disk under this key,
      // whose layouts the kernel does not take.
      llvm::consumeError(jit.takeError());
      used = withoutNegativeStrides(layouts);
      jit = compile(used, "");
    }
    if (!jit)
      return jit.takeError();
    kernel = std::move(*jit);
  }
  return cachedEntry(std::make_shared<const CompiledEinsum>(
      eq, std::move(path), std::move(kernel), workspace, secondsSince(start),
      /*fromDisk=*/false, used));
}

llvm::Expected<std::shared_ptr<const CudaEinsum>>
Runtime::compileCuda(const BoundEquation &eq, const PlanOptions &options,
                     const GpuTarget &gpu) {
  std::string key;
  auto entry = acquire(
      [&](const TargetInfo &target) {
        // The host code is the CPU's; the kernels are the SM's.
        Call call;
        call.traced =
            cudaKeyOf(target, gpu) +
            llvm::formatv("{0}|{1}|", pathStrategyName(options.strategy),
                          options.memoryLimitBytes)
                .str() +
            canonicalEquation(eq);
        call.key = key = call.traced + operandKey(eq);
        call.text = eq.text;
        call.shapes = eq.inputShapes;
        call.types = eq.inputTypes;
        return call;
      },
      [&](const TargetInfo &target, const std::string &dir, DiskUse &disk) {
        return buildCuda(eq, options, gpu, target, key, dir, disk);
      });
  if (!entry)
    return entry.takeError();
  return std::static_pointer_cast<const CudaEinsum>((*entry)->kernel);
}

llvm::Expected<std::shared_ptr<Runtime::Cached>>
Runtime::buildCuda(const BoundEquation &eq, const PlanOptions &options,
                   const GpuTarget &gpu, const TargetInfo &target,
                   const std::string &key, const std::string &dir,
                   DiskUse &disk) {
  if (auto err = target.checkRunsOnHost())
    return std::move(err);
  auto start = std::chrono::steady_clock::now();
  auto made = std::make_shared<CudaEinsum>();
  if (!dir.empty()) {
    DiskEntry entry;
    std::optional<ContractionPath> path;
    auto check = [&](const DiskEntry &entry) {
      return pathOfEntry(eq, entry, path);
    };
    if (auto kernel = loadFromDisk(key, dir, entry, check, disk,
                                   /*constructors=*/true)) {
      made->kernel = std::move(kernel);
      made->path = std::move(*path);
      made->seconds = secondsSince(start);
      return cachedEntry(std::shared_ptr<const CudaEinsum>(std::move(made)));
    }
  }
  PooledContext ctx;
  auto planned = planFor(eq, options);
  if (!planned)
    return planned.takeError();
  made->path = std::move(*planned);
  auto module = buildKernelModule(*ctx, eq, &made->path);
  DiskEntry entry;
  auto kernel = jitForGpu(*module, gpu, target, dir, entry);
  if (!kernel)
    return kernel.takeError();
  made->kernel = std::move(*kernel);
  made->seconds = secondsSince(start);
  if (!dir.empty()) {
    for (const ContractionStep &step : made->path.steps)
      entry.steps.push_back(step.operands);
    storeOnDisk(dir, key, entry, disk);
  }
  return cachedEntry(std::shared_ptr<const CudaEinsum>(std::move(made)));
}

llvm::Expected<std::shared_ptr<const CudaGraphKernel>>
Runtime::compileCudaGraph(const Graph &graph, const GpuTarget &gpu) {
  std::string key;
  auto entry = acquire(
      [&](const TargetInfo &target) {
        // Retraces are the Function's to count (Function.cpp).
        Call call;
        call.key = key = cudaKeyOf(target, gpu) + graph.str();
        call.text = graph.name;
        return call;
      },
      [&](const TargetInfo &target, const std::string &dir,
          DiskUse &disk) -> llvm::Expected<std::shared_ptr<Cached>> {
        if (auto err = target.checkRunsOnHost())
          return std::move(err);
        auto start = std::chrono::steady_clock::now();
        if (graph.hasEmptyTensor())
          return cachedEntry(std::make_shared<const CudaGraphKernel>(
              graph, nullptr, secondsSince(start)));
        if (!dir.empty()) {
          DiskEntry entry;
          auto check = [](const DiskEntry &) { return llvm::Error::success(); };
          if (auto kernel = loadFromDisk(key, dir, entry, check, disk,
                                         /*constructors=*/true))
            return cachedEntry(std::make_shared<const CudaGraphKernel>(
                graph, std::move(kernel), secondsSince(start)));
        }
        PooledContext ctx;
        auto module = buildGraphModule(*ctx, graph);
        DiskEntry entry;
        auto kernel = jitForGpu(*module, gpu, target, dir, entry,
                                /*fuseElementwise=*/true);
        if (!kernel)
          return kernel.takeError();
        if (!dir.empty())
          storeOnDisk(dir, key, entry, disk);
        return cachedEntry(std::make_shared<const CudaGraphKernel>(
            graph, std::move(*kernel), secondsSince(start)));
      });
  if (!entry)
    return entry.takeError();
  return std::static_pointer_cast<const CudaGraphKernel>((*entry)->kernel);
}

CudaGraphKernel::CudaGraphKernel(Graph graph, std::unique_ptr<JitKernel> kernel,
                                 double compileSeconds)
    : g(std::move(graph)), kernel(std::move(kernel)), seconds(compileSeconds) {}

CudaGraphKernel::~CudaGraphKernel() = default;

size_t CudaGraphKernel::codeBytes() const {
  return kernel ? kernel->codeBytes() : 0;
}

llvm::Expected<std::vector<DeviceTensor>>
CudaGraphKernel::run(llvm::ArrayRef<DeviceTensor> args,
                     Session &session) const {
  std::vector<DeviceTensor> outs;
  if (!kernel) {
    // An empty tensor somewhere: little or nothing to move, so the graph
    // runs on the host, its ops one by one.
    std::vector<Tensor> host;
    for (const DeviceTensor &t : args) {
      auto copy = t.toHost();
      if (!copy)
        return copy.takeError();
      host.push_back(std::move(*copy));
    }
    auto fn = compileGraph(session, g);
    if (!fn)
      return fn.takeError();
    auto results = (**fn)(host);
    if (!results)
      return results.takeError();
    for (const Tensor &t : *results) {
      auto copy = DeviceTensor::fromHost(t);
      if (!copy)
        return copy.takeError();
      outs.push_back(std::move(*copy));
    }
    return outs;
  }
  std::vector<void *> pointers;
  for (const DeviceTensor &t : args)
    pointers.push_back(t.data());
  for (int id : g.outputs) {
    auto out = DeviceTensor::empty(g.nodes[id].dtype, g.nodes[id].shape);
    if (!out)
      return out.takeError();
    pointers.push_back(out->data());
    outs.push_back(std::move(*out));
  }
  kernel->call(pointers);
  if (auto err = cuda::takeAbiError())
    return std::move(err);
  return outs;
}

llvm::Expected<std::shared_ptr<const CudaGraphKernel>>
einjit::compileCudaGraph(Session &session, const Graph &graph,
                         const GpuTarget &gpu) {
  return session.impl().rt.compileCudaGraph(graph, gpu);
}

llvm::Expected<std::shared_ptr<Runtime::Cached>> Runtime::buildWithoutPath(
    bool empty, llvm::StringRef what,
    llvm::function_ref<mlir::OwningOpRef<mlir::ModuleOp>(mlir::MLIRContext &)>
        buildModule,
    bool fuse, const TargetInfo &target, const std::string &key,
    const std::string &dir, DiskUse &disk, MakeEntry make) {
  if (auto err = target.checkRunsOnHost())
    return std::move(err);
  auto start = std::chrono::steady_clock::now();
  if (!dir.empty() && !empty) {
    DiskEntry entry;
    auto check = [&](const DiskEntry &entry) -> llvm::Error {
      if (!entry.steps.empty())
        return makeEinsumError("it holds a contraction path, not " + what);
      return llvm::Error::success();
    };
    if (auto kernel = loadFromDisk(key, dir, entry, check, disk))
      return make(std::move(kernel), entry.workspaceBytes, secondsSince(start),
                  /*fromDisk=*/true);
  }
  std::unique_ptr<JitKernel> kernel;
  int64_t workspace = 0;
  if (!empty) {
    PooledContext ctx;
    auto module = buildModule(*ctx);
    auto jit = jitModule(*module, target, key, dir, {}, workspace, disk, fuse);
    if (!jit)
      return jit.takeError();
    kernel = std::move(*jit);
  }
  return make(std::move(kernel), workspace, secondsSince(start),
              /*fromDisk=*/false);
}

llvm::Expected<std::shared_ptr<Runtime::Cached>>
Runtime::buildOp(const OpSignature &sig, const KernelLayouts &layouts,
                 const TargetInfo &target, const std::string &key,
                 const std::string &dir, DiskUse &disk) {
  // A loop of size 0: nothing to compute (an empty sum is filled with 0).
  auto build = [&](const KernelLayouts &used, const std::string &toDir) {
    return buildWithoutPath(
        llvm::is_contained(sig.loopShape, 0), "an op",
        [&](mlir::MLIRContext &ctx) { return buildOpModule(ctx, sig, used); },
        /*fuse=*/isSoftmax(sig.kind), target, key, toDir, disk,
        [&](std::unique_ptr<JitKernel> kernel, int64_t workspace,
            double seconds, bool fromDisk) {
          return cachedEntry(std::make_shared<const CompiledOp>(
              sig, std::move(kernel), workspace, seconds, fromDisk, used));
        });
  };
  auto entry = build(layouts, dir);
  if (entry || !hasNegativeStride(layouts))
    return entry;
  // See withoutNegativeStrides; not stored on disk under this key.
  llvm::consumeError(entry.takeError());
  return build(withoutNegativeStrides(layouts), "");
}

llvm::Expected<std::shared_ptr<Runtime::Cached>>
Runtime::buildGraph(const Graph &graph, Session &session,
                    const TargetInfo &target, const std::string &key,
                    const std::string &dir, DiskUse &disk) {
  // A graph with an empty tensor runs its nodes as eager ops.
  return buildWithoutPath(
      graph.hasEmptyTensor(), "a function",
      [&](mlir::MLIRContext &ctx) { return buildGraphModule(ctx, graph); },
      /*fuse=*/true, target, key, dir, disk,
      [&](std::unique_ptr<JitKernel> kernel, int64_t workspace, double seconds,
          bool fromDisk) {
        return cachedEntry(std::make_shared<const CompiledFunction>(
            graph, std::move(kernel), workspace, seconds, fromDisk, session));
      });
}

void Runtime::shrink() {
  size_t chances = lru.size();
  while (!lru.empty() &&
         (lru.size() > capacity || stats.codeBytes > codeCapacity)) {
    Cached &victim = *lru.back().second;
    if (chances > 0 && victim.used.exchange(false)) {
      --chances;
      lru.splice(lru.begin(), lru, std::prev(lru.end()));
      continue;
    }
    stats.codeBytes -= victim.codeBytes;
    cache.erase(lru.back().first);
    lru.pop_back();
    ++stats.evictions;
    ++epoch;
  }
  stats.entries = cache.size();
}

void Runtime::clear() {
  cache.clear();
  lru.clear();
  ++epoch;
  stats = {};
  fastHits = 0;
  traces.clear();
  recent.clear();
  splitCalls = 0;
  splitEntries.clear();
  batchedOps.clear();
  // Equations made dynamic by retraces start over; declared ones stay.
  for (auto it = dynamic.begin(); it != dynamic.end();)
    it = it->second.declared ? std::next(it) : dynamic.erase(it);
  stats.polymorphic = dynamic.size();
  anyDynamic = !dynamic.empty();
  // In-flight compiles keep their contexts until they give them back,
  // which then drops them.
  ContextPool::get().dropIdle();
#ifdef __GLIBC__
  // Kernels and IR are many small allocations; without this glibc keeps
  // their pages, and a clear would not lower the process's memory.
  malloc_trim(0);
#endif
}

llvm::Expected<std::string> Runtime::emit(const BoundEquation &eq, Stage stage,
                                          const PlanOptions &options,
                                          bool llvmIR) {
  auto path = planFor(eq, options);
  if (!path)
    return path.takeError();
  TargetInfo emitTarget;
  {
    std::lock_guard<std::mutex> lock(mutex);
    emitTarget = target;
  }
  PooledContext ctx;
  auto module = buildKernelModule(*ctx, eq, &*path);
  if (auto err = lowerKernelModule(*module, stage, emitTarget, parallelWork()))
    return std::move(err);
  if (llvmIR)
    return optimizedLLVMIR(*module, emitTarget);
  std::string text;
  llvm::raw_string_ostream os(text);
  module->print(os);
  return text;
}

static llvm::Expected<BoundEquation> bindOperands(llvm::StringRef equation,
                                                  llvm::ArrayRef<Tensor> ops) {
  std::vector<std::vector<int64_t>> shapes;
  std::vector<DType> types;
  for (const Tensor &t : ops) {
    if (!t.defined())
      return makeEinsumError("operand " + std::to_string(shapes.size()) +
                             " is an empty tensor handle");
    shapes.emplace_back(t.shape().begin(), t.shape().end());
    types.push_back(t.dtype());
  }
  return bindEquation(equation, shapes, types);
}

namespace {
/// The calling thread's most recent signatures, as spelled (equation text,
/// dtypes, shapes, plan options), each with a weak reference to its cache
/// entry: a repeated call finds its kernel here without parsing, binding,
/// building a key or taking the cache's lock. Direct-mapped by a hash of
/// the signature; a slot is trusted only in the epoch it was filled in (no
/// kernel has left the cache and the target is unchanged since).
class FastTable {
public:
  static constexpr size_t kSlots = 64;

  /// Hashes the call; the hash also picks the slot.
  static uint64_t hash(const Runtime *owner, llvm::StringRef equation,
                       llvm::ArrayRef<Tensor> ops, const PlanOptions &options) {
    uint64_t h = llvm::xxh3_64bits(equation);
    auto mix = [&](uint64_t v) { h = (h ^ v) * 0x9e3779b97f4a7c15ull; };
    mix((uint64_t)(uintptr_t)owner);
    mix((uint64_t)options.strategy);
    mix((uint64_t)options.memoryLimitBytes);
    for (const Tensor &t : ops) {
      mix((uint64_t)header(t));
      for (int64_t d : t.shape())
        mix((uint64_t)d);
      if (!t.isContiguous())
        for (int64_t s : t.strides())
          mix((uint64_t)s);
    }
    return h;
  }

  /// An operand's dtype, rank and whether its strides follow its dims (a
  /// view's kernel is compiled for its layout).
  static int64_t header(const Tensor &t) {
    return ((int64_t)t.dtype() << 8) | t.rank() |
           (t.isContiguous() ? 0 : int64_t(1) << 16);
  }

  std::shared_ptr<Runtime::Cached> find(const Runtime *owner, uint64_t h,
                                        uint64_t epoch,
                                        llvm::StringRef equation,
                                        llvm::ArrayRef<Tensor> ops,
                                        const PlanOptions &options) {
    Slot &slot = slots[h % kSlots];
    if (slot.hash != h || slot.owner != owner || slot.epoch != epoch ||
        !slot.matches(equation, ops, options))
      return nullptr;
    return slot.entry.lock();
  }

  void insert(const Runtime *owner, uint64_t h, uint64_t epoch,
              llvm::StringRef equation, llvm::ArrayRef<Tensor> ops,
              const PlanOptions &options,
              const std::shared_ptr<Runtime::Cached> &entry) {
    Slot &slot = slots[h % kSlots];
    slot.hash = h;
    slot.owner = owner;
    slot.epoch = epoch;
    slot.equation.assign(equation.begin(), equation.end());
    slot.strategy = options.strategy;
    slot.memoryLimit = options.memoryLimitBytes;
    slot.operands.clear();
    for (const Tensor &t : ops) {
      slot.operands.push_back(header(t));
      slot.operands.append(t.shape().begin(), t.shape().end());
      if (!t.isContiguous())
        slot.operands.append(t.strides().begin(), t.strides().end());
    }
    slot.entry = entry;
  }

private:
  struct Slot {
    bool matches(llvm::StringRef eq, llvm::ArrayRef<Tensor> ops,
                 const PlanOptions &options) const {
      if (eq != llvm::StringRef(equation) || options.strategy != strategy ||
          options.memoryLimitBytes != memoryLimit)
        return false;
      size_t at = 0;
      for (const Tensor &t : ops) {
        llvm::ArrayRef<int64_t> shape = t.shape();
        bool strided = !t.isContiguous();
        size_t size = 1 + shape.size() * (strided ? 2 : 1);
        if (at + size > operands.size() || operands[at] != header(t))
          return false;
        llvm::ArrayRef<int64_t> stored =
            llvm::ArrayRef<int64_t>(operands).slice(at + 1, size - 1);
        if (stored.take_front(shape.size()) != shape ||
            (strided && stored.drop_front(shape.size()) != t.strides()))
          return false;
        at += size;
      }
      return at == operands.size();
    }

    uint64_t hash = 0;
    /// The session's state: sessions share a thread's table. A slot of a
    /// destroyed session is never used, since its entries are gone.
    const Runtime *owner = nullptr;
    uint64_t epoch = ~uint64_t(0);
    std::string equation;
    PathStrategy strategy = PathStrategy::Auto;
    int64_t memoryLimit = 0;
    /// Per operand: its header, the dims, and the strides of a view.
    llvm::SmallVector<int64_t, 12> operands;
    std::weak_ptr<Runtime::Cached> entry;
  };
  Slot slots[kSlots];
};
} // namespace

/// The calling thread's fast table.
static FastTable &fastTable() {
  thread_local FastTable table;
  return table;
}

/// The cache entry of a call spelled `tag` on `operands` from the calling
/// thread's fast table, or from `slow` (which compiles on a miss), then
/// remembered in the table.
static llvm::Expected<std::shared_ptr<Runtime::Cached>> lookup(
    Runtime &rt, llvm::StringRef tag, llvm::ArrayRef<Tensor> operands,
    const PlanOptions &options,
    llvm::function_ref<llvm::Error(std::shared_ptr<Runtime::Cached> &)> slow) {
  FastTable &table = fastTable();
  uint64_t h = FastTable::hash(&rt, tag, operands, options);
  uint64_t epoch = rt.epoch.load(std::memory_order_acquire);
  if (auto entry = table.find(&rt, h, epoch, tag, operands, options)) {
    entry->used.store(true, std::memory_order_relaxed);
    rt.fastHits.fetch_add(1, std::memory_order_relaxed);
    return entry;
  }
  std::shared_ptr<Runtime::Cached> entry;
  if (auto err = slow(entry))
    return std::move(err);
  table.insert(&rt, h, epoch, tag, operands, options, entry);
  return entry;
}

llvm::Expected<std::shared_ptr<const CompiledEinsum>>
Session::compileEinsum(llvm::StringRef equation,
                       llvm::ArrayRef<Tensor> operands,
                       const PlanOptions &options) {
  Runtime &rt = state->rt;
  auto entry =
      lookup(rt, equation, operands, options,
             [&](std::shared_ptr<Runtime::Cached> &entry) {
               auto bound = bindOperands(equation, operands);
               if (!bound)
                 return bound.takeError();
               auto kernel = rt.compile(std::move(*bound), options,
                                        kernelLayouts(operands), &entry);
               return kernel ? llvm::Error::success() : kernel.takeError();
             });
  if (!entry)
    return entry.takeError();
  if ((*entry)->split) { // the fast table's plan for einsum(): compile exactly
    auto bound = bindOperands(equation, operands);
    if (!bound)
      return bound.takeError();
    return rt.compile(std::move(*bound), options, kernelLayouts(operands));
  }
  return std::static_pointer_cast<const CompiledEinsum>((*entry)->kernel);
}

/// The fast table's tag of an op call: a byte no equation holds (so no
/// einsum's tag can equal it), the op, its axes, keepDims and scalar.
static llvm::SmallString<64> opTag(char first, OpKind kind,
                                   llvm::ArrayRef<int64_t> axes, bool keepDims,
                                   double scalar) {
  llvm::SmallString<64> tag;
  tag.push_back(first);
  tag += opName(kind);
  for (int64_t axis : axes)
    tag.append(llvm::StringRef((const char *)&axis, sizeof(axis)));
  tag.push_back(keepDims ? 'k' : '-');
  tag.append(llvm::StringRef((const char *)&scalar, sizeof(scalar)));
  return tag;
}

/// The signature of an op call, checked.
static llvm::Expected<OpSignature> bindOpCall(OpKind kind,
                                              llvm::ArrayRef<Tensor> operands,
                                              llvm::ArrayRef<int64_t> axes,
                                              bool keepDims, double scalar) {
  std::vector<std::vector<int64_t>> shapes;
  std::vector<DType> types;
  for (const Tensor &t : operands) {
    if (!t.defined())
      return makeEinsumError("operand " + std::to_string(shapes.size()) +
                             " of " + opName(kind) +
                             " is an empty tensor handle");
    shapes.emplace_back(t.shape().begin(), t.shape().end());
    types.push_back(t.dtype());
  }
  return bindOp(kind, shapes, types, axes, keepDims, scalar);
}

/// Runs an op on `operands` into `into` on the kernel of their shapes,
/// compiled on a miss without counting a retrace: a piece of a
/// shape-polymorphic call, or the sum of two of its pieces. Such kernels
/// have fast-table slots of their own.
static llvm::Error runOpPiece(Runtime &rt, OpKind kind,
                              llvm::ArrayRef<Tensor> operands,
                              llvm::ArrayRef<int64_t> axes, bool keepDims,
                              double scalar, Tensor &into) {
  auto entry =
      lookup(rt, opTag('\x04', kind, axes, keepDims, scalar), operands, {},
             [&](std::shared_ptr<Runtime::Cached> &entry) -> llvm::Error {
               auto sig = bindOpCall(kind, operands, axes, keepDims, scalar);
               if (!sig)
                 return sig.takeError();
               auto kernel = rt.compileOp(*sig, {}, &entry, /*traced=*/false);
               return kernel ? llvm::Error::success() : kernel.takeError();
             });
  if (!entry)
    return entry.takeError();
  return std::static_pointer_cast<const CompiledOp>((*entry)->kernel)
      ->run(operands, into);
}

/// The cache entry of an op call: its kernel, or, with `allowSplit` and an
/// op made shape-polymorphic, its split entry.
static llvm::Expected<std::shared_ptr<Runtime::Cached>>
lookupOp(Runtime &rt, OpKind kind, llvm::ArrayRef<Tensor> operands,
         llvm::ArrayRef<int64_t> axes, bool keepDims, double scalar,
         bool allowSplit) {
  auto compile = [&](std::shared_ptr<Runtime::Cached> &entry) -> llvm::Error {
    auto sig = bindOpCall(kind, operands, axes, keepDims, scalar);
    if (!sig)
      return sig.takeError();
    KernelLayouts layouts = kernelLayouts(operands);
    if (allowSplit && allContiguous(layouts))
      if ((entry = rt.opSplitEntry(*sig)))
        return llvm::Error::success();
    auto kernel = rt.compileOp(*sig, layouts, &entry);
    return kernel ? llvm::Error::success() : kernel.takeError();
  };
  auto entry = lookup(rt, opTag('\x01', kind, axes, keepDims, scalar), operands,
                      {}, compile);
  if (entry && (*entry)->split && !allowSplit) {
    std::shared_ptr<Runtime::Cached> exact; // compileOp's: the kernel
    if (auto err = compile(exact))
      return std::move(err);
    return exact;
  }
  return entry;
}

llvm::Expected<std::shared_ptr<const CompiledOp>>
Session::compileOp(OpKind kind, llvm::ArrayRef<Tensor> operands,
                   llvm::ArrayRef<int64_t> axes, bool keepDims, double scalar) {
  auto entry = lookupOp(state->rt, kind, operands, axes, keepDims, scalar,
                        /*allowSplit=*/false);
  if (!entry)
    return entry.takeError();
  return std::static_pointer_cast<const CompiledOp>((*entry)->kernel);
}

llvm::Expected<Tensor> einjit::runEagerOp(Session &session, OpKind kind,
                                          llvm::ArrayRef<Tensor> operands,
                                          llvm::ArrayRef<int64_t> axes,
                                          bool keepDims, double scalar) {
  Runtime &rt = session.impl().rt;
  auto entry = lookupOp(rt, kind, operands, axes, keepDims, scalar,
                        /*allowSplit=*/true);
  if (!entry)
    return entry.takeError();
  if (!(*entry)->split)
    return (*std::static_pointer_cast<const CompiledOp>((*entry)->kernel))(
        operands);
  // Pieces along dim 0, each on the kernel of its shapes (own fast-table
  // slots, never retraces).
  auto plan =
      std::static_pointer_cast<const Runtime::SplitPlan>((*entry)->kernel);
  auto out = Tensor::empty(plan->op->resultType, plan->op->outputShape);
  if (!out)
    return out.takeError();
  auto runPiece = [&](llvm::ArrayRef<Tensor> pieces,
                      Tensor &into) -> llvm::Error {
    return runOpPiece(rt, kind, pieces, axes, keepDims, scalar, into);
  };
  auto addInto = [](Tensor &, const Tensor &) -> llvm::Error {
    return makeEinsumError("an op's batch is never summed");
  };
  auto pieces = detail::runSplit(plan->eq, plan->labels, operands, *out,
                                 runPiece, addInto);
  if (!pieces)
    return pieces.takeError();
  rt.splitCalls.fetch_add(1, std::memory_order_relaxed);
  return out;
}

llvm::Expected<std::shared_ptr<const CompiledFunction>>
einjit::compileGraph(Session &session, const Graph &graph) {
  return session.impl().rt.compileGraph(graph, session);
}

llvm::Expected<std::string> einjit::emitGraph(Session &session,
                                              const Graph &graph, Stage stage) {
  TargetInfo target = session.target();
  PooledContext ctx;
  auto module = buildGraphModule(*ctx, graph);
  if (auto err = lowerKernelModule(*module, stage, target, parallelWork(),
                                   /*fuseElementwise=*/true))
    return std::move(err);
  std::string text;
  llvm::raw_string_ostream os(text);
  module->print(os);
  return text;
}

llvm::Expected<ContractionPath>
einjit::planEinsumPath(const BoundEquation &eq, const PlanOptions &options) {
  return planFor(eq, options);
}

size_t einjit::reduceRetracingOf(Session &session) {
  Runtime &rt = session.impl().rt;
  std::lock_guard<std::mutex> lock(rt.mutex);
  return rt.reduceRetracing;
}

void einjit::recordRetrace(Session &session, const Retrace &event) {
  session.impl().rt.recordRetrace(event);
}

/// The einsum of an equation whose output repeats a label (`i->ii`):
/// the equation with each output label once, laid on the diagonal of a
/// zero tensor. nullopt when the output repeats no label.
static std::optional<llvm::Expected<Tensor>>
einsumWithRepeatedOutput(Session &session, llvm::StringRef equation,
                         llvm::ArrayRef<Tensor> operands,
                         const PlanOptions &options) {
  auto eq = Equation::parse(equation, {/*repeatedOutputLabels=*/true});
  if (!eq) {
    llvm::consumeError(eq.takeError());
    return std::nullopt;
  }
  if (!eq->output)
    return std::nullopt;
  std::string full = eq->output->labels, unique;
  for (char c : full)
    if (unique.find(c) == std::string::npos)
      unique += c;
  if (unique.size() == full.size())
    return std::nullopt;
  Term &out = *eq->output;
  out.labels = unique;
  out.columns.resize(unique.size());
  int ellipsis = out.ellipsis;
  if (ellipsis >= 0) // letters before the ellipsis stay before it
    out.ellipsis = llvm::count_if(
        unique, [&](char c) { return (int)full.find(c) < ellipsis; });
  llvm::Expected<Tensor> reduced = Tensor();
  {
    detail::PauseRecording pause; // the caller records the whole einsum
    reduced = session.einsum(eq->str(), operands, options);
  }
  if (!reduced)
    return reduced.takeError();
  // Dims of the reduced result: the unique letters, with the ellipsis'
  // dims at out.ellipsis. `source` maps each dim of the full output to one.
  int ellipsisRank = reduced->rank() - (int)unique.size();
  auto letterDim = [&](int u) {
    return u + (out.ellipsis >= 0 && u >= out.ellipsis ? ellipsisRank : 0);
  };
  std::vector<int64_t> shape;
  std::vector<int> source;
  for (int j = 0, e = full.size(); j <= e; ++j) {
    if (j == ellipsis)
      for (int k = 0; k < ellipsisRank; ++k)
        source.push_back(out.ellipsis + k);
    if (j < e)
      source.push_back(letterDim(unique.find(full[j])));
  }
  for (int src : source)
    shape.push_back(reduced->shape()[src]);
  auto result = Tensor::allocate(reduced->dtype(), shape);
  if (!result)
    return result.takeError();
  std::vector<int64_t> fullStrides = Tensor::rowMajorStrides(shape);
  std::vector<int64_t> diagonalStrides(reduced->rank(), 0);
  for (auto [d, src] : llvm::enumerate(source))
    diagonalStrides[src] += fullStrides[d];
  auto diagonal = Tensor::borrow(result->data(), result->dtype(),
                                 reduced->shape(), diagonalStrides);
  if (!diagonal)
    return diagonal.takeError();
  diagonal->copyFrom(*reduced);
  return result;
}

/// Runs `eq` shape-polymorphically: as pieces along `labels`, each run by
/// the kernel of its shapes (compiled once, never counted as a retrace).
static llvm::Expected<Tensor> runPolymorphic(Session &session,
                                             const BoundEquation &eq,
                                             llvm::ArrayRef<int> labels,
                                             llvm::ArrayRef<Tensor> operands,
                                             const PlanOptions &options) {
  Runtime &rt = session.impl().rt;
  auto out = Tensor::allocate(eq.resultType, eq.outputShape());
  if (!out)
    return out.takeError();
  // Pieces have fast-table slots of their own (a tag no call spells): a
  // call's slot of the same shapes holds its split entry.
  llvm::SmallString<64> pieceTag("\x03");
  pieceTag += eq.text;
  auto runPiece = [&](llvm::ArrayRef<Tensor> pieces,
                      Tensor &into) -> llvm::Error {
    auto entry =
        lookup(rt, pieceTag, pieces, options,
               [&](std::shared_ptr<Runtime::Cached> &entry) -> llvm::Error {
                 auto bound = bindOperands(eq.text, pieces);
                 if (!bound)
                   return bound.takeError();
                 auto kernel = rt.compile(std::move(*bound), options, {},
                                          &entry, /*traced=*/false);
                 return kernel ? llvm::Error::success() : kernel.takeError();
               });
    if (!entry)
      return entry.takeError();
    return std::static_pointer_cast<const CompiledEinsum>((*entry)->kernel)
        ->run(pieces, into);
  };
  auto addInto = [&](Tensor &into, const Tensor &addend) -> llvm::Error {
    // Elementwise, one layout: each element is read before it is written.
    return runOpPiece(rt, OpKind::Add, {into, addend}, {}, false, 0, into);
  };
  auto pieces = detail::runSplit(eq, labels, operands, *out, runPiece, addInto);
  if (!pieces)
    return pieces.takeError();
  rt.splitCalls.fetch_add(1, std::memory_order_relaxed);
  return out;
}

llvm::Expected<Tensor> Session::einsum(llvm::StringRef equation,
                                       llvm::ArrayRef<Tensor> operands,
                                       const PlanOptions &options) {
  Runtime &rt = state->rt;
  // A shape-polymorphic equation's calls find a split entry (a SplitPlan)
  // instead of a kernel, in the fast table after the first.
  auto entry = lookup(
      rt, equation, operands, options,
      [&](std::shared_ptr<Runtime::Cached> &entry) -> llvm::Error {
        auto bound = bindOperands(equation, operands);
        if (!bound)
          return bound.takeError();
        KernelLayouts layouts = kernelLayouts(operands);
        std::vector<int> labels;
        if (allContiguous(layouts))
          labels = rt.dynamicLabels(*bound, options);
        if (!labels.empty()) {
          entry = rt.splitEntry(std::move(*bound), options, std::move(labels));
          return llvm::Error::success();
        }
        auto kernel = rt.compile(std::move(*bound), options, layouts, &entry);
        return kernel ? llvm::Error::success() : kernel.takeError();
      });
  std::shared_ptr<const Runtime::SplitPlan> split;
  llvm::Expected<std::shared_ptr<const CompiledEinsum>> compiled = nullptr;
  if (!entry)
    compiled = entry.takeError();
  else if ((*entry)->split)
    split =
        std::static_pointer_cast<const Runtime::SplitPlan>((*entry)->kernel);
  else
    compiled = std::static_pointer_cast<const CompiledEinsum>((*entry)->kernel);
  if (!compiled) {
    // einjit's extension: an output may repeat a label. Checked only when
    // NumPy's rules reject the equation, off the path of a cache hit.
    auto repeated =
        einsumWithRepeatedOutput(*this, equation, operands, options);
    if (!repeated)
      return compiled.takeError();
    llvm::consumeError(compiled.takeError());
    if (*repeated && detail::recording())
      detail::record({detail::TapeRecord::Kind::Einsum, operands, **repeated,
                      equation.str()});
    return std::move(*repeated);
  }
  llvm::Expected<Tensor> result =
      split ? runPolymorphic(*this, split->eq, split->labels, operands, options)
            : (**compiled)(operands);
  if (result && detail::recording())
    detail::record(
        {detail::TapeRecord::Kind::Einsum, operands, *result, equation.str()});
  return result;
}

llvm::Expected<std::string> einjit::emitEinsum(llvm::StringRef equation,
                                               llvm::ArrayRef<Tensor> operands,
                                               Stage stage,
                                               const PlanOptions &options) {
  auto bound = bindOperands(equation, operands);
  if (!bound)
    return bound.takeError();
  return Runtime::get().emit(*bound, stage, options);
}

llvm::Expected<std::string> einjit::emitPTX(llvm::StringRef equation,
                                            llvm::ArrayRef<Tensor> operands,
                                            const GpuTarget &target,
                                            const PlanOptions &options) {
  auto bound = bindOperands(equation, operands);
  if (!bound)
    return bound.takeError();
  auto path = planFor(*bound, options);
  if (!path)
    return path.takeError();
  PooledContext ctx;
  auto module = buildKernelModule(*ctx, *bound, &*path);
  return compileToPTX(*module, target);
}

llvm::Expected<std::string>
einjit::emitCudaLLVMIR(llvm::StringRef equation,
                       llvm::ArrayRef<Tensor> operands, const GpuTarget &gpu,
                       const PlanOptions &options) {
  auto bound = bindOperands(equation, operands);
  if (!bound)
    return bound.takeError();
  auto path = planFor(*bound, options);
  if (!path)
    return path.takeError();
  Runtime &rt = Runtime::get();
  TargetInfo target;
  {
    std::lock_guard<std::mutex> lock(rt.mutex);
    target = rt.target;
  }
  PooledContext ctx;
  auto module = buildKernelModule(*ctx, *bound, &*path);
  if (auto err = lowerToGpu(*module, gpu))
    return std::move(err);
  return optimizedLLVMIR(*module, target);
}

llvm::Expected<GpuTarget> einjit::cudaTarget() {
  auto device = cudaDevice();
  if (!device)
    return device.takeError();
  GpuTarget gpu;
  gpu.chip = device->chip;
  gpu.features = device->features;
  if (const char *emulate = std::getenv("EINJIT_GPU_EMULATE");
      emulate && llvm::StringRef(emulate) == "1") {
    // Tests without a GPU: the kernels, compiled for the host CPU, run on
    // the fake driver's host memory (GpuEmulator.h).
    if (!device->hostMemory)
      return makeEinsumError(
          "EINJIT_GPU_EMULATE=1 runs GPU kernels on the host CPU, which "
          "needs a driver whose device memory is host memory "
          "(test/fake-cuda); this one's is not");
    gpu.format = "host";
  }
  return gpu;
}

llvm::Expected<DeviceTensor>
einjit::einsum(llvm::StringRef equation, llvm::ArrayRef<DeviceTensor> operands,
               const PlanOptions &options) {
  std::vector<std::vector<int64_t>> shapes;
  std::vector<DType> types;
  for (const DeviceTensor &t : operands) {
    shapes.emplace_back(t.shape().begin(), t.shape().end());
    types.push_back(t.dtype());
  }
  auto bound = bindEquation(equation, shapes, types);
  if (!bound)
    return bound.takeError();
  auto gpu = cudaTarget();
  if (!gpu)
    return gpu.takeError();
  std::vector<int64_t> shape = bound->outputShape();
  if (llvm::is_contained(bound->labelSizes, 0)) {
    // Nothing to launch: an empty result, or sums over nothing.
    auto zeros = Tensor::full(bound->resultType, shape, 0);
    if (!zeros)
      return zeros.takeError();
    auto out = DeviceTensor::fromHost(*zeros);
    if (out)
      detail::recordDeviceOp(OpKind::Add, equation, operands, *out, {}, false,
                             0);
    return out;
  }
  auto kernel = Runtime::get().compileCuda(*bound, options, *gpu);
  if (!kernel)
    return kernel.takeError();
  auto out = DeviceTensor::empty(bound->resultType, shape);
  if (!out)
    return out.takeError();
  std::vector<void *> pointers;
  for (const DeviceTensor &t : operands)
    pointers.push_back(t.data());
  pointers.push_back(out->data());
  (*kernel)->kernel->call(pointers);
  if (auto err = cuda::takeAbiError())
    return std::move(err);
  detail::recordDeviceOp(OpKind::Add, equation, operands, *out, {}, false, 0);
  return out;
}

llvm::Expected<std::string>
einjit::emitLLVMIR(llvm::StringRef equation, llvm::ArrayRef<Tensor> operands) {
  auto bound = bindOperands(equation, operands);
  if (!bound)
    return bound.takeError();
  return Runtime::get().emit(*bound, Stage::LLVM, {}, /*llvmIR=*/true);
}

Session::Session() : state(std::make_unique<Impl>()) {}
Session::~Session() = default;

Session &Session::global() {
  // Never destroyed: kernels must not be torn down after LLVM's statics.
  static Session *session = new Session();
  return *session;
}

std::vector<Retrace> Session::recentRetraces() const {
  Runtime &rt = state->rt;
  std::lock_guard<std::mutex> lock(rt.mutex);
  return rt.recentRetraces();
}

CacheStats Session::stats() const {
  Runtime &rt = state->rt;
  std::lock_guard<std::mutex> lock(rt.mutex);
  CacheStats stats = rt.stats;
  stats.hits += rt.fastHits.load(std::memory_order_relaxed);
  stats.splitCalls = rt.splitCalls.load(std::memory_order_relaxed);
  return stats;
}

llvm::Error
Session::setInputSignature(llvm::StringRef equation,
                           llvm::ArrayRef<std::vector<int64_t>> shapes,
                           const PlanOptions &options) {
  // Bound with 2 for each dynamic dim (not 1, which would broadcast).
  std::vector<std::vector<int64_t>> concrete(shapes.begin(), shapes.end());
  for (auto &shape : concrete)
    for (int64_t &dim : shape) {
      if (dim < 0 && dim != kDynamic)
        return makeEinsumError("input signature of '" + equation +
                               "': a dim is " + std::to_string(dim) +
                               "; give a size, or kDynamic (-1)");
      if (dim == kDynamic)
        dim = 2;
    }
  // A letter dynamic in one operand must be dynamic (or broadcast) in all.
  auto parsed = Equation::parse(equation);
  if (!parsed)
    return parsed.takeError();
  std::map<char, std::pair<size_t, size_t>> dynamicAt;
  for (int pass = 0; pass < 2; ++pass)
    for (auto [i, term] : llvm::enumerate(parsed->inputs)) {
      if (i >= shapes.size())
        break;
      int extra = (int)shapes[i].size() - (int)term.labels.size();
      for (auto [k, c] : llvm::enumerate(term.labels)) {
        int d = (int)k + (term.hasEllipsis() && (int)k >= term.ellipsis
                              ? std::max(extra, 0)
                              : 0);
        if (d >= (int)shapes[i].size())
          continue;
        int64_t dim = shapes[i][d];
        if (pass == 0 && dim == kDynamic)
          dynamicAt.try_emplace(c, i, d);
        auto it = dynamicAt.find(c);
        if (pass == 1 && dim != kDynamic && dim != 1 && it != dynamicAt.end())
          return makeEinsumError(llvm::formatv(
              "input signature of '{0}': label '{1}' is dynamic in dim {2} "
              "of operand {3} but {4} in dim {5} of operand {6}",
              equation, c, it->second.second, it->second.first, dim, d, i));
      }
    }
  // Dtypes do not change how an equation splits, but 16-bit floats can
  // forbid it (checkSplittable); f32 stands for the others.
  auto bound = bindEquation(*parsed, concrete,
                            std::vector<DType>(shapes.size(), DType::F32));
  if (!bound)
    return bound.takeError();
  std::vector<int> labels;
  for (auto [i, shape] : llvm::enumerate(shapes))
    for (auto [d, dim] : llvm::enumerate(shape))
      if (dim == kDynamic && !llvm::is_contained(labels, bound->inputs[i][d]))
        labels.push_back(bound->inputs[i][d]);
  if (labels.empty())
    return makeEinsumError("input signature of '" + equation +
                           "' has no dynamic dim (kDynamic, -1)");
  if (auto err = detail::checkSplittable(*bound, labels))
    return makeEinsumError("input signature of '" + equation +
                           "': " + llvm::toString(std::move(err)));
  Runtime &rt = state->rt;
  std::lock_guard<std::mutex> lock(rt.mutex);
  rt.makeDynamic(*bound, options, labels, "input signature",
                 /*declared=*/true);
  return llvm::Error::success();
}

void Session::setReduceRetracing(size_t retraces) {
  Runtime &rt = state->rt;
  std::lock_guard<std::mutex> lock(rt.mutex);
  rt.reduceRetracing = retraces;
}

std::vector<PolymorphicEquation> Session::polymorphicEquations() const {
  Runtime &rt = state->rt;
  std::lock_guard<std::mutex> lock(rt.mutex);
  return rt.polymorphicEquations();
}

void Session::setTarget(const TargetInfo &target) {
  Runtime &rt = state->rt;
  std::lock_guard<std::mutex> lock(rt.mutex);
  rt.target = target;
  ++rt.epoch;
}

TargetInfo Session::target() const {
  Runtime &rt = state->rt;
  std::lock_guard<std::mutex> lock(rt.mutex);
  return rt.target;
}

void Session::setCacheCapacity(size_t kernels, size_t codeBytes) {
  Runtime &rt = state->rt;
  std::lock_guard<std::mutex> lock(rt.mutex);
  rt.capacity = kernels;
  rt.codeCapacity = codeBytes;
  rt.shrink();
}

void Session::setCacheDir(llvm::StringRef dir) {
  Runtime &rt = state->rt;
  std::lock_guard<std::mutex> lock(rt.mutex);
  rt.diskDir = dir.str();
}

std::string Session::cacheDir() const {
  Runtime &rt = state->rt;
  std::lock_guard<std::mutex> lock(rt.mutex);
  return rt.diskDir;
}

void Session::clear() {
  Runtime &rt = state->rt;
  std::lock_guard<std::mutex> lock(rt.mutex);
  rt.clear();
}

// The simple API: the global session.

llvm::Expected<std::shared_ptr<const CompiledEinsum>>
einjit::compileEinsum(llvm::StringRef equation, llvm::ArrayRef<Tensor> operands,
                      const PlanOptions &options) {
  return Session::global().compileEinsum(equation, operands, options);
}

llvm::Expected<Tensor> einjit::einsum(llvm::StringRef equation,
                                      llvm::ArrayRef<Tensor> operands,
                                      const PlanOptions &options) {
  return Session::global().einsum(equation, operands, options);
}

llvm::Expected<std::shared_ptr<const CompiledOp>>
einjit::compileOp(OpKind kind, llvm::ArrayRef<Tensor> operands,
                  llvm::ArrayRef<int64_t> axes, bool keepDims, double scalar) {
  return Session::global().compileOp(kind, operands, axes, keepDims, scalar);
}

std::vector<Retrace> einjit::recentRetraces() {
  return Session::global().recentRetraces();
}
CacheStats einjit::cacheStats() { return Session::global().stats(); }
void einjit::setTarget(const TargetInfo &target) {
  Session::global().setTarget(target);
}
TargetInfo einjit::currentTarget() { return Session::global().target(); }
void einjit::setCacheCapacity(size_t kernels, size_t codeBytes) {
  Session::global().setCacheCapacity(kernels, codeBytes);
}
llvm::StringRef einjit::compilerHash() { return kCompilerHash; }
void einjit::setCacheDir(llvm::StringRef dir) {
  Session::global().setCacheDir(dir);
}
std::string einjit::cacheDir() { return Session::global().cacheDir(); }
llvm::Error
einjit::setInputSignature(llvm::StringRef equation,
                          llvm::ArrayRef<std::vector<int64_t>> shapes,
                          const PlanOptions &options) {
  return Session::global().setInputSignature(equation, shapes, options);
}
void einjit::setReduceRetracing(size_t retraces) {
  Session::global().setReduceRetracing(retraces);
}
std::vector<PolymorphicEquation> einjit::polymorphicEquations() {
  return Session::global().polymorphicEquations();
}
void einjit::clearCache() { Session::global().clear(); }
