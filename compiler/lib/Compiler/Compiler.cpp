//===- Compiler.cpp - The compiler's interface to the runtime -------------===//
//
// The CPU pipeline, stage by stage (see docs/pipeline.md):
//
// 1. Linalg: convert-einsum-to-linalg splits each einsum along its path.
// 2. Vector: einsum-tile-and-vectorize, then one-shot bufferization (the
//    result is written in place into the output argument) and buffer
//    deallocation for intermediates.
// 3. LLVM: the vector, memref, scf and arith dialects to LLVM, with bare
//    pointers for memref arguments.
//
//===----------------------------------------------------------------------===//

#include "einjit/Compiler/Compiler.h"
#include "KernelFunction.h"
#include "einjit/Conversion/Passes.h"
#include "einjit/Dialect/Einsum/IR/EinsumOps.h"
#include "einjit/Transforms/Passes.h"
#include "einjit/Transforms/RegisterTile.h"

#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/ConvertToLLVM/ToLLVMInterface.h"
#include "mlir/Conversion/FuncToLLVM/ConvertFuncToLLVM.h"
#include "mlir/Conversion/GPUToNVVM/GPUToNVVM.h"
#include "mlir/Conversion/IndexToLLVM/IndexToLLVM.h"
#include "mlir/Conversion/MathToLLVM/MathToLLVM.h"
#include "mlir/Conversion/MemRefToLLVM/MemRefToLLVM.h"
#include "mlir/Conversion/NVVMToLLVM/NVVMToLLVM.h"
#include "mlir/Conversion/Passes.h"
#include "mlir/Conversion/UBToLLVM/UBToLLVM.h"
#include "mlir/Dialect/Arith/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Bufferization/Transforms/FuncBufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/Func/Extensions/InlinerExtension.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Index/IR/IndexDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/Linalg/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Linalg/Transforms/SubsetInsertionOpInterfaceImpl.h"
#include "mlir/Dialect/Linalg/Transforms/TilingInterfaceImpl.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/OpenMP/OpenMPDialect.h"
#include "mlir/Dialect/SCF/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Tensor/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Tensor/Transforms/SubsetInsertionOpInterfaceImpl.h"
#include "mlir/Dialect/UB/IR/UBOps.h"
#include "mlir/Dialect/Vector/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Vector/Transforms/SubsetOpInterfaceImpl.h"
#include "mlir/IR/Verifier.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/OpenMP/OpenMPToLLVMIRTranslation.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Support/FormatVariadic.h"

#include "llvm/ADT/StringSwitch.h"

#include <cstdlib>
#include <mutex>
#include <string_view>

using namespace mlir;

std::optional<einjit::Stage> einjit::parseStage(llvm::StringRef name) {
  return llvm::StringSwitch<std::optional<Stage>>(name)
      .Case("einsum", Stage::Einsum)
      .Case("linalg", Stage::Linalg)
      .Case("vector", Stage::Vector)
      .Case("llvm", Stage::LLVM)
      .Default(std::nullopt);
}

