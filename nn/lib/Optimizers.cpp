//===- Optimizers.cpp - SGD and Adam
//---------------------------------------===//
//
// Each update is a few eager ops per variable (scale, add, mul, sqrt, div),
// run with no tape recording.
//
//===----------------------------------------------------------------------===//

#include "einjit/nn/Optimizers.h"
#include "einjit/Spec/Equation.h"
#include "einjit/Spec/Limits.h"
#include "einjit/runtime/Ops.h"

#include <cmath>

using namespace einjit;
using namespace einjit::nn;

Optimizer::~Optimizer() = default;

llvm::Error Optimizer::apply(llvm::ArrayRef<Tensor> grads,
                             llvm::ArrayRef<Variable> variables) {
  if (grads.size() != variables.size())
    return makeEinsumError("apply: " + std::to_string(grads.size()) +
                           " gradients for " +
                           std::to_string(variables.size()) + " variables");
  NoGradient noTape;
  ++steps;
  for (auto [grad, variable] : llvm::zip(grads, variables)) {
    if (!grad.defined())
      continue;
    Variable v = variable;
    if (grad.shape() != v.value().shape())
      return makeEinsumError("apply: the gradient of variable '" + v.name() +
                             "' is " + shapeString(grad.shape()) +
                             " but the variable is " +
                             shapeString(v.value().shape()));
    if (auto err = update(grad, v))
      return err;
  }
  return llvm::Error::success();
}

llvm::Expected<Tensor *> Optimizer::slot(const Variable &variable, int name) {
  auto key = std::make_pair(variable.key(), name);
  auto found = slots.find(key);
  if (found != slots.end())
    return &found->second.second;
  auto zeros =
      Tensor::allocate(variable.value().dtype(), variable.value().shape());
  if (!zeros)
    return zeros.takeError();
  // The variable is kept with its slot, so that its key stays unique.
  auto [it, fresh] =
      slots.emplace(key, std::make_pair(variable, std::move(*zeros)));
  return &it->second.second;
}

/// Runs `ops` in order, stopping at the first error.
#define TRY(var, expr)                                                         \
  auto var = (expr);                                                           \
  if (!var)                                                                    \
    return var.takeError();

SGD::SGD(double learningRate, double momentum, bool nesterov)
    : learningRate(learningRate), momentum(momentum), nesterov(nesterov) {}

llvm::Error SGD::update(const Tensor &grad, Variable &variable) {
  const Tensor &w = variable.value();
  TRY(step, scale(grad, -learningRate));
  if (momentum == 0) {
    TRY(next, add(w, *step));
    return variable.assign(std::move(*next));
  }
  TRY(velocity, slot(variable, 0));
  TRY(decayed, scale(**velocity, momentum));
  TRY(v, add(*decayed, *step));
  **velocity = *v;
  if (!nesterov) {
    TRY(next, add(w, *v));
    return variable.assign(std::move(*next));
  }
  TRY(ahead, scale(*v, momentum));
  TRY(move, add(*ahead, *step));
  TRY(next, add(w, *move));
  return variable.assign(std::move(*next));
}

Adam::Adam(double learningRate, double beta1, double beta2, double epsilon)
    : learningRate(learningRate), beta1(beta1), beta2(beta2), epsilon(epsilon) {
}

llvm::Error Adam::update(const Tensor &grad, Variable &variable) {
  const Tensor &w = variable.value();
  double t = (double)steps;
  double alpha = learningRate * std::sqrt(1 - std::pow(beta2, t)) /
                 (1 - std::pow(beta1, t));
  TRY(mSlot, slot(variable, 0));
  TRY(vSlot, slot(variable, 1));
  // m += (g - m) * (1 - beta1)
  TRY(dm, sub(grad, **mSlot));
  TRY(sm, scale(*dm, 1 - beta1));
  TRY(m, add(**mSlot, *sm));
  // v += (g^2 - v) * (1 - beta2)
  TRY(g2, mul(grad, grad));
  TRY(dv, sub(*g2, **vSlot));
  TRY(sv, scale(*dv, 1 - beta2));
  TRY(v, add(**vSlot, *sv));
  **mSlot = *m;
  **vSlot = *v;
  // w -= alpha * m / (sqrt(v) + epsilon)
  TRY(root, sqrt(*v));
  TRY(eps, Tensor::full(root->dtype(), {}, epsilon));
  TRY(denominator, add(*root, *eps));
  TRY(ratio, div(*m, *denominator));
  // alpha changes every step: a 0-d tensor operand, not scale's factor,
  // which is compiled into its kernel.
  TRY(factor, Tensor::full(ratio->dtype(), {}, -alpha));
  TRY(step, mul(*ratio, *factor));
  TRY(next, add(w, *step));
  return variable.assign(std::move(*next));
}
