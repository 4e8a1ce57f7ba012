//===- Attention.cpp - Multi-head attention forward, eager and traced -----===//
//
// Keras's MultiHeadAttention forward (self-attention, query = key = value =
// x) as eager einjit calls, each dispatched through the kernel cache, or
// (--traced) as one einjit::Function of the same ops, traced and compiled
// whole:
//
//   q = x.Wq + bq, k = x.Wk + bk, v = x.Wv + bv   einsum btd,dhk->bthk; add
//   q = q / sqrt(d)                               scale
//   s = einsum(bqhk,bthk->bhqt)                   scores
//   p = softmax(s, -1)                            max, sub, exp, sum, div
//   o = einsum(bhqt,bthk->bqhk)                   weighted sum
//   y = o.Wo + bo                                 einsum bqhk,hkd->bqd; add
//
// Usage: einsum-attention [--traced] [--core | --heads=H | --projection]
// [--emit=STAGE] B T [REPS [OUT.npy]]. --core runs attention's core alone
// (scores, softmax, weighted sum) on q, k and v of [B, T, 12, 64] (elements
// sin(0.61 e) times 0.125 for q, 1 for k and v; --heads=H: H heads
// instead of 12, and implies --core); --projection runs the
// query's projection and its bias add alone. --emit=STAGE prints the traced
// block's IR at STAGE (linalg, vector, llvm) and runs nothing. Otherwise prints
// `ms MIN`, `flops N` (the einsums' multiply-adds counted as 2) and `kernels K`
// for the fastest of REPS calls after a first one that compiles, and writes the
// block's output to OUT.npy when given (operands: element e of each is sin(0.61
// e) times 1/sqrt(768) for weights, 0.1 for biases, 1 for x, which
// bench/attention.py rebuilds to check it). bench/attention.py runs it
// beside TensorFlow's eager, tf.function and XLA modes.
//
// Build: cmake --build build --target einsum-attention
//
//===----------------------------------------------------------------------===//

#include "einjit/Compiler/Stage.h"
#include "einjit/runtime/Einsum.h"
#include "einjit/runtime/Function.h"
#include "einjit/runtime/Npy.h"
#include "einjit/runtime/Ops.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cmath>
#include <cstdlib>

using namespace einjit;

static Tensor filled(std::vector<int64_t> shape, double scale) {
  Tensor t = llvm::cantFail(Tensor::empty(DType::F32, shape));
  for (int64_t e = 0; e < t.numel(); ++e)
    t.data<float>()[e] = std::sin(e * 0.61) * scale;
  return t;
}

