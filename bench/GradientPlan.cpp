//===- GradientPlan.cpp - Gradients kept or recomputed, timed -------------===//
//
// einjit::einsumGradients on an equation's operands with the joint plan's
// two strategies: keep (the forward path's intermediates, then its steps
// backwards) and recompute (each operand's gradient einsum alone, forced
// by a budget of one byte), alternating, fastest of REPS calls each, after
// a warm-up that compiles. Prints each strategy's time, flops and kept
// bytes.
//
//   einsum-grad-plan EQUATION SHAPE... [--reps N]   (SHAPE: 1024x64)
//
//===----------------------------------------------------------------------===//

#include "einjit/runtime/Einsum.h"
#include "einjit/runtime/Tape.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <string>

using namespace einjit;

int main(int argc, char **argv) {
  if (argc < 3) {
    llvm::errs() << "usage: einsum-grad-plan EQUATION SHAPE... [--reps N]\n";
    return 2;
  }
  std::string equation = argv[1];
  int reps = 10;
  std::vector<std::vector<int64_t>> shapes;
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--reps" && i + 1 < argc) {
      reps = std::max(1, std::atoi(argv[++i]));
      continue;
    }
    std::vector<int64_t> shape;
    for (size_t p = 0; p < arg.size();) {
      size_t x = arg.find('x', p);
      shape.push_back(std::atoll(arg.substr(p, x - p).c_str()));
      p = x == std::string::npos ? arg.size() : x + 1;
    }
    shapes.push_back(shape);
  }
  std::vector<Tensor> operands;
  std::vector<DType> types(shapes.size(), DType::F32);
  for (auto [k, shape] : llvm::enumerate(shapes)) {
    auto t = Tensor::empty(DType::F32, shape);
    if (!t) {
      llvm::errs() << llvm::toString(t.takeError()) << "\n";
      return 1;
    }
    for (int64_t e = 0; e < t->numel(); ++e)
      t->data<float>()[e] = std::sin(0.3 * e + k) / 8;
    operands.push_back(*t);
  }
  auto plan = planEinsumGradients(equation, shapes, types, 0);
  auto forced = planEinsumGradients(equation, shapes, types, 1);
  if (!plan || !forced) {
    llvm::errs() << "einsum-grad-plan: "
                 << llvm::toString(plan ? forced.takeError() : plan.takeError())
                 << "\n";
    return 1;
  }
  auto y = einsum(equation, operands);
  if (!y) {
    llvm::errs() << llvm::toString(y.takeError()) << "\n";
    return 1;
  }
  Tensor g = llvm::cantFail(Tensor::full(DType::F32, y->shape(), 1.0));
  double best[2] = {1e30, 1e30};
  for (int round = 0; round <= reps; ++round) {
    for (int s = 0; s < 2; ++s) {
      auto start = std::chrono::steady_clock::now();
      auto grads = einsumGradients(equation, operands, g, {}, s == 0 ? 0 : 1);
      double ms = std::chrono::duration<double, std::milli>(
                      std::chrono::steady_clock::now() - start)
                      .count();
      if (!grads) {
        llvm::errs() << llvm::toString(grads.takeError()) << "\n";
        return 1;
      }
      if (round > 0) // the first round compiles
        best[s] = std::min(best[s], ms);
    }
  }
  const char *chosen =
      plan->strategy == GradientPlan::Strategy::Keep ? "keep" : "recompute";
  llvm::outs() << llvm::format(
      "%s: plan %s; keep %.3f ms (%.3g backward flops + %.3g forward again, "
      "%lld bytes kept); recompute %.3f ms (%.3g flops, nothing kept); "
      "recompute/keep %.2f\n",
      equation.c_str(), chosen, best[0], plan->keepFlops,
      plan->strategy == GradientPlan::Strategy::Keep ? plan->forwardFlops : 0.0,
      (long long)plan->keptBytes, best[1], forced->recomputeFlops,
      best[1] / best[0]);
  return 0;
}
