//===- Tensor.cpp - Dense tensors on the CPU ------------------------------===//

#include "einjit/runtime/Tensor.h"
#include "Memory.h"
#include "TapeRecord.h"
#include "einjit/Spec/Equation.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>

using namespace einjit;

std::vector<int64_t> Tensor::rowMajorStrides(llvm::ArrayRef<int64_t> shape) {
  // Called on shapes within the limits, whose products cannot overflow.
  std::vector<int64_t> strides(shape.size());
  int64_t s = 1;
  for (int i = shape.size() - 1; i >= 0; --i) {
    strides[i] = s;
    s = saturatingProduct({s, std::max<int64_t>(shape[i], 1)});
  }
  return strides;
}

namespace {
/// Large tensor buffers, kept for reuse when tensors let them go. A new
/// buffer of tens of MiB comes from mmap, and the kernel faults in each of
/// its 4 KiB pages on first touch (a 48 MiB result: about 12,000 faults,
/// several ms, more than the op that fills it); a buffer taken from here
/// is already mapped. Blocks of at least kMinBytes are kept in size classes
/// of kGranule bytes, up to the cache's capacity in all; a request takes
/// the smallest kept block that is at least its size and at most an eighth
/// larger. The cache is never destroyed (tensors may outlive static
/// destructors); its blocks stay reachable.
class BlockCache {
public:
  static constexpr size_t kMinBytes = size_t(1) << 20;
  static constexpr size_t kGranule = size_t(64) << 10;

  static BlockCache &get() {
    static BlockCache *cache = new BlockCache();
    return *cache;
  }

  /// A 64-byte aligned block of at least `bytes` bytes (`size` is set to
  /// its size), or null.
  void *take(size_t bytes, size_t &size) {
    size = bytes < kMinBytes || bytes >= kHugePageBytes
               ? bufferSize(bytes)
               : (bytes + kGranule - 1) / kGranule * kGranule;
    if (size >= kMinBytes) {
      std::lock_guard<std::mutex> lock(mutex);
      auto it = blocks.lower_bound(size);
      if (it != blocks.end() && it->first <= size + size / 8) {
        void *block = it->second;
        size = it->first;
        cached -= size;
        blocks.erase(it);
        return block;
      }
    }
    return allocateBuffer(size);
  }

  /// Keeps `block` of `size` bytes, or frees it.
  void give(void *block, size_t size) {
    if (size >= kMinBytes) {
      std::lock_guard<std::mutex> lock(mutex);
      if (size <= capacity) {
        // Make room by freeing the largest blocks first.
        while (cached + size > capacity) {
          auto largest = std::prev(blocks.end());
          cached -= largest->first;
          std::free(largest->second);
          blocks.erase(largest);
        }
        blocks.emplace(size, block);
        cached += size;
        return;
      }
    }
    std::free(block);
  }

  void setCapacity(size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex);
    capacity = bytes;
    while (cached > capacity) {
      auto largest = std::prev(blocks.end());
      cached -= largest->first;
      std::free(largest->second);
      blocks.erase(largest);
    }
  }

  size_t bytesKept() {
    std::lock_guard<std::mutex> lock(mutex);
    return cached;
  }

private:
  BlockCache() {
    if (const char *env = std::getenv("EINJIT_TENSOR_CACHE_BYTES"))
      capacity = std::strtoull(env, nullptr, 10);
#if defined(__SANITIZE_ADDRESS__)
    capacity = 0; // ASan sees every use after free
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    capacity = 0;
#endif
#endif
  }
  std::mutex mutex;
  std::multimap<size_t, void *> blocks;
  size_t cached = 0;
  size_t capacity = kDefaultTensorCacheBytes;
};
} // namespace

/// A block of at least `bytes` bytes for a tensor's data, returned to the
/// cache when the last tensor on it goes; `mem` is set to it (null when
/// the memory cannot be had).
static std::shared_ptr<void> allocateBlock(size_t bytes, void *&mem) {
  size_t size = 0;
  mem = BlockCache::get().take(bytes, size);
  if (!mem)
    return nullptr;
  return std::shared_ptr<void>(
      mem, [size](void *block) { BlockCache::get().give(block, size); });
}

