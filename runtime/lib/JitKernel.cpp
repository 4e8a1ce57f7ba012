//===- JitKernel.cpp - One JIT-compiled kernel ----------------------------===//

#include "JitKernel.h"
#include "einjit/Spec/Equation.h"

#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/Target/LLVMIR/Export.h"

#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/TargetParser/Host.h"

#include <mutex>

using namespace einjit;

void einjit::initializeNativeJit() {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
  });
}

/// A target machine for the host CPU with all its features, at O3.
static llvm::Expected<std::unique_ptr<llvm::TargetMachine>> hostMachine() {
  initializeNativeJit();
  auto tmBuilder = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!tmBuilder)
    return tmBuilder.takeError();
  tmBuilder->setCPU(llvm::sys::getHostCPUName().str());
  tmBuilder->setCodeGenOptLevel(llvm::CodeGenOptLevel::Aggressive);
  return tmBuilder->createTargetMachine();
}

llvm::Expected<std::string> einjit::optimizedLLVMIR(mlir::ModuleOp module) {
  auto tm = hostMachine();
  if (!tm)
    return tm.takeError();
  llvm::LLVMContext context;
  std::unique_ptr<llvm::Module> ir =
      mlir::translateModuleToLLVMIR(module, context);
  if (!ir)
    return makeEinsumError("could not translate the kernel to LLVM IR");
  ir->setDataLayout((*tm)->createDataLayout());
  ir->setTargetTriple((*tm)->getTargetTriple());
  if (auto err = mlir::makeOptimizingTransformer(3, 0, tm->get())(ir.get()))
    return std::move(err);
  std::string text;
  llvm::raw_string_ostream os(text);
  ir->print(os, nullptr);
  return text;
}

JitKernel::~JitKernel() = default;

llvm::Expected<std::unique_ptr<JitKernel>>
JitKernel::create(mlir::ModuleOp module, llvm::StringRef name) {
  auto tm = hostMachine();
  if (!tm)
    return tm.takeError();

  // The engine compiles with this target machine: the host CPU and all its
  // features (AVX-512 where present), at O3.
  // The engine keeps a function_ref to the transformer and calls it again
  // when it is destroyed (deinitializers), so the kernel owns it.
  auto kernel = std::unique_ptr<JitKernel>(new JitKernel());
  kernel->transformer = mlir::makeOptimizingTransformer(3, 0, tm->get());
  mlir::ExecutionEngineOptions options;
  options.transformer = kernel->transformer;
  options.jitCodeGenOptLevel = llvm::CodeGenOptLevel::Aggressive;
  options.enableGDBNotificationListener = false;
  options.enablePerfNotificationListener = false;
#ifdef EINJIT_LIBOMP_PATH
  // Threaded kernels call __kmpc_fork_call and friends.
  llvm::StringRef libraries[] = {EINJIT_LIBOMP_PATH};
  options.sharedLibPaths = libraries;
#endif
  auto engine = mlir::ExecutionEngine::create(module, options, std::move(*tm));
  if (!engine)
    return makeEinsumError("JIT compilation failed: " +
                           llvm::toString(engine.takeError()));
  kernel->engine = std::move(*engine);
  auto packed = kernel->engine->lookupPacked(name);
  if (!packed)
    return makeEinsumError("JIT kernel '" + name + "' not found: " +
                           llvm::toString(packed.takeError()));
  kernel->packed = *packed;
  return kernel;
}

void JitKernel::call(llvm::ArrayRef<void *> pointers) const {
  // The packed interface takes a pointer to each argument.
  llvm::SmallVector<void *> args(pointers.begin(), pointers.end());
  llvm::SmallVector<void *> argPtrs;
  for (void *&p : args)
    argPtrs.push_back(&p);
  packed(argPtrs.data());
}
