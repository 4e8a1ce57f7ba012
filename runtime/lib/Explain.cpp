//===- Explain.cpp - What einjit will do with an einsum, in words ---------===//

#include "einjit/runtime/Explain.h"
#include "einjit/Compiler/Compiler.h"
#include "einjit/Spec/Limits.h"
#include "einjit/runtime/Einsum.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"

#include <chrono>

using namespace einjit;

llvm::Expected<Explanation>
einjit::explain(llvm::StringRef equation,
                llvm::ArrayRef<std::vector<int64_t>> shapes,
                llvm::ArrayRef<DType> types, const PlanOptions &options) {
  auto bound = bindEquation(equation, shapes, types);
  if (!bound)
    return bound.takeError();
  const BoundEquation &eq = *bound;
  // Time the planner alone: repeat it for at least 20 ms (or 1000 times).
  auto start = std::chrono::steady_clock::now();
  auto plan = planContraction(eq, options);
  if (!plan)
    return plan.takeError();
  double once =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  int repeats = 1;
  if (once < 0.02) {
    int more = std::min<int>(1000, int(0.02 / std::max(once, 1e-7)));
    start = std::chrono::steady_clock::now();
    for (int i = 0; i < more; ++i)
      (void)planContraction(eq, options);
    once =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    repeats = more;
  }
  if (auto err = checkPathLimits(eq, plan->path))
    return std::move(err);

  Explanation ex;
  ex.equation = eq.text;
  for (auto [shape, type] : llvm::zip(eq.inputShapes, eq.inputTypes))
    ex.operands.push_back(dtypeName(type).str() + "[" + dimsString(shape) +
                          "]");
  ex.result = dtypeName(eq.resultType).str() + "[" +
              dimsString(eq.outputShape()) + "] (accumulated in " +
              dtypeName(eq.computeType).str() + ")";
  ex.strategy = pathStrategyName(options.strategy).str();
  ex.chosen = plan->chosen;
  ex.memoryLimitBytes = options.memoryLimitBytes;
  ex.naiveFlops = plan->naiveFlops;
  const ContractionPath &path = plan->path;
  ex.flops = path.flops();
  ex.planSeconds = once / repeats;
  ex.path = path.describe();
  int64_t elementBytes = dtypeBytes(eq.computeType);
  for (size_t i = 0; i + 1 < path.steps.size(); ++i) {
    int64_t elements = saturatingProduct(path.steps[i].shape);
    if (elements > ex.largestIntermediate || ex.largestShape.empty()) {
      ex.largestIntermediate = elements;
      ex.largestShape = path.steps[i].shape;
    }
  }
  ex.largestIntermediateBytes =
      saturatingProduct({ex.largestIntermediate, elementBytes});

  // Letters for the ellipsis' dimensions: unused ones, from 'A' up.
  std::vector<std::string> names(kMaxLabels);
  for (int id = 0; id < kMaxLabels; ++id)
    names[id] = id < kNumLetters ? labelName(id) : "";
  std::vector<bool> used(kNumLetters, false);
  for (int id = 0; id < kNumLetters && id < (int)eq.labelSizes.size(); ++id)
    used[id] = eq.labelSizes[id] >= 0;
  // Upper case first (26..51), then lower case; past 52 labels in all,
  // the rest keep their "...k" names.
  int next = 0;
  auto letter = [](int k) { return (k + 26) % kNumLetters; };
  for (int id = kNumLetters; id < (int)eq.labelSizes.size(); ++id) {
    if (eq.labelSizes[id] < 0)
      continue;
    while (next < kNumLetters && used[letter(next)])
      ++next;
    if (next == kNumLetters) {
      names[id] = "[" + labelName(id) + "]";
      continue;
    }
    used[letter(next)] = true;
    names[id] = labelName(letter(next));
    ex.ellipsisLetters += names[id];
  }
  auto term = [&](llvm::ArrayRef<int> labels) {
    std::string s;
    for (int label : labels)
      s += names[label];
    return s;
  };

  TargetInfo target = currentTarget();
  ex.isa = target.isa;
  ex.target = target.str();
  mlir::DialectRegistry registry;
  registerCompilerDialects(registry);
  mlir::MLIRContext context(registry);
  context.loadAllAvailableDialects();
  bool empty = llvm::any_of(eq.labelSizes, [](int64_t s) { return s == 0; });
  std::vector<KernelChoice> kernels;
  if (!empty) {
    auto described = describeKernels(context, eq, path, target, names);
    if (!described)
      return described.takeError();
    kernels = std::move(*described);
  }
  for (auto [k, step] : llvm::enumerate(path.steps)) {
    ExplainedStep s;
    s.operands = step.operands;
    for (auto [i, id] : llvm::enumerate(step.operands))
      s.contraction += (i ? "," : "") + term(path.value(id).labels);
    s.contraction += "->" + term(step.labels);
    s.shape = step.shape;
    s.flops = step.flops;
    if (k < kernels.size())
      s.kernel = kernels[k];
    else
      s.kernel = {"none", "",
                  "a label has size 0: nothing to compute (the result is "
                  "empty, or zeros where a summed label is empty)"};
    ex.steps.push_back(std::move(s));
  }
  return ex;
}