void einjit::setTensorCacheBytes(size_t bytes) {
  BlockCache::get().setCapacity(bytes);
}

size_t einjit::tensorCacheBytesKept() { return BlockCache::get().bytesKept(); }

/// A new tensor identity (Tensor::id).
static uint64_t newIdentity() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

llvm::Expected<Tensor> Tensor::empty(DType dtype,
                                     llvm::ArrayRef<int64_t> shape) {
  auto count = checkTensorSize("a tensor", dtype, shape);
  if (!count)
    return count.takeError();
  uint64_t bytes = *count * dtypeBytes(dtype);
  void *mem = nullptr;
  std::shared_ptr<void> storage = allocateBlock(bytes, mem);
  if (!mem)
    return makeEinsumError("cannot allocate " + std::to_string(bytes) +
                           " bytes for a " + dtypeName(dtype) +
                           " tensor of shape " + shapeString(shape));
  Tensor t;
  t.type = dtype;
  t.dims.assign(shape.begin(), shape.end());
  t.count = *count;
  t.setRowMajorStrides();
  t.storage = std::move(storage);
  t.ptr = mem;
  t.identity = newIdentity();
  return t;
}

llvm::Expected<Tensor> Tensor::allocate(DType dtype,
                                        llvm::ArrayRef<int64_t> shape) {
  auto t = empty(dtype, shape);
  if (t)
    std::memset(t->data(), 0, std::max<size_t>(t->nbytes(), 1));
  return t;
}

/// `value` truncated to an int of type T, saturating; NaN gives 0.
template <typename T>
static T saturatingCast(double value) {
  if (std::isnan(value))
    return 0;
  if (value <= (double)std::numeric_limits<T>::min())
    return std::numeric_limits<T>::min();
  if (value >= (double)std::numeric_limits<T>::max())
    return std::numeric_limits<T>::max();
  return (T)value;
}

llvm::Expected<Tensor> Tensor::full(DType dtype, llvm::ArrayRef<int64_t> shape,
                                    double value) {
  auto t = empty(dtype, shape);
  if (!t)
    return t.takeError();
  // One element, then copies of its bytes.
  unsigned bytes = dtypeBytes(dtype);
  char element[8];
  storeElement(element, dtype, value);
  char *out = static_cast<char *>(t->data());
  for (int64_t i = 0, n = t->numel(); i < n; ++i)
    std::memcpy(out + i * bytes, element, bytes);
  return t;
}

llvm::Expected<Tensor> Tensor::borrow(void *data, DType dtype,
                                      llvm::ArrayRef<int64_t> shape,
                                      llvm::ArrayRef<int64_t> strides) {
  auto count = checkTensorSize("a tensor", dtype, shape);
  if (!count)
    return count.takeError();
  if (!strides.empty() && strides.size() != shape.size())
    return makeEinsumError(
        llvm::formatv("a tensor of rank {0} cannot have {1} strides",
                      shape.size(), strides.size()));
  if (!strides.empty() && *count > 0) {
    // The farthest element from `data`, in bytes, must be within the limit
    // so that no offset computed from these strides overflows.
    std::optional<int64_t> reach = 0;
    for (auto [d, s] : llvm::zip(shape, strides)) {
      if (d == 1) // the stride of a single element is never used
        continue;
      if (s == INT64_MIN) {
        reach = std::nullopt;
        break;
      }
      std::optional<int64_t> step = checkedProduct(
          {d - 1, s < 0 ? -s : s}, dtypeBytes(dtype), kMaxTensorBytes);
      reach =
          step ? checkedAdd(*reach, *step * dtypeBytes(dtype)) : std::nullopt;
      if (!reach || *reach > kMaxTensorBytes)
        break;
    }
    if (!reach || *reach > kMaxTensorBytes)
      return makeEinsumError("the strides " + shapeString(strides) +
                             " of a tensor of shape " + shapeString(shape) +
                             " reach beyond 2^62 bytes");
  }
  Tensor t;
  t.type = dtype;
  t.dims.assign(shape.begin(), shape.end());
  t.count = *count;
  if (strides.empty())
    t.setRowMajorStrides();
  else
    t.steps.assign(strides.begin(), strides.end());
  t.ptr = data;
  t.identity = newIdentity();
  return t;
}

