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

/// NumPy's dtypes of the same names, and bf16 (ml_dtypes' bfloat16, torch's
/// bfloat16). Bool is stored as one byte, 0 or 1, as NumPy's.
enum class DType : uint8_t {
  F16,
  F32,
  F64,
  I32,
  I64,
  Bool,
  I8,
  U8,
  I16,
  U16,
  U32,
  U64,
  BF16,
  C64,
  C128,
};

/// "f16", "f32", "f64", "i32", "i64", "bool", "i8", "u8", "i16", "u16",
/// "u32", "u64", "bf16", "c64", "c128".
llvm::StringRef dtypeName(DType type);
/// Inverse of dtypeName; also accepts NumPy's names ("float32", "int64",
/// "uint8", "bool_", "bfloat16", "complex64").
std::optional<DType> parseDType(llvm::StringRef name);
unsigned dtypeBytes(DType type);
/// f16, bf16, f32, f64.
bool isFloat(DType type);
/// u8, u16, u32, u64: integers that widen with zeros.
bool isUnsigned(DType type);
/// complex64 and complex128: pairs (real, imaginary) of f32 or f64.
inline bool isComplex(DType type) {
  return type == DType::C64 || type == DType::C128;
}
/// Integers of either sign, bool excluded.
inline bool isInteger(DType type) {
  return !isFloat(type) && !isComplex(type) && type != DType::Bool;
}
/// The type of a complex dtype's parts (f32, f64); a real dtype itself.
DType realPart(DType type);

/// The result dtype of NumPy's einsum and arithmetic on operands of types
/// `a` and `b` (`np.result_type`): bool gives way to anything; ints of one
/// sign widen to the wider; a signed and an unsigned int go to the signed
/// type that holds both (u64 with a signed int: f64); an int with a float
/// goes to the smallest float that holds both (i8/u8 fit any float, i16/u16
/// need f32, wider ints f64); floats widen, and f16 with bf16 gives f32 (as
/// in torch and JAX; ml_dtypes refuses that pair). A complex with anything
/// is the complex of the promotion of its part type with the other's (c64
/// with i16 is c64, with i32 or f64 c128).
DType promoteTypes(DType a, DType b);

/// The float an int gives under NumPy's float functions (np.exp of an
/// int8 is f16, of an int16 f32, of an int32 f64); a float or complex is
/// itself.
DType inexactType(DType type);

/// The type products are accumulated in: f16 and bf16 sum in f32, others in
/// themselves (ints wrap, as in NumPy).
DType accumulatorType(DType type);

} // namespace einjit

#endif // EINJIT_SPEC_DTYPE_H
