//===- Path.h - Contraction paths for multi-operand einsums -----*- C++ -*-===//
//
// An einsum of n operands is computed as a sequence of unary or pairwise
// contractions. A path lists them; each step names the values it consumes
// (operands are values 0..n-1, step k produces value n+k) and the labels of
// what it produces. The last step produces the equation's output.
//
//===----------------------------------------------------------------------===//

#ifndef EINJIT_SPEC_PATH_H
#define EINJIT_SPEC_PATH_H

#include "einjit/Spec/Equation.h"

#include <vector>

namespace einjit {

/// A value along a path: an operand or an intermediate result.
struct PathValue {
  /// Label id of each dimension; an operand may repeat a label (diagonal).
  std::vector<int> labels;
  std::vector<int64_t> shape;
};

struct ContractionStep {
  /// Values consumed: one or two.
  std::vector<int> operands;
  /// Labels of the produced value, each once.
  std::vector<int> labels;
  std::vector<int64_t> shape;
  /// Multiply-adds counted as 2 flops, a lone multiply or add as 1.
  double flops = 0;
};

struct ContractionPath {
  std::vector<PathValue> operands;
  std::vector<ContractionStep> steps;

  double flops() const;
  /// Labels and shape of value `id` (an operand or a step's result).
  PathValue value(int id) const;
  /// "((0,1),2)"-style description, for messages and --explain.
  std::string describe() const;
};

/// Size of each label over the loop nest of a step that contracts `values`:
/// the largest size among them (a 1 broadcasts).
std::vector<std::pair<int, int64_t>>
loopLabels(llvm::ArrayRef<PathValue> values, llvm::ArrayRef<int> resultLabels);

/// The greedy path: repeatedly contract the pair whose result is smallest
/// relative to its inputs (opt_einsum's greedy rule), summing each label as
/// soon as no other value and not the output needs it.
ContractionPath greedyPath(const BoundEquation &eq);

/// Checks every step of `path` against einjit's limits: its loop nest runs
/// at most kMaxIterations iterations and its result fits kMaxTensorBytes.
llvm::Error checkPathLimits(const BoundEquation &eq,
                            const ContractionPath &path);

} // namespace einjit

#endif // EINJIT_SPEC_PATH_H