void Tensor::setRowMajorStrides() {
  // As rowMajorStrides, without a vector: shapes are within the limits.
  steps.resize(dims.size());
  // With elements, partial products of the dims are at most the count;
  // with none, the other dims may be huge and their product saturates.
  int64_t stride = 1;
  for (size_t d = dims.size(); d-- > 0;) {
    steps[d] = stride;
    stride = count > 0
                 ? stride * dims[d]
                 : saturatingProduct({stride, std::max<int64_t>(dims[d], 1)});
  }
}

llvm::Expected<Tensor> Tensor::reshape(llvm::ArrayRef<int64_t> shape) const {
  std::vector<int64_t> target(shape.begin(), shape.end());
  int64_t known = 1, inferred = -1;
  for (auto [d, size] : llvm::enumerate(target)) {
    if (size == -1 && inferred < 0) {
      inferred = d;
      continue;
    }
    if (size < 0)
      return makeEinsumError("cannot reshape to " + shapeString(shape) +
                             ": dim " + std::to_string(d) + " is " +
                             std::to_string(size) +
                             " (only one dim may be -1)");
    known = saturatingProduct({known, size});
  }
  if (inferred >= 0) {
    if (known == 0 || numel() % known != 0)
      return makeEinsumError("cannot reshape a tensor of shape " +
                             shapeString(dims) + " to " + shapeString(shape));
    target[inferred] = numel() / known;
    known = numel();
  }
  if (known != numel())
    return makeEinsumError("cannot reshape a tensor of shape " +
                           shapeString(dims) + " (" + std::to_string(numel()) +
                           " elements) to " + shapeString(shape));
  auto source = contiguous();
  if (!source)
    return source.takeError();
  Tensor t = std::move(*source);
  t.dims.assign(target.begin(), target.end());
  t.setRowMajorStrides();
  t.identity = newIdentity();
  if (detail::recording())
    detail::record({detail::TapeRecord::Kind::Reshape, {*this}, t});
  return t;
}

llvm::Expected<Tensor> Tensor::transpose(llvm::ArrayRef<int64_t> perm) const {
  std::vector<int64_t> order(perm.begin(), perm.end());
  if (order.empty())
    for (int64_t d = rank() - 1; d >= 0; --d)
      order.push_back(d);
  std::vector<bool> seen(rank(), false);
  bool valid = (int64_t)order.size() == rank();
  for (int64_t d : order) {
    valid = valid && d >= 0 && d < rank() && !seen[d];
    if (valid)
      seen[d] = true;
  }
  if (!valid)
    return makeEinsumError("the axes " + shapeString(perm) +
                           " are not a permutation of a tensor of rank " +
                           std::to_string(rank()));
  Tensor t = *this;
  for (auto [i, d] : llvm::enumerate(order)) {
    t.dims[i] = dims[d];
    t.steps[i] = steps[d];
  }
  t.identity = newIdentity();
  if (detail::recording()) {
    detail::TapeRecord r{detail::TapeRecord::Kind::Transpose, {*this}, t};
    r.axes = order;
    detail::record(std::move(r));
  }
  return t;
}

llvm::Expected<Tensor> Tensor::slice(int64_t axis, int64_t start, int64_t stop,
                                     int64_t step) const {
  int64_t a = axis < 0 ? axis + rank() : axis;
  if (a < 0 || a >= rank())
    return makeEinsumError("slice: axis " + std::to_string(axis) +
                           " is out of range for a tensor of rank " +
                           std::to_string(rank()));
  if (step == 0 || step == INT64_MIN)
    return makeEinsumError("slice: the step must not be 0");
  int64_t n = dims[a];
  // Python's slice.indices(n).
  auto clamp = [&](int64_t v, int64_t low, int64_t high) {
    if (v < 0)
      v = v < -n ? low : v + n;
    return std::min(std::max(v, low), high);
  };
  int64_t first = step > 0 ? clamp(start, 0, n) : clamp(start, -1, n - 1);
  int64_t last = step > 0 ? clamp(stop, 0, n) : clamp(stop, -1, n - 1);
  int64_t count = 0;
  if (step > 0 && last > first)
    count = (last - first + step - 1) / step;
  else if (step < 0 && first > last)
    count = (first - last - step - 1) / -step;
  Tensor t = *this;
  t.dims[a] = count;
  t.count = count == 0 ? 0 : numel() / n * count;
  if (count > 0) {
    t.ptr = static_cast<char *>(ptr) + first * steps[a] * dtypeBytes(type);
    t.steps[a] = steps[a] * step;
  }
  t.identity = newIdentity();
  if (detail::recording()) {
    detail::TapeRecord r{detail::TapeRecord::Kind::Slice, {*this}, t};
    r.axes = {a, start, stop, step};
    detail::record(std::move(r));
  }
  return t;
}

