//===- NpyFuzzer.cpp - libFuzzer harness: the .npy reader -----------------===//
//
// The input is a .npy file. parseNpy must either return a tensor whose
// every byte can be read, or an error naming the file; crashes, sanitizer
// reports, hangs and allocations larger than the input allows are the bugs.
//
//===----------------------------------------------------------------------===//

#include "einjit/runtime/Npy.h"

#include "llvm/ADT/STLExtras.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

using namespace einjit;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::StringRef bytes(reinterpret_cast<const char *>(data), size);
  auto tensor = parseNpy(bytes, "fuzz.npy");
  if (!tensor) {
    std::string message = llvm::toString(tensor.takeError());
    if (llvm::StringRef(message).find("fuzz.npy") == llvm::StringRef::npos) {
      std::fprintf(stderr, "NpyFuzzer: error without the file name: %s\n",
                   message.c_str());
      std::abort();
    }
    return 0;
  }
  // A tensor read is contiguous row-major, and holds no more data than the
  // file does.
  if (!tensor->isContiguous() || tensor->nbytes() > size) {
    std::fprintf(stderr,
                 "NpyFuzzer: %zu-byte file gave a %s tensor of %zu bytes\n",
                 size, tensor->isContiguous() ? "contiguous" : "strided",
                 tensor->nbytes());
    std::abort();
  }
  int64_t count = 1;
  bool overflow = false;
  for (int64_t d : tensor->shape())
    overflow |= d < 0 || __builtin_mul_overflow(count, d, &count);
  if (llvm::is_contained(tensor->shape(), 0))
    count = 0, overflow = false;
  if (overflow || count != tensor->numel()) {
    std::fprintf(stderr, "NpyFuzzer: shape product %lld but numel %lld\n",
                 (long long)count, (long long)tensor->numel());
    std::abort();
  }
  // Touch every element (ASan checks each read).
  volatile double sum = 0;
  for (int64_t i = 0; i < tensor->numel(); ++i)
    sum = sum + tensor->getDouble(i);
  (void)sum;
  return 0;
}
