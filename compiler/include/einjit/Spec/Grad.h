//===- Grad.h - Gradients of einsums as einsums -----------------*- C++ -*-===//
//
// Reverse mode for einsum: the gradient of an einsum with respect to one
// operand is another einsum, of the output's cotangent and the other
// operands, whose output is that operand's term. docs/autodiff.md derives
// the rule; the cases beyond the plain one:
//
// - a label only the operand has (summed away in the forward) is broadcast
//   back: a vector of ones carries it (`ij->i`: `i,j->ij`);
// - a label the operand repeats takes the diagonal: the output repeats it
//   (`ii->`: `,i->ii`, zero off the diagonal);
// - a dim of size 1 that broadcast against a larger size is summed: a fresh
//   label on a ones vector of length 1 keeps the dim (`ij,ij->ij` with the
//   first operand 3x1: `ij,ij,a->ia`);
// - ellipsis dims become letters the equation does not use.
//
// An operand passed twice gets one gradient per position; the caller adds
// them.
//
//===----------------------------------------------------------------------===//

#ifndef EINJIT_SPEC_GRAD_H
#define EINJIT_SPEC_GRAD_H

#include "einjit/Spec/Equation.h"

#include <string>
#include <vector>

namespace einjit {

/// One operand of a gradient einsum.
struct GradOperand {
  enum class Kind : uint8_t {
    /// The cotangent of the forward einsum's output.
    Cotangent,
    /// Forward operand number `value`.
    Operand,
    /// A vector of `value` ones.
    Ones,
  };
  Kind kind = Kind::Cotangent;
  int64_t value = 0;

  bool operator==(const GradOperand &other) const {
    return kind == other.kind && value == other.value;
  }
};

/// The einsum that computes one operand's gradient.
struct GradientEinsum {
  /// Letters only (no ellipsis), explicit output, which may repeat a label
  /// (ParseOptions::repeatedOutputLabels).
  std::string equation;
  std::vector<GradOperand> operands;
  /// The forward operand's shape, which the equation's result has.
  std::vector<int64_t> shape;

  /// "ik,jk->ij (cotangent, operand 1)": for messages and tests.
  std::string str() const;
};

/// The gradient einsum of `eq` with respect to its operand `operand`; an
/// error when the equation needs more than 52 distinct letters once its
/// ellipsis dims and broadcast dims are named.
llvm::Expected<GradientEinsum> gradientEinsum(const BoundEquation &eq,
                                              int operand);

} // namespace einjit

#endif // EINJIT_SPEC_GRAD_H
