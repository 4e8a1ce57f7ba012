//===- Npy.h - NumPy .npy files ---------------------------------*- C++ -*-===//
//
// Reads and writes NumPy's .npy format (versions 1.0, 2.0 and 3.0): little-
// or big-endian f16/f32/f64/i32/i64 in C or Fortran order. A tensor read is
// always contiguous row-major.
//
// The header is parsed as numpy parses it (a Python dict literal read with
// ast.literal_eval), and a file is accepted only where numpy's np.load
// accepts it: the same quoting, whitespace, comments, trailing commas and
// duplicate keys (the last wins), the same rejections. Every other dtype, a
// truncated or corrupt file, a size beyond Limits.h or a path that is not a
// regular file is an error of one line that names the file and what is
// wrong; bytes of the file quoted in it are escaped. No file makes the
// reader crash, hang or allocate before its size is checked against the
// bytes the file holds.
//
// Where einjit is stricter than numpy: dtypes other than the five above
// (and numpy's spellings of them other than [<>=|]?(f2|f4|f8|i4|i8), such as
// 'float32'); tensors beyond Limits.h's 2^62 bytes (numpy's limit is
// 2^63 - 1, which matters only for zero-size arrays); brackets nested more
// than 100 deep (Python allows about 200); '\N{...}' escapes in strings;
// indentation before the dict on its first line. Like np.load's default,
// a header longer than 10000 characters is refused.
//
//===----------------------------------------------------------------------===//

#ifndef EINJIT_RUNTIME_NPY_H
#define EINJIT_RUNTIME_NPY_H

#include "einjit/runtime/Tensor.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <string>

namespace einjit {

/// Reads a .npy file; anything but a regular file is refused before it is
/// opened.
llvm::Expected<Tensor> readNpy(llvm::StringRef path);
/// Parses .npy bytes; `name` is used in messages.
llvm::Expected<Tensor> parseNpy(llvm::StringRef bytes, llvm::StringRef name);
/// Writes `tensor` as numpy's np.save would (the same header bytes); a
/// failed open, write or close is an error, never an abort.
llvm::Error writeNpy(llvm::StringRef path, const Tensor &tensor);

/// Everything of a .npy file before its data, byte for byte as numpy writes
/// it: magic string, version, header length, the header dict with numpy's
/// spare room for growing the first (or, in Fortran order, last) axis,
/// padded with spaces and a final '\n' so that the data starts at a
/// multiple of 64 bytes. The version is the lowest from `minMajor` (1 or 2)
/// on that can hold the header: 1.0 up to a header of 65535 bytes, 2.0
/// beyond. The shape is not checked against any limit.
std::string formatNpyHeader(DType dtype, llvm::ArrayRef<int64_t> shape,
                            bool fortranOrder = false, unsigned minMajor = 1);

} // namespace einjit

#endif // EINJIT_RUNTIME_NPY_H