#define TRY(var, expr)                                                         \
  auto var##OrErr = (expr);                                                    \
  if (!var##OrErr)                                                             \
    return var##OrErr.takeError();                                             \
  Tensor var = std::move(*var##OrErr);

struct Weights {
  Tensor wq, wk, wv, wo, bq, bk, bv, bo;
};

static llvm::Expected<Tensor> attention(const Tensor &x, const Weights &w,
                                        int64_t d) {
  TRY(q0, einsum("btd,dhk->bthk", {x, w.wq}));
  TRY(q1, add(q0, w.bq));
  TRY(q, scale(q1, 1.0 / std::sqrt((double)d)));
  TRY(k0, einsum("btd,dhk->bthk", {x, w.wk}));
  TRY(k, add(k0, w.bk));
  TRY(v0, einsum("btd,dhk->bthk", {x, w.wv}));
  TRY(v, add(v0, w.bv));
  TRY(s, einsum("bqhk,bthk->bhqt", {q, k}));
  TRY(p, softmax(s, -1));
  TRY(o, einsum("bhqt,bthk->bqhk", {p, v}));
  TRY(y0, einsum("bqhk,hkd->bqd", {o, w.wo}));
  return add(y0, w.bo);
}

/// The same block on symbolic tensors: x, then the weights in Weights'
/// order.
static std::vector<Sym> tracedAttention(llvm::ArrayRef<Sym> a) {
  const Sym &x = a[0], &wq = a[1], &wk = a[2], &wv = a[3], &wo = a[4],
            &bq = a[5], &bk = a[6], &bv = a[7], &bo = a[8];
  double c = 1.0 / std::sqrt((double)wq.shape()[2]);
  Sym q = (einsum("btd,dhk->bthk", {x, wq}) + bq) * c;
  Sym k = einsum("btd,dhk->bthk", {x, wk}) + bk;
  Sym v = einsum("btd,dhk->bthk", {x, wv}) + bv;
  Sym p = softmax(einsum("bqhk,bthk->bhqt", {q, k}), -1);
  Sym o = einsum("bhqt,bthk->bqhk", {p, v});
  return {einsum("bqhk,hkd->bqd", {o, wo}) + bo};
}

/// Attention's core alone, on q (scaled), k and v as the projections
/// leave them ([b, t, h, d]): the scores, their softmax and the weighted sum.
static llvm::Expected<Tensor> attentionCore(const Tensor &q, const Tensor &k,
                                            const Tensor &v) {
  TRY(s, einsum("bqhk,bthk->bhqt", {q, k}));
  TRY(p, softmax(s, -1));
  return einsum("bhqt,bthk->bqhk", {p, v});
}

static std::vector<Sym> tracedCore(llvm::ArrayRef<Sym> a) {
  Sym p = softmax(einsum("bqhk,bthk->bhqt", {a[0], a[1]}), -1);
  return {einsum("bhqt,bthk->bqhk", {p, a[2]})};
}

/// One projection with its bias: EinsumDense's `btd,dhk->bthk` and add.
static std::vector<Sym> tracedProjection(llvm::ArrayRef<Sym> a) {
  return {einsum("btd,dhk->bthk", {a[0], a[1]}) + a[2]};
}

int main(int argc, char **argv) {
  bool traced = false, core = false, projection = false;
  int64_t coreHeads = 12;
  std::optional<Stage> emitStage;
  for (; argc > 1 && llvm::StringRef(argv[1]).starts_with("--");
       --argc, ++argv) {
    llvm::StringRef flag = argv[1];
    if (flag == "--traced") {
      traced = true;
    } else if (flag == "--core") {
      core = true;
    } else if (flag == "--projection") {
      projection = true;
    } else if (flag.consume_front("--heads=") &&
               !flag.getAsInteger(10, coreHeads) && coreHeads > 0) {
      core = true;
    } else if (flag.consume_front("--emit=") &&
               (emitStage = parseStage(flag))) {
      traced = true;
    } else {
      llvm::errs() << "unknown option " << argv[1] << "\n";
      return 2;
    }
  }
  if (argc < 3) {
    llvm::errs() << "usage: einsum-attention [--traced] [--core | "
                    "--heads=H | --projection] "
                    "[--emit=STAGE] B T [REPS [OUT.npy]]\n";
    return 2;
  }
  int64_t b = std::atoll(argv[1]), t = std::atoll(argv[2]);
  int reps = argc > 3 ? std::atoi(argv[3]) : 10;
  const int64_t model = 768, heads = 12, d = 64;
  double ws = 1.0 / std::sqrt((double)model);
  Weights w{filled({model, heads, d}, ws), filled({model, heads, d}, ws),
            filled({model, heads, d}, ws), filled({heads, d, model}, ws),
            filled({heads, d}, 0.1),       filled({heads, d}, 0.1),
            filled({heads, d}, 0.1),       filled({model}, 0.1)};
  Tensor x = filled({b, t, model}, 1.0);
  Tensor q = filled({b, t, coreHeads, d}, 0.125),
         k = filled({b, t, coreHeads, d}, 1.0),
         v = filled({b, t, coreHeads, d}, 1.0);
  FunctionOptions options;
  options.name = core         ? "attention_core"
                 : projection ? "projection"
                              : "attention";
  Function block(core         ? tracedCore
                 : projection ? tracedProjection
                              : tracedAttention,
                 options);
  auto args = [&]() -> std::vector<Tensor> {
    if (core)
      return {q, k, v};
    if (projection)
      return {x, w.wq, w.bq};
    return {x, w.wq, w.wk, w.wv, w.wo, w.bq, w.bk, w.bv, w.bo};
  };
  if (emitStage) {
    auto ir = block.emit(args(), *emitStage);
    if (!ir) {
      llvm::errs() << llvm::toString(ir.takeError()) << "\n";
      return 1;
    }
    llvm::outs() << *ir;
    return 0;
  }
  auto run = [&]() -> llvm::Expected<Tensor> {
    if (!traced && projection) {
      TRY(y, einsum("btd,dhk->bthk", {x, w.wq}));
      return add(y, w.bq);
    }
    if (!traced)
      return core ? attentionCore(q, k, v) : attention(x, w, d);
    auto y = block(args());
    if (!y)
      return y.takeError();
    return std::move((*y)[0]);
  };
  double best = 1e30;
  Tensor result;
  for (int rep = 0; rep <= reps; ++rep) {
    auto start = std::chrono::steady_clock::now();
    auto y = run();
    double ms = std::chrono::duration<double, std::milli>(
                    std::chrono::steady_clock::now() - start)
                    .count();
    if (!y) {
      llvm::errs() << llvm::toString(y.takeError()) << "\n";
      return 1;
    }
    if (rep > 0)
      best = std::min(best, ms);
    result = std::move(*y);
  }
  if (argc > 4)
    if (auto err = writeNpy(argv[4], result)) {
      llvm::errs() << llvm::toString(std::move(err)) << "\n";
      return 1;
    }
  double flops = projection
                     ? 2.0 * b * t * model * model
                     : (core ? 0.0 : 4.0 * 2 * b * t * model * model) +
                           2.0 * 2 * b * (core ? coreHeads : heads) * t * t * d;
  CacheStats stats = cacheStats();
  llvm::outs() << llvm::formatv("ms {0:f3}\nflops {1:e}\nkernels {2}\n", best,
                                flops, stats.compiles);
  return 0;
}
