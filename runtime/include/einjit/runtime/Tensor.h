//===- Tensor.h - Dense tensors on the CPU ----------------------*- C++ -*-===//
//
// A tensor is a dtype, a shape, strides (in elements) and memory that is
// either owned (shared between copies of the handle) or borrowed from the
// caller, who keeps it alive.
//
//===----------------------------------------------------------------------===//

#ifndef EINJIT_RUNTIME_TENSOR_H
#define EINJIT_RUNTIME_TENSOR_H

#include "einjit/Spec/DType.h"
#include "einjit/Spec/Limits.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace einjit {

class Tensor {
public:
  Tensor() = default;

  /// A new contiguous row-major tensor, zero-filled, 64-byte aligned; an
  /// error if the shape is beyond einjit's limits (Limits.h) or the memory
  /// cannot be had.
  static llvm::Expected<Tensor> allocate(DType dtype,
                                         llvm::ArrayRef<int64_t> shape);
  /// As allocate, with the contents left undefined (numpy.empty): for
  /// results a kernel writes whole.
  static llvm::Expected<Tensor> empty(DType dtype,
                                      llvm::ArrayRef<int64_t> shape);
  /// numpy.full: a new contiguous tensor with every element `value`
  /// (converted to `dtype`, rounded for f16, truncated for ints).
  static llvm::Expected<Tensor> full(DType dtype, llvm::ArrayRef<int64_t> shape,
                                     double value);
  /// Wraps caller-owned memory. Empty `strides` means contiguous row-major;
  /// strides are in elements and may be negative. An error if the shape is
  /// beyond einjit's limits or the strides reach beyond 2^62 bytes.
  static llvm::Expected<Tensor> borrow(void *data, DType dtype,
                                       llvm::ArrayRef<int64_t> shape,
                                       llvm::ArrayRef<int64_t> strides = {});

  DType dtype() const { return type; }
  llvm::ArrayRef<int64_t> shape() const { return dims; }
  llvm::ArrayRef<int64_t> strides() const { return steps; }
  int64_t rank() const { return dims.size(); }
  /// Elements; their bytes are within kMaxTensorBytes by construction.
  int64_t numel() const { return count; }
  size_t nbytes() const { return count * dtypeBytes(type); }
  void *data() const { return ptr; }
  template <typename T>
  T *data() const {
    return static_cast<T *>(ptr);
  }
  bool defined() const { return ptr != nullptr || count == 0; }
  /// Identity, as a Python object's: every tensor made (allocated,
  /// borrowed, a view, an op's result) has its own, and copies of this
  /// handle share it. The gradient tape (Tape.h) tells tensors apart by it.
  /// 0 for a default-constructed handle.
  uint64_t id() const { return identity; }

  /// True when the strides are row-major contiguous.
  bool isContiguous() const;
  /// This tensor if contiguous, else a contiguous copy (an error if the
  /// copy cannot be allocated).
  llvm::Expected<Tensor> contiguous() const;
  /// Copies the elements of `src` (same dtype and shape, any strides) into
  /// this tensor's, at this tensor's strides.
  void copyFrom(const Tensor &src);
  /// The strides a kernel reads this tensor with in place, in elements,
  /// negative ones included: empty when it is contiguous. Dims of size 1
  /// get stride 0, so that equal layouts compare equal.
  std::vector<int64_t> kernelStrides() const;
  /// Element `flat` of the row-major order, converted to double.
  double getDouble(int64_t flat) const;

  static std::vector<int64_t> rowMajorStrides(llvm::ArrayRef<int64_t> shape);

  // Views, as NumPy's: they share this tensor's memory (and keep it alive
  // when it is owned), with their own shape, strides and offset. Eager ops
  // and einsum accept them as operands.

  /// The same elements in row-major order under `shape`; one dim may be -1
  /// (inferred). A view when the strides allow it (contiguous), else a
  /// contiguous copy, as numpy.reshape.
  llvm::Expected<Tensor> reshape(llvm::ArrayRef<int64_t> shape) const;
  /// Dims permuted: dim i of the result is dim perm[i] of this one (empty:
  /// reversed, as numpy.transpose).
  llvm::Expected<Tensor> transpose(llvm::ArrayRef<int64_t> perm = {}) const;
  /// Python's a[..., start:stop:step, ...] along `axis` (negative from the
  /// end): negative bounds count from the end and are clamped; `step` may
  /// be negative, not 0.
  llvm::Expected<Tensor> slice(int64_t axis, int64_t start, int64_t stop,
                               int64_t step = 1) const;
  /// numpy.broadcast_to: dims of size 1 (and new leading dims) repeat with
  /// stride 0.
  llvm::Expected<Tensor> broadcastTo(llvm::ArrayRef<int64_t> shape) const;

private:
  /// Strides of the row-major layout of `dims` (set `count` first).
  void setRowMajorStrides();

  DType type = DType::F32;
  // Inline up to rank 6: making a tensor of small rank allocates nothing
  // but its data.
  llvm::SmallVector<int64_t, 6> dims;
  llvm::SmallVector<int64_t, 6> steps;
  int64_t count = 1;
  std::shared_ptr<void> storage;
  void *ptr = nullptr;
  uint64_t identity = 0;
};

/// Tensors' data buffers of 1 MiB and more are kept for reuse when the
/// last tensor on one goes, up to this many bytes in all (a new large
/// buffer costs a page fault per page on first touch). The default, or
/// $EINJIT_TENSOR_CACHE_BYTES; 0 turns the cache off. ASan builds keep
/// nothing.
constexpr size_t kDefaultTensorCacheBytes = size_t(256) << 20;
void setTensorCacheBytes(size_t bytes);
/// Bytes of buffers kept for reuse now.
size_t tensorCacheBytesKept();

/// IEEE half <-> float, for tools and tests.
float halfToFloat(uint16_t h);
uint16_t floatToHalf(float f);
/// bfloat16 (the top half of a float) <-> float, rounding to nearest even.
float bf16ToFloat(uint16_t h);
uint16_t floatToBF16(float f);

/// The element of `dtype` at `element`, as a double (a u64 or i64 beyond
/// 2^53 rounds; a complex gives its real part).
double loadElement(const void *element, DType dtype);
/// Stores `value` as an element of `dtype` at `element`: floats round to
/// nearest, ints truncate toward zero and saturate (NaN gives 0), a bool
/// is `value != 0`, and a complex gets `value` as its real part.
void storeElement(void *element, DType dtype, double value);

} // namespace einjit

#endif // EINJIT_RUNTIME_TENSOR_H
