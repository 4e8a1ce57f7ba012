//===- Path.cpp - Contraction paths for multi-operand einsums -------------===//

#include "einjit/Spec/Path.h"
#include "einjit/Spec/Limits.h"

#include "llvm/Support/FormatVariadic.h"

#include "llvm/ADT/STLExtras.h"

#include <limits>
#include <map>

using namespace einjit;

double ContractionPath::flops() const {
  double total = 0;
  for (const ContractionStep &step : steps)
    total += step.flops;
  return total;
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
  double work = product(loops);
  if (values.size() == 2)
    step.flops = sums ? 2 * work : work;
  else
    step.flops = sums ? work : 0;
  return step;
}

static double numElements(const std::vector<int64_t> &shape) {
  double n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

ContractionPath einjit::greedyPath(const BoundEquation &eq) {
  ContractionPath path;
  for (auto [labels, shape] : llvm::zip(eq.inputs, eq.inputShapes))
    path.operands.push_back({labels, shape});
  int n = path.operands.size();
  if (n == 1) {
    path.steps.push_back(makeStep(path.operands, {0}, eq.output));
    return path;
  }

  std::vector<int> live;
  for (int i = 0; i < n; ++i)
    live.push_back(i);

  while (live.size() > 1) {
    bool last = live.size() == 2;
    double bestCost = std::numeric_limits<double>::infinity();
    double bestFlops = 0;
    ContractionStep best;
    size_t bestA = 0, bestB = 0;
    for (size_t a = 0; a < live.size(); ++a) {
      for (size_t b = a + 1; b < live.size(); ++b) {
        PathValue va = path.value(live[a]), vb = path.value(live[b]);
        std::vector<int> labels;
        if (last) {
          labels = eq.output;
        } else {
          auto needed = [&](int label) {
            if (llvm::is_contained(eq.output, label))
              return true;
            for (size_t o = 0; o < live.size(); ++o)
              if (o != a && o != b &&
                  llvm::is_contained(path.value(live[o]).labels, label))
                return true;
            return false;
          };
          for (const PathValue *v : {&va, &vb})
            for (int label : v->labels)
              if (!llvm::is_contained(labels, label) && needed(label))
                labels.push_back(label);
        }
        ContractionStep step =
            makeStep({va, vb}, {live[a], live[b]}, std::move(labels));
        double cost = numElements(step.shape) - numElements(va.shape) -
                      numElements(vb.shape);
        if (cost < bestCost || (cost == bestCost && step.flops < bestFlops)) {
          bestCost = cost;
          bestFlops = step.flops;
          best = std::move(step);
          bestA = a;
          bestB = b;
        }
      }
    }
    path.steps.push_back(std::move(best));
    live.erase(live.begin() + bestB);
    live.erase(live.begin() + bestA);
    live.push_back(n + path.steps.size() - 1);
  }
  return path;
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
