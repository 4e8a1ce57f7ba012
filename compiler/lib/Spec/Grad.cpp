//===- Grad.cpp - Gradients of einsums as einsums -------------------------===//
//
// For operand k of `in_0,...,in_n->out`, d out / d in_k contracted with the
// cotangent g is `out,in_0,..(without in_k)..,in_n->in_k`: every term of
// the sum that produced out[...] with in_k[...] in it, with in_k's factor
// replaced by g. Grad.h lists the cases that need more than that.
//
//===----------------------------------------------------------------------===//

#include "einjit/Spec/Grad.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FormatVariadic.h"

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
