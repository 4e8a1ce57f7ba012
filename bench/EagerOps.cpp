//===- EagerOps.cpp - Eager ops' steady-state time ------------------------===//
//
// Times einjit's eager ops (Ops.h) on an f32 tensor, by default 4 x 12 x
// 129 x 129 (the attention scores of b4 h12 s129), and a bias the size of
// its last dim: add with broadcasting, exp, gelu, sum and max along an
// axis (the last by default), softmax and log-softmax along it. Prints `name
// ms` (the fastest of 9 calls after a warm-up call that compiles).
// bench/eager_ops.py runs it beside numpy and torch.
//
// Usage: einsum-eager-ops [SHAPE [AXIS]], SHAPE as 2048x768.
// Build: cmake --build build --target einsum-eager-ops
//
//===----------------------------------------------------------------------===//

#include "einjit/runtime/Ops.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cmath>
#include <functional>
#include <vector>

using namespace einjit;

int main(int argc, char **argv) {
  std::vector<int64_t> shape = {4, 12, 129, 129};
  int64_t axis = -1;
  if (argc > 1) {
    shape.clear();
    llvm::SmallVector<llvm::StringRef> dims;
    llvm::StringRef(argv[1]).split(dims, 'x');
    for (llvm::StringRef dim : dims) {
      int64_t size;
      if (dim.getAsInteger(10, size) || size < 1) {
        llvm::errs() << "einsum-eager-ops: bad shape '" << argv[1] << "'\n";
        return 1;
      }
      shape.push_back(size);
    }
  }
  if (argc > 2 && llvm::StringRef(argv[2]).getAsInteger(10, axis)) {
    llvm::errs() << "einsum-eager-ops: bad axis '" << argv[2] << "'\n";
    return 1;
  }
  Tensor x = llvm::cantFail(Tensor::allocate(DType::F32, shape));
  Tensor bias = llvm::cantFail(Tensor::allocate(DType::F32, {shape.back()}));
  for (int64_t e = 0; e < x.numel(); ++e)
    x.data<float>()[e] = std::sin(e * 0.37) * 4;
  for (int64_t e = 0; e < bias.numel(); ++e)
    bias.data<float>()[e] = e * 0.01f;
  struct Case {
    const char *name;
    std::function<llvm::Expected<Tensor>()> call;
  } cases[] = {
      {"add_bias", [&] { return add(x, bias); }},
      {"exp", [&] { return exp(x); }},
      {"gelu", [&] { return gelu(x); }},
      {"sum", [&] { return sum(x, {axis}); }},
      {"max", [&] { return max(x, {axis}); }},
      {"softmax", [&] { return softmax(x, axis); }},
      {"log_softmax", [&] { return logSoftmax(x, axis); }},
  };
  for (const Case &c : cases) {
    double best = 1e30;
    for (int rep = 0; rep < 10; ++rep) {
      auto start = std::chrono::steady_clock::now();
      auto r = c.call();
      double ms = std::chrono::duration<double, std::milli>(
                      std::chrono::steady_clock::now() - start)
                      .count();
      if (!r) {
        llvm::errs() << c.name << ": " << llvm::toString(r.takeError()) << "\n";
        return 1;
      }
      if (rep > 0) // the first call compiles
        best = std::min(best, ms);
    }
    llvm::outs() << llvm::formatv("einjit.{0} {1:f3}\n", c.name, best);
  }
  return 0;
}