void einjit::registerCompilerDialects(DialectRegistry &registry) {
  registry
      .insert<einsum::EinsumDialect, affine::AffineDialect, arith::ArithDialect,
              omp::OpenMPDialect, bufferization::BufferizationDialect,
              cf::ControlFlowDialect, func::FuncDialect, index::IndexDialect,
              linalg::LinalgDialect, LLVM::LLVMDialect, math::MathDialect,
              memref::MemRefDialect, scf::SCFDialect, tensor::TensorDialect,
              ub::UBDialect, vector::VectorDialect, x86vector::X86VectorDialect,
              gpu::GPUDialect, NVVM::NVVMDialect>();
  arith::registerBufferizableOpInterfaceExternalModels(registry);
  bufferization::func_ext::registerBufferizableOpInterfaceExternalModels(
      registry);
  linalg::registerBufferizableOpInterfaceExternalModels(registry);
  linalg::registerTilingInterfaceExternalModels(registry);
  linalg::registerSubsetOpInterfaceExternalModels(registry);
  scf::registerBufferizableOpInterfaceExternalModels(registry);
  tensor::registerBufferizableOpInterfaceExternalModels(registry);
  tensor::registerSubsetOpInterfaceExternalModels(registry);
  vector::registerBufferizableOpInterfaceExternalModels(registry);
  vector::registerSubsetOpInterfaceExternalModels(registry);
  func::registerInlinerExtension(registry);
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  registerOpenMPDialectTranslation(registry);
  // The GPU pipeline: NVVM targets serialize gpu.modules to PTX.
  registerGPUDialectTranslation(registry);
  registerNVVMDialectTranslation(registry);
  NVVM::registerNVVMTargetInterfaceExternalModels(registry);
  // gpu.binary's #gpu.select_object: the PTX becomes a global that the
  // host code loads (mgpuModuleLoadJIT) from a global constructor.
  gpu::registerOffloadingLLVMTranslationInterfaceExternalModels(registry);
  // convert-gpu-to-nvvm lowers a kernel's ops through the dialects'
  // ConvertToLLVM interfaces.
  arith::registerConvertArithToLLVMInterface(registry);
  cf::registerConvertControlFlowToLLVMInterface(registry);
  registerConvertFuncToLLVMInterface(registry);
  NVVM::registerConvertGpuToNVVMInterface(registry);
  index::registerConvertIndexToLLVMInterface(registry);
  registerConvertMathToLLVMInterface(registry);
  registerConvertMemRefToLLVMInterface(registry);
  registerConvertNVVMToLLVMInterface(registry);
  ub::registerConvertUBToLLVMInterface(registry);
  registerConvertToLLVMDependentDialectLoading(registry);
}

// The stages as textual pipelines: they double as documentation of exactly
// what runs, and einsum-opt accepts the same strings. The linalg stage is
// kLinalgOps, then (traced functions) kFuseOps, then kLinalgEnd.
static constexpr llvm::StringLiteral kLinalgOps =
    "einsum-plan-paths,convert-einsum-to-linalg,canonicalize";
// Traced functions' elementwise ops fuse into their consumers.
static constexpr llvm::StringLiteral kFuseOps =
    "func.func(einsum-fuse-elementwise),canonicalize";
// Each result's tensor.empty becomes its destination, and the others
// (intermediates) allocations, before cse: it would otherwise share one
// empty between same-shaped tensors (a traced function's three
// projections, a chain's steps), which bufferize into one buffer, with
// whole-tensor copies to and from the others. Not before fusion, which
// replaces a destination its op does not read by a new empty.
static constexpr llvm::StringLiteral kLinalgEnd =
    "eliminate-empty-tensors,empty-tensor-to-alloc-tensor,cse";
// {0}: einsum-tile-and-vectorize's parallel-work; {1}, {2}: the target's
// SIMD width and register count; {3}, {4}: its L1 and L2 sizes; {5}, {6}:
// whether it has AVX512-BF16's and AVX512-VNNI's dot products; {7}: its
// OpenMP threads; {8}: its L3 size. An scf.forall it
// makes becomes an OpenMP parallel loop; canonicalize then inlines the
// memref.alloca_scope that convert-scf-to-openmp wraps around the body.
// einsum-lower-reductions runs before canonicalize, which would fold a
// one-element vector.multi_reduction into an arith op without its `nsz`;
// no later pass makes one. No eliminate-empty-tensors runs again before
// one-shot-bufferize: the stage's first one has made the destinations, and
// a second left the LLVM IR of 25 signatures and of traced attention the
// same, byte for byte, while its analysis took 84M of the 732M
// instructions of `ij,jk->ik` at 1009³ (docs/performance.md).
static constexpr llvm::StringLiteral kVectorStage =
    "eliminate-empty-tensors,"
    "func.func(einsum-fuse-rows{{parallel-work={0} l1-bytes={3} "
    "l2-bytes={4} threads={7}},"
    "einsum-split-reductions{{vector-bits={1}},"
    "einsum-pack-contractions{{vector-bits={1} vector-registers={2} "
    "l2-bytes={4} l3-bytes={8} bf16-dot={5} int8-dot={6}},"
    "loop-invariant-code-motion,"
    "einsum-tile-and-vectorize{{parallel-work={0} vector-bits={1} "
    "vector-registers={2} l1-bytes={3} l2-bytes={4} l3-bytes={8} threads={7}},"
    "einsum-lower-reductions),"
    "canonicalize,cse,"
    "one-shot-bufferize{bufferize-function-boundaries "
    "function-boundary-type-conversion=identity-layout-map},"
    "canonicalize,cse,einsum-workspace,"
    "func.func(ownership-based-buffer-deallocation),canonicalize,"
    "func.func(buffer-deallocation-simplification),"
    "bufferization-lower-deallocations,cse,canonicalize,"
    "scf-forall-to-parallel,convert-scf-to-openmp,canonicalize,"
    "func.func(einsum-prefetch-strided-reads{{l2-bytes={4}},"
    "einsum-stream-tile-stores{{l2-bytes={4} l3-bytes={8}})";
