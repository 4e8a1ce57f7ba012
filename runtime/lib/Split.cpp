//===- Split.cpp - Einsums run as pieces along their dynamic labels -------===//

#include "Split.h"

#include "einjit/Spec/DType.h"
#include "einjit/runtime/Tensor.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/bit.h"

#include <cstring>
#include <string>
#include <vector>

using namespace einjit;

static std::string tensorName(const BoundEquation &eq, size_t t) {
  return t < eq.inputs.size() ? "operand " + std::to_string(t) : "the result";
}

llvm::Error detail::checkSplittable(const BoundEquation &eq,
                                    llvm::ArrayRef<int> dynamic) {
  auto isDynamic = [&](int id) { return llvm::is_contained(dynamic, id); };
  size_t tensors = eq.inputs.size() + 1;
  for (size_t t = 0; t < tensors; ++t) {
    llvm::ArrayRef<int> labels = t < eq.inputs.size()
                                     ? llvm::ArrayRef<int>(eq.inputs[t])
                                     : llvm::ArrayRef<int>(eq.output);
    for (size_t d = 1; d < labels.size(); ++d)
      if (isDynamic(labels[d]) && !isDynamic(labels[d - 1]))
        return makeEinsumError(
            "label '" + labelName(labels[d]) + "' cannot be dynamic: in " +
            tensorName(eq, t) + " it comes after the static dim '" +
            labelName(labels[d - 1]) +
            "' (dynamic dims must lead every operand and the result, so "
            "that a piece of any size is a contiguous view)");
  }
  if (eq.resultType == DType::F16 || eq.resultType == DType::BF16)
    for (int id : dynamic)
      if (!llvm::is_contained(eq.output, id))
        return makeEinsumError(
            "label '" + labelName(id) +
            "' cannot be dynamic: it is summed, and the pieces of a " +
            dtypeName(eq.resultType).str() + " result would be added in " +
            dtypeName(eq.resultType).str() + ", not in f32");
  return llvm::Error::success();
}

namespace {
/// A dynamic label and the pieces it is cut into.
struct Cut {
  int label;
  bool summed;
  /// (offset, size) of each piece.
  std::vector<std::pair<int64_t, int64_t>> pieces;
};
} // namespace

/// `t` (whose dims carry `labels`) restricted to the pieces `at` of `cuts`.
/// A dim of size 1 under a label of another size is broadcast: kept whole.
static llvm::Expected<Tensor> view(const Tensor &t, llvm::ArrayRef<int> labels,
                                   const BoundEquation &eq,
                                   llvm::ArrayRef<Cut> cuts,
                                   llvm::ArrayRef<size_t> at) {
  Tensor v = t;
  for (auto [d, id] : llvm::enumerate(labels)) {
    for (auto [cut, i] : llvm::zip(cuts, at)) {
      if (cut.label != id || v.shape()[d] != eq.labelSizes[id])
        continue;
      auto [offset, size] = cut.pieces[i];
      auto sliced = v.slice(d, offset, offset + size);
      if (!sliced)
        return sliced.takeError();
      v = std::move(*sliced);
    }
  }
  return v;
}

llvm::Expected<size_t> detail::runSplit(const BoundEquation &eq,
                                        llvm::ArrayRef<int> dynamic,
                                        llvm::ArrayRef<Tensor> operands,
                                        Tensor &out, RunPiece runPiece,
                                        AddInto addInto) {
  // Labels followed by another dynamic label in some tensor are cut into
  // pieces of one, so that the piece's view stays contiguous.
  auto unit = [&](int id) {
    auto followed = [&](llvm::ArrayRef<int> labels) {
      for (size_t d = 0; d + 1 < labels.size(); ++d)
        if (labels[d] == id && llvm::is_contained(dynamic, labels[d + 1]))
          return true;
      return false;
    };
    return followed(eq.output) || llvm::any_of(eq.inputs, followed);
  };
  std::vector<Cut> cuts;
  bool emptySum = false;
  for (bool summed : {false, true}) { // summed labels vary fastest
    for (int id : dynamic) {
      if (llvm::is_contained(eq.output, id) == summed)
        continue;
      int64_t n = eq.labelSizes[id];
      if (n == 0) {
        if (!summed)
          return 0; // an empty result
        emptySum = true;
      }
      Cut cut{id, summed, {}};
      if (unit(id)) {
        for (int64_t i = 0; i < n; ++i)
          cut.pieces.push_back({i, 1});
      } else {
        int64_t offset = 0;
        for (int64_t bit = llvm::bit_floor(uint64_t(n)); bit; bit >>= 1)
          if (n & bit) {
            cut.pieces.push_back({offset, bit});
            offset += bit;
          }
      }
      cuts.push_back(std::move(cut));
    }
  }
  if (emptySum) { // a sum over nothing
    std::memset(out.data(), 0, out.nbytes());
    return 0;
  }
  std::vector<size_t> at(cuts.size(), 0);
  size_t count = 0;
  while (true) {
    llvm::SmallVector<Tensor, 4> pieceOperands;
    for (auto [t, labels] : llvm::zip(operands, eq.inputs)) {
      auto v = view(t, labels, eq, cuts, at);
      if (!v)
        return v.takeError();
      pieceOperands.push_back(std::move(*v));
    }
    auto target = view(out, eq.output, eq, cuts, at);
    if (!target)
      return target.takeError();
    bool first = llvm::all_of(llvm::zip(cuts, at), [](auto pair) {
      return !std::get<0>(pair).summed || std::get<1>(pair) == 0;
    });
    if (first) {
      if (auto err = runPiece(pieceOperands, *target))
        return std::move(err);
    } else {
      auto partial = Tensor::allocate(out.dtype(), target->shape());
      if (!partial)
        return partial.takeError();
      if (auto err = runPiece(pieceOperands, *partial))
        return std::move(err);
      if (auto err = addInto(*target, *partial))
        return std::move(err);
    }
    ++count;
    // The next piece, the last cut varying fastest.
    int c = (int)cuts.size() - 1;
    for (; c >= 0; --c) {
      if (++at[c] < cuts[c].pieces.size())
        break;
      at[c] = 0;
    }
    if (c < 0)
      return count;
  }
}
