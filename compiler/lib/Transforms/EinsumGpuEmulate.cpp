//===- EinsumGpuEmulate.cpp - GPU kernels compiled for the host -----------===//
//
// See Passes.td.
//
//===----------------------------------------------------------------------===//

#include "einjit/Transforms/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/DataLayoutInterfaces.h"
#include "llvm/ADT/TypeSwitch.h"

namespace mlir::einsum {
#define GEN_PASS_DEF_EINSUMGPUEMULATE
#include "einjit/Transforms/Passes.h.inc"
} // namespace mlir::einsum

using namespace mlir;

namespace {
/// The emulator's entry points (runtime/lib/GpuEmulator.cpp).
constexpr llvm::StringLiteral kSreg = "einjitEmuSreg",
                              kBarrier = "einjitEmuBarrier",
                              kLaunch = "einjitEmuLaunch",
                              kShared = "einjitEmuShared",
                              kGlobal = "einjitEmuGlobal";

/// NVVM's address space of shared memory.
constexpr unsigned kSharedAddressSpace = 3;

/// einjitEmuSreg's register numbers: tid, ntid, ctaid, nctaid, x y z each.
int sregOf(Operation *op) {
  return llvm::TypeSwitch<Operation *, int>(op)
      .Case([](NVVM::ThreadIdXOp) { return 0; })
      .Case([](NVVM::ThreadIdYOp) { return 1; })
      .Case([](NVVM::ThreadIdZOp) { return 2; })
      .Case([](NVVM::BlockDimXOp) { return 3; })
      .Case([](NVVM::BlockDimYOp) { return 4; })
      .Case([](NVVM::BlockDimZOp) { return 5; })
      .Case([](NVVM::BlockIdXOp) { return 6; })
      .Case([](NVVM::BlockIdYOp) { return 7; })
      .Case([](NVVM::BlockIdZOp) { return 8; })
      .Case([](NVVM::GridDimXOp) { return 9; })
      .Case([](NVVM::GridDimYOp) { return 10; })
      .Case([](NVVM::GridDimZOp) { return 11; })
      .Default([](Operation *) { return -1; });
}

/// Whether `address` is into the kernel's stack (an alloca) or a global of
/// the module: neither is device memory the driver allocated.
bool isStackOrGlobal(Value address) {
  while (auto gep = address.getDefiningOp<LLVM::GEPOp>())
    address = gep.getBase();
  while (auto cast = address.getDefiningOp<LLVM::AddrSpaceCastOp>())
    address = cast.getArg();
  return address.getDefiningOp<LLVM::AllocaOp>() ||
         address.getDefiningOp<LLVM::AddressOfOp>();
}

struct EinsumGpuEmulate : einsum::impl::EinsumGpuEmulateBase<EinsumGpuEmulate> {
  void runOnOperation() override;

private:
  /// The host module's declaration of `name`, made on first use.
  LLVM::LLVMFuncOp declare(llvm::StringRef name, Type result,
                           llvm::ArrayRef<Type> params);
  /// Moves `gpuModule`'s functions and globals into the host module, with
  /// their NVVM special registers and barriers as calls to the emulator.
  /// Fills `thunks` (kernel symbol -> its thunk) and `cooperative` (the
  /// kernels that use barriers or shared memory).
  LogicalResult inlineModule(gpu::GPUModuleOp gpuModule);
  /// Replaces a launch with a call to einjitEmuLaunch.
  void replaceLaunch(gpu::LaunchFuncOp launch);

  llvm::DenseMap<SymbolRefAttr, LLVM::LLVMFuncOp> thunks;
  llvm::DenseSet<SymbolRefAttr> cooperative;
};
} // namespace

LLVM::LLVMFuncOp EinsumGpuEmulate::declare(llvm::StringRef name, Type result,
                                           llvm::ArrayRef<Type> params) {
  ModuleOp module = getOperation();
  if (auto fn = module.lookupSymbol<LLVM::LLVMFuncOp>(name))
    return fn;
  OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
  return LLVM::LLVMFuncOp::create(b, module.getLoc(), name,
                                  LLVM::LLVMFunctionType::get(result, params));
}

