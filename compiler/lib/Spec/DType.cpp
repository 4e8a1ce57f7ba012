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
      .Default(std::nullopt);
}

unsigned einjit::dtypeBytes(DType type) {
  switch (type) {
  case DType::F16:
    return 2;
  case DType::F32:
  case DType::I32:
    return 4;
  case DType::F64:
  case DType::I64:
    return 8;
  }
  return 0;
}

bool einjit::isFloat(DType type) {
  return type == DType::F16 || type == DType::F32 || type == DType::F64;
}

DType einjit::promoteTypes(DType a, DType b) {
  if (a == b)
    return a;
  if (isFloat(a) != isFloat(b))
    return DType::F64;
  return dtypeBytes(a) >= dtypeBytes(b) ? a : b;
}

DType einjit::accumulatorType(DType type) {
  return type == DType::F16 ? DType::F32 : type;
}
