//===- JitKernel.cpp - JIT-compiled kernels -------------------------------===//

#include "JitKernel.h"
#include "CudaDriver.h"
#include "GpuEmulator.h"
#include "einjit/Spec/Equation.h"
#include "einjit/runtime/Tensor.h"

#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/Target/LLVMIR/Export.h"

#include "llvm/ExecutionEngine/Orc/CompileUtils.h"
#include "llvm/ExecutionEngine/Orc/ExecutionUtils.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "llvm/ExecutionEngine/Orc/ObjectTransformLayer.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/TargetParser/Host.h"

#include <atomic>
#include <cstring>
#include <mutex>

using namespace einjit;
using namespace llvm::orc;

void einjit::initializeNativeJit() {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
  });
}

/// The host CPU with all its features, at O3.
static llvm::Expected<JITTargetMachineBuilder> hostBuilder() {
  initializeNativeJit();
  auto builder = JITTargetMachineBuilder::detectHost();
  if (!builder)
    return builder.takeError();
  builder->setCPU(llvm::sys::getHostCPUName().str());
  builder->setCodeGenOptLevel(llvm::CodeGenOptLevel::Aggressive);
  return builder;
}

/// `__truncsfbf2`, f32 to bf16 with rounding to nearest even: LLVM calls it
/// where a target without bf16 instructions (x86-64's baseline) promotes a
/// bf16 vector select through f32, and Debian's libgcc 12 lacks it. The
/// bf16 comes back in the low 16 bits of xmm0, where a float return puts
/// its bits too.
extern "C" float einjitTruncSFBF2(float x) {
  uint32_t bits = floatToBF16(x);
  float result;
  std::memcpy(&result, &bits, 4);
  return result;
}

namespace {
/// The process's JIT and the target machine the optimizer uses. Created on
/// first use and never destroyed (kernels may outlive every static).
struct Jit {
  std::unique_ptr<LLJIT> lljit;
  std::unique_ptr<llvm::TargetMachine> machine;
  /// Serializes the optimizer, whose target machine is not thread-safe,
  /// and names kernels' JITDylibs.
  std::mutex mutex;
  uint64_t kernels = 0;
  /// Bytes of object code linked since the last kernel started (the object
  /// transform adds to it; used with `mutex` held).
  size_t objectBytes = 0;
  /// Where the object transform copies the object code it sees, when set
  /// (with `mutex` held): a kernel's object for the disk cache.
  std::string *capture = nullptr;

