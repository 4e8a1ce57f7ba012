//===- ReversedViews.cpp - Views with negative strides, in place ----------===//
//
// Times einsum and eager ops on views with a negative stride (numpy's
// x[::-1] and x[:, ::-1]), read in place by a kernel compiled for that
// layout, beside what the runtime did before negative strides reached the
// kernels: a contiguous copy of the view, then the contiguous kernel. The
// two alternate for 5 rounds; each prints the fastest call (after the
// compiling one) as `case in_place_ms copy_first_ms`.
//
// Build: cmake --build build --target einsum-reversed-views
//
//===----------------------------------------------------------------------===//

#include "einjit/runtime/Einsum.h"
#include "einjit/runtime/Ops.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>

using namespace einjit;

static double bestMs(const std::function<llvm::Expected<Tensor>()> &call,
                     int reps) {
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    auto start = std::chrono::steady_clock::now();
    llvm::Expected<Tensor> t = call();
    double ms = std::chrono::duration<double, std::milli>(
                    std::chrono::steady_clock::now() - start)
                    .count();
    if (!t) {
      llvm::errs() << llvm::toString(t.takeError()) << "\n";
      std::exit(1);
    }
    best = std::min(best, ms);
  }
  return best;
}

int main() {
  const int64_t n = 1009;
  Tensor a = llvm::cantFail(Tensor::allocate(DType::F32, {n, n}));
  Tensor b = llvm::cantFail(Tensor::allocate(DType::F32, {n, n}));
  for (int64_t e = 0; e < n * n; ++e) {
    a.data<float>()[e] = std::sin(e * 0.37);
    b.data<float>()[e] = std::cos(e * 0.11);
  }
  Tensor rows = llvm::cantFail(b.slice(0, n - 1, -n - 1, -1)); // b[::-1]
  Tensor cols = llvm::cantFail(a.slice(1, n - 1, -n - 1, -1)); // a[:, ::-1]
  auto copied = [](const Tensor &t) { return llvm::cantFail(t.contiguous()); };
  struct Case {
    const char *name;
    std::function<llvm::Expected<Tensor>()> inPlace, copyFirst;
  } cases[] = {
      {"matmul_1009_rows_reversed",
       [&] { return einsum("ij,jk->ik", {a, rows}); },
       [&] { return einsum("ij,jk->ik", {a, copied(rows)}); }},
      {"matmul_1009_cols_reversed",
       [&] { return einsum("ij,jk->ik", {cols, b}); },
       [&] { return einsum("ij,jk->ik", {copied(cols), b}); }},
      {"exp_1009_cols_reversed", [&] { return exp(cols); },
       [&] { return exp(copied(cols)); }},
      {"sum_rows_1009_rows_reversed", [&] { return sum(rows, {0}); },
       [&] { return sum(copied(rows), {0}); }},
      {"transpose_1009_cols_reversed", [&] { return einsum("ij->ji", {cols}); },
       [&] { return einsum("ij->ji", {copied(cols)}); }},
  };
  for (const Case &c : cases) {
    double inPlace = 1e30, copyFirst = 1e30;
    bestMs(c.inPlace, 1); // compile
    bestMs(c.copyFirst, 1);
    for (int round = 0; round < 5; ++round) {
      inPlace = std::min(inPlace, bestMs(c.inPlace, 3));
      copyFirst = std::min(copyFirst, bestMs(c.copyFirst, 3));
    }
    llvm::outs() << llvm::formatv("{0} {1:F3} {2:F3}\n", c.name, inPlace,
                                  copyFirst);
  }
  return 0;
}