std::string Explanation::str() const {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << "einsum: " << equation << " on";
  for (const std::string &operand : operands)
    os << " " << operand;
  os << "\nresult: " << result << "\n";
  if (!ellipsisLetters.empty())
    os << "ellipsis dimensions shown as: " << ellipsisLetters << "\n";
  os << "target: " << isa << " (" << target << ")\n";
  os << "strategy: " << strategy;
  if (chosen != strategy)
    os << " (" << chosen << ")";
  os << llvm::formatv(", planned in {0:F1} us\n", planSeconds * 1e6);
  os << "path: " << path << "\n";
  os << llvm::formatv("naive flops: {0:e}  optimised flops: {1:e}  "
                      "ratio: {2:F1}x\n",
                      naiveFlops, flops, flops > 0 ? naiveFlops / flops : 1.0);
  os << "largest intermediate: ";
  if (largestShape.empty())
    os << "none";
  else
    os << dimsString(largestShape) << " = " << largestIntermediate
       << " elements, " << bytesString(largestIntermediateBytes);
  os << "; memory limit: "
     << (memoryLimitBytes ? bytesString(memoryLimitBytes) : std::string("none"))
     << "\n";
  size_t n = operands.size();
  for (auto [k, step] : llvm::enumerate(steps)) {
    std::string ids;
    for (auto [i, id] : llvm::enumerate(step.operands))
      ids += (i ? "," : "") + std::to_string(id);
    os << llvm::formatv("step {0} -> {1}: ({2}) {3}  shape {4}  flops {5:e}\n",
                        k, n + k, ids, step.contraction, dimsString(step.shape),
                        step.flops);
    os << "  kernel: " << step.kernel.kind;
    if (!step.kernel.detail.empty())
      os << "; " << step.kernel.detail;
    os << "\n  why: " << step.kernel.why << "\n";
  }
  return s;
}

std::string Explanation::json() const {
  llvm::json::Array stepArray;
  for (const ExplainedStep &step : steps) {
    llvm::json::Array ids, shape;
    for (int id : step.operands)
      ids.push_back(id);
    for (int64_t d : step.shape)
      shape.push_back(d);
    stepArray.push_back(llvm::json::Object{
        {"operands", std::move(ids)},
        {"contraction", step.contraction},
        {"shape", std::move(shape)},
        {"flops", step.flops},
        {"kernel", step.kernel.kind},
        {"detail", step.kernel.detail},
        {"why", step.kernel.why},
    });
  }
  llvm::json::Array pathArray, operandArray, largest;
  for (const ExplainedStep &step : steps) {
    llvm::json::Array ids;
    for (int id : step.operands)
      ids.push_back(id);
    pathArray.push_back(std::move(ids));
  }
  for (const std::string &operand : operands)
    operandArray.push_back(operand);
  for (int64_t d : largestShape)
    largest.push_back(d);
  llvm::json::Object object{
      {"equation", equation},
      {"operands", std::move(operandArray)},
      {"result", result},
      {"strategy", strategy},
      {"chosen", chosen},
      {"memory_limit_bytes", memoryLimitBytes},
      {"naive_flops", naiveFlops},
      {"flops", flops},
      {"largest_intermediate", largestIntermediate},
      {"largest_intermediate_bytes", largestIntermediateBytes},
      {"largest_intermediate_shape", std::move(largest)},
      {"plan_seconds", planSeconds},
      {"path", std::move(pathArray)},
      {"path_text", path},
      {"isa", isa},
      {"target", target},
      {"steps", std::move(stepArray)},
  };
  std::string s;
  llvm::raw_string_ostream os(s);
  os << llvm::json::Value(std::move(object));
  return s;
}
