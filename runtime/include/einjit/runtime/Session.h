//===- Session.h - A kernel cache and its settings --------------*- C++ -*-===//
//
// A Session holds a kernel cache (in memory, and on disk when it has a
// directory), the target its kernels are compiled for, and the cache's
// capacity and statistics. Sessions are independent: one's kernels,
// retraces and stats are not another's, and each can be cleared or
// retargeted alone. The free functions of Einsum.h and Ops.h use
// Session::global(). The JIT and the compiler's MLIR contexts are shared
// by every session. A Session may be used from many threads at once; one
// being destroyed must not be in use.
//
//===----------------------------------------------------------------------===//

#ifndef EINJIT_RUNTIME_SESSION_H
#define EINJIT_RUNTIME_SESSION_H

#include "einjit/runtime/Einsum.h"
#include "einjit/runtime/Ops.h"

#include <memory>
#include <string>
#include <vector>

namespace einjit {

class Session {
public:
  /// A new session: the host as target, $EINJIT_CACHE_DIR (if set) as the
  /// disk cache, the default capacity.
  Session();
  ~Session();
  Session(const Session &) = delete;
  Session &operator=(const Session &) = delete;

  /// The session the free functions (einjit::einsum, einjit::add, ...)
  /// use; never destroyed.
  static Session &global();

  llvm::Expected<std::shared_ptr<const CompiledEinsum>>
  compileEinsum(llvm::StringRef equation, llvm::ArrayRef<Tensor> operands,
                const PlanOptions &options = {});
  llvm::Expected<Tensor> einsum(llvm::StringRef equation,
                                llvm::ArrayRef<Tensor> operands,
                                const PlanOptions &options = {});
  llvm::Expected<std::shared_ptr<const CompiledOp>>
  compileOp(OpKind kind, llvm::ArrayRef<Tensor> operands,
            llvm::ArrayRef<int64_t> axes = {}, bool keepDims = false,
            double scalar = 0);

  void setTarget(const TargetInfo &target);
  TargetInfo target() const;
  void setCacheDir(llvm::StringRef dir);
  std::string cacheDir() const;
  void setCacheCapacity(size_t kernels,
                        size_t codeBytes = kDefaultCacheCodeBytes);
  llvm::Error setInputSignature(llvm::StringRef equation,
                                llvm::ArrayRef<std::vector<int64_t>> shapes,
                                const PlanOptions &options = {});
  void setReduceRetracing(size_t retraces);
  std::vector<PolymorphicEquation> polymorphicEquations() const;
  CacheStats stats() const;
  std::vector<Retrace> recentRetraces() const;
  /// Drops this session's kernels and statistics.
  void clear();

  /// The session's state, defined in the runtime's implementation.
  class Impl;
  Impl &impl() const { return *state; }

private:
  std::unique_ptr<Impl> state;
};

} // namespace einjit

#endif // EINJIT_RUNTIME_SESSION_H
