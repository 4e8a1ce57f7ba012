//===- OptimizerStep.cpp - einjit's optimizers on .npy files, for tests ---===//
//
// einjit-optimizer-step KIND OUT.npy W.npy G1.npy [G2.npy ...]
//
// Applies one step of KIND per gradient file to the weights W and writes
// them to OUT: sgd (lr 0.1), sgd-momentum (lr 0.1, momentum 0.9),
// sgd-nesterov (the same, nesterov), adam (lr 0.01, beta1 0.9, beta2
// 0.999, epsilon 1e-7). test/Integration/CPU/optimizers.py compares OUT
// with numpy running Keras's formulas.
//
//===----------------------------------------------------------------------===//

#include "einjit/nn/Optimizers.h"
#include "einjit/runtime/Npy.h"

#include "llvm/Support/raw_ostream.h"

#include <memory>
#include <string>

using namespace einjit;

static int fail(const llvm::Twine &message) {
  llvm::errs() << "einjit-optimizer-step: " << message << "\n";
  return 1;
}

int main(int argc, char **argv) {
  if (argc < 5)
    return fail("usage: einjit-optimizer-step sgd|sgd-momentum|sgd-nesterov|"
                "adam OUT.npy W.npy G1.npy [G2.npy ...]");
  std::string kind = argv[1];
  std::unique_ptr<nn::Optimizer> optimizer;
  if (kind == "sgd")
    optimizer = std::make_unique<nn::SGD>(0.1);
  else if (kind == "sgd-momentum")
    optimizer = std::make_unique<nn::SGD>(0.1, 0.9);
  else if (kind == "sgd-nesterov")
    optimizer = std::make_unique<nn::SGD>(0.1, 0.9, true);
  else if (kind == "adam")
    optimizer = std::make_unique<nn::Adam>(0.01, 0.9, 0.999, 1e-7);
  else
    return fail("unknown optimizer '" + kind + "'");
  auto w = readNpy(argv[3]);
  if (!w)
    return fail(llvm::toString(w.takeError()));
  Variable variable(*w, "w");
  for (int i = 4; i < argc; ++i) {
    auto g = readNpy(argv[i]);
    if (!g)
      return fail(llvm::toString(g.takeError()));
    if (auto err = optimizer->apply({*g}, {variable}))
      return fail(llvm::toString(std::move(err)));
  }
  if (auto err = writeNpy(argv[2], variable.value()))
    return fail(llvm::toString(std::move(err)));
  return 0;
}
