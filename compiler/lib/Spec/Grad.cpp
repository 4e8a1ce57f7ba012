//===- Grad.cpp - Gradients of einsums as einsums -------------------------===//
//
// For operand k of `in_0,...,in_n->out`, d out / d in_k contracted with the
// cotangent g is `out,in_0,..(without in_k)..,in_n->in_k`: every term of
// the sum that produced out[...] with in_k[...] in it, with in_k's factor
// replaced by g. Grad.h lists the cases that need more than that.
//
//===----------------------------------------------------------------------===//

#include "einjit/Spec/Grad.h"
#include "einjit/Spec/Limits.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

using namespace einjit;

std::string GradientEinsum::str() const {
  std::string s = equation + " (";
  for (auto [i, op] : llvm::enumerate(operands)) {
    if (i)
      s += ", ";
    switch (op.kind) {
    case GradOperand::Kind::Cotangent:
      s += "cotangent";
      break;
    case GradOperand::Kind::Operand:
      s += "operand " + std::to_string(op.value);
      break;
    case GradOperand::Kind::Ones:
      s += "ones(" + std::to_string(op.value) + ")";
      break;
    }
  }
  return s + ")";
}

llvm::Expected<GradientEinsum> einjit::gradientEinsum(const BoundEquation &eq,
                                                      int operand) {
  int numOperands = eq.inputs.size();
  if (operand < 0 || operand >= numOperands)
    return makeEinsumError(llvm::formatv("no operand {0} to differentiate: "
                                         "the equation has {1}",
                                         operand, numOperands));

  // Letters: a letter label keeps its own; ellipsis dims and fresh labels
  // take the letters the equation does not use, in order.
  std::vector<bool> used(kNumLetters, false);
  for (const std::vector<int> &labels : eq.inputs)
    for (int id : labels)
      if (id < kNumLetters)
        used[id] = true;
  std::vector<char> letters(eq.labelSizes.size(), 0);
  int nextFree = 0;
  auto freshLetter = [&]() -> int {
    while (nextFree < kNumLetters && used[nextFree])
      ++nextFree;
    if (nextFree == kNumLetters)
      return -1;
    used[nextFree] = true;
    return labelName(nextFree++)[0];
  };
  auto tooMany = [&] {
    return makeEinsumError(
        "the gradient einsum of '" + eq.text +
        "' needs more than 52 labels once its ellipsis and broadcast "
        "dimensions are named");
  };
  for (int id = 0, e = eq.labelSizes.size(); id < e; ++id) {
    if (eq.labelSizes[id] < 0)
      continue;
    if (id < kNumLetters) {
      letters[id] = labelName(id)[0];
      continue;
    }
    int c = freshLetter();
    if (c < 0)
      return tooMany();
    letters[id] = c;
  }
  auto term = [&](llvm::ArrayRef<int> labels) {
    std::string s;
    for (int id : labels)
      s += letters[id];
    return s;
  };

  GradientEinsum grad;
  grad.shape = eq.inputShapes[operand];
  std::vector<std::string> terms;
  terms.push_back(term(eq.output));
  grad.operands.push_back({GradOperand::Kind::Cotangent, 0});
  for (int j = 0; j < numOperands; ++j) {
    if (j == operand)
      continue;
    terms.push_back(term(eq.inputs[j]));
    grad.operands.push_back({GradOperand::Kind::Operand, j});
  }

  // Whether a label reaches its full size in some operand of the gradient
  // einsum so far: the cotangent has every output label at full size.
  auto carried = [&](int id) {
    if (llvm::is_contained(eq.output, id))
      return true;
    for (int j = 0; j < numOperands; ++j) {
      if (j == operand)
        continue;
      for (auto [label, size] : llvm::zip(eq.inputs[j], eq.inputShapes[j]))
        if (label == id && size == eq.labelSizes[id])
          return true;
    }
    return false;
  };

  std::string output;
  std::vector<int> onesFor; // labels broadcast back by a ones vector
  for (auto [id, size] : llvm::zip(eq.inputs[operand], grad.shape)) {
    if (size == 1 && eq.labelSizes[id] != 1) {
      // Broadcast in the forward: summed here, the dim kept by a fresh
      // label of size 1.
      int c = freshLetter();
      if (c < 0)
        return tooMany();
      output += (char)c;
      terms.push_back(std::string(1, (char)c));
      grad.operands.push_back({GradOperand::Kind::Ones, 1});
      continue;
    }
    output += letters[id];
    if (!carried(id) && !llvm::is_contained(onesFor, id))
      onesFor.push_back(id);
  }
  for (int id : onesFor) {
    terms.push_back(std::string(1, letters[id]));
    grad.operands.push_back({GradOperand::Kind::Ones, eq.labelSizes[id]});
  }

  for (auto [i, t] : llvm::enumerate(terms))
    grad.equation += (i ? "," : "") + t;
  grad.equation += "->" + output;
  return grad;
}

