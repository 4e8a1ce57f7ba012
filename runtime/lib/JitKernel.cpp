//===- JitKernel.cpp - One JIT-compiled kernel ----------------------------===//

#include "JitKernel.h"
#include "einjit/Spec/Equation.h"

#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/Target/LLVMIR/Export.h"

#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/TargetSelect.h"
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

/// "+avx2,+fma,..." for the host.
static std::string hostFeatures() {
  llvm::SubtargetFeatures features;
  for (auto &feature : llvm::sys::getHostCPUFeatures())
    features.AddFeature(feature.first(), feature.second);
  return features.getString();
}

JitKernel::~JitKernel() = default;

llvm::Expected<std::unique_ptr<JitKernel>>
JitKernel::create(mlir::ModuleOp module, llvm::StringRef name) {
  initializeNativeJit();
  auto tmBuilder = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!tmBuilder)
    return tmBuilder.takeError();
  tmBuilder->setCPU(llvm::sys::getHostCPUName().str());
  tmBuilder->setCodeGenOptLevel(llvm::CodeGenOptLevel::Aggressive);
  auto tm = tmBuilder->createTargetMachine();
  if (!tm)
    return tm.takeError();

  std::string cpu = llvm::sys::getHostCPUName().str();
  std::string features = hostFeatures();
  auto buildModule = [&](mlir::Operation *op, llvm::LLVMContext &ctx) {
    std::unique_ptr<llvm::Module> m = mlir::translateModuleToLLVMIR(op, ctx);
    if (m)
      for (llvm::Function &f : *m) {
        if (f.isDeclaration())
          continue;
        f.addFnAttr("target-cpu", cpu);
        f.addFnAttr("target-features", features);
      }
    return m;
  };
  auto transformer = mlir::makeOptimizingTransformer(3, 0, tm->get());

  mlir::ExecutionEngineOptions options;
  options.llvmModuleBuilder = buildModule;
  options.transformer = transformer;
  options.jitCodeGenOptLevel = llvm::CodeGenOptLevel::Aggressive;
  options.enableGDBNotificationListener = false;
  options.enablePerfNotificationListener = false;
  auto engine = mlir::ExecutionEngine::create(module, options);
  if (!engine)
    return makeEinsumError("JIT compilation failed: " +
                           llvm::toString(engine.takeError()));
  auto kernel = std::unique_ptr<JitKernel>(new JitKernel());
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