llvm::Expected<Tensor>
Tensor::broadcastTo(llvm::ArrayRef<int64_t> shape) const {
  auto fail = [&] {
    return makeEinsumError("cannot broadcast a tensor of shape " +
                           shapeString(dims) + " to " + shapeString(shape));
  };
  if (shape.size() < dims.size())
    return fail();
  auto count = checkTensorSize("a broadcast tensor", type, shape);
  if (!count)
    return count.takeError();
  size_t lead = shape.size() - dims.size();
  Tensor t = *this;
  t.dims.assign(shape.begin(), shape.end());
  t.steps.assign(shape.size(), 0);
  for (size_t d = 0; d < dims.size(); ++d) {
    if (dims[d] == shape[lead + d])
      t.steps[lead + d] = steps[d];
    else if (dims[d] != 1)
      return fail();
  }
  t.count = *count;
  t.identity = newIdentity();
  if (detail::recording())
    detail::record({detail::TapeRecord::Kind::BroadcastTo, {*this}, t});
  return t;
}

bool Tensor::isContiguous() const {
  if (numel() == 0) // no element to be out of place
    return true;
  // With elements, the product of the dims is the element count: no
  // partial product overflows. (On every dispatch: kept cheap.)
  int64_t expected = 1;
  for (int i = dims.size() - 1; i >= 0; --i) {
    if (dims[i] != 1 && steps[i] != expected)
      return false;
    expected *= dims[i];
  }
  return true;
}

llvm::Expected<Tensor> Tensor::contiguous() const {
  if (isContiguous())
    return *this;
  auto allocated = empty(type, dims);
  if (!allocated)
    return allocated.takeError();
  allocated->copyFrom(*this);
  if (detail::recording())
    detail::record({detail::TapeRecord::Kind::Copy, {*this}, *allocated});
  return allocated;
}

void Tensor::copyFrom(const Tensor &src) {
  assert(src.type == type && src.shape() == shape() && "copy of another kind");
  // Signed byte offsets: strides may be negative. borrow() checked that the
  // farthest element is within 2^62 bytes, so none of this overflows.
  int64_t elem = dtypeBytes(type);
  int64_t n = numel();
  std::vector<int64_t> index(dims.size(), 0);
  auto *from = static_cast<const char *>(src.ptr);
  auto *to = static_cast<char *>(ptr);
  for (int64_t flat = 0; flat < n; ++flat) {
    int64_t in = 0, out = 0;
    for (size_t d = 0; d < dims.size(); ++d) {
      in += index[d] * src.steps[d];
      out += index[d] * steps[d];
    }
    std::memcpy(to + out * elem, from + in * elem, elem);
    for (int d = dims.size() - 1; d >= 0; --d) {
      if (++index[d] < dims[d])
        break;
      index[d] = 0;
    }
  }
}

std::vector<int64_t> Tensor::kernelStrides() const {
  if (isContiguous() || count == 0)
    return {};
  std::vector<int64_t> strides(steps.begin(), steps.end());
  for (auto [stride, dim] : llvm::zip(strides, dims))
    if (dim == 1)
      stride = 0;
  return strides;
}

double Tensor::getDouble(int64_t flat) const {
  int64_t offset = 0;
  for (int d = dims.size() - 1; d >= 0; --d) {
    offset += (flat % dims[d]) * steps[d];
    flat /= dims[d];
  }
  return loadElement(static_cast<const char *>(ptr) + offset * dtypeBytes(type),
                     type);
}