  static llvm::Expected<Jit &> get() {
    static std::once_flag once;
    static Jit *jit = nullptr;
    static std::string failure;
    std::call_once(once, [] {
      auto created = create();
      if (created)
        jit = created->release();
      else
        failure = llvm::toString(created.takeError());
    });
    if (!jit)
      return makeEinsumError("cannot start the JIT: " + failure);
    return *jit;
  }

private:
  static llvm::Expected<std::unique_ptr<Jit>> create() {
    auto builder = hostBuilder();
    if (!builder)
      return builder.takeError();
    auto jit = std::make_unique<Jit>();
    auto machine = builder->createTargetMachine();
    if (!machine)
      return machine.takeError();
    jit->machine = std::move(*machine);
    auto lljit = LLJITBuilder()
                     .setJITTargetMachineBuilder(*builder)
                     .setCompileFunctionCreator(
                         [](JITTargetMachineBuilder jtmb)
                             -> llvm::Expected<
                                 std::unique_ptr<IRCompileLayer::IRCompiler>> {
                           auto tm = jtmb.createTargetMachine();
                           if (!tm)
                             return tm.takeError();
                           return std::make_unique<TMOwningSimpleCompiler>(
                               std::move(*tm));
                         })
                     .create();
    if (!lljit)
      return lljit.takeError();
    jit->lljit = std::move(*lljit);
    jit->lljit->getObjTransformLayer().setTransform(
        [state = jit.get()](std::unique_ptr<llvm::MemoryBuffer> obj)
            -> llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>> {
          state->objectBytes += obj->getBufferSize();
          if (state->capture)
            state->capture->assign(obj->getBufferStart(), obj->getBufferSize());
          return std::move(obj);
        });
#ifdef EINJIT_LIBOMP_PATH
    // Threaded kernels call __kmpc_fork_call and friends.
    auto omp = DynamicLibrarySearchGenerator::Load(
        EINJIT_LIBOMP_PATH, jit->lljit->getDataLayout().getGlobalPrefix());
    if (!omp)
      return omp.takeError();
    jit->lljit->getMainJITDylib().addGenerator(std::move(*omp));
#endif
    SymbolMap builtins;
    builtins[jit->lljit->mangleAndIntern("__truncsfbf2")] = {
        ExecutorAddr::fromPtr(&einjitTruncSFBF2),
        llvm::JITSymbolFlags::Exported | llvm::JITSymbolFlags::Callable};
    // The host code of GPU kernels calls the mgpu* ABI, and kernels
    // compiled for the host (format=host) the emulator.
    for (auto *table : {cuda::abiSymbols(), cuda::emulatorSymbols()})
      for (auto *abi = table; abi->first; ++abi)
        builtins[jit->lljit->mangleAndIntern(abi->first)] = {
            ExecutorAddr::fromPtr(abi->second),
            llvm::JITSymbolFlags::Exported | llvm::JITSymbolFlags::Callable};
    if (auto error = jit->lljit->getMainJITDylib().define(
            absoluteSymbols(std::move(builtins))))
      return std::move(error);
    return jit;
  }
};
} // namespace

/// Replaces the global constructors and destructors of `ir` (a GPU
/// kernel's host code loads its PTX from one) with functions
/// `<name>_init` and `<name>_fini` that call them, which the JIT kernel
/// calls itself: ORC runs no constructors, and a kernel from the disk
/// cache must load its PTX too.
static void exposeConstructors(llvm::Module &ir, llvm::StringRef name) {
  auto expose = [&](llvm::StringRef global, llvm::StringRef suffix) {
    llvm::SmallVector<std::pair<int, llvm::Function *>> calls;
    if (llvm::GlobalVariable *list = ir.getGlobalVariable(global)) {
      if (auto *array = llvm::dyn_cast_or_null<llvm::ConstantArray>(
              list->hasInitializer() ? list->getInitializer() : nullptr))
        for (llvm::Value *op : array->operands()) {
          auto *entry = llvm::cast<llvm::ConstantStruct>(op);
          auto *priority = llvm::cast<llvm::ConstantInt>(entry->getOperand(0));
          if (auto *f = llvm::dyn_cast<llvm::Function>(entry->getOperand(1)))
            calls.push_back({int(priority->getSExtValue()), f});
        }
      list->eraseFromParent();
    }
    if (calls.empty())
      return;
    // Constructors run in ascending priority, destructors the reverse.
    llvm::stable_sort(calls,
                      [](auto &a, auto &b) { return a.first < b.first; });
    if (suffix == "_fini")
      std::reverse(calls.begin(), calls.end());
    llvm::LLVMContext &ctx = ir.getContext();
    auto *f = llvm::Function::Create(
        llvm::FunctionType::get(llvm::Type::getVoidTy(ctx), false),
        llvm::GlobalValue::ExternalLinkage, (name + suffix).str(), ir);
    llvm::IRBuilder<> b(llvm::BasicBlock::Create(ctx, "entry", f));
    for (auto &[priority, callee] : calls)
      b.CreateCall(callee);
    b.CreateRetVoid();
  };
  expose("llvm.global_ctors", "_init");
  expose("llvm.global_dtors", "_fini");
}