static constexpr llvm::StringLiteral kLLVMStage =
    "func.func(einsum-lower-copies,convert-linalg-to-loops,"
    "einsum-approximate-math,"
    "einsum-expand-bf16,einsum-lower-dot-products),"
    "convert-math-to-llvm,convert-math-to-libm,"
    "func.func(convert-vector-to-scf{full-unroll=true}),"
    "expand-strided-metadata,lower-affine,convert-scf-to-cf,canonicalize,"
    "cse,convert-vector-to-llvm{vector-contract-lowering=outerproduct "
    "enable-x86vector=1 reassociate-fp-reductions=1},"
    "finalize-memref-to-llvm,convert-arith-to-llvm,convert-ub-to-llvm,"
    "convert-index-to-llvm,convert-math-to-llvm,convert-cf-to-llvm,"
    "convert-func-to-llvm{use-bare-ptr-memref-call-conv=1},"
    "convert-openmp-to-llvm,"
    "reconcile-unrealized-casts,canonicalize,cse,einsum-negative-strides";

// The GPU pipeline after the linalg stage: bufferized, mapped to blocks and
// threads (einsum-gpu-map-loops), outlined into gpu.modules, lowered to
// NVVM and serialized. {0}, {1}: threads per block along the contiguous dim
// and the next; {2}: the SM (sm_90); {3}: PTX features (+ptx80); {4}: what
// gpu-module-to-binary makes (isa: PTX text), or, for `host`,
// einsum-gpu-emulate, which compiles the kernels for the host CPU.
static constexpr llvm::StringLiteral kGpuStage =
    "eliminate-empty-tensors,"
    "one-shot-bufferize{{bufferize-function-boundaries "
    "function-boundary-type-conversion=identity-layout-map},"
    "canonicalize,cse,"
    "func.func(ownership-based-buffer-deallocation),canonicalize,"
    "func.func(buffer-deallocation-simplification),"
    "bufferization-lower-deallocations,cse,canonicalize,"
    "func.func(einsum-gpu-map-loops{{tile-x={0} tile-y={1}},"
    "gpu-map-parallel-loops,convert-parallel-loops-to-gpu),"
    "canonicalize,cse,gpu-launch-sink-index-computations,gpu-kernel-outlining,"
    "func.func(gpu-async-region),expand-strided-metadata,"
    "lower-affine,convert-scf-to-cf,"
    "canonicalize,cse,nvvm-attach-target{{chip={2} features={3} O=3},"
    "gpu.module(convert-gpu-to-nvvm{{use-bare-ptr-memref-call-conv=1},"
    "canonicalize,cse),"
    "gpu-to-llvm{{use-bare-pointers-for-host=1 "
    "use-bare-pointers-for-kernels=1},"
    "reconcile-unrealized-casts,{4}";

/// Parses one of the built-in textual stages into `pm`. The stages name
/// upstream and einjit passes: they are registered once, first.
static void addStage(OpPassManager &pm, llvm::StringRef pipeline) {
  static std::once_flag once;
  std::call_once(once, [] {
    registerAllPasses();
    einjit::registerCompilerPasses();
  });
  if (failed(parsePassPipeline(pipeline, pm)))
    llvm::report_fatal_error("einjit: malformed built-in pipeline");
}