//===----------------------------------------------------------------------===//
// The forward and backward planned together
//===----------------------------------------------------------------------===//

/// A letter for each label id of `eq`: its own for a letter, an unused
/// one for an ellipsis dim; 0 where none is left.
static std::vector<char> lettersOf(const BoundEquation &eq) {
  std::vector<bool> used(kNumLetters, false);
  for (int id = 0; id < kNumLetters && id < (int)eq.labelSizes.size(); ++id)
    used[id] = eq.labelSizes[id] >= 0;
  std::vector<char> letters(eq.labelSizes.size(), 0);
  int next = 0;
  for (int id = 0, e = eq.labelSizes.size(); id < e; ++id) {
    if (eq.labelSizes[id] < 0)
      continue;
    if (id < kNumLetters) {
      letters[id] = labelName(id)[0];
      continue;
    }
    while (next < kNumLetters && used[next])
      ++next;
    if (next < kNumLetters) {
      used[next] = true;
      letters[id] = labelName(next++)[0];
    }
  }
  return letters;
}

/// Step `step` of `path` as an equation of its own: its values' labels
/// and sizes (a label's size is its loop's in this step), its text in
/// `letters`.
static BoundEquation stepEquation(const BoundEquation &eq,
                                  const ContractionPath &path,
                                  const ContractionStep &step,
                                  llvm::ArrayRef<char> letters) {
  BoundEquation s;
  s.labelSizes.assign(eq.labelSizes.size(), -1);
  std::vector<PathValue> values;
  for (int id : step.operands)
    values.push_back(path.value(id));
  for (auto [label, size] : loopLabels(values, step.labels))
    s.labelSizes[label] = size;
  for (const PathValue &v : values) {
    s.inputs.push_back(v.labels);
    s.inputShapes.push_back(v.shape);
    s.inputTypes.push_back(eq.resultType);
  }
  s.output = step.labels;
  s.resultType = eq.resultType;
  s.computeType = eq.computeType;
  for (auto [i, labels] : llvm::enumerate(s.inputs)) {
    s.text += i ? "," : "";
    for (int id : labels)
      s.text += letters[id];
  }
  s.text += "->";
  for (int id : s.output)
    s.text += letters[id];
  return s;
}

/// A call of `rule` (a gradient einsum) on the plan's values: `bind` gives
/// the value and shape of its cotangent and operands (ones vectors are
/// bound here); flops and path from planning it with the real shapes.
static llvm::Expected<GradientPlan::Call> makeCall(
    const GradientEinsum &rule,
    llvm::function_ref<std::pair<GradientPlan::Value, std::vector<int64_t>>(
        const GradOperand &)>
        bind,
    GradientPlan::Value result, DType type) {
  GradientPlan::Call call;
  call.equation = rule.equation;
  call.result = result;
  call.shape = rule.shape;
  std::vector<std::vector<int64_t>> shapes;
  for (const GradOperand &op : rule.operands) {
    if (op.kind == GradOperand::Kind::Ones) {
      call.operands.push_back({GradientPlan::Value::Kind::Ones, op.value});
      shapes.push_back({op.value});
      continue;
    }
    auto [value, shape] = bind(op);
    call.operands.push_back(value);
    shapes.push_back(std::move(shape));
  }
  std::vector<DType> types(shapes.size(), type);
  auto bound = bindEquation(rule.equation, shapes, types,
                            {/*repeatedOutputLabels=*/true});
  if (!bound)
    return bound.takeError();
  auto plan = planContraction(bound->withUniqueOutput());
  if (!plan)
    return plan.takeError();
  call.flops = plan->path.flops();
  if (shapes.size() > 2)
    call.path = plan->path.describe();
  return call;
}

