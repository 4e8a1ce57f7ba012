//===- KernelFunction.h - The frame every kernel module shares --*- C++ -*-===//
//
// Einsum kernels (buildKernelModule) and eager ops' kernels (buildOpModule)
// have one interface: `func.func @einsum(%in0: memref<..>, ..., %out:
// memref<..>)`, whose inputs are read as tensors and whose result is
// materialized into %out. KernelFunction builds that frame; the caller
// fills in the body between the inputs and finish().
//
//===----------------------------------------------------------------------===//

#ifndef EINJIT_COMPILER_KERNELFUNCTION_H
#define EINJIT_COMPILER_KERNELFUNCTION_H

#include "einjit/Spec/DType.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include <vector>

namespace einjit {

class KernelFunction {
public:
  /// A module named `name` holding the kernel function, with the builder
  /// at the start of its body, after the inputs' to_tensor ops.
  KernelFunction(mlir::MLIRContext &ctx, llvm::StringRef name,
                 llvm::ArrayRef<std::vector<int64_t>> inputShapes,
                 llvm::ArrayRef<DType> inputTypes,
                 llvm::ArrayRef<int64_t> outputShape, DType resultType);

  /// Stores `result` into %out, returns, and gives the module.
  mlir::OwningOpRef<mlir::ModuleOp> finish(mlir::Value result);

  mlir::OpBuilder b;
  mlir::Location loc;
  /// The inputs, as tensors.
  llvm::SmallVector<mlir::Value> inputs;

private:
  mlir::OwningOpRef<mlir::ModuleOp> module;
  mlir::Block *entry;
};

} // namespace einjit

#endif // EINJIT_COMPILER_KERNELFUNCTION_H