template <typename T>
static T load(const void *p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

template <typename T>
static void store(void *p, T v) {
  std::memcpy(p, &v, sizeof(T));
}

double einjit::loadElement(const void *element, DType dtype) {
  switch (dtype) {
  case DType::F16:
    return halfToFloat(load<uint16_t>(element));
  case DType::BF16:
    return bf16ToFloat(load<uint16_t>(element));
  case DType::F32:
    return load<float>(element);
  case DType::F64:
    return load<double>(element);
  case DType::Bool:
  case DType::U8:
    return load<uint8_t>(element);
  case DType::I8:
    return load<int8_t>(element);
  case DType::I16:
    return load<int16_t>(element);
  case DType::U16:
    return load<uint16_t>(element);
  case DType::I32:
    return load<int32_t>(element);
  case DType::U32:
    return load<uint32_t>(element);
  case DType::I64:
    return (double)load<int64_t>(element);
  case DType::U64:
    return (double)load<uint64_t>(element);
  case DType::C64: // the real part
    return load<float>(element);
  case DType::C128:
    return load<double>(element);
  }
  return 0;
}

void einjit::storeElement(void *element, DType dtype, double value) {
  switch (dtype) {
  case DType::F16:
    return store(element, floatToHalf((float)value));
  case DType::BF16:
    return store(element, floatToBF16((float)value));
  case DType::F32:
    return store(element, (float)value);
  case DType::F64:
    return store(element, value);
  case DType::Bool:
    return store<uint8_t>(element, value != 0);
  case DType::I8:
    return store(element, saturatingCast<int8_t>(value));
  case DType::U8:
    return store(element, saturatingCast<uint8_t>(value));
  case DType::I16:
    return store(element, saturatingCast<int16_t>(value));
  case DType::U16:
    return store(element, saturatingCast<uint16_t>(value));
  case DType::I32:
    return store(element, saturatingCast<int32_t>(value));
  case DType::U32:
    return store(element, saturatingCast<uint32_t>(value));
  case DType::I64:
    return store(element, saturatingCast<int64_t>(value));
  case DType::U64:
    return store(element, saturatingCast<uint64_t>(value));
  case DType::C64: // a real number: imaginary part 0
    store(element, (float)value);
    return store(static_cast<char *>(element) + 4, 0.0f);
  case DType::C128:
    store(element, value);
    return store(static_cast<char *>(element) + 8, 0.0);
  }
}

float einjit::bf16ToFloat(uint16_t h) {
  uint32_t bits = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t einjit::floatToBF16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if (std::isnan(f)) // keep it a NaN: set a mantissa bit that survives
    return uint16_t((bits >> 16) | 0x40);
  // Round to nearest even on the 16 bits dropped.
  bits += 0x7fff + ((bits >> 16) & 1);
  return uint16_t(bits >> 16);
}

float einjit::halfToFloat(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else { // subnormal: normalize
      exp = 127 - 15 + 1;
      while (!(mant & 0x400)) {
        mant <<= 1;
        --exp;
      }
      mant &= 0x3ff;
      bits = sign | (exp << 23) | (mant << 13);
    }
  } else if (exp == 0x1f) {
    bits = sign | 0x7f800000 | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t einjit::floatToHalf(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  uint16_t sign = (bits >> 16) & 0x8000;
  int32_t exp = int32_t((bits >> 23) & 0xff) - 127 + 15;
  uint32_t mant = bits & 0x7fffff;
  if (((bits >> 23) & 0xff) == 0xff) // inf or nan
    return sign | 0x7c00 | (mant ? 0x200 : 0);
  if (exp >= 0x1f)
    return sign | 0x7c00;
  if (exp <= 0) {
    if (exp < -10)
      return sign;
    mant |= 0x800000;
    uint32_t shift = 14 - exp;
    uint32_t half = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1);
    uint32_t mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1)))
      ++half;
    return sign | half;
  }
  uint16_t half = sign | (exp << 10) | (mant >> 13);
  uint32_t rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (half & 1)))
    ++half; // may carry into the exponent, which is correct rounding
  return half;
}
