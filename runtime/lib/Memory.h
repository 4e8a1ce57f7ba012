//===- Memory.h - Buffers for tensors and kernel workspaces -----*- C++ -*-===//
//
// Large buffers are backed by transparent huge pages where the system
// offers them on request (madvise), as numpy's allocator does. A stream
// over 4 KiB pages stops the hardware prefetchers at every page boundary:
// summing the rows of a 64 MiB matrix on one Zen 4 core reads 21 GB/s on
// 4 KiB pages and 33 GB/s on 2 MiB ones (docs/performance.md).
//
//===----------------------------------------------------------------------===//

#ifndef EINJIT_RUNTIME_MEMORY_H
#define EINJIT_RUNTIME_MEMORY_H

#include <cstddef>

namespace einjit {

/// Buffers of at least this many bytes are aligned to 2 MiB and advised to
/// use huge pages.
constexpr size_t kHugePageBytes = size_t(4) << 20;

/// The size a buffer of at least `bytes` bytes is allocated with: a
/// multiple of 64 bytes, or of 2 MiB from kHugePageBytes on.
size_t bufferSize(size_t bytes);

/// A buffer of bufferSize(`bytes`) bytes aligned to at least 64 bytes, or
/// null; freed with std::free.
void *allocateBuffer(size_t bytes);

} // namespace einjit

#endif // EINJIT_RUNTIME_MEMORY_H
