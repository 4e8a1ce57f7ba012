//===- DType.cpp - Element types of einsum operands -----------------------===//

#include "einjit/Spec/DType.h"

#include "llvm/ADT/StringSwitch.h"

using namespace einjit;

llvm::StringRef einjit::dtypeName(DType type) {
  switch (type) {
  case DType::F16:
    return "f16";
  case DType::F32:
    return "f32";
  case DType::F64:
    return "f64";
  case DType::I32:
    return "i32";
  case DType::I64:
    return "i64";
  case DType::Bool:
    return "bool";
  case DType::I8:
    return "i8";
  case DType::U8:
    return "u8";
  case DType::I16:
    return "i16";
  case DType::U16:
    return "u16";
  case DType::U32:
    return "u32";
  case DType::U64:
    return "u64";
  case DType::BF16:
    return "bf16";
  case DType::C64:
    return "c64";
  case DType::C128:
    return "c128";
  }
  return "?";
}

std::optional<DType> einjit::parseDType(llvm::StringRef name) {
  return llvm::StringSwitch<std::optional<DType>>(name)
      .Cases({"f16", "float16"}, DType::F16)
      .Cases({"f32", "float32"}, DType::F32)
      .Cases({"f64", "float64"}, DType::F64)
      .Cases({"i32", "int32"}, DType::I32)
      .Cases({"i64", "int64"}, DType::I64)
      .Cases({"bool", "bool_"}, DType::Bool)
      .Cases({"i8", "int8"}, DType::I8)
      .Cases({"u8", "uint8"}, DType::U8)
      .Cases({"i16", "int16"}, DType::I16)
      .Cases({"u16", "uint16"}, DType::U16)
      .Cases({"u32", "uint32"}, DType::U32)
      .Cases({"u64", "uint64"}, DType::U64)
      .Cases({"bf16", "bfloat16"}, DType::BF16)
      .Cases({"c64", "complex64"}, DType::C64)
      .Cases({"c128", "complex128"}, DType::C128)
      .Default(std::nullopt);
}

unsigned einjit::dtypeBytes(DType type) {
  switch (type) {
  case DType::Bool:
  case DType::I8:
  case DType::U8:
    return 1;
  case DType::F16:
  case DType::BF16:
  case DType::I16:
  case DType::U16:
    return 2;
  case DType::F32:
  case DType::I32:
  case DType::U32:
    return 4;
  case DType::F64:
  case DType::I64:
  case DType::U64:
  case DType::C64:
    return 8;
  case DType::C128:
    return 16;
  }
  return 0;
}

bool einjit::isFloat(DType type) {
  return type == DType::F16 || type == DType::BF16 || type == DType::F32 ||
         type == DType::F64;
}

bool einjit::isUnsigned(DType type) {
  return type == DType::U8 || type == DType::U16 || type == DType::U32 ||
         type == DType::U64;
}

/// The signed int of `bytes` bytes.
static DType signedOfBytes(unsigned bytes) {
  switch (bytes) {
  case 1:
    return DType::I8;
  case 2:
    return DType::I16;
  case 4:
    return DType::I32;
  default:
    return DType::I64;
  }
}

static DType promoteFloats(DType a, DType b) {
  if (a == b)
    return a;
  // Neither of f16 and bf16 holds the other.
  if (dtypeBytes(a) == 2 && dtypeBytes(b) == 2)
    return DType::F32;
  return dtypeBytes(a) >= dtypeBytes(b) ? a : b;
}

DType einjit::realPart(DType type) {
  if (type == DType::C64)
    return DType::F32;
  if (type == DType::C128)
    return DType::F64;
  return type;
}

DType einjit::inexactType(DType type) {
  if (isFloat(type) || isComplex(type))
    return type;
  switch (dtypeBytes(type)) {
  case 1:
    return DType::F16;
  case 2:
    return DType::F32;
  default:
    return DType::F64;
  }
}

DType einjit::promoteTypes(DType a, DType b) {
  if (a == b)
    return a;
  if (a == DType::Bool)
    return b;
  if (b == DType::Bool)
    return a;
  if (isComplex(a) || isComplex(b)) {
    // The complex whose parts hold both: c64's parts are f32.
    DType part = promoteTypes(realPart(a), realPart(b));
    return dtypeBytes(part) <= 4 ? DType::C64 : DType::C128;
  }
  if (isFloat(a) && isFloat(b))
    return promoteFloats(a, b);
  if (isFloat(a) || isFloat(b)) {
    DType f = isFloat(a) ? a : b, i = isFloat(a) ? b : a;
    // Any float holds an 8-bit int.
    if (dtypeBytes(i) == 1)
      return f;
    return promoteFloats(f, inexactType(i));
  }
  if (isUnsigned(a) == isUnsigned(b))
    return dtypeBytes(a) >= dtypeBytes(b) ? a : b;
  DType s = isUnsigned(a) ? b : a, u = isUnsigned(a) ? a : b;
  if (dtypeBytes(s) > dtypeBytes(u))
    return s;
  if (dtypeBytes(u) == 8)
    return DType::F64;
  return signedOfBytes(2 * dtypeBytes(u));
}

DType einjit::accumulatorType(DType type) {
  return type == DType::F16 || type == DType::BF16 ? DType::F32 : type;
}
