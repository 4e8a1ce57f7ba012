//===- Limits.h - Documented limits and checked size arithmetic -*- C++ -*-===//
//
// Every limit einjit enforces on its inputs, and the one helper through which
// every product of sizes is computed. A limit is checked before any work
// (before a file's data is copied, a tensor allocated, a path planned or a
// kernel compiled), so an input beyond it is a one-line error, never a crash,
// a hang or an allocation that cannot succeed. docs/reliability.md lists the
// limits and why each has its value.
//
//===----------------------------------------------------------------------===//

#ifndef EINJIT_SPEC_LIMITS_H
#define EINJIT_SPEC_LIMITS_H

#include "einjit/Spec/DType.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>
#include <string>

namespace einjit {

/// Dimensions of one operand and of the result (NumPy's NPY_MAXDIMS).
constexpr int64_t kMaxRank = 64;
/// Operands of one equation (NumPy 2 takes at most 63).
constexpr int64_t kMaxOperands = 64;
/// Distinct labels of one equation: the 52 letters and up to kMaxRank
/// dimensions of the ellipsis. Also the most loops a kernel can have.
constexpr int64_t kMaxLabels = 52 + kMaxRank;
/// Characters of one equation (spaces included).
constexpr int64_t kMaxEquationLength = 4096;
/// Bytes of one tensor, counted as the product of its non-zero dimensions
/// times the item size, so that `(2^62, 0)` and `(0, 2^62)` are judged
/// alike (NumPy's rule, with 2^62 in place of its 2^63 - 1).
constexpr int64_t kMaxTensorBytes = int64_t(1) << 62;
/// Loop iterations of one contraction step (the product of its loop
/// ranges): far beyond any computation that could finish, and small enough
/// that the compiler's index arithmetic cannot overflow.
constexpr int64_t kMaxIterations = int64_t(1) << 62;

/// `a * b` for non-negative `a` and `b`, or nullopt if it exceeds INT64_MAX.
std::optional<int64_t> checkedMul(int64_t a, int64_t b);
/// `a + b` for non-negative `a` and `b`, or nullopt if it exceeds INT64_MAX.
std::optional<int64_t> checkedAdd(int64_t a, int64_t b);

/// The product of `sizes` (each non-negative; a negative one gives
/// nullopt), or nullopt when the product of the non-zero sizes times
/// `scale` exceeds `limit`. The result is 0 when a size is 0.
std::optional<int64_t> checkedProduct(llvm::ArrayRef<int64_t> sizes,
                                      int64_t scale = 1,
                                      int64_t limit = INT64_MAX);

/// The product of `sizes`, clamped to INT64_MAX: for heuristics (tile
/// choices, thread decisions) where "huge" is all that matters.
int64_t saturatingProduct(llvm::ArrayRef<int64_t> sizes);

/// "(2,3)": a shape for messages.
std::string shapeString(llvm::ArrayRef<int64_t> shape);
/// A shape as "2x4" ("scalar" for rank 0), for IR diagnostics and
/// --explain.
std::string dimsString(llvm::ArrayRef<int64_t> shape);
/// Bytes in binary units, one decimal ("16.5 KiB"; "40 bytes" below 1 KiB),
/// followed by the exact count ("(16896 bytes)") when `exact` is set.
std::string bytesString(double bytes, bool exact = false);

/// Checks a tensor of `shape` and `dtype` against kMaxRank and
/// kMaxTensorBytes; `what` names it in the message ("operand 1", "the
/// result"). Returns its element count.
llvm::Expected<int64_t> checkTensorSize(const llvm::Twine &what, DType dtype,
                                        llvm::ArrayRef<int64_t> shape);

} // namespace einjit

#endif // EINJIT_SPEC_LIMITS_H