void einjit::buildGpuPipeline(OpPassManager &pm, const GpuTarget &target,
                              bool fuseElementwise) {
  auto add = [&](llvm::StringRef pipeline) { addStage(pm, pipeline); };
  add(kLinalgOps);
  if (fuseElementwise)
    add(kFuseOps);
  add(kLinalgEnd);
  std::string last = target.format == "host"
                         ? std::string("einsum-gpu-emulate")
                         : "gpu-module-to-binary{format=" + target.format + "}";
  add(llvm::formatv(kGpuStage.data(), target.tileX, target.tileY, target.chip,
                    target.features, last)
          .str());
}

/// The runtime's pipelines verify the module once, at the end, not after
/// every pass as mlir-opt does: per-pass verification took 168M of the
/// 895M instructions of planning, MLIR and O3 for `ij,jk->ik` at 1009³
/// (callgrind). EINJIT_VERIFY_EACH_PASS=1 turns it back on (the sanitizer
/// and fuzzing builds set it, so that a pass that breaks the IR is caught
/// where it does).
static bool verifyEachPass() {
  static const bool each = [] {
    const char *env = std::getenv("EINJIT_VERIFY_EACH_PASS");
    return env && *env && std::string_view(env) != "0";
  }();
  return each;
}

/// Runs `pm` on `module` with verification as verifyEachPass() says, and
/// the whole module verified at the end; diagnostics go to `diagnostics`.
static LogicalResult runVerified(PassManager &pm, ModuleOp module,
                                 std::string &diagnostics) {
  pm.enableVerifier(verifyEachPass());
  llvm::raw_string_ostream os(diagnostics);
  ScopedDiagnosticHandler handler(module->getContext(), [&](Diagnostic &d) {
    os << d.str() << "\n";
    return success();
  });
  return success(succeeded(pm.run(module)) && succeeded(verify(module)));
}

llvm::Error einjit::lowerToGpu(ModuleOp module, const GpuTarget &target,
                               bool fuseElementwise) {
  PassManager pm(module.getContext());
  buildGpuPipeline(pm, target, fuseElementwise);
  std::string diagnostics;
  if (failed(runVerified(pm, module, diagnostics)))
    return llvm::createStringError("the GPU pipeline failed: " + diagnostics);
  // A kernel that calls a function PTX does not define (libdevice's __nv_*
  // math, where the CUDA toolkit was not found to link it) would fail to
  // load on the device: refuse it here.
  std::string missing;
  module.walk([&](gpu::BinaryOp binary) {
    for (Attribute attr : binary.getObjects()) {
      auto object = dyn_cast<gpu::ObjectAttr>(attr);
      if (!object || !missing.empty())
        continue;
      llvm::StringRef ptx = object.getObject().getValue();
      size_t at = ptx.find(".extern .func");
      if (at == llvm::StringRef::npos)
        continue;
      // The declaration's first line names the function.
      missing = ptx.substr(at).take_until([](char c) { return c == '\n'; });
    }
  });
  if (!missing.empty())
    return llvm::createStringError(
        "a GPU kernel calls a function its PTX does not define ('" + missing +
        "'): libdevice is needed; install the CUDA toolkit or set CUDA_HOME");
  return llvm::Error::success();
}

llvm::Expected<std::string> einjit::compileToPTX(ModuleOp module,
                                                 const GpuTarget &target) {
  if (auto err = lowerToGpu(module, target))
    return std::move(err);
  std::string ptx;
  module.walk([&](gpu::BinaryOp binary) {
    for (Attribute attr : binary.getObjects())
      if (auto object = dyn_cast<gpu::ObjectAttr>(attr))
        ptx += "// gpu.module @" + binary.getSymName().str() + "\n" +
               object.getObject().getValue().str();
  });
  return ptx;
}

void einjit::buildCpuPipeline(OpPassManager &pm, Stage from, Stage to,
                              const TargetInfo &target, int64_t parallelWork,
                              bool fuseElementwise) {
  auto add = [&](llvm::StringRef pipeline) { addStage(pm, pipeline); };
  if (from < Stage::Linalg && to >= Stage::Linalg) {
    add(kLinalgOps);
    if (fuseElementwise)
      add(kFuseOps);
    add(kLinalgEnd);
  }
  if (from < Stage::Vector && to >= Stage::Vector)
    add(llvm::formatv(kVectorStage.data(), parallelWork, target.vectorBits,
                      target.vectorRegisters, target.l1Bytes, target.l2Bytes,
                      target.bf16Dot, target.int8Dot, target.threads,
                      target.l3Bytes)
            .str());
  if (from < Stage::LLVM && to >= Stage::LLVM)
    add(kLLVMStage);
}