llvm::Expected<GradientPlan>
einjit::planGradients(const BoundEquation &eq, const ContractionPath &forward,
                      int64_t keepBytes) {
  using Value = GradientPlan::Value;
  using Kind = GradientPlan::Value::Kind;
  GradientPlan plan;
  int n = eq.inputs.size();
  int m = forward.steps.size();
  plan.forwardFlops = forward.flops();
  int64_t elementBytes = dtypeBytes(eq.computeType);

  // Recompute: each operand's gradient einsum on the operands.
  std::vector<GradientPlan::Call> recompute;
  for (int k = 0; k < n; ++k) {
    auto rule = gradientEinsum(eq, k);
    if (!rule)
      return rule.takeError();
    auto call = makeCall(
        *rule,
        [&](const GradOperand &op) -> std::pair<Value, std::vector<int64_t>> {
          if (op.kind == GradOperand::Kind::Cotangent)
            return {{Kind::Cotangent, n + m - 1}, eq.outputShape()};
          return {{Kind::Operand, op.value}, eq.inputShapes[op.value]};
        },
        {Kind::Cotangent, k}, eq.resultType);
    if (!call)
      return call.takeError();
    plan.recomputeFlops += call->flops;
    recompute.push_back(std::move(*call));
  }

  // Keep: reverse mode through the path's steps.
  std::vector<GradientPlan::Call> keepForward, keepBackward;
  std::vector<char> letters = lettersOf(eq);
  bool keepPossible = m > 0 && !eq.repeatsOutputLabel();
  for (int id = 0, e = eq.labelSizes.size(); id < e; ++id)
    keepPossible = keepPossible && (eq.labelSizes[id] < 0 || letters[id]);
  auto valueRef = [&](int id) -> Value {
    return id < n ? Value{Kind::Operand, id}
                  : Value{Kind::Intermediate, id - n};
  };
  for (int j = 0; keepPossible && j < m; ++j) {
    const ContractionStep &step = forward.steps[j];
    if (j + 1 < m) {
      plan.keptBytes += saturatingProduct(step.shape) * elementBytes;
      GradientPlan::Call call;
      BoundEquation s = stepEquation(eq, forward, step, letters);
      call.equation = s.text;
      for (int id : step.operands)
        call.operands.push_back(valueRef(id));
      call.result = {Kind::Intermediate, j};
      call.shape = step.shape;
      call.flops = step.flops;
      keepForward.push_back(std::move(call));
    }
  }
  for (int j = m - 1; keepPossible && j >= 0; --j) {
    const ContractionStep &step = forward.steps[j];
    BoundEquation s = stepEquation(eq, forward, step, letters);
    for (auto [k, id] : llvm::enumerate(step.operands)) {
      auto rule = gradientEinsum(s, k);
      if (!rule)
        return rule.takeError();
      auto call = makeCall(
          *rule,
          [&](const GradOperand &op) -> std::pair<Value, std::vector<int64_t>> {
            if (op.kind == GradOperand::Kind::Cotangent)
              return {{Kind::Cotangent, n + j}, step.shape};
            int other = step.operands[op.value];
            return {valueRef(other), forward.value(other).shape};
          },
          {Kind::Cotangent, id}, eq.resultType);
      if (!call)
        return call.takeError();
      plan.keepFlops += call->flops;
      keepBackward.push_back(std::move(*call));
    }
  }

  bool fits = keepBytes <= 0 || plan.keptBytes <= keepBytes;
  if (!keepPossible) {
    plan.reason = m == 0 ? "no path steps to keep"
                  : eq.repeatsOutputLabel()
                      ? "the output repeats a label"
                      : "too many labels to name the path's steps";
  } else if (plan.keepFlops >= plan.recomputeFlops) {
    plan.reason = "keeping saves no flops";
  } else if (!fits) {
    plan.reason = "the kept intermediates (" + std::to_string(plan.keptBytes) +
                  " bytes) exceed the budget (" + std::to_string(keepBytes) +
                  " bytes)";
  } else {
    plan.strategy = GradientPlan::Strategy::Keep;
    plan.reason = "fewer flops, and the kept intermediates fit";
  }
  if (plan.strategy == GradientPlan::Strategy::Keep) {
    plan.forward = std::move(keepForward);
    plan.backward = std::move(keepBackward);
  } else {
    plan.keptBytes = 0;
    plan.backward = std::move(recompute);
  }
  return plan;
}

static std::string valueName(const GradientPlan::Value &v) {
  using Kind = GradientPlan::Value::Kind;
  switch (v.kind) {
  case Kind::Operand:
    return "x" + std::to_string(v.index);
  case Kind::Intermediate:
    return "t" + std::to_string(v.index);
  case Kind::Cotangent:
    return "d" + std::to_string(v.index);
  case Kind::Ones:
    return "ones(" + std::to_string(v.index) + ")";
  }
  return "?";
}

std::string GradientPlan::str() const {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << "gradients: " << (strategy == Strategy::Keep ? "keep" : "recompute")
     << " (" << reason << ")\n";
  os << llvm::formatv("  flops: forward {0:e2}; backward keep {1:e2}, "
                      "recompute {2:e2}\n",
                      forwardFlops, keepFlops, recomputeFlops);
  os << "  kept intermediates: " << keptBytes << " bytes\n";
  auto print = [&](const Call &c) {
    os << "  " << valueName(c.result) << " = einsum '" << c.equation << "' (";
    for (auto [i, v] : llvm::enumerate(c.operands))
      os << (i ? ", " : "") << valueName(v);
    os << ") " << shapeString(c.shape)
       << llvm::formatv(" {0:e2} flops", c.flops);
    if (!c.path.empty())
      os << " path " << c.path;
    os << "\n";
  };
  if (!forward.empty())
    os << "  forward, kept:\n";
  for (const Call &c : forward)
    print(c);
  os << "  backward (x: operands, t: kept intermediates, dK: cotangent of "
        "path value K):\n";
  for (const Call &c : backward)
    print(c);
  return s;
}