LogicalResult EinsumGpuEmulate::inlineModule(gpu::GPUModuleOp gpuModule) {
  ModuleOp module = getOperation();
  MLIRContext *ctx = module.getContext();
  std::string prefix = ("__einjit_emu_" + gpuModule.getSymName() + "_").str();
  llvm::SmallVector<Operation *> ops;
  for (Operation &op : gpuModule.getBody()->getOperations())
    if (!op.hasTrait<OpTrait::IsTerminator>())
      ops.push_back(&op);

  // Rename inside the gpu.module first: kernels and globals get the
  // module's prefix; declarations of libdevice's __nv_* math become the C
  // library's (expf for __nv_expf), which the JIT finds in the process.
  llvm::StringMap<bool> kernels;
  for (Operation *op : ops) {
    auto symbol = dyn_cast<SymbolOpInterface>(op);
    if (!symbol)
      return op->emitError("einsum-gpu-emulate: cannot move this op of a "
                           "gpu.module to the host");
    llvm::StringRef name = symbol.getName();
    auto fn = dyn_cast<LLVM::LLVMFuncOp>(op);
    std::string renamed =
        fn && fn.isExternal()
            ? name.starts_with("__nv_") ? name.drop_front(5).str() : name.str()
            : prefix + name.str();
    if (fn && fn->hasAttr(gpu::GPUDialect::getKernelFuncAttrName()))
      kernels[renamed] = true;
    if (failed(SymbolTable::replaceAllSymbolUses(
            op, StringAttr::get(ctx, renamed), gpuModule)))
      return op->emitError("einsum-gpu-emulate: cannot rename ") << name;
    symbol.setName(renamed);
  }

  OpBuilder b(ctx);
  Type i32 = IntegerType::get(ctx, 32);
  Type ptr = LLVM::LLVMPointerType::get(ctx);
  Type i64 = IntegerType::get(ctx, 64);
  DataLayout layout(module);
  LLVM::LLVMFuncOp sreg = declare(kSreg, i32, {i32});
  LLVM::LLVMFuncOp shared =
      declare(kShared, LLVM::LLVMVoidType::get(ctx), {ptr, i64, i32});
  LLVM::LLVMFuncOp global =
      declare(kGlobal, LLVM::LLVMVoidType::get(ctx), {ptr, i64, i32});
  LLVM::LLVMFuncOp barrier =
      declare(kBarrier, LLVM::LLVMVoidType::get(ctx), {});
  for (Operation *op : ops) {
    auto fn = dyn_cast<LLVM::LLVMFuncOp>(op);
    if (fn && fn.isExternal() && module.lookupSymbol(fn.getName())) {
      op->erase();
      continue;
    }
    op->moveBefore(module.getBody(), module.getBody()->end());
    if (!fn)
      continue;
    // The NVVM and GPU attributes would make it a PTX kernel on the host.
    for (NamedAttribute attr : llvm::to_vector(fn->getAttrs())) {
      llvm::StringRef name = attr.getName().getValue();
      if (name.starts_with("nvvm.") || name.starts_with("gpu."))
        fn->removeAttr(attr.getName());
    }
    bool usesBarriers = false;
    llvm::SmallVector<Operation *> nvvmOps, sharedAccesses, globalAccesses;
    fn.walk([&](Operation *inner) {
      if (isa_and_nonnull<NVVM::NVVMDialect>(inner->getDialect()))
        nvvmOps.push_back(inner);
      Value address;
      if (auto load = dyn_cast<LLVM::LoadOp>(inner))
        address = load.getAddr();
      else if (auto store = dyn_cast<LLVM::StoreOp>(inner))
        address = store.getAddr();
      if (!address)
        return;
      if (cast<LLVM::LLVMPointerType>(address.getType()).getAddressSpace() ==
          kSharedAddressSpace)
        sharedAccesses.push_back(inner);
      else if (!isStackOrGlobal(address))
        globalAccesses.push_back(inner);
      if (auto global = dyn_cast<LLVM::AddressOfOp>(inner))
        usesBarriers |=
            cast<LLVM::LLVMPointerType>(global.getType()).getAddressSpace() !=
            0;
    });
    for (Operation *inner : nvvmOps) {
      b.setInsertionPoint(inner);
      int which = sregOf(inner);
      if (which >= 0) {
        Value code = LLVM::ConstantOp::create(b, inner->getLoc(), i32,
                                              b.getI32IntegerAttr(which));
        auto call = LLVM::CallOp::create(b, inner->getLoc(), sreg, code);
        inner->replaceAllUsesWith(call);
        inner->erase();
        continue;
      }
      auto full = dyn_cast<NVVM::BarrierOp>(inner);
      if (isa<NVVM::Barrier0Op>(inner) ||
          (full && inner->getNumOperands() == 0)) {
        LLVM::CallOp::create(b, inner->getLoc(), barrier, ValueRange());
        inner->erase();
        usesBarriers = true;
        continue;
      }
      return inner->emitError("einsum-gpu-emulate: cannot run '")
             << inner->getName() << "' on the host";
    }
    // Each shared-memory access tells the emulator's race check what it
    // touches (einjitEmuShared(address, bytes, isWrite)), and each access
    // of device memory its bounds check (einjitEmuGlobal).
    auto report = [&](Operation *access, LLVM::LLVMFuncOp callee) {
      b.setInsertionPoint(access);
      Location loc = access->getLoc();
      auto load = dyn_cast<LLVM::LoadOp>(access);
      Value address =
          load ? load.getAddr() : cast<LLVM::StoreOp>(access).getAddr();
      Type type = load ? load.getType()
                       : cast<LLVM::StoreOp>(access).getValue().getType();
      Value generic =
          address.getType() == ptr
              ? address
              : LLVM::AddrSpaceCastOp::create(b, loc, ptr, address).getResult();
      Value bytes = LLVM::ConstantOp::create(
          b, loc, i64, b.getI64IntegerAttr(layout.getTypeSize(type)));
      Value write = LLVM::ConstantOp::create(b, loc, i32,
                                             b.getI32IntegerAttr(load ? 0 : 1));
      LLVM::CallOp::create(b, loc, callee, ValueRange{generic, bytes, write});
    };
    for (Operation *access : sharedAccesses)
      report(access, shared);
    for (Operation *access : globalAccesses)
      report(access, global);
    if (!kernels.count(fn.getName()))
      continue;

    // The thunk the emulator calls for each thread: CUDA's kernel
    // parameters, an array of pointers to the arguments.
    b.setInsertionPointAfter(fn);
    auto thunk = LLVM::LLVMFuncOp::create(
        b, fn.getLoc(), (fn.getName() + "_thunk").str(),
        LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(ctx), {ptr}));
    Block *entry = thunk.addEntryBlock(b);
    b.setInsertionPointToStart(entry);
    llvm::SmallVector<Value> args;
    for (auto [i, type] : llvm::enumerate(fn.getFunctionType().getParams())) {
      Value slot = LLVM::GEPOp::create(
          b, fn.getLoc(), ptr, ptr, entry->getArgument(0),
          llvm::ArrayRef<LLVM::GEPArg>{static_cast<int32_t>(i)});
      Value at = LLVM::LoadOp::create(b, fn.getLoc(), ptr, slot);
      args.push_back(LLVM::LoadOp::create(b, fn.getLoc(), type, at));
    }
    LLVM::CallOp::create(b, fn.getLoc(), fn, args);
    LLVM::ReturnOp::create(b, fn.getLoc(), ValueRange());
    auto ref = SymbolRefAttr::get(
        gpuModule.getSymNameAttr(),
        {FlatSymbolRefAttr::get(ctx, fn.getName().drop_front(prefix.size()))});
    thunks[ref] = thunk;
    if (usesBarriers)
      cooperative.insert(ref);
  }
  return success();
}