namespace {
/// The options of --einsum-cpu-pipeline.
struct CpuPipelineOptions : PassPipelineOptions<CpuPipelineOptions> {
  Option<std::string> mcpu{*this, "mcpu",
                           llvm::cl::desc("LLVM CPU name to compile for "
                                          "(default: the host)")};
  Option<std::string> mattr{
      *this, "mattr",
      llvm::cl::desc("LLVM features to add or remove (+avx2,-avx512f)")};
  Option<int64_t> parallelWork{
      *this, "parallel-work",
      llvm::cl::desc("Loop-nest size from which tiles run on threads"),
      llvm::cl::init(einjit::kDefaultParallelWork)};
  Option<bool> fuseElementwise{
      *this, "fuse-elementwise",
      llvm::cl::desc("Fuse elementwise ops into the ops that read them "
                     "(einsum-fuse-elementwise), as for traced functions"),
      llvm::cl::init(false)};
};
} // namespace

static std::string &defaultCPU() {
  static std::string cpu;
  return cpu;
}

static std::string &defaultMattr() {
  static std::string mattr;
  return mattr;
}

void einjit::setDefaultPipelineCPU(llvm::StringRef cpu, llvm::StringRef mattr) {
  defaultCPU() = cpu.str();
  defaultMattr() = mattr.str();
}

namespace {
/// The options of --einsum-gpu-pipeline.
struct GpuPipelineOptions : PassPipelineOptions<GpuPipelineOptions> {
  Option<std::string> chip{*this, "chip",
                           llvm::cl::desc("NVIDIA SM to compile for"),
                           llvm::cl::init("sm_90")};
  Option<std::string> features{*this, "features",
                               llvm::cl::desc("PTX features (+ptx80)"),
                               llvm::cl::init("+ptx80")};
  Option<std::string> format{
      *this, "format",
      llvm::cl::desc("What the gpu.modules become: isa (PTX text), bin "
                     "(cubin, needs ptxas), fatbin, or host (host code for "
                     "the runtime's emulator, einsum-gpu-emulate)"),
      llvm::cl::init("isa")};
  Option<int64_t> tileX{*this, "tile-x",
                        llvm::cl::desc("Threads per block along the "
                                       "result's contiguous dim"),
                        llvm::cl::init(32)};
  Option<int64_t> tileY{*this, "tile-y",
                        llvm::cl::desc("Threads per block along the next "
                                       "parallel dim"),
                        llvm::cl::init(8)};
  Option<bool> fuseElementwise{
      *this, "fuse-elementwise",
      llvm::cl::desc("Fuse elementwise ops into the ops that read them "
                     "(einsum-fuse-elementwise), as for traced functions"),
      llvm::cl::init(false)};
};
} // namespace

