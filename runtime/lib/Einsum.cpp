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
#include "DiskCache.h"
#include "JitKernel.h"
#include "einjit/Compiler/Compiler.h"

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
                               bool fromDisk)
    : eq(std::move(eq)), plan(std::move(path)), kernel(std::move(kernel)),
      workspace(workspaceBytes), seconds(compileSeconds), fromDisk(fromDisk),
      outShape(this->eq.outputShape()) {}

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
    size_t rounded = ((size_t)bytes + 63) / 64 * 64;
    ptr = std::aligned_alloc(64, rounded);
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
  // Contiguous operands are passed as they are; others are copied.
  llvm::SmallVector<Tensor, 0> copies;
  llvm::SmallVector<void *, 8> pointers;
  for (const Tensor &t : operands) {
    if (t.isContiguous()) {
      pointers.push_back(t.data());
      continue;
    }
    auto c = t.contiguous();
    if (!c)
      return c.takeError();
    copies.push_back(std::move(*c));
    pointers.push_back(copies.back().data());
  }
  pointers.push_back(out.data());
  Workspace &scratch = threadWorkspace();
  auto memory = scratch.get(workspace, eq.text);
  if (!memory)
    return memory.takeError();
  pointers.push_back(*memory);
  kernel->call(pointers);
  scratch.release();
  return llvm::Error::success();
}

llvm::Expected<Tensor>
CompiledEinsum::operator()(llvm::ArrayRef<Tensor> operands) const {
  auto out = Tensor::allocate(eq.resultType, outShape);
  if (!out)
    return out.takeError();
  if (auto err = run(operands, *out))
    return std::move(err);
  return out;
}

namespace {
/// The process-wide compiler state and kernel cache.
class Runtime {
public:
  /// Never destroyed: JIT engines must not be torn down after LLVM's own
  /// statics at exit.
  static Runtime &get() {
    static Runtime *runtime = new Runtime();
    return *runtime;
  }

  /// A cached kernel. Calls served by the per-thread fast table (fastLookup)
  /// do not reorder the LRU list; they set `used`, and an entry about to be
  /// evicted that was used since it last moved gets a second chance (the
  /// CLOCK approximation of LRU).
  struct Cached {
    explicit Cached(std::shared_ptr<const CompiledEinsum> kernel)
        : kernel(std::move(kernel)) {}
    std::shared_ptr<const CompiledEinsum> kernel;
    std::atomic<bool> used{false};
  };

  /// The kernel of `eq`, compiled on a miss; with `cached`, also its cache
  /// entry (null when it is not kept).
  llvm::Expected<std::shared_ptr<const CompiledEinsum>>
  compile(BoundEquation eq, const PlanOptions &options,
          std::shared_ptr<Cached> *cached = nullptr);
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

  /// What a build did with the disk cache.
  struct DiskUse {
    bool loaded = false, written = false, rejected = false, failed = false;
  };

private:
  Runtime() {
    initializeNativeJit();
    if (const char *dir = std::getenv("EINJIT_CACHE_DIR"))
      diskDir = dir;
  }

  /// An MLIR context that one compile or emit at a time uses: concurrent
  /// compiles each take their own from a pool, so no IR is shared between
  /// threads. A context is dropped after kContextCompiles compiles, so that
  /// its interned types and attributes (shapes, maps, equation strings),
  /// which grow with every new signature, stay bounded.
  struct CompileContext {
    std::unique_ptr<mlir::MLIRContext> mlir;
    size_t compiles = 0;
    /// `generation` when it was made; clear() drops older ones.
    size_t generation = 0;
  };
  /// An idle context from the pool, or a new one.
  std::unique_ptr<CompileContext> takeContext();
  /// Returns `ctx` to the pool, unless it is due for renewal or older than
  /// the last clear().
  void returnContext(std::unique_ptr<CompileContext> ctx);

  /// Plans, lowers and JIT-compiles `eq` for `target` in a context of its
  /// own from the pool.
  /// Compiles `eq` (or loads it from the disk cache in `dir`, when given,
  /// and stores it there after a compile).
  llvm::Expected<std::shared_ptr<const CompiledEinsum>>
  build(BoundEquation eq, const PlanOptions &options, const TargetInfo &target,
        const std::string &key, const std::string &dir, DiskUse &disk);

