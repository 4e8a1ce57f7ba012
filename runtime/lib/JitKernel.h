//===- JitKernel.h - One JIT-compiled kernel --------------------*- C++ -*-===//
//
// Wraps mlir::ExecutionEngine: translates an LLVM-dialect module, optimizes
// it at O3 for the host CPU (its name and features are set on every
// function), and exposes the kernel as a packed call.
//
//===----------------------------------------------------------------------===//

#ifndef EINJIT_RUNTIME_JITKERNEL_H
#define EINJIT_RUNTIME_JITKERNEL_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/Error.h"

#include <functional>
#include <memory>

namespace llvm {
class Module;
}
namespace mlir {
class ExecutionEngine;
}

namespace einjit {

/// Whether kernels may use OpenMP threads (the runtime found libomp).
constexpr bool kThreadedKernels =
#ifdef EINJIT_LIBOMP_PATH
    true;
#else
    false;
#endif

/// Initializes LLVM's native target once per process.
void initializeNativeJit();

/// The LLVM IR the JIT compiles for an LLVM-dialect `module`: translated
/// and optimized at O3 for the host CPU, as text.
llvm::Expected<std::string> optimizedLLVMIR(mlir::ModuleOp module);

class JitKernel {
public:
  static llvm::Expected<std::unique_ptr<JitKernel>>
  create(mlir::ModuleOp module, llvm::StringRef name);
  ~JitKernel();

  /// Calls the kernel with one pointer per memref argument.
  void call(llvm::ArrayRef<void *> pointers) const;

private:
  std::function<llvm::Error(llvm::Module *)> transformer;
  std::unique_ptr<mlir::ExecutionEngine> engine;
  void (*packed)(void **) = nullptr;
};

} // namespace einjit

#endif // EINJIT_RUNTIME_JITKERNEL_H
