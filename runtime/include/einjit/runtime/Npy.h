//===- Npy.h - NumPy .npy files ---------------------------------*- C++ -*-===//
//
// Reads and writes NumPy's .npy format (versions 1-3): little- or big-endian
// f16/f32/f64/i32/i64 in C or Fortran order. A tensor read is always
// contiguous row-major. Anything else, or a truncated or corrupt file, is an
// error that names the file and what is wrong.
//
//===----------------------------------------------------------------------===//

#ifndef EINJIT_RUNTIME_NPY_H
#define EINJIT_RUNTIME_NPY_H

#include "einjit/runtime/Tensor.h"
#include "llvm/Support/Error.h"

namespace einjit {

llvm::Expected<Tensor> readNpy(llvm::StringRef path);
/// Parses .npy bytes; `name` is used in messages.
llvm::Expected<Tensor> parseNpy(llvm::StringRef bytes, llvm::StringRef name);
llvm::Error writeNpy(llvm::StringRef path, const Tensor &tensor);

} // namespace einjit

#endif // EINJIT_RUNTIME_NPY_H
