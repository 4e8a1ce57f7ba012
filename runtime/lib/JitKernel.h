//===- JitKernel.h - JIT-compiled kernels -----------------------*- C++ -*-===//
//
// One ORC LLJIT serves the whole process, with one target machine for the
// host CPU, at O3; each kernel's functions carry the CPU and features of the
// TargetInfo it is compiled for, which instruction selection follows. Each
// kernel is added to a JITDylib of its own; destroying the JitKernel removes
// that JITDylib, which frees the kernel's code and data. The kernel is called
// through a generated packed wrapper that takes an array of pointers to its
// arguments.
//
//===----------------------------------------------------------------------===//

#ifndef EINJIT_RUNTIME_JITKERNEL_H
#define EINJIT_RUNTIME_JITKERNEL_H

#include "einjit/Compiler/TargetInfo.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/Error.h"

#include <memory>

namespace llvm::orc {
class JITDylib;
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
/// and optimized at O3 for `target`, as text.
llvm::Expected<std::string> optimizedLLVMIR(mlir::ModuleOp module,
                                            const TargetInfo &target);

class JitKernel {
public:
  /// Compiles function `name` of an LLVM-dialect `module` for `target`
  /// (its CPU and features are set on every function).
  static llvm::Expected<std::unique_ptr<JitKernel>>
  create(mlir::ModuleOp module, llvm::StringRef name, const TargetInfo &target);
  /// Frees the kernel's code and data.
  ~JitKernel();

  /// Calls the kernel with one pointer per memref argument.
  void call(llvm::ArrayRef<void *> pointers) const;
  /// Bytes of the object code linked for it.
  size_t codeBytes() const { return bytes; }

private:
  JitKernel() = default;
  llvm::orc::JITDylib *dylib = nullptr;
  void (*packed)(void **) = nullptr;
  size_t bytes = 0;
};

} // namespace einjit

#endif // EINJIT_RUNTIME_JITKERNEL_H
