//===- KernelFunction.h - The frame every kernel module shares --*- C++ -*-===//
//
// Einsum kernels (buildKernelModule), eager ops' kernels (buildOpModule) and
// traced functions' (buildGraphModule) have one interface: `func.func
// @einsum(%in0: memref<..>, ..., %out0: memref<..>, ...)`, whose inputs are
// read as tensors and whose results are materialized into the %out
// arguments. KernelFunction builds that frame; the caller fills in the body
// between the inputs and finish().
//
//===----------------------------------------------------------------------===//

#ifndef EINJIT_COMPILER_KERNELFUNCTION_H
#define EINJIT_COMPILER_KERNELFUNCTION_H

#include "einjit/Spec/DType.h"
#include "einjit/Spec/Ops.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include <vector>

namespace einjit {

class KernelFunction {
public:
  /// A module named `name` holding the kernel function, with the builder
  /// at the start of its body, after the inputs' to_tensor ops. Input i is
  /// read with `inputStrides[i]` (in elements) where that is given and not
  /// empty, else it is contiguous.
  KernelFunction(mlir::MLIRContext &ctx, llvm::StringRef name,
                 llvm::ArrayRef<std::vector<int64_t>> inputShapes,
                 llvm::ArrayRef<DType> inputTypes,
                 llvm::ArrayRef<std::vector<int64_t>> outputShapes,
                 llvm::ArrayRef<DType> outputTypes,
                 llvm::ArrayRef<std::vector<int64_t>> inputStrides = {});

  /// Stores each of `results` into its %out argument, returns, and gives
  /// the module.
  mlir::OwningOpRef<mlir::ModuleOp> finish(mlir::ValueRange results);

  mlir::OpBuilder b;
  mlir::Location loc;
  /// The inputs, as tensors.
  llvm::SmallVector<mlir::Value> inputs;

private:
  mlir::OwningOpRef<mlir::ModuleOp> module;
  mlir::Block *entry;
};

/// The tensor an eager op of signature `sig` computes from `inputs`
/// (tensors of its input shapes and types), built at `b`'s insertion
/// point: one linalg.generic, or a few for reductions (OpKernels.cpp).
mlir::Value emitOp(mlir::OpBuilder &b, mlir::Location loc,
                   const OpSignature &sig, mlir::ValueRange inputs);

} // namespace einjit

#endif // EINJIT_COMPILER_KERNELFUNCTION_H