void einjit::registerCompilerPasses() {
  static std::once_flag once;
  std::call_once(once, [] {
    registerPassPipeline(
        "einsum-gpu-pipeline",
        "Lower einsum.contract to NVIDIA PTX: linalg, bufferized, parallel "
        "loops on blocks and threads (contiguous dim on thread x), "
        "outlined gpu.modules, NVVM, serialized by gpu-module-to-binary",
        [](OpPassManager &pm, llvm::StringRef text,
           llvm::function_ref<LogicalResult(const llvm::Twine &)> error) {
          GpuPipelineOptions options;
          if (failed(options.parseFromString(text)))
            return failure();
          GpuTarget target;
          target.chip = options.chip;
          target.features = options.features;
          target.format = options.format;
          target.tileX = options.tileX;
          target.tileY = options.tileY;
          buildGpuPipeline(pm, target, options.fuseElementwise);
          return success();
        },
        [](llvm::function_ref<void(const detail::PassOptions &)> print) {
          print(GpuPipelineOptions());
        });
    einsum::registerEinjitConversionPasses();
    einsum::registerEinjitTransformsPasses();
    registerPassPipeline(
        "einsum-cpu-pipeline",
        "Lower einsum.contract to the LLVM dialect: linalg, tiled and "
        "vectorized loops, bufferized, bare-pointer functions",
        [](OpPassManager &pm, llvm::StringRef text,
           llvm::function_ref<LogicalResult(const llvm::Twine &)> error) {
          CpuPipelineOptions options;
          if (failed(options.parseFromString(text)))
            return failure();
          llvm::StringRef cpu = options.mcpu.hasValue()
                                    ? llvm::StringRef(options.mcpu)
                                    : llvm::StringRef(defaultCPU());
          llvm::StringRef mattr = options.mattr.hasValue()
                                      ? llvm::StringRef(options.mattr)
                                      : llvm::StringRef(defaultMattr());
          auto target = TargetInfo::forCPU(cpu, mattr);
          if (!target)
            return error(llvm::toString(target.takeError()));
          buildCpuPipeline(pm, Stage::Einsum, Stage::LLVM, *target,
                           options.parallelWork, options.fuseElementwise);
          return success();
        },
        [](llvm::function_ref<void(const detail::PassOptions &)> print) {
          print(CpuPipelineOptions());
        });
  });
}

einjit::KernelFunction::KernelFunction(
    MLIRContext &ctx, llvm::StringRef name,
    llvm::ArrayRef<std::vector<int64_t>> inputShapes,
    llvm::ArrayRef<DType> inputTypes,
    llvm::ArrayRef<std::vector<int64_t>> outputShapes,
    llvm::ArrayRef<DType> outputTypes,
    llvm::ArrayRef<std::vector<int64_t>> inputStrides)
    : b(&ctx), loc(NameLoc::get(b.getStringAttr(name))),
      module(ModuleOp::create(loc)) {
  ctx.loadDialect<func::FuncDialect, bufferization::BufferizationDialect>();
  b.setInsertionPointToEnd(module->getBody());
  SmallVector<Type> argTypes;
  SmallVector<Type> tensorTypes;
  for (auto [i, logical] : llvm::enumerate(inputShapes)) {
    Type element = einsum::toMLIRType(&ctx, inputTypes[i]);
    // A complex input is its parts, (real, imaginary) in a last dim of 2.
    std::vector<int64_t> shape = einsum::storageShape(inputTypes[i], logical);
    // A strided input is a memref of that static layout: the bare-pointer
    // calling convention takes its first element's address.
    if (i < inputStrides.size() && !inputStrides[i].empty()) {
      std::vector<int64_t> strides = inputStrides[i];
      if (isComplex(inputTypes[i])) {
        for (int64_t &s : strides)
          s *= 2;
        strides.push_back(1);
      }
      argTypes.push_back(MemRefType::get(
          shape, element, StridedLayoutAttr::get(&ctx, 0, strides)));
      if (llvm::any_of(strides, [](int64_t s) { return s < 0; }))
        (*module)->setAttr(einsum::kNegativeStridesAttrName,
                           UnitAttr::get(&ctx));
    } else {
      argTypes.push_back(MemRefType::get(shape, element));
    }
    tensorTypes.push_back(RankedTensorType::get(shape, element));
  }
  for (auto [shape, type] : llvm::zip(outputShapes, outputTypes))
    argTypes.push_back(MemRefType::get(einsum::storageShape(type, shape),
                                       einsum::toMLIRType(&ctx, type)));
  auto func = func::FuncOp::create(b, loc, kKernelName,
                                   b.getFunctionType(argTypes, {}));
  entry = func.addEntryBlock();
  b.setInsertionPointToStart(entry);
  for (auto [arg, type] : llvm::zip(entry->getArguments(), tensorTypes))
    inputs.push_back(bufferization::ToTensorOp::create(
        b, loc, type, arg, /*restrict=*/true, /*writable=*/false));
}

OwningOpRef<ModuleOp> einjit::KernelFunction::finish(ValueRange results) {
  ValueRange outs = entry->getArguments().take_back(results.size());
  for (auto [result, out] : llvm::zip(results, outs)) {
    auto store =
        bufferization::MaterializeInDestinationOp::create(b, loc, result, out);
    store.setRestrict(true);
    store.setWritable(true);
  }
  func::ReturnOp::create(b, loc);
  return std::move(module);
}

