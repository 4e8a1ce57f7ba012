//===- Memory.cpp - Buffers for tensors and kernel workspaces -------------===//

#include "Memory.h"

#include <cstdlib>
#include <string_view>

#ifdef __linux__
#include <sys/mman.h>
#endif

using namespace einjit;

static constexpr size_t kHugePage = size_t(2) << 20;

size_t einjit::bufferSize(size_t bytes) {
  if (bytes >= kHugePageBytes)
    return (bytes + kHugePage - 1) / kHugePage * kHugePage;
  return (bytes == 0 ? 64 : (bytes + 63) / 64 * 64);
}

void *einjit::allocateBuffer(size_t bytes) {
  size_t size = bufferSize(bytes);
  if (size < kHugePageBytes)
    return std::aligned_alloc(64, size);
  void *buffer = std::aligned_alloc(kHugePage, size);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  // Advice only: where the system has no transparent huge pages (or says
  // never) the buffer keeps its small pages. EINJIT_HUGE_PAGES=0 turns it
  // off (to compare, or to save memory).
  static const bool advise = [] {
    const char *env = std::getenv("EINJIT_HUGE_PAGES");
    return !env || std::string_view(env) != "0";
  }();
  if (buffer && advise)
    (void)madvise(buffer, size, MADV_HUGEPAGE);
#endif
  return buffer;
}