/// Translates `module` to LLVM IR for `target` and optimizes it at O3.
/// Called with the JIT's mutex held.
static llvm::Expected<std::unique_ptr<llvm::Module>>
optimize(mlir::ModuleOp module, llvm::LLVMContext &context, Jit &jit,
         const TargetInfo &target, llvm::StringRef kernelName = "einsum") {
  std::unique_ptr<llvm::Module> ir =
      mlir::translateModuleToLLVMIR(module, context);
  if (!ir)
    return makeEinsumError("could not translate the kernel to LLVM IR");
  exposeConstructors(*ir, kernelName);
  llvm::TargetMachine &tm = *jit.machine;
  ir->setDataLayout(tm.createDataLayout());
  ir->setTargetTriple(tm.getTargetTriple());
  // The optimizer's cost models and instruction selection read the CPU
  // from each function.
  for (llvm::Function &f : *ir) {
    if (f.isDeclaration())
      continue;
    f.addFnAttr("target-cpu", target.cpu);
    f.addFnAttr("target-features", target.features);
  }
  if (auto err = mlir::makeOptimizingTransformer(3, 0, &tm)(ir.get()))
    return std::move(err);
  return ir;
}

llvm::Expected<std::string> einjit::optimizedLLVMIR(mlir::ModuleOp module,
                                                    const TargetInfo &target) {
  auto jit = Jit::get();
  if (!jit)
    return jit.takeError();
  std::lock_guard<std::mutex> lock(jit->mutex);
  llvm::LLVMContext context;
  auto ir = optimize(module, context, *jit, target);
  if (!ir)
    return ir.takeError();
  std::string text;
  llvm::raw_string_ostream os(text);
  (*ir)->print(os, nullptr);
  return text;
}

/// Adds `void <name>_packed(ptr args)`, which calls `name` with the values
/// that args[0], args[1], ... point to.
static llvm::Error addPackedWrapper(llvm::Module &module, llvm::StringRef name,
                                    std::string &wrapperName) {
  llvm::Function *kernel = module.getFunction(name);
  if (!kernel || kernel->isDeclaration())
    return makeEinsumError("JIT kernel '" + name + "' not found");
  llvm::LLVMContext &ctx = module.getContext();
  auto *ptrType = llvm::PointerType::get(ctx, 0);
  wrapperName = (name + "_packed").str();
  auto *wrapper = llvm::Function::Create(
      llvm::FunctionType::get(llvm::Type::getVoidTy(ctx), {ptrType}, false),
      llvm::GlobalValue::ExternalLinkage, wrapperName, module);
  llvm::IRBuilder<> b(llvm::BasicBlock::Create(ctx, "entry", wrapper));
  llvm::SmallVector<llvm::Value *> args;
  for (auto [i, param] : llvm::enumerate(kernel->args())) {
    llvm::Value *slot = b.CreateConstGEP1_64(ptrType, wrapper->getArg(0), i);
    llvm::Value *where = b.CreateLoad(ptrType, slot);
    args.push_back(b.CreateLoad(param.getType(), where));
  }
  b.CreateCall(kernel, args);
  b.CreateRetVoid();
  return llvm::Error::success();
}

llvm::Expected<std::unique_ptr<JitKernel>>
JitKernel::link(llvm::StringRef name, bool constructors,
                llvm::function_ref<llvm::Error(LLJIT &, JITDylib &)> add) {
  Jit &jit = *Jit::get(); // the caller got it, and holds its mutex
  LLJIT &lljit = *jit.lljit;
  auto dylib =
      lljit.createJITDylib("einjit-kernel-" + std::to_string(jit.kernels++));
  if (!dylib)
    return dylib.takeError();
  auto kernel = std::unique_ptr<JitKernel>(new JitKernel());
  kernel->dylib = &*dylib;
  dylib->addToLinkOrder(lljit.getMainJITDylib());
  jit.objectBytes = 0;
  if (auto err = add(lljit, *dylib))
    return makeEinsumError("JIT compilation failed: " +
                           llvm::toString(std::move(err)));
  auto address = lljit.lookup(*dylib, (name + "_packed").str());
  if (!address)
    return makeEinsumError("JIT compilation failed: " +
                           llvm::toString(address.takeError()));
  kernel->packed = address->toPtr<void (*)(void **)>();
  kernel->bytes = jit.objectBytes;
  if (constructors) {
    for (auto [suffix, slot] : {std::pair{"_init", &kernel->init},
                                std::pair{"_fini", &kernel->fini}}) {
      auto found = lljit.lookup(*dylib, (name + suffix).str());
      if (!found)
        return makeEinsumError("JIT compilation failed: " +
                               llvm::toString(found.takeError()));
      *slot = found->toPtr<void (*)()>();
    }
  }
  return kernel;
}

