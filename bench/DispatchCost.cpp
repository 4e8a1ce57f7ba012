//===- DispatchCost.cpp - The cost of a cache hit through the C++ API -----===//
//
// Times `einjit::einsum("ij,jk->ik", {a, b})` on 4x4 f32 operands, where
// the kernel's own work is a few nanoseconds and the rest is dispatch:
// binding the equation, finding the kernel in the cache, checking the
// operands and allocating the result. Also times CompiledEinsum::run into
// a preallocated output (no lookup, no allocation), a 3-operand einsum,
// and a traced einjit::Function of the same product (its signature
// lookup, argument checks and result allocation), and a shape-polymorphic
// einsum (`bj,jk->bk` with b dynamic, at b = 3: pieces of 2 and 1). Prints
// one line per case:
// `name ns_per_call` (the fastest of 7 repetitions). bench/dispatch_cost.py
// runs it beside numpy and torch.
//
// Build: cmake --build build --target einsum-dispatch-cost
//
//===----------------------------------------------------------------------===//

#include "einjit/runtime/Einsum.h"
#include "einjit/runtime/Function.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <chrono>
#include <functional>

using namespace einjit;

static Tensor filled(std::vector<int64_t> shape) {
  Tensor t = llvm::cantFail(Tensor::allocate(DType::F32, shape));
  for (int64_t i = 0; i < t.numel(); ++i)
    t.data<float>()[i] = (float)(i % 7) * 0.25f;
  return t;
}

/// Nanoseconds per call of `call`, the fastest of 7 repetitions of
/// `calls` calls each.
static double time(int calls, const std::function<bool()> &call) {
  double best = 1e30;
  for (int rep = 0; rep < 7; ++rep) {
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < calls; ++i)
      if (!call())
        return -1;
    double ns = std::chrono::duration<double, std::nano>(
                    std::chrono::steady_clock::now() - start)
                    .count();
    best = std::min(best, ns / calls);
  }
  return best;
}

int main(int argc, char **argv) {
  int calls = argc > 1 ? std::atoi(argv[1]) : 200000;
  Tensor a = filled({4, 4}), b = filled({4, 4}), c = filled({4, 4});
  // Compile outside the timing.
  auto kernel = compileEinsum("ij,jk->ik", {a, b});
  auto three = compileEinsum("ij,jk,kl->il", {a, b, c});
  Function traced =
      function([](Sym x, Sym y) { return einsum("ij,jk->ik", {x, y}); });
  if (!kernel || !three || !traced.concrete({a, b})) {
    llvm::errs() << "compile failed\n";
    return 1;
  }
  // b dynamic: a 3x4 left-hand side runs as pieces of 2 and 1 rows.
  if (auto err = setInputSignature("bj,jk->bk", {{kDynamic, 4}, {4, 4}})) {
    llvm::errs() << llvm::toString(std::move(err)) << "\n";
    return 1;
  }
  Tensor rows = filled({3, 4});
  std::vector<Tensor> opsDynamic{rows, b};
  if (!einsum("bj,jk->bk", opsDynamic)) {
    llvm::errs() << "compile failed\n";
    return 1;
  }
  Tensor out = filled({4, 4});
  std::vector<Tensor> ops{a, b}, ops3{a, b, c};
  // A call of einjit::einsum on `ops`, false (with the message) on error.
  auto einsumCall = [](const char *equation, std::vector<Tensor> &ops) {
    return [equation, &ops] {
      auto r = einsum(equation, ops);
      if (!r)
        llvm::errs() << llvm::toString(r.takeError()) << "\n";
      return bool(r);
    };
  };
  auto runCall = [&] {
    if (auto err = (*kernel)->run(ops, out)) {
      llvm::errs() << llvm::toString(std::move(err)) << "\n";
      return false;
    }
    return true;
  };
  CacheStats before = cacheStats();
  double e = time(calls, einsumCall("ij,jk->ik", ops));
  double e3 = time(calls, einsumCall("ij,jk,kl->il", ops3));
  double ed = time(calls, einsumCall("bj,jk->bk", opsDynamic));
  double r = time(calls, runCall);
  double f = time(calls, [&] {
    auto y = traced(ops);
    if (!y)
      llvm::errs() << llvm::toString(y.takeError()) << "\n";
    return bool(y);
  });
  CacheStats after = cacheStats();
  if (e < 0 || e3 < 0 || ed < 0 || r < 0 || f < 0)
    return 1;
  if (after.compiles != before.compiles) {
    llvm::errs() << "a timed call compiled\n";
    return 1;
  }
  llvm::outs() << llvm::formatv("einjit.einsum {0:f1}\n", e)
               << llvm::formatv("einjit.einsum3 {0:f1}\n", e3)
               << llvm::formatv("einjit.einsum_dynamic {0:f1}\n", ed)
               << llvm::formatv("einjit.run {0:f1}\n", r)
               << llvm::formatv("einjit.function {0:f1}\n", f);
  return 0;
}
