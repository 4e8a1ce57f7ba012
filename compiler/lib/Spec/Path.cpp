//===- Path.cpp - Contraction paths for multi-operand einsums -------------===//

#include "einjit/Spec/Path.h"
#include "einjit/Spec/Limits.h"

#include "llvm/Support/FormatVariadic.h"

#include "llvm/ADT/STLExtras.h"

#include <algorithm>

using namespace einjit;

double ContractionPath::flops() const {
  double total = 0;
  for (const ContractionStep &step : steps)
    total += step.flops;
  return total;
}

int64_t ContractionPath::largestIntermediate() const {
  int64_t largest = 0;
  for (size_t i = 0; i + 1 < steps.size(); ++i)
    largest = std::max(largest, saturatingProduct(steps[i].shape));
  return largest;
}

PathValue ContractionPath::value(int id) const {
  if (id < (int)operands.size())
    return operands[id];
  const ContractionStep &step = steps[id - operands.size()];
  return {step.labels, step.shape};
}

std::string ContractionPath::describe() const {
  std::vector<std::string> names;
  for (size_t i = 0; i < operands.size(); ++i)
    names.push_back(std::to_string(i));
  for (const ContractionStep &step : steps) {
    std::string s = "(";
    for (auto [i, v] : llvm::enumerate(step.operands))
      s += (i ? "," : "") + names[v];
    names.push_back(s + ")");
  }
  return names.back();
}

std::vector<std::pair<int, int64_t>>
einjit::loopLabels(llvm::ArrayRef<PathValue> values,
                   llvm::ArrayRef<int> resultLabels) {
  // Result labels first, in their order, then the summed ones in order of
  // appearance: parallel loops outermost, reductions innermost.
  std::vector<std::pair<int, int64_t>> loops;
  auto add = [&](int label, int64_t size) {
    for (auto &[l, s] : loops) {
      if (l == label) {
        if (s == 1)
          s = size;
        return;
      }
    }
    loops.push_back({label, size});
  };
  for (int label : resultLabels)
    add(label, 1);
  for (const PathValue &v : values)
    for (auto [label, size] : llvm::zip(v.labels, v.shape))
      add(label, size);
  return loops;
}

static double product(const std::vector<std::pair<int, int64_t>> &loops) {
  double p = 1;
  for (auto &[l, s] : loops)
    p *= s;
  return p;
}

static ContractionStep makeStep(llvm::ArrayRef<PathValue> values,
                                std::vector<int> operands,
                                std::vector<int> labels) {
  ContractionStep step;
  step.operands = std::move(operands);
  auto loops = loopLabels(values, labels);
  for (int label : labels)
    for (auto &[l, s] : loops)
      if (l == label)
        step.shape.push_back(s);
  step.labels = std::move(labels);
  bool sums = loops.size() > step.labels.size();
  double terms = std::max<double>(1, double(values.size()) - 1);
  step.flops = product(loops) * (terms + (sums ? 1 : 0));
  return step;
}

/// The labels of `values` in order of first appearance, each once, that
/// `needed` keeps.
template <typename Needed>
static std::vector<int> keptLabels(llvm::ArrayRef<PathValue> values,
                                   Needed needed) {
  std::vector<int> labels;
  for (const PathValue &v : values)
    for (int label : v.labels)
      if (!llvm::is_contained(labels, label) && needed(label))
        labels.push_back(label);
  return labels;
}

llvm::Expected<ContractionPath>
einjit::pathFromSteps(const BoundEquation &eq,
                      llvm::ArrayRef<std::vector<int>> steps) {
  ContractionPath path;
  for (auto [labels, shape] : llvm::zip(eq.inputs, eq.inputShapes))
    path.operands.push_back({labels, shape});
  int n = path.operands.size();
  std::vector<bool> consumed(n + steps.size(), false);
  // How many live values hold each label (each value counted once).
  std::vector<int> holders(kMaxLabels, 0);
  auto count = [&](llvm::ArrayRef<int> labels, int delta) {
    for (auto [i, label] : llvm::enumerate(labels))
      if (!llvm::is_contained(labels.take_front(i), label))
        holders[label] += delta;
  };
  for (const PathValue &v : path.operands)
    count(v.labels, 1);
  for (auto [k, ids] : llvm::enumerate(steps)) {
    if (ids.empty() || ids.size() > 2)
      return makeEinsumError(llvm::formatv(
          "step {0} of the path contracts {1} values; a step takes one or two",
          k, ids.size()));
    for (auto [j, id] : llvm::enumerate(ids)) {
      if (id < 0 || id >= n + (int)k)
        return makeEinsumError(llvm::formatv(
            "step {0} of the path names value {1}, which does not exist yet "
            "(operands are 0-{2}, step i makes {3}+i)",
            k, id, n - 1, n));
      if (consumed[id] || (j == 1 && ids[0] == id))
        return makeEinsumError(llvm::formatv(
            "step {0} of the path uses value {1}, already consumed", k, id));
    }
    llvm::SmallVector<PathValue> values;
    for (int id : ids) {
      consumed[id] = true;
      values.push_back(path.value(id));
      count(values.back().labels, -1);
    }
    bool last = k + 1 == steps.size();
    std::vector<int> labels =
        last ? eq.output : keptLabels(values, [&](int label) {
          return holders[label] > 0 || llvm::is_contained(eq.output, label);
        });
    count(labels, 1);
    path.steps.push_back(makeStep(values, ids, std::move(labels)));
  }
  int live = llvm::count(consumed, false);
  if (steps.empty() || live != 1)
    return makeEinsumError(llvm::formatv(
        "the path leaves {0} values uncontracted; it must end with one",
        steps.empty() ? n : live));
  return path;
}

double einjit::naiveFlops(const BoundEquation &eq) {
  std::vector<PathValue> values;
  for (auto [labels, shape] : llvm::zip(eq.inputs, eq.inputShapes))
    values.push_back({labels, shape});
  std::vector<int> ids(values.size());
  for (size_t i = 0; i < ids.size(); ++i)
    ids[i] = i;
  return makeStep(values, ids, eq.output).flops;
}

llvm::Error einjit::checkPathLimits(const BoundEquation &eq,
                                    const ContractionPath &path) {
  for (auto [i, step] : llvm::enumerate(path.steps)) {
    llvm::SmallVector<PathValue> values;
    for (int id : step.operands)
      values.push_back(path.value(id));
    llvm::SmallVector<int64_t> ranges;
    for (auto [label, size] : loopLabels(values, step.labels))
      ranges.push_back(size);
    if (!checkedProduct(ranges, 1, kMaxIterations))
      return makeEinsumError(llvm::formatv(
          "step {0} of the contraction path {1} would run more than 2^62 "
          "loop iterations",
          i, path.describe()));
    if (i + 1 == path.steps.size())
      continue; // the result, checked when the equation was bound
    if (!checkedProduct(step.shape, dtypeBytes(eq.computeType),
                        kMaxTensorBytes))
      return makeEinsumError(llvm::formatv(
          "the intermediate of step {0} of the contraction path {1} would "
          "have shape {2}, more than 2^62 bytes",
          i, path.describe(), shapeString(step.shape)));
  }
  return llvm::Error::success();
}