llvm::Expected<std::unique_ptr<JitKernel>>
JitKernel::start(llvm::Expected<std::unique_ptr<JitKernel>> kernel) {
  if (!kernel || !(*kernel)->init)
    return kernel;
  (*kernel)->init();
  if (auto err = cuda::takeAbiError())
    return std::move(err);
  return kernel;
}

llvm::Expected<std::unique_ptr<JitKernel>>
JitKernel::create(mlir::ModuleOp module, llvm::StringRef name,
                  const TargetInfo &target, std::string *object) {
  auto jit = Jit::get();
  if (!jit)
    return jit.takeError();
  auto context = std::make_unique<llvm::LLVMContext>();
  std::string wrapperName;
  std::unique_ptr<llvm::Module> ir;
  {
    std::lock_guard<std::mutex> lock(jit->mutex);
    auto optimized = optimize(module, *context, *jit, target, name);
    if (!optimized)
      return optimized.takeError();
    ir = std::move(*optimized);
  }
  if (auto err = addPackedWrapper(*ir, name, wrapperName))
    return std::move(err);
  bool constructors = ir->getFunction((name + "_init").str()) != nullptr;

  // Materialising the module compiles it with the JIT's one TargetMachine,
  // which is not thread-safe: kernels are linked one at a time (the MLIR
  // lowering before this runs in parallel).
  llvm::Expected<std::unique_ptr<JitKernel>> kernel = nullptr;
  {
    std::lock_guard<std::mutex> lock(jit->mutex);
    jit->capture = object;
    kernel = link(name, constructors, [&](LLJIT &lljit, JITDylib &dylib) {
      return lljit.addIRModule(
          dylib, ThreadSafeModule(std::move(ir), std::move(context)));
    });
    jit->capture = nullptr;
  }
  return start(std::move(kernel));
}

llvm::Expected<std::unique_ptr<JitKernel>>
JitKernel::load(llvm::StringRef object, llvm::StringRef name,
                bool constructors) {
  auto jit = Jit::get();
  if (!jit)
    return jit.takeError();
  llvm::Expected<std::unique_ptr<JitKernel>> kernel = nullptr;
  {
    std::lock_guard<std::mutex> lock(jit->mutex);
    kernel = link(name, constructors, [&](LLJIT &lljit, JITDylib &dylib) {
      return lljit.addObjectFile(
          dylib, llvm::MemoryBuffer::getMemBufferCopy(object, name));
    });
  }
  return start(std::move(kernel));
}

JitKernel::~JitKernel() {
  if (!dylib)
    return;
  if (fini)
    fini();
  // Only reached after Jit::get() succeeded.
  auto jit = Jit::get();
  if (!jit) {
    llvm::consumeError(jit.takeError());
    return;
  }
  // Frees the kernel's code and data; a failure here leaks them but must
  // not take the process down.
  if (auto err = jit->lljit->getExecutionSession().removeJITDylib(*dylib))
    llvm::consumeError(std::move(err));
}

void JitKernel::call(llvm::ArrayRef<void *> pointers) const {
  // The packed interface takes a pointer to each argument.
  llvm::SmallVector<void *> args(pointers.begin(), pointers.end());
  llvm::SmallVector<void *> argPtrs;
  for (void *&p : args)
    argPtrs.push_back(&p);
  packed(argPtrs.data());
}
