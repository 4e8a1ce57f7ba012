//===- linear_regression.cpp - EinsumDense fit by SGD ---------------------===//
//
// Synthetic data y = x W + b + noise (x: 512 x 8, W: 8 x 3, noise of std
// 1e-3); an EinsumDense `ab,bc->ac` with a bias learns W and b by SGD with
// momentum on the mean squared error, through the gradient tape. It
// succeeds (exit 0) when the loss fell at least 100x and every learned
// kernel entry is within 1e-2 of the true one.
//
//   build/bin/example-linear-regression [--steps 300] [--quiet]
//
//===----------------------------------------------------------------------===//

#include "ExampleUtils.h"

#include "einjit/nn/Layers.h"
#include "einjit/nn/Optimizers.h"
#include "einjit/runtime/Ops.h"

#include <cmath>
#include <random>

using namespace einjit;
using namespace einjit::examples;

int main(int argc, char **argv) {
  Options options = parseOptions(argc, argv, 300);
  const int64_t n = 512, in = 8, out = 3;
  std::mt19937 rng(42);
  std::normal_distribution<float> normal(0, 1);

  Tensor x = orExit(Tensor::empty(DType::F32, {n, in}), "data");
  for (int64_t e = 0; e < x.numel(); ++e)
    x.data<float>()[e] = normal(rng);
  std::vector<float> trueW(in * out), trueB(out);
  for (float &w : trueW)
    w = normal(rng);
  for (float &b : trueB)
    b = normal(rng);
  Tensor y = orExit(Tensor::empty(DType::F32, {n, out}), "data");
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < out; ++j) {
      double s = trueB[j] + 1e-3 * normal(rng);
      for (int64_t k = 0; k < in; ++k)
        s += x.data<float>()[i * in + k] * trueW[k * out + j];
      y.data<float>()[i * out + j] = s;
    }

  nn::EinsumDense dense("ab,bc->ac", {out}, "c", nn::Activation::None,
                        /*seed=*/1);
  nn::SGD sgd(/*learningRate=*/0.05, /*momentum=*/0.9);
  Progress progress(options.quiet);
  double first = 0, last = 0;
  for (int step = 1; step <= options.steps; ++step) {
    GradientTape tape;
    Tensor pred = orExit(dense(x), "forward");
    Tensor diff = orExit(sub(pred, y), "forward");
    Tensor loss =
        orExit(scale(orExit(sum(orExit(mul(diff, diff), "forward")), "forward"),
                     1.0 / (n * out)),
               "loss");
    std::vector<Variable> vars = dense.trainableVariables();
    std::vector<Tensor> grads = orExit(tape.gradient(loss, vars), "gradient");
    orExit(sgd.apply(grads, vars), "update");
    last = loss.getDouble(0);
    if (step == 1)
      first = last;
    if (step == 1 || step % 50 == 0 || step == options.steps)
      progress.report(step, last);
  }

  double worst = 0;
  const Tensor &w = dense.kernelVariable().value();
  for (int64_t e = 0; e < w.numel(); ++e)
    worst = std::max(worst, std::fabs(w.getDouble(e) - trueW[e]));
  bool fell = last * 100 <= first;
  llvm::outs() << llvm::format("loss %.6g -> %.6g (%.0fx); largest kernel "
                               "error %.3g\n",
                               first, last, first / last, worst);
  if (!fell || worst > 1e-2) {
    llvm::errs() << "FAILED: the loss must fall 100x and the kernel come "
                    "within 1e-2 of the true one\n";
    return 1;
  }
  llvm::outs() << "OK\n";
  return 0;
}
