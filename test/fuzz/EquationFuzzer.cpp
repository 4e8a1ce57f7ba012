//===- EquationFuzzer.cpp - libFuzzer harness: parse and bind -------------===//
//
// The input is an equation, optionally followed by '\n' and bytes that choose
// the operands. Everything before the first '\n' goes to Equation::parse as
// is. If it parses, the bytes after the '\n' give each operand a dtype and a
// shape that mostly agree with the equation (each label one size, each
// ellipsis a few dimensions of size 1 or 2) and sometimes do not (a size in
// 0..4, or now and then one at or beyond einjit's limits), and bindEquation,
// greedyPath and checkPathLimits run on them. Errors are the expected outcome
// for most inputs: each is formatted (the caret code) and consumed. Crashes,
// sanitizer reports and hangs are the bugs.
//
//===----------------------------------------------------------------------===//

#include "einjit/Spec/Equation.h"
#include "einjit/Spec/Limits.h"
#include "einjit/Spec/Path.h"

#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

using namespace einjit;

namespace {

/// Formats `err` as a user would see it, then drops it.
void consume(llvm::Error err) {
  std::string text = llvm::toString(std::move(err));
  if (text.empty()) {
    std::fprintf(stderr, "EquationFuzzer: an error with an empty message\n");
    std::abort();
  }
}

/// A size for one dimension: mostly `agreed`, sometimes anything small,
/// rarely one at or past the limits (binding allocates nothing, so any
/// size is safe to try).
int64_t pickSize(FuzzedDataProvider &fdp, int64_t agreed) {
  switch (fdp.ConsumeIntegralInRange<int>(0, 15)) {
  default:
    return agreed;
  case 12:
  case 13:
    return fdp.ConsumeIntegralInRange<int64_t>(0, 4);
  case 14:
    return 1; // broadcasts against anything
  case 15: {
    static constexpr int64_t kHuge[] = {int64_t(1) << 31, int64_t(1) << 40,
                                        int64_t(1) << 62, INT64_MAX, -1};
    return kHuge[fdp.ConsumeIntegralInRange<int>(0, 4)];
  }
  }
}

DType pickType(FuzzedDataProvider &fdp) {
  static constexpr DType kTypes[] = {DType::F32, DType::F64, DType::F16,
                                     DType::I32, DType::I64};
  return kTypes[fdp.ConsumeIntegralInRange<int>(0, 4)];
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::StringRef input(reinterpret_cast<const char *>(data), size);
  auto [text, rest] = input.split('\n');

  auto eq = Equation::parse(text);
  if (!eq) {
    consume(eq.takeError());
    return 0;
  }

  FuzzedDataProvider fdp(rest.bytes_begin(), rest.size());
  // Sizes the operands agree on: per label, and per ellipsis dimension.
  int salt = fdp.ConsumeIntegral<uint8_t>();
  auto agreedSize = [&](int id) { return int64_t((id * 7 + salt) % 4 + 1); };
  int ellipsisDims = fdp.ConsumeIntegralInRange<int>(0, 3);

  std::vector<std::vector<int64_t>> shapes;
  std::vector<DType> types;
  DType common = pickType(fdp);
  for (const Term &term : eq->inputs) {
    std::vector<int64_t> shape;
    for (int j = 0, e = term.labels.size(); j <= e; ++j) {
      if (j == term.ellipsis) {
        // Right-aligned: an operand may stand for fewer dimensions.
        int rank = ellipsisDims - fdp.ConsumeIntegralInRange<int>(0, 1);
        for (int k = std::max(rank, 0); k > 0; --k)
          shape.push_back(pickSize(fdp, k % 2 + 1));
      }
      if (j < e)
        shape.push_back(pickSize(fdp, agreedSize(labelId(term.labels[j]))));
    }
    // Now and then one dimension too many or too few.
    if (fdp.ConsumeIntegralInRange<int>(0, 31) == 0) {
      if (!shape.empty() && fdp.ConsumeBool())
        shape.pop_back();
      else
        shape.push_back(2);
    }
    shapes.push_back(std::move(shape));
    types.push_back(fdp.ConsumeIntegralInRange<int>(0, 7) == 0 ? pickType(fdp)
                                                               : common);
  }
  // Now and then the wrong number of operands.
  if (fdp.ConsumeIntegralInRange<int>(0, 63) == 0) {
    shapes.push_back({2});
    types.push_back(common);
  }

  auto bound = bindEquation(*eq, shapes, types);
  if (!bound) {
    consume(bound.takeError());
    return 0;
  }
  std::vector<int64_t> out = bound->outputShape();
  (void)bound->summedLabels();
  for (int id : bound->output)
    (void)labelName(id);
  if (bound->output.size() != out.size())
    std::abort();

  ContractionPath path = greedyPath(*bound);
  (void)path.describe();
  (void)path.flops();
  if (path.steps.empty() && !eq->inputs.empty()) {
    std::fprintf(stderr, "EquationFuzzer: '%s' bound but got an empty path\n",
                 eq->text.c_str());
    std::abort();
  }
  if (auto err = checkPathLimits(*bound, path))
    consume(std::move(err));

  // The canonical text parses and binds to the same output.
  auto again = bindEquation(eq->str(), shapes, types);
  if (!again || again->output != bound->output) {
    std::fprintf(stderr, "EquationFuzzer: '%s' and its str() '%s' differ\n",
                 eq->text.c_str(), eq->str().c_str());
    std::abort();
  }

  // Every strategy, now and then under a cap: a path meets the cap or the
  // planner says no path does. Optimal is exact: never above greedy or dp.
  size_t n = bound->inputs.size();
  int64_t cap =
      fdp.ConsumeBool() ? 0 : fdp.ConsumeIntegralInRange<int64_t>(1, 4096);
  double flops[4] = {-1, -1, -1, -1};
  for (PathStrategy s : {PathStrategy::Greedy, PathStrategy::DP,
                         PathStrategy::Auto, PathStrategy::Optimal}) {
    if (s == PathStrategy::Optimal && n > 10)
      continue; // 3^n / 2 splits: slow for a fuzzer
    auto plan = planContraction(*bound, {s, cap});
    if (!plan) {
      consume(plan.takeError());
      continue;
    }
    (void)plan->path.describe();
    double bytes = double(plan->path.largestIntermediate()) *
                   dtypeBytes(bound->computeType);
    if (cap && bytes > cap) {
      std::fprintf(stderr, "EquationFuzzer: '%s' %s path %s breaks the cap\n",
                   eq->text.c_str(), pathStrategyName(s).str().c_str(),
                   plan->path.describe().c_str());
      std::abort();
    }
    flops[int(s)] = plan->path.flops();
  }
  // The searches size labels as broadcast (as opt_einsum); a size-1
  // dimension that broadcasts makes the exact count smaller than that, so
  // compare only where nothing broadcasts.
  bool broadcasts = false;
  for (auto [labels, shape] : llvm::zip(bound->inputs, bound->inputShapes))
    for (auto [label, size] : llvm::zip(labels, shape))
      broadcasts |= size != bound->labelSizes[label];
  double optimal = flops[int(PathStrategy::Optimal)];
  for (PathStrategy s : {PathStrategy::Greedy, PathStrategy::DP}) {
    double other = flops[int(s)];
    if (cap == 0 && !broadcasts && optimal >= 0 && other >= 0 &&
        optimal > other * (1 + 1e-12)) {
      std::fprintf(stderr, "EquationFuzzer: '%s' optimal %g > %s %g\n",
                   eq->text.c_str(), optimal, pathStrategyName(s).str().c_str(),
                   other);
      std::abort();
    }
  }
  return 0;
}
