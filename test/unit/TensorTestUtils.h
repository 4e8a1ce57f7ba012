//===- TensorTestUtils.h - Making and reading tensors in tests --*- C++ -*-===//
//
// What the runtime's tests share: tensors filled from a function of the
// flat index, elements read at a multi-index through the strides, and the
// value or the message of an llvm::Expected.
//
//===----------------------------------------------------------------------===//

#ifndef EINJIT_TEST_UNIT_TENSORTESTUTILS_H
#define EINJIT_TEST_UNIT_TENSORTESTUTILS_H

#include "einjit/runtime/Tensor.h"

#include "gtest/gtest.h"

#include <functional>
#include <string>
#include <vector>

namespace einjit::test {

/// A contiguous tensor of `type` whose element at flat index e is f(e).
inline Tensor make(DType type, std::vector<int64_t> shape,
                   const std::function<double(int64_t)> &f) {
  Tensor t = llvm::cantFail(Tensor::allocate(type, shape));
  auto *out = static_cast<char *>(t.data());
  for (int64_t e = 0; e < t.numel(); ++e)
    storeElement(out + e * dtypeBytes(type), type, f(e));
  return t;
}

/// Element at multi-index `index` of a possibly strided tensor.
inline double at(const Tensor &t, llvm::ArrayRef<int64_t> index) {
  int64_t offset = 0;
  for (auto [i, s] : llvm::zip(index, t.strides()))
    offset += i * s;
  return loadElement(static_cast<const char *>(t.data()) +
                         offset * dtypeBytes(t.dtype()),
                     t.dtype());
}

/// The value, or a test failure with the message and a default value.
template <typename T>
T ok(llvm::Expected<T> value) {
  if (!value) {
    ADD_FAILURE() << llvm::toString(value.takeError());
    return {};
  }
  return std::move(*value);
}

/// The message, or "(no error)".
template <typename T>
std::string error(llvm::Expected<T> value) {
  if (value)
    return "(no error)";
  return llvm::toString(value.takeError());
}

/// (loss(x + h) - loss(x - h)) / 2h, perturbing the element `x` that
/// `loss` reads and restoring it.
inline double centralDifference(double &x, const std::function<double()> &loss,
                                double h) {
  double saved = x;
  x = saved + h;
  double up = loss();
  x = saved - h;
  double down = loss();
  x = saved;
  return (up - down) / (2 * h);
}

/// A test failure with the message of `err`, if it is one.
inline void ok(llvm::Error err) {
  if (err)
    ADD_FAILURE() << llvm::toString(std::move(err));
}

/// The message of `err`, or "(no error)".
inline std::string error(llvm::Error err) {
  if (!err)
    return "(no error)";
  return llvm::toString(std::move(err));
}

} // namespace einjit::test

#endif // EINJIT_TEST_UNIT_TENSORTESTUTILS_H
