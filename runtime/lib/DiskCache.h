//===- DiskCache.h - Kernels' object code on disk ---------------*- C++ -*-===//
//
// The persistent kernel cache: one file per signature key in a directory
// (EINJIT_CACHE_DIR, setCacheDir, einsum-run --cache-dir), named by a hash
// of the key. A file holds the whole key (so two keys with one hash are
// told apart), what a CompiledEinsum needs besides its code (the path's
// steps, the workspace size) and the relocatable object code, behind a
// header with the payload's size and checksum. A file whose size, checksum,
// format or key does not match is rejected and never linked: the kernel is
// compiled again and the file replaced. Writers write a temporary file and
// rename it over the entry, so that readers in other processes see either
// the old entry or the new one, never half of one.
//
//===----------------------------------------------------------------------===//

#ifndef EINJIT_RUNTIME_DISKCACHE_H
#define EINJIT_RUNTIME_DISKCACHE_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace einjit {

/// A cached kernel, as stored.
struct DiskEntry {
  /// The values each step of the contraction path consumes
  /// (ContractionStep::operands), to rebuild the path with pathFromSteps.
  std::vector<std::vector<int>> steps;
  int64_t workspaceBytes = 0;
  /// Relocatable object code (JitKernel::create's `object`).
  std::string object;
};

/// The file that holds `key`'s entry in `dir`.
std::string diskEntryPath(llvm::StringRef dir, llvm::StringRef key);

enum class DiskRead {
  Missing,  ///< no entry (or it cannot be opened)
  Loaded,   ///< `entry` holds it
  Rejected, ///< an entry that is damaged or for another key; `why` says how
};
DiskRead readDiskEntry(llvm::StringRef dir, llvm::StringRef key,
                       DiskEntry &entry, std::string &why);

/// Writes `key`'s entry atomically (a temporary file renamed over it),
/// creating `dir` (owner-only) when it is missing.
llvm::Error writeDiskEntry(llvm::StringRef dir, llvm::StringRef key,
                           const DiskEntry &entry);

} // namespace einjit

#endif // EINJIT_RUNTIME_DISKCACHE_H
