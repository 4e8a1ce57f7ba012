//===- einsum-opt.cpp - mlir-opt for the einsum dialect -------------------===//
//
// Parses MLIR with the einsum dialect and runs passes on it: the einjit
// passes (convert-einsum-to-linalg, einsum-tile-and-vectorize), the named
// pipeline --einsum-cpu-pipeline, and every upstream MLIR pass.
//
//===----------------------------------------------------------------------===//

#include "einjit/Compiler/Compiler.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::registerAllPasses();
  einjit::registerCompilerPasses();
  mlir::DialectRegistry registry;
  einjit::registerCompilerDialects(registry);
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "einsum optimizer driver\n", registry));
}