OwningOpRef<ModuleOp>
einjit::buildKernelModule(MLIRContext &ctx, const BoundEquation &eq,
                          const ContractionPath *path,
                          llvm::ArrayRef<std::vector<int64_t>> inputStrides) {
  ctx.loadDialect<einsum::EinsumDialect>();
  std::vector<int64_t> outShape = eq.outputShape();
  KernelFunction kernel(ctx, eq.text, eq.inputShapes, eq.inputTypes, {outShape},
                        {eq.resultType}, inputStrides);
  auto resultType = einsum::storageType(&ctx, eq.resultType, outShape);
  auto contract = einsum::ContractOp::create(
      kernel.b, kernel.loc, resultType, kernel.b.getStringAttr(eq.text),
      kernel.inputs, path ? einsum::pathAttr(&ctx, *path) : ArrayAttr(),
      einsum::dtypesAttr(&ctx, eq.inputTypes, eq.resultType));
  return kernel.finish(ValueRange{contract.getResult()});
}

llvm::Expected<std::vector<einjit::KernelChoice>>
einjit::describeKernels(MLIRContext &ctx, const BoundEquation &eq,
                        const ContractionPath &path, const TargetInfo &target,
                        llvm::ArrayRef<std::string> labelNames) {
  OwningOpRef<ModuleOp> module = buildKernelModule(ctx, eq, &path);
  PassManager pm(&ctx);
  pm.addPass(einsum::createConvertEinsumToLinalg());
  if (failed(pm.run(*module)))
    return makeEinsumError("internal compiler error: '" + eq.text +
                           "' does not lower to linalg");
  // The contraction of each step, marked, in step order (a complex step
  // with a real value has one per part: the first stands for both).
  SmallVector<linalg::GenericOp> generics;
  module->walk([&](linalg::GenericOp op) {
    if (op->hasAttr(einsum::kStepAttrName))
      generics.push_back(op);
  });
  if (isComplex(eq.computeType)) {
    SmallVector<linalg::GenericOp> one;
    size_t at = 0;
    for (const ContractionStep &step : path.steps) {
      bool split =
          step.operands.size() == 2 && at + 1 < generics.size() &&
          generics[at].getNumLoops() == generics[at + 1].getNumLoops() &&
          generics[at]->getOperandTypes() ==
              generics[at + 1]->getOperandTypes();
      if (at < generics.size())
        one.push_back(generics[at]);
      at += split ? 2 : 1;
    }
    generics = std::move(one);
  }
  std::vector<einjit::KernelChoice> choices;
  for (linalg::GenericOp op :
       llvm::ArrayRef(generics).take_front(path.steps.size())) {
    std::vector<std::string> names;
    for (int32_t label :
         cast<DenseI32ArrayAttr>(op->getAttr(einsum::kStepAttrName))
             .asArrayRef())
      names.push_back(label >= 0    ? labelNames[label]
                      : label == -1 ? "(re,im)"
                                    : "(re,im)'");
    choices.push_back(einsum::describeKernel(
        op, names, target.vectorBits, target.vectorRegisters, target.l1Bytes,
        target.l2Bytes, target.l3Bytes, target.bf16Dot, target.int8Dot));
  }
  return choices;
}

int64_t einjit::workspaceBytes(ModuleOp module) {
  auto bytes = module->getAttrOfType<IntegerAttr>(einsum::kWorkspaceAttrName);
  return bytes ? bytes.getInt() : 0;
}

llvm::Error einjit::lowerKernelModule(ModuleOp module, Stage to,
                                      const TargetInfo &target,
                                      int64_t parallelWork,
                                      bool fuseElementwise) {
  PassManager pm(module->getContext());
  buildCpuPipeline(pm, Stage::Einsum, to, target, parallelWork,
                   fuseElementwise);
  std::string diagnostics;
  if (succeeded(runVerified(pm, module, diagnostics)))
    return llvm::Error::success();
  return makeEinsumError("internal compiler error while lowering: " +
                         llvm::StringRef(diagnostics).trim());
}
