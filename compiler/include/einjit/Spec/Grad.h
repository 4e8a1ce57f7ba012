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
#include "einjit/Spec/Path.h"

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

/// The forward and backward of one einsum planned together: which
/// intermediates of the forward path to keep for the backward, and the
/// contractions that give every operand's gradient.
///
/// - Recompute: each operand's gradient einsum (gradientEinsum) on its own,
///   planned with the real shapes: nothing of the forward is kept, and each
///   gradient contracts the other operands again.
/// - Keep: the forward path's intermediates are kept, and the backward
///   walks the path's steps in reverse, each step's inputs getting their
///   cotangents from its result's by the step's own (unary or pairwise)
///   gradient einsum: reverse mode through the path, about twice the
///   forward's flops in all.
///
/// With three or more operands, Keep does fewer flops and holds the
/// intermediates; planGradients takes it when they fit the budget.
struct GradientPlan {
  enum class Strategy : uint8_t { Keep, Recompute };
  /// A tensor a call reads or makes.
  struct Value {
    enum class Kind : uint8_t {
      Operand,      ///< forward operand `index`
      Intermediate, ///< the result of forward path step `index`
      Cotangent,    ///< of path value `index` (operands 0..n-1, step k n+k)
      Ones,         ///< a vector of `index` ones
    };
    Kind kind;
    int64_t index;
  };
  struct Call {
    /// Letters only; the output may repeat a label.
    std::string equation;
    std::vector<Value> operands;
    Value result;
    std::vector<int64_t> shape;
    double flops = 0;
    /// Its path when it has three or more operands (by the planner).
    std::string path;
  };

  Strategy strategy = Strategy::Recompute;
  /// Keep: the forward steps that make the kept intermediates (the last
  /// step, the output, is not needed). Recompute: empty.
  std::vector<Call> forward;
  std::vector<Call> backward;
  /// Bytes of the kept intermediates (Keep), in the compute type.
  int64_t keptBytes = 0;
  /// Flops of the forward path, and of each strategy's backward calls
  /// (Keep's includes nothing of the forward).
  double forwardFlops = 0, keepFlops = 0, recomputeFlops = 0;
  /// Why the strategy was chosen.
  std::string reason;

  double flops() const {
    return strategy == Strategy::Keep ? keepFlops : recomputeFlops;
  }
  /// The text einsum-run --explain=grad prints.
  std::string str() const;
};

/// Plans the gradients of `eq` (contracted along `forward`) with respect
/// to every operand: Keep when it costs fewer flops and its intermediates
/// fit `keepBytes` (0: no limit), else Recompute. An output that repeats
/// a label is always Recompute.
llvm::Expected<GradientPlan> planGradients(const BoundEquation &eq,
                                           const ContractionPath &forward,
                                           int64_t keepBytes = 0);

} // namespace einjit

#endif // EINJIT_SPEC_GRAD_H
