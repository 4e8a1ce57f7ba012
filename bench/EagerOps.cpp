//===- EagerOps.cpp - Eager ops' steady-state time ------------------------===//
//
// Times einjit's eager ops (Ops.h) on a 4 x 12 x 129 x 129 f32 tensor (the
// attention scores of b4 h12 s129) and a (129,) bias: add with
// broadcasting, exp, gelu, sum and max along the last axis, softmax.
// Prints `name ms` (the fastest of 9 calls after a warm-up call that
// compiles). bench/eager_ops.py runs it beside numpy and torch.
//
// Build: cmake --build build --target einsum-eager-ops
//
//===----------------------------------------------------------------------===//

#include "einjit/runtime/Ops.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cmath>
#include <functional>

using namespace einjit;

int main() {
  Tensor x = llvm::cantFail(Tensor::allocate(DType::F32, {4, 12, 129, 129}));
  Tensor bias = llvm::cantFail(Tensor::allocate(DType::F32, {129}));
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
      {"sum_last", [&] { return sum(x, {-1}); }},
      {"max_last", [&] { return max(x, {-1}); }},
      {"softmax", [&] { return softmax(x, -1); }},
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
