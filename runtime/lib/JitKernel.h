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
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/Support/Error.h"

#include <memory>
#include <string>

namespace llvm::orc {
class JITDylib;
class LLJIT;
} // namespace llvm::orc

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
  /// (its CPU and features are set on every function). The module's global
  /// constructors (a GPU kernel's PTX loads) become `<name>_init`, run
  /// once linked (an mgpu* failure there is the error returned), and its
  /// destructors `<name>_fini`, run when the kernel is destroyed. With
  /// `object`, the relocatable object code linked (the kernel and its packed
  /// wrapper) is copied there, for load() in another process.
  static llvm::Expected<std::unique_ptr<JitKernel>>
  create(mlir::ModuleOp module, llvm::StringRef name, const TargetInfo &target,
         std::string *object = nullptr);
  /// Links object code that create() gave for a kernel named `name`. The
  /// object must come from this einjit build for a CPU this machine runs
  /// (the disk cache's key and checksum make sure of it). With
  /// `constructors`, it has `<name>_init` and `<name>_fini` (below).
  static llvm::Expected<std::unique_ptr<JitKernel>>
  load(llvm::StringRef object, llvm::StringRef name, bool constructors = false);
  /// Frees the kernel's code and data.
  ~JitKernel();

  /// Calls the kernel with one pointer per memref argument.
  void call(llvm::ArrayRef<void *> pointers) const;
  /// Bytes of the object code linked for it.
  size_t codeBytes() const { return bytes; }

private:
  JitKernel() = default;
  /// A new JITDylib with the code `add` puts in it, and its
  /// `<name>_packed`. Called with the JIT's mutex held.
  /// With `constructors`, it has `<name>_init` and `<name>_fini`.
  static llvm::Expected<std::unique_ptr<JitKernel>> link(
      llvm::StringRef name, bool constructors,
      llvm::function_ref<llvm::Error(llvm::orc::LLJIT &, llvm::orc::JITDylib &)>
          add);
  /// Runs the constructors of a kernel that has them (a GPU kernel's load
  /// its PTX), outside the JIT's mutex.
  static llvm::Expected<std::unique_ptr<JitKernel>>
  start(llvm::Expected<std::unique_ptr<JitKernel>> kernel);
  llvm::orc::JITDylib *dylib = nullptr;
  void (*packed)(void **) = nullptr;
  void (*init)() = nullptr;
  void (*fini)() = nullptr;
  size_t bytes = 0;
};

class Tensor;
/// Per input of a kernel, the strides it reads it with (Tensor's
/// kernelStrides); empty: contiguous.
using KernelLayouts = std::vector<std::vector<int64_t>>;
/// The layouts a kernel for `operands` takes them in.
KernelLayouts kernelLayouts(llvm::ArrayRef<Tensor> operands);
/// Whether every layout is contiguous (empty).
inline bool allContiguous(llvm::ArrayRef<std::vector<int64_t>> layouts) {
  return llvm::all_of(layouts, [](const auto &l) { return l.empty(); });
}
/// Whether a layout has a negative stride.
bool hasNegativeStride(const KernelLayouts &layouts);
/// `layouts` with each layout that has a negative stride made contiguous.
/// A kernel reads a negative-stride view in place (einsum-negative-strides)
/// unless MLIR's lowering refuses the layout: a static offset that comes out
/// negative (a diagonal of a reversed view) fails memref verification.
/// Such a kernel is compiled for a contiguous copy instead.
KernelLayouts withoutNegativeStrides(const KernelLayouts &layouts);
/// Calls `kernel` on `operands` and `outs` (contiguous), with `workspace`
/// bytes of the calling thread's scratch memory. Operand i is passed in
/// place when it has the layout `layouts[i]` the kernel was compiled for
/// (contiguous where `layouts` has none), else copied into that layout
/// first. `what` names the call in an allocation error.
llvm::Error runKernel(const JitKernel &kernel, llvm::ArrayRef<Tensor> operands,
                      llvm::MutableArrayRef<Tensor> outs, int64_t workspace,
                      llvm::StringRef what,
                      llvm::ArrayRef<std::vector<int64_t>> layouts = {});

} // namespace einjit

#endif // EINJIT_RUNTIME_JITKERNEL_H
