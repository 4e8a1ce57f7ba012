//===- GradientPlanRunner.h - Running a GradientPlan on any values -*- C++
//-*-===//
//
// The calls of a GradientPlan (Spec/Grad.h) run on eager tensors
// (einsumGradients, Tape.cpp) and on symbolic ones (einjit::gradients,
// Function.cpp): one walk, with the einsum and the ones vectors given.
//
//===----------------------------------------------------------------------===//

#ifndef EINJIT_RUNTIME_LIB_GRADIENTPLANRUNNER_H
#define EINJIT_RUNTIME_LIB_GRADIENTPLANRUNNER_H

#include "einjit/Spec/Grad.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/Error.h"

#include <vector>

namespace einjit {

/// Runs `plan` (of an einsum of `operands` along `path`) from the
/// cotangent of its result, and gives the cotangent of each operand
/// position in `which`. `einsum(equation, args)` computes a call; `ones(n)`
/// makes a vector of n ones. Only the calls some position in `which` needs
/// run.
template <typename T>
llvm::Expected<std::vector<T>> runGradientPlan(
    const GradientPlan &plan, const ContractionPath &path,
    llvm::ArrayRef<T> operands, const T &cotangent, llvm::ArrayRef<int> which,
    llvm::function_ref<llvm::Expected<T>(llvm::StringRef, llvm::ArrayRef<T>)>
        einsum,
    llvm::function_ref<llvm::Expected<T>(int64_t)> ones) {
  using Kind = GradientPlan::Value::Kind;
  int n = operands.size(), m = path.steps.size();
  // The path values that need a cotangent: the positions asked for, and
  // the intermediates some of whose inputs do.
  std::vector<bool> needed(n + m, false);
  for (int k : which)
    needed[k] = true;
  for (int j = 0; j < m; ++j)
    for (int id : path.steps[j].operands)
      needed[n + j] = needed[n + j] || needed[id];

  std::vector<T> intermediates(m), cotangents(n + m);
  cotangents[n + m - 1] = cotangent;
  auto run = [&](const GradientPlan::Call &call) -> llvm::Error {
    std::vector<T> args;
    for (const GradientPlan::Value &v : call.operands) {
      switch (v.kind) {
      case Kind::Operand:
        args.push_back(operands[v.index]);
        break;
      case Kind::Intermediate:
        args.push_back(intermediates[v.index]);
        break;
      case Kind::Cotangent:
        args.push_back(cotangents[v.index]);
        break;
      case Kind::Ones: {
        auto t = ones(v.index);
        if (!t)
          return t.takeError();
        args.push_back(std::move(*t));
        break;
      }
      }
    }
    auto t = einsum(call.equation, args);
    if (!t)
      return t.takeError();
    (call.result.kind == Kind::Intermediate ? intermediates
                                            : cotangents)[call.result.index] =
        std::move(*t);
    return llvm::Error::success();
  };
  // Keep: the forward's intermediates (again: an einsum's kernel keeps
  // none), then the path's steps backwards. Recompute: each gradient.
  for (const GradientPlan::Call &call : plan.forward)
    if (auto err = run(call))
      return std::move(err);
  for (const GradientPlan::Call &call : plan.backward)
    if (needed[call.result.index])
      if (auto err = run(call))
        return std::move(err);
  std::vector<T> grads;
  for (int k : which)
    grads.push_back(cotangents[k]);
  return grads;
}

} // namespace einjit

#endif // EINJIT_RUNTIME_LIB_GRADIENTPLANRUNNER_H
