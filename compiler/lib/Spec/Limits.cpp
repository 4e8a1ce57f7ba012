//===- Limits.cpp - Documented limits and checked size arithmetic ---------===//

#include "einjit/Spec/Limits.h"
#include "einjit/Spec/Equation.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FormatVariadic.h"

using namespace einjit;

std::optional<int64_t> einjit::checkedMul(int64_t a, int64_t b) {
  int64_t r;
  if (a < 0 || b < 0 || __builtin_mul_overflow(a, b, &r))
    return std::nullopt;
  return r;
}

std::optional<int64_t> einjit::checkedAdd(int64_t a, int64_t b) {
  int64_t r;
  if (a < 0 || b < 0 || __builtin_add_overflow(a, b, &r))
    return std::nullopt;
  return r;
}

std::optional<int64_t> einjit::checkedProduct(llvm::ArrayRef<int64_t> sizes,
                                              int64_t scale, int64_t limit) {
  // The non-zero sizes are multiplied first, so that a 0 anywhere cannot
  // hide an overflow elsewhere: the answer does not depend on the order.
  std::optional<int64_t> nonZero = scale;
  bool zero = false;
  for (int64_t s : sizes) {
    if (s < 0)
      return std::nullopt;
    if (s == 0) {
      zero = true;
      continue;
    }
    nonZero = checkedMul(*nonZero, s);
    if (!nonZero || *nonZero > limit)
      return std::nullopt;
  }
  if (*nonZero > limit)
    return std::nullopt;
  if (zero)
    return 0;
  return scale == 0 ? 0 : *nonZero / scale;
}

int64_t einjit::saturatingProduct(llvm::ArrayRef<int64_t> sizes) {
  std::optional<int64_t> p = checkedProduct(sizes);
  return p ? *p : INT64_MAX;
}

std::string einjit::shapeString(llvm::ArrayRef<int64_t> shape) {
  std::string s = "(";
  for (auto [i, d] : llvm::enumerate(shape))
    s += (i ? "," : "") + std::to_string(d);
  return s + ")";
}

std::string einjit::dimsString(llvm::ArrayRef<int64_t> shape) {
  if (shape.empty())
    return "scalar";
  std::string s;
  for (auto [i, d] : llvm::enumerate(shape))
    s += (i ? "x" : "") + std::to_string(d);
  return s;
}

std::string einjit::bytesString(double bytes, bool exact) {
  const char *units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  int u = 0;
  double v = bytes;
  while (v >= 1024 && u < 6) {
    v /= 1024;
    ++u;
  }
  if (u == 0)
    return llvm::formatv("{0} bytes", (int64_t)bytes).str();
  std::string s = llvm::formatv("{0:F1} {1}", v, units[u]).str();
  // A planner's bound may pass int64 (2^63 bytes): then no exact count.
  if (exact && bytes < 0x1p63)
    s += llvm::formatv(" ({0} bytes)", (int64_t)bytes).str();
  else if (exact)
    s += llvm::formatv(" ({0:e} bytes)", bytes).str();
  return s;
}

llvm::Expected<int64_t> einjit::checkTensorSize(const llvm::Twine &what,
                                                DType dtype,
                                                llvm::ArrayRef<int64_t> shape) {
  if ((int64_t)shape.size() > kMaxRank)
    return makeEinsumError(llvm::formatv("{0} has rank {1}; einjit's limit "
                                         "is {2} dimensions",
                                         what.str(), shape.size(), kMaxRank));
  for (int64_t d : shape)
    if (d < 0)
      return makeEinsumError(
          llvm::formatv("{0} has a negative dimension {1}", what.str(), d));
  std::optional<int64_t> n =
      checkedProduct(shape, dtypeBytes(dtype), kMaxTensorBytes);
  if (!n)
    return makeEinsumError(llvm::formatv(
        "{0} {1}{2} is too large (more than 2^62 bytes, counted over the "
        "non-zero dimensions)",
        what.str(), dtypeName(dtype), shapeString(shape)));
  return *n;
}