void EinsumGpuEmulate::replaceLaunch(gpu::LaunchFuncOp launch) {
  MLIRContext *ctx = launch.getContext();
  Location loc = launch.getLoc();
  Type i64 = IntegerType::get(ctx, 64);
  Type i32 = IntegerType::get(ctx, 32);
  Type ptr = LLVM::LLVMPointerType::get(ctx);
  LLVM::LLVMFuncOp emuLaunch =
      declare(kLaunch, LLVM::LLVMVoidType::get(ctx),
              {ptr, i32, i64, i64, i64, i64, i64, i64, ptr});

  // The parameter array and the argument slots live in the entry block,
  // so that a launch in a loop does not grow the stack.
  auto host = launch->getParentOfType<LLVM::LLVMFuncOp>();
  OpBuilder entry = OpBuilder::atBlockBegin(&host.getBody().front());
  Value one =
      LLVM::ConstantOp::create(entry, loc, i64, entry.getI64IntegerAttr(1));
  auto operands = launch.getKernelOperands();
  Type arrayType = LLVM::LLVMArrayType::get(ptr, operands.size());
  Value params = LLVM::AllocaOp::create(entry, loc, ptr, arrayType, one);
  llvm::SmallVector<Value> slots;
  for (Value v : operands)
    slots.push_back(LLVM::AllocaOp::create(entry, loc, ptr, v.getType(), one));

  OpBuilder b(launch);
  for (auto [i, v] : llvm::enumerate(operands)) {
    LLVM::StoreOp::create(b, loc, v, slots[i]);
    Value at = LLVM::GEPOp::create(
        b, loc, ptr, arrayType, params,
        llvm::ArrayRef<LLVM::GEPArg>{0, static_cast<int32_t>(i)});
    LLVM::StoreOp::create(b, loc, slots[i], at);
  }
  auto toI64 = [&](Value v) -> Value {
    unsigned width = v.getType().getIntOrFloatBitWidth();
    if (width == 64)
      return v;
    return width < 64 ? LLVM::ZExtOp::create(b, loc, i64, v).getResult()
                      : LLVM::TruncOp::create(b, loc, i64, v).getResult();
  };
  LLVM::LLVMFuncOp thunk = thunks.lookup(launch.getKernel());
  Value fn = LLVM::AddressOfOp::create(b, loc, thunk);
  Value flags = LLVM::ConstantOp::create(
      b, loc, i32,
      b.getI32IntegerAttr(cooperative.contains(launch.getKernel()) ? 1 : 0));
  LLVM::CallOp::create(
      b, loc, emuLaunch,
      ValueRange{fn, flags, toI64(launch.getGridSizeX()),
                 toI64(launch.getGridSizeY()), toI64(launch.getGridSizeZ()),
                 toI64(launch.getBlockSizeX()), toI64(launch.getBlockSizeY()),
                 toI64(launch.getBlockSizeZ()), params});
  launch.erase();
}

void EinsumGpuEmulate::runOnOperation() {
  ModuleOp module = getOperation();
  for (auto gpuModule :
       llvm::make_early_inc_range(module.getOps<gpu::GPUModuleOp>())) {
    if (failed(inlineModule(gpuModule)))
      return signalPassFailure();
    gpuModule.erase();
  }
  llvm::SmallVector<gpu::LaunchFuncOp> launches;
  module.walk([&](gpu::LaunchFuncOp launch) { launches.push_back(launch); });
  for (gpu::LaunchFuncOp launch : launches) {
    if (!thunks.count(launch.getKernel())) {
      launch.emitError("einsum-gpu-emulate: no kernel ") << launch.getKernel();
      return signalPassFailure();
    }
    if (!isa<LLVM::LLVMFuncOp>(launch->getParentOp())) {
      launch.emitError("einsum-gpu-emulate: expects the host code in the "
                       "LLVM dialect (after gpu-to-llvm)");
      return signalPassFailure();
    }
    replaceLaunch(launch);
  }
  module->removeAttr(gpu::GPUDialect::getContainerModuleAttrName());
}
