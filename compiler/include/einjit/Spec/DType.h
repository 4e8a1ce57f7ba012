//===- DType.h - Element types of einsum operands ---------------*- C++ -*-===//
//
// The dtypes einjit computes on and NumPy's promotion rules between them.
//
//===----------------------------------------------------------------------===//

#ifndef EINJIT_SPEC_DTYPE_H
#define EINJIT_SPEC_DTYPE_H

#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <optional>

namespace einjit {

enum class DType : uint8_t { F16, F32, F64, I32, I64 };

/// "f16", "f32", "f64", "i32", "i64".
llvm::StringRef dtypeName(DType type);
/// Inverse of dtypeName; also accepts NumPy's names ("float32", "int64").
std::optional<DType> parseDType(llvm::StringRef name);
unsigned dtypeBytes(DType type);
bool isFloat(DType type);

/// The result dtype of NumPy's einsum on operands of types `a` and `b`
/// (`np.result_type`): floats and ints each widen to the wider type; an int
/// with any float gives f64, since f16/f32 cannot hold every i32.
DType promoteTypes(DType a, DType b);

/// The type products are accumulated in: f16 sums in f32, others in
/// themselves.
DType accumulatorType(DType type);

} // namespace einjit

#endif // EINJIT_SPEC_DTYPE_H
