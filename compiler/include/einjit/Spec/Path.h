//===- Path.h - Contraction paths for multi-operand einsums -----*- C++ -*-===//
//
// An einsum of n operands is computed as a sequence of unary or pairwise
// contractions. A path lists them; each step names the values it consumes
// (operands are values 0..n-1, step k produces value n+k) and the labels of
// what it produces. The last step produces the equation's output.
//
// Flops are counted as opt_einsum counts them: a step over loops of N
// iterations costs N times (number of values - 1, at least 1), plus N more
// when it sums a label. So a matmul is 2MNK, an outer or Hadamard product
// N, a transpose N and a sum over one operand 2N.
//
// The planners (planContraction) pick the path: greedy, optimal, dp or auto,
// under an optional cap on the largest intermediate. Planner.cpp has them.
//
//===----------------------------------------------------------------------===//

#ifndef EINJIT_SPEC_PATH_H
#define EINJIT_SPEC_PATH_H

#include "einjit/Spec/Equation.h"

#include <optional>
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
  /// Elements of the largest intermediate (every step's result but the
  /// last); 0 without one.
  int64_t largestIntermediate() const;
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
/// The greedy path among pairs whose result, unless it is the output, has
/// at most `capElements` elements; nullopt when at some step no pair fits.
std::optional<ContractionPath> greedyPath(const BoundEquation &eq,
                                          double capElements);

/// The path that contracts the values each step names (operand ids and
/// earlier steps' ids, as in ContractionStep::operands), each label summed
/// as soon as nothing left needs it and the last step in the output's
/// order. An error if the steps do not consume every value exactly once,
/// ending with one.
llvm::Expected<ContractionPath>
pathFromSteps(const BoundEquation &eq, llvm::ArrayRef<std::vector<int>> steps);

/// The flops of one loop nest over every label at once (numpy's
/// `optimize=False`), counted as above.
double naiveFlops(const BoundEquation &eq);

enum class PathStrategy {
  /// `optimal` up to kAutoOptimalOperands operands, then the cheaper of
  /// `dp` and `greedy`; beyond kAutoFullDPOperands, dp gets a small work
  /// budget (2000 pairs of subsets), and greedy's path stands if dp runs
  /// out of it.
  Auto,
  /// opt_einsum's greedy rule; O(n^3) pairs.
  Greedy,
  /// Exhaustive over every tree of pairwise contractions (outer products
  /// included), by dynamic programming over all subsets of operands, pruned
  /// by the greedy cost; up to kMaxOptimalOperands operands. It also tries
  /// summing each operand's private labels first (as dp does) and keeps the
  /// cheaper.
  Optimal,
  /// Dynamic programming over connected subgraphs (no outer products inside
  /// a connected part), with an increasing cost cap, after summing each
  /// operand's private labels (Pfeifer, Haegeman and Verstraete 2014, as
  /// opt_einsum's `dp`); disconnected parts are joined smallest first.
  /// It visits at most kMaxDPPairs pairs of subsets; past that, greedy's
  /// path stands.
  DP,
};
std::optional<PathStrategy> parsePathStrategy(llvm::StringRef name);
llvm::StringRef pathStrategyName(PathStrategy strategy);

/// `auto` uses `optimal` up to this many operands, and dp without a tight
/// budget up to kAutoFullDPOperands (opt_einsum's auto uses its branch
/// searches up to 14 and greedy beyond).
constexpr int kAutoOptimalOperands = 10;
constexpr int kAutoFullDPOperands = 14;
/// `dp` visits at most this many pairs of subsets (a few seconds), as
/// `auto` does up to kAutoFullDPOperands operands.
constexpr double kMaxDPPairs = 2e7;
/// `optimal` visits 3^n / 2 splits: refused beyond this many operands.
constexpr int kMaxOptimalOperands = 16;

struct PlanOptions {
  PathStrategy strategy = PathStrategy::Auto;
  /// The largest intermediate may hold at most this many bytes (of the
  /// equation's compute type); 0: no cap. The inputs and the result do not
  /// count.
  int64_t memoryLimitBytes = 0;
};

struct Plan {
  ContractionPath path;
  PathStrategy strategy = PathStrategy::Auto;
  /// What ran: auto's pick, or the fallback when a strategy found no path
  /// under the cap.
  std::string chosen;
  double naiveFlops = 0;
};

/// Plans `eq` with `options`. Fails when no path meets the memory cap,
/// naming the smallest cap that would work, or when `optimal` is asked for
/// more than kMaxOptimalOperands operands.
llvm::Expected<Plan> planContraction(const BoundEquation &eq,
                                     const PlanOptions &options = {});

/// Checks every step of `path` against einjit's limits: its loop nest runs
/// at most kMaxIterations iterations and its result fits kMaxTensorBytes.
llvm::Error checkPathLimits(const BoundEquation &eq,
                            const ContractionPath &path);

} // namespace einjit

#endif // EINJIT_SPEC_PATH_H
