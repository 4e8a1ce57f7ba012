//===- Optimizers.h - SGD and Adam, with Keras's update rules ---*- C++ -*-===//
//
// `apply(grads, variables)` updates each variable in place (Variable::assign)
// from its gradient, as keras.optimizers.SGD and Adam's apply_gradients:
//
//   SGD:  v = momentum * v - lr * g;  w += v            (momentum > 0)
//         w += momentum * v - lr * g  after that update  (nesterov)
//         w -= lr * g                                    (momentum = 0)
//   Adam: t += 1; a = lr * sqrt(1 - beta2^t) / (1 - beta1^t)
//         m += (g - m) * (1 - beta1);  v += (g^2 - v) * (1 - beta2)
//         w -= a * m / (sqrt(v) + epsilon)
//
// Slots (v, m) are zeros of each variable's shape, made on its first
// update and kept per variable. An undefined gradient (a variable the loss
// does not depend on) leaves its variable alone. Updates are not recorded
// by gradient tapes.
//
//===----------------------------------------------------------------------===//

#ifndef EINJIT_NN_OPTIMIZERS_H
#define EINJIT_NN_OPTIMIZERS_H

#include "einjit/runtime/Tape.h"

#include <map>

namespace einjit::nn {

class Optimizer {
public:
  virtual ~Optimizer();
  /// An error when the lists differ in length or a gradient's shape is
  /// not its variable's.
  llvm::Error apply(llvm::ArrayRef<Tensor> grads,
                    llvm::ArrayRef<Variable> variables);
  /// Updates applied so far (Keras's `iterations`).
  int64_t iterations() const { return steps; }

protected:
  virtual llvm::Error update(const Tensor &grad, Variable &variable) = 0;
  /// The slot `name` of `variable`: zeros of its shape at first.
  llvm::Expected<Tensor *> slot(const Variable &variable, int name);
  int64_t steps = 0;

private:
  std::map<std::pair<const void *, int>, std::pair<Variable, Tensor>> slots;
};

class SGD : public Optimizer {
public:
  explicit SGD(double learningRate = 0.01, double momentum = 0,
               bool nesterov = false);

private:
  llvm::Error update(const Tensor &grad, Variable &variable) override;
  double learningRate, momentum;
  bool nesterov;
};

class Adam : public Optimizer {
public:
  explicit Adam(double learningRate = 0.001, double beta1 = 0.9,
                double beta2 = 0.999, double epsilon = 1e-7);

private:
  llvm::Error update(const Tensor &grad, Variable &variable) override;
  double learningRate, beta1, beta2, epsilon;
};

} // namespace einjit::nn

#endif // EINJIT_NN_OPTIMIZERS_H