  /// A signature being compiled: callers of the same signature wait for it
  /// (on `mutex`'s condition) instead of compiling it again.
  struct Pending {
    std::condition_variable done;
    bool finished = false;
    std::shared_ptr<const CompiledEinsum> kernel;
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
  /// Records a compile of `eq`, an equation keyed `traced`: a retrace when
  /// it was compiled before for other operands. Called with `mutex` held.
  void noteTrace(const std::string &traced, const BoundEquation &eq);
  /// Per equation (without operands): the operands of its last compile
  /// and its retraces.
  struct Trace {
    BoundEquation last;
    size_t retraces = 0;
  };
  std::unordered_map<std::string, Trace> traces;
  std::deque<Retrace> recent;

public:
  std::vector<Retrace> recentRetraces() const {
    return {recent.begin(), recent.end()};
  }

private:
  /// Idle contexts (guarded by `mutex`).
  std::vector<std::unique_ptr<CompileContext>> idleContexts;
  size_t generation = 0;
  static constexpr size_t kContextCompiles = 256;
  static constexpr size_t kRecentRetraces = 64;
  static constexpr size_t kTracedEquations = 4096;
};
} // namespace

/// Work from which kernels use threads; 0 where libomp is missing.
static int64_t parallelWork() {
  return kThreadedKernels ? kDefaultParallelWork : 0;
}

/// The signature a kernel is specialized to, the target it is for and how
/// its path was planned. The equation is canonical: labels are numbered in
/// order of first appearance after binding (ellipses expanded, implicit
/// outputs made explicit), so `ij,jk->ik`, `ab,bc->ac` and `ij,jk` share a
/// kernel.
static std::string equationKey(const BoundEquation &eq,
                               const TargetInfo &target,
                               const PlanOptions &options) {
  // Tiles follow the caches and the register file as well as the CPU; the
  // compiler's hash keeps another build's kernels (on disk) apart.
  std::string key = llvm::formatv(
      "einjit {0}|{1}|{2}|{3}.{4}.{5}.{6}.{7}|"
      "{8}|{9}|{10}|",
      kCompilerHash, target.cpu, target.features, target.vectorBits,
      target.vectorRegisters, target.l1Bytes, target.l2Bytes, target.l3Bytes,
      pathStrategyName(options.strategy), options.memoryLimitBytes,
      parallelWork());
  llvm::DenseMap<int, int> canonical;
  auto label = [&](int id) {
    auto [it, inserted] = canonical.try_emplace(id, canonical.size());
    key += std::to_string(it->second) + ".";
  };
  for (const std::vector<int> &input : eq.inputs) {
    for (int id : input)
      label(id);
    key += ",";
  }
  key += ">";
  for (int id : eq.output)
    label(id);
  return key;
}

/// The operands' dtypes and shapes, the rest of the key.
static std::string operandKey(const BoundEquation &eq) {
  std::string key;
  for (auto [shape, type] : llvm::zip(eq.inputShapes, eq.inputTypes))
    key += "|" + dtypeName(type).str() + shapeString(shape);
  return key;
}

/// What differs between the operands `now` and `before` of one equation,
/// first difference only: "dim 0 of operand 1: 16 -> 32".
static std::string retraceReason(const BoundEquation &now,
                                 const BoundEquation &before) {
  for (size_t i = 0; i < now.inputShapes.size(); ++i) {
    if (now.inputTypes[i] != before.inputTypes[i])
      return llvm::formatv("dtype of operand {0}: {1} -> {2}", i,
                           dtypeName(before.inputTypes[i]),
                           dtypeName(now.inputTypes[i]));
    const std::vector<int64_t> &a = before.inputShapes[i],
                               &b = now.inputShapes[i];
    if (a.size() != b.size())
      return llvm::formatv("rank of operand {0}: {1} -> {2}", i, a.size(),
                           b.size());
    for (size_t d = 0; d < a.size(); ++d)
      if (a[d] != b[d])
        return llvm::formatv("dim {0} of operand {1}: {2} -> {3}", d, i, a[d],
                             b[d]);
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

std::unique_ptr<Runtime::CompileContext> Runtime::takeContext() {
  size_t current;
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (!idleContexts.empty()) {
      std::unique_ptr<CompileContext> ctx = std::move(idleContexts.back());
      idleContexts.pop_back();
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

void Runtime::returnContext(std::unique_ptr<CompileContext> ctx) {
  std::lock_guard<std::mutex> lock(mutex);
  if (ctx->compiles < kContextCompiles && ctx->generation == generation)
    idleContexts.push_back(std::move(ctx));
}

/// Whether EINJIT_LOG (a comma-separated list) names `what`. Read on every
/// event (misses only), so a test or a debugger can turn it on at any time.
static bool logs(llvm::StringRef what) {
  const char *env = std::getenv("EINJIT_LOG");
  return env &&
         llvm::is_contained(llvm::split(llvm::StringRef(env), ','), what);
}

void Runtime::noteTrace(const std::string &traced, const BoundEquation &eq) {
  auto [it, first] = traces.try_emplace(traced);
  Trace &trace = it->second;
  if (!first) {
    ++stats.retraces;
    Retrace event{eq.text, retraceReason(eq, trace.last), ++trace.retraces};
    if (logs("retrace"))
      llvm::errs() << "einjit: retrace " << event.count << " of '"
                   << event.equation << "': " << event.reason << "\n";
    recent.push_back(std::move(event));
    if (recent.size() > kRecentRetraces)
      recent.pop_front();
  }
  trace.last = eq;
  if (traces.size() > kTracedEquations) // keep the bookkeeping bounded
    traces.clear();
}

llvm::Expected<std::shared_ptr<const CompiledEinsum>>
Runtime::compile(BoundEquation eq, const PlanOptions &options,
                 std::shared_ptr<Cached> *cached) {
  std::unique_lock<std::mutex> lock(mutex);
  std::string traced = equationKey(eq, target, options);
  std::string key = traced + operandKey(eq);
  auto it = cache.find(key);
  if (it != cache.end()) {
    ++stats.hits;
    lru.splice(lru.begin(), lru, it->second);
    if (cached)
      *cached = it->second->second;
    return it->second->second->kernel;
  }
  if (auto found = pending.find(key); found != pending.end()) {
    std::shared_ptr<Pending> slot = found->second;
    ++stats.hits;
    slot->done.wait(lock, [&] { return slot->finished; });
    if (!slot->kernel)
      return makeEinsumError(slot->error);
    if (auto kept = cache.find(key); cached && kept != cache.end())
      *cached = kept->second->second;
    return slot->kernel;
  }
  auto slot = std::make_shared<Pending>();
  pending.emplace(key, slot);
  ++stats.misses;
  noteTrace(traced, eq);
  TargetInfo compileTarget = target;
  std::string dir = diskDir;
  lock.unlock();
  DiskUse disk;
  auto built = build(std::move(eq), options, compileTarget, key, dir, disk);
  lock.lock();
  stats.diskHits += disk.loaded;
  stats.diskWrites += disk.written;
  stats.diskRejected += disk.rejected;
  stats.diskFailures += disk.failed;
  pending.erase(key);
  slot->finished = true;
  if (!built) {
    slot->error = llvm::toString(built.takeError());
    slot->done.notify_all();
    return makeEinsumError(slot->error);
  }
  slot->kernel = *built;
  slot->done.notify_all();
  if (disk.loaded) {
    stats.diskLoadSeconds += slot->kernel->compileSeconds();
  } else {
    ++stats.compiles;
    stats.compileSeconds += slot->kernel->compileSeconds();
  }
  lru.emplace_front(key, std::make_shared<Cached>(slot->kernel));
  cache[key] = lru.begin();
  stats.codeBytes += slot->kernel->codeBytes();
  shrink();
  if (auto kept = cache.find(key); cached && kept != cache.end())
    *cached = kept->second->second;
  return slot->kernel;
}

/// Seconds since `start`.
static double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

/// The kernel of `key` from the disk cache in `dir`, or null (`disk` says
/// whether an entry was there and rejected).
static std::shared_ptr<const CompiledEinsum>
loadFromDisk(const BoundEquation &eq, const std::string &key,
             const std::string &dir, Runtime::DiskUse &disk) {
  auto start = std::chrono::steady_clock::now();
  DiskEntry entry;
  std::string why;
  DiskRead read = readDiskEntry(dir, key, entry, why);
  if (read == DiskRead::Missing)
    return nullptr;
  if (read == DiskRead::Loaded) {
    auto path = pathFromSteps(eq, entry.steps);
    if (!path)
      why = "its contraction path does not fit the equation: " +
            llvm::toString(path.takeError());
    auto kernel = path ? JitKernel::load(entry.object, kKernelName)
                       : llvm::Expected<std::unique_ptr<JitKernel>>(nullptr);
    if (path && !kernel)
      why = "its object code does not link: " +
            llvm::toString(kernel.takeError());
    if (path && kernel) {
      disk.loaded = true;
      return std::make_shared<const CompiledEinsum>(
          eq, std::move(*path), std::move(*kernel), entry.workspaceBytes,
          secondsSince(start), /*fromDisk=*/true);
    }
    if (!kernel)
      llvm::consumeError(kernel.takeError());
    why = diskEntryPath(dir, key) + ": " + why;
  }
  disk.rejected = true;
  if (logs("cache"))
    llvm::errs() << "einjit: disk cache entry rejected, compiling again: "
                 << why << "\n";
  return nullptr;
}

llvm::Expected<std::shared_ptr<const CompiledEinsum>>
Runtime::build(BoundEquation eq, const PlanOptions &options,
               const TargetInfo &target, const std::string &key,
               const std::string &dir, DiskUse &disk) {
  // Kernels are compiled (or loaded) only for a CPU this machine can run.
  if (auto err = target.checkRunsOnHost())
    return std::move(err);
  bool empty = llvm::any_of(eq.labelSizes, [](int64_t s) { return s == 0; });
  bool useDisk = !dir.empty() && !empty;
  if (useDisk)
    if (auto loaded = loadFromDisk(eq, key, dir, disk))
      return loaded;

  std::unique_ptr<CompileContext> ctx = takeContext();
  llvm::scope_exit done([&] { returnContext(std::move(ctx)); });
  ++ctx->compiles;
  auto start = std::chrono::steady_clock::now();
  auto planned = planFor(eq, options);
  if (!planned)
    return planned.takeError();
  ContractionPath &path = *planned;
  std::unique_ptr<JitKernel> kernel;
  int64_t workspace = 0;
  DiskEntry entry;
  if (!empty) {
    auto module = buildKernelModule(*ctx->mlir, eq, &path);
    if (auto err =
            lowerKernelModule(*module, Stage::LLVM, target, parallelWork()))
      return std::move(err);
    workspace = workspaceBytes(*module);
    auto jit = JitKernel::create(*module, kKernelName, target,
                                 useDisk ? &entry.object : nullptr);
    if (!jit)
      return jit.takeError();
    kernel = std::move(*jit);
  }
  double seconds = secondsSince(start);
  if (useDisk) {
    entry.workspaceBytes = workspace;
    for (const ContractionStep &step : path.steps)
      entry.steps.push_back(step.operands);
    if (auto err = writeDiskEntry(dir, key, entry)) {
      disk.failed = true;
      std::string message = llvm::toString(std::move(err));
      if (logs("cache"))
        llvm::errs() << "einjit: " << message << "\n";
    } else {
      disk.written = true;
    }
  }
  return std::make_shared<const CompiledEinsum>(
      std::move(eq), std::move(path), std::move(kernel), workspace, seconds);
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
    stats.codeBytes -= victim.kernel->codeBytes();
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
  // In-flight compiles keep their contexts until they return them, which
  // then drops them.
  idleContexts.clear();
  ++generation;
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
  std::unique_ptr<CompileContext> ctx = takeContext();
  llvm::scope_exit done([&] { returnContext(std::move(ctx)); });
  auto module = buildKernelModule(*ctx->mlir, eq, &*path);
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
  static uint64_t hash(llvm::StringRef equation, llvm::ArrayRef<Tensor> ops,
                       const PlanOptions &options) {
    uint64_t h = llvm::xxh3_64bits(equation);
    auto mix = [&](uint64_t v) { h = (h ^ v) * 0x9e3779b97f4a7c15ull; };
    mix((uint64_t)options.strategy);
    mix((uint64_t)options.memoryLimitBytes);
    for (const Tensor &t : ops) {
      mix(((uint64_t)t.dtype() << 8) | (uint64_t)t.rank());
      for (int64_t d : t.shape())
        mix((uint64_t)d);
    }
    return h;
  }

  std::shared_ptr<Runtime::Cached> find(uint64_t h, uint64_t epoch,
                                        llvm::StringRef equation,
                                        llvm::ArrayRef<Tensor> ops,
                                        const PlanOptions &options) {
    Slot &slot = slots[h % kSlots];
    if (slot.hash != h || slot.epoch != epoch ||
        !slot.matches(equation, ops, options))
      return nullptr;
    return slot.entry.lock();
  }

  void insert(uint64_t h, uint64_t epoch, llvm::StringRef equation,
              llvm::ArrayRef<Tensor> ops, const PlanOptions &options,
              const std::shared_ptr<Runtime::Cached> &entry) {
    Slot &slot = slots[h % kSlots];
    slot.hash = h;
    slot.epoch = epoch;
    slot.equation.assign(equation.begin(), equation.end());
    slot.strategy = options.strategy;
    slot.memoryLimit = options.memoryLimitBytes;
    slot.operands.clear();
    for (const Tensor &t : ops) {
      slot.operands.push_back(((int64_t)t.dtype() << 8) | t.rank());
      slot.operands.append(t.shape().begin(), t.shape().end());
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
        if (at + 1 + shape.size() > operands.size() ||
            operands[at] != (((int64_t)t.dtype() << 8) | t.rank()) ||
            llvm::ArrayRef<int64_t>(operands).slice(at + 1, shape.size()) !=
                shape)
          return false;
        at += 1 + shape.size();
      }
      return at == operands.size();
    }

    uint64_t hash = 0;
    uint64_t epoch = ~uint64_t(0);
    std::string equation;
    PathStrategy strategy = PathStrategy::Auto;
    int64_t memoryLimit = 0;
    /// Per operand: dtype and rank, then the dims.
    llvm::SmallVector<int64_t, 12> operands;
    std::weak_ptr<Runtime::Cached> entry;
  };
  Slot slots[kSlots];
};
} // namespace

llvm::Expected<std::shared_ptr<const CompiledEinsum>>
einjit::compileEinsum(llvm::StringRef equation, llvm::ArrayRef<Tensor> operands,
                      const PlanOptions &options) {
  Runtime &rt = Runtime::get();
  thread_local FastTable table;
  uint64_t h = FastTable::hash(equation, operands, options);
  uint64_t epoch = rt.epoch.load(std::memory_order_acquire);
  if (auto entry = table.find(h, epoch, equation, operands, options)) {
    entry->used.store(true, std::memory_order_relaxed);
    rt.fastHits.fetch_add(1, std::memory_order_relaxed);
    return entry->kernel;
  }
  auto bound = bindOperands(equation, operands);
  if (!bound)
    return bound.takeError();
  std::shared_ptr<Runtime::Cached> entry;
  auto kernel = rt.compile(std::move(*bound), options, &entry);
  if (kernel && entry)
    table.insert(h, epoch, equation, operands, options, entry);
  return kernel;
}

llvm::Expected<Tensor> einjit::einsum(llvm::StringRef equation,
                                      llvm::ArrayRef<Tensor> operands,
                                      const PlanOptions &options) {
  auto compiled = compileEinsum(equation, operands, options);
  if (!compiled)
    return compiled.takeError();
  return (**compiled)(operands);
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

llvm::Expected<std::string>
einjit::emitLLVMIR(llvm::StringRef equation, llvm::ArrayRef<Tensor> operands) {
  auto bound = bindOperands(equation, operands);
  if (!bound)
    return bound.takeError();
  return Runtime::get().emit(*bound, Stage::LLVM, {}, /*llvmIR=*/true);
}

std::vector<Retrace> einjit::recentRetraces() {
  Runtime &rt = Runtime::get();
  std::lock_guard<std::mutex> lock(rt.mutex);
  return rt.recentRetraces();
}

CacheStats einjit::cacheStats() {
  Runtime &rt = Runtime::get();
  std::lock_guard<std::mutex> lock(rt.mutex);
  CacheStats stats = rt.stats;
  stats.hits += rt.fastHits.load(std::memory_order_relaxed);
  return stats;
}

void einjit::setTarget(const TargetInfo &target) {
  Runtime &rt = Runtime::get();
  std::lock_guard<std::mutex> lock(rt.mutex);
  rt.target = target;
  ++rt.epoch;
}

TargetInfo einjit::currentTarget() {
  Runtime &rt = Runtime::get();
  std::lock_guard<std::mutex> lock(rt.mutex);
  return rt.target;
}

void einjit::setCacheCapacity(size_t kernels, size_t codeBytes) {
  Runtime &rt = Runtime::get();
  std::lock_guard<std::mutex> lock(rt.mutex);
  rt.capacity = kernels;
  rt.codeCapacity = codeBytes;
  rt.shrink();
}

llvm::StringRef einjit::compilerHash() { return kCompilerHash; }

void einjit::setCacheDir(llvm::StringRef dir) {
  Runtime &rt = Runtime::get();
  std::lock_guard<std::mutex> lock(rt.mutex);
  rt.diskDir = dir.str();
}

std::string einjit::cacheDir() {
  Runtime &rt = Runtime::get();
  std::lock_guard<std::mutex> lock(rt.mutex);
  return rt.diskDir;
}

void einjit::clearCache() {
  Runtime &rt = Runtime::get();
  std::lock_guard<std::mutex> lock(rt.mutex);
  rt.clear();
}
