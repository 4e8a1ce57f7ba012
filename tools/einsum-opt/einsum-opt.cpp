//===- einsum-opt.cpp - mlir-opt for the einsum dialect -------------------===//
//
// Parses MLIR with the einsum dialect and runs passes on it: the einjit
// passes (convert-einsum-to-linalg, einsum-tile-and-vectorize), the named
// pipeline --einsum-cpu-pipeline (tiles for this machine, or for --mcpu and
// --mattr), and every upstream MLIR pass.
//
//===----------------------------------------------------------------------===//

#include "einjit/Compiler/Compiler.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "llvm/Support/CommandLine.h"

// Defaults for --einsum-cpu-pipeline's mcpu and mattr options.
static std::string cpuName, cpuFeatures;
static llvm::cl::opt<std::string>
    mcpu("mcpu",
         llvm::cl::desc("LLVM CPU --einsum-cpu-pipeline compiles for "
                        "(default: this machine)"),
         llvm::cl::callback([](const std::string &cpu) {
           cpuName = cpu;
           einjit::setDefaultPipelineCPU(cpuName, cpuFeatures);
         }));
static llvm::cl::opt<std::string>
    mattr("mattr",
          llvm::cl::desc("LLVM features to add or remove (+avx2,-avx512f)"),
          llvm::cl::callback([](const std::string &features) {
            cpuFeatures = features;
            einjit::setDefaultPipelineCPU(cpuName, cpuFeatures);
          }));

int main(int argc, char **argv) {
  llvm::cl::AddExtraVersionPrinter([](llvm::raw_ostream &os) {
    os << "einsum-opt (einjit " << EINJIT_VERSION << ")\n";
  });
  mlir::registerAllPasses();
  einjit::registerCompilerPasses();
  mlir::DialectRegistry registry;
  einjit::registerCompilerDialects(registry);
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "einsum optimizer driver\n", registry));
}
