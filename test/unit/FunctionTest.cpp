//===- FunctionTest.cpp - Traced functions --------------------------------===//
//
// References are computed here with loops in double precision and the C
// library's math functions, never with einjit. Sizes are odd (1, 3, 5, 7,
// 129) and arguments include strided views.
//
//===----------------------------------------------------------------------===//

#include "einjit/runtime/Function.h"
#include "einjit/runtime/Ops.h"
#include "einjit/runtime/Session.h"

#include "TensorTestUtils.h"
#include "gtest/gtest.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"

#include <atomic>
#include <cmath>
#include <complex>
#include <thread>

using namespace einjit;
using namespace einjit::test;

namespace {

double wave(int64_t e) { return std::sin(e * 0.7) * 1.5; }
double ripple(int64_t e) { return std::cos(e * 0.31) - 0.2; }

/// Attention as the lab writes it: scores, scale, softmax, weighted sum.
Function attention(Session *session = nullptr) {
  FunctionOptions options;
  options.name = "attention";
  options.session = session;
  return function(
      [](Sym q, Sym k, Sym v) {
        Sym scores = einsum("bqhd,bkhd->bhqk", {q, k});
        Sym p = softmax(scores * (1.0 / std::sqrt((double)q.shape()[3])), -1);
        return einsum("bhqk,bkhd->bqhd", {p, v});
      },
      options);
}

/// The attention reference, in double; `mask` ([b, 1, s, t]), when given,
/// is added to the scaled scores.
std::vector<double> attentionReference(const Tensor &q, const Tensor &k,
                                       const Tensor &v,
                                       const Tensor *mask = nullptr) {
  int64_t b = q.shape()[0], s = q.shape()[1], h = q.shape()[2],
          d = q.shape()[3], t = k.shape()[1];
  std::vector<double> out(b * s * h * d, 0.0);
  double c = 1.0 / std::sqrt((double)d);
  for (int64_t ib = 0; ib < b; ++ib)
    for (int64_t ih = 0; ih < h; ++ih)
      for (int64_t iq = 0; iq < s; ++iq) {
        std::vector<double> row(t);
        double m = -INFINITY;
        for (int64_t ik = 0; ik < t; ++ik) {
          double dot = 0;
          for (int64_t id = 0; id < d; ++id)
            dot += at(q, {ib, iq, ih, id}) * at(k, {ib, ik, ih, id});
          row[ik] = dot * c + (mask ? at(*mask, {ib, 0, iq, ik}) : 0.0);
          m = std::max(m, row[ik]);
        }
        double z = 0;
        for (double &x : row)
          z += (x = std::exp(x - m));
        for (int64_t id = 0; id < d; ++id) {
          double acc = 0;
          for (int64_t ik = 0; ik < t; ++ik)
            acc += row[ik] / z * at(v, {ib, ik, ih, id});
          out[((ib * s + iq) * h + ih) * d + id] = acc;
        }
      }
  return out;
}

void expectNear(const Tensor &got, const std::vector<double> &want,
                double tolerance) {
  ASSERT_EQ(got.numel(), (int64_t)want.size());
  for (int64_t e = 0; e < got.numel(); ++e)
    ASSERT_NEAR(loadElement(static_cast<const char *>(got.data()) +
                                e * dtypeBytes(got.dtype()),
                            got.dtype()),
                want[e], tolerance)
        << "element " << e;
}

TEST(FunctionTest, DenseBiasRelu) {
  Function dense = function([](Sym x, Sym w, Sym bias) {
    return relu(einsum("ij,jk->ik", {x, w}) + bias);
  });
  for (auto [m, n, k] : {std::tuple<int64_t, int64_t, int64_t>{5, 3, 7},
                         {1, 1, 1},
                         {129, 33, 65}}) {
    Tensor x = make(DType::F32, {m, k}, wave),
           w = make(DType::F32, {k, n}, ripple),
           bias = make(DType::F32, {n}, ripple);
    auto out = ok(dense({x, w, bias}));
    ASSERT_EQ(out.size(), 1u);
    std::vector<double> want(m * n);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double acc = at(bias, {j});
        for (int64_t l = 0; l < k; ++l)
          acc += at(x, {i, l}) * at(w, {l, j});
        want[i * n + j] = std::max(acc, 0.0);
      }
    expectNear(out[0], want, 1e-4);
  }
  EXPECT_EQ(dense.stats().traces, 3u);
  EXPECT_EQ(dense.stats().retraces, 2u);
}

TEST(FunctionTest, ProjectionTailsOnThePackedKernelsResult) {
  // An EinsumDense projection with elementwise tails, at sizes that take
  // the packed GEMM (a right input of 1.1 MB, over half the L2 of the hosts
  // here) in its direct layout (600 rows, 384 columns: whole register
  // tiles, so the kernel writes [M panels, 8, N panels, 32] straight into
  // its result) and threads: a bias of [6, 64] and gelu after it, and a
  // residual input of the result's shape. The tails read the kernel's
  // result through the layout's reshapes.
  Function dense = function([](Sym x, Sym w, Sym bias) {
    return gelu(einsum("btd,dhk->bthk", {x, w}) + bias);
  });
  Function residual = function([](Sym x, Sym w, Sym r) {
    return einsum("btd,dhk->bthk", {x, w}) * r + r;
  });
  int64_t b = 3, t = 200, d = 700, h = 6, k = 64;
  Tensor x = make(DType::F32, {b, t, d}, wave),
         w = make(DType::F32, {d, h, k},
                  [](int64_t e) { return ripple(e) * 0.04; }),
         bias = make(DType::F32, {h, k}, ripple),
         r = make(DType::F32, {b, t, h, k}, ripple);
  std::vector<double> dot(b * t * h * k);
  for (int64_t ib = 0; ib < b; ++ib)
    for (int64_t it = 0; it < t; ++it)
      for (int64_t ih = 0; ih < h; ++ih)
        for (int64_t ik = 0; ik < k; ++ik) {
          double acc = 0;
          for (int64_t id = 0; id < d; ++id)
            acc += at(x, {ib, it, id}) * at(w, {id, ih, ik});
          dot[((ib * t + it) * h + ih) * k + ik] = acc;
        }
  std::vector<double> wantDense(dot.size()), wantResidual(dot.size());
  for (size_t e = 0; e < dot.size(); ++e) {
    double y = dot[e] + at(bias, {int64_t(e) / k % h, int64_t(e) % k});
    wantDense[e] = 0.5 * y * (1 + std::erf(y / std::sqrt(2.0)));
    double re = at(r, {int64_t(e) / (t * h * k), int64_t(e) / (h * k) % t,
                       int64_t(e) / k % h, int64_t(e) % k});
    wantResidual[e] = dot[e] * re + re;
  }
  auto out = ok(dense({x, w, bias}));
  ASSERT_EQ(out.size(), 1u);
  expectNear(out[0], wantDense, 1e-4);
  out = ok(residual({x, w, r}));
  ASSERT_EQ(out.size(), 1u);
  expectNear(out[0], wantResidual, 1e-4);
}

TEST(FunctionTest, SameShapedResultsAreWrittenInPlace) {
  // Three projections of one input, as attention's q, k and v: each result
  // is written where the caller wants it. Were their destinations shared
  // (one tensor.empty for all three), two would be computed elsewhere and
  // copied whole, and one output copied over another.
  Function qkv = function([](Sym x, Sym wq, Sym wk, Sym wv, Sym bias) {
    return std::vector<Sym>{einsum("ij,jk->ik", {x, wq}) + bias,
                            einsum("ij,jk->ik", {x, wk}) + bias,
                            einsum("ij,jk->ik", {x, wv})};
  });
  const int64_t m = 97, k = 33, n = 40;
  Tensor x = make(DType::F32, {m, k}, wave),
         bias = make(DType::F32, {n}, ripple);
  std::vector<Tensor> ws;
  for (int i = 0; i < 3; ++i)
    ws.push_back(make(DType::F32, {k, n}, [i](int64_t e) {
      return ripple(e * (i + 2)) + 0.1 * i;
    }));
  auto out = ok(qkv({x, ws[0], ws[1], ws[2], bias}));
  ASSERT_EQ(out.size(), 3u);
  for (int r = 0; r < 3; ++r) {
    std::vector<double> want(m * n);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double acc = r < 2 ? at(bias, {j}) : 0.0;
        for (int64_t l = 0; l < k; ++l)
          acc += at(x, {i, l}) * at(ws[r], {l, j});
        want[i * n + j] = acc;
      }
    expectNear(out[r], want, 1e-4);
  }
  auto text = qkv.emit({x, ws[0], ws[1], ws[2], bias}, Stage::Vector);
  ASSERT_TRUE(!!text) << llvm::toString(text.takeError());
  EXPECT_EQ(
      llvm::StringRef(*text).count("memref<97x40xf32> to memref<97x40xf32>"),
      0u)
      << *text;
}

TEST(FunctionTest, AttentionMatchesReference) {
  Function f = attention();
  // {b, s, h, t}: self-attention at s = 1, 5 and 129 (one block of rows);
  // enough work for threads, chunked by batch (2 x 4 x 512 x 512) and, with
  // one batch and 3 heads, by blocks of rows (32 rows of 1024 keys); cross
  // attention at 256 x 300 (blocks of 64 rows); 1000 rows of 1000 keys
  // (blocks of 8 rows, the multiple of 8 that divides 1000, not 25); and
  // prime row counts, which no block of 8 or more rows divides: 127 rows of
  // 1009 keys, 509 of 509, 13 of 4096 and 17 of 2053 (blocks of the
  // largest multiple of 8 under the L2 cap, 8 for the last two with a 1 MiB
  // L2, and a last, partial block; einsum-fuse-rows).
  const int64_t sizes[][4] = {
      {2, 1, 3, 1},       {2, 5, 3, 5},       {2, 129, 3, 129},
      {2, 512, 4, 512},   {1, 1024, 3, 1024}, {1, 256, 3, 300},
      {1, 1000, 2, 1000}, {1, 127, 2, 1009},  {2, 509, 3, 509},
      {1, 13, 2, 4096},   {3, 17, 1, 2053}};
  for (DType type : {DType::F32, DType::F64})
    for (auto [b, s, h, t] : sizes) {
      Tensor q = make(type, {b, s, h, 8}, wave),
             k = make(type, {b, t, h, 8}, ripple),
             v = make(type, {b, t, h, 8}, wave);
      auto out = ok(f({q, k, v}));
      ASSERT_EQ(out.size(), 1u);
      SCOPED_TRACE(llvm::formatv("{4}: b {0} s {1} h {2} t {3}", b, s, h, t,
                                 dtypeName(type))
                       .str());
      expectNear(out[0], attentionReference(q, k, v),
                 type == DType::F64 ? 1e-12 : 1e-5);
      // Fused, partial blocks included: where the scores are large, the
      // workspace holds no whole ones.
      if (s * t >= (1 << 18)) {
        auto fn = f.concrete({q, k, v});
        ASSERT_TRUE(!!fn) << llvm::toString(fn.takeError());
        EXPECT_LT((*fn)->workspaceBytes(), b * h * s * t * 4 / 4);
      }
    }
}

} // namespace
namespace {

TEST(FunctionTest, MaskedAttentionMatchesReference) {
  // A mask added to the scores (Keras's -1e9 where a key is hidden, here
  // the keys after the query's position) is one more operand of the fused
  // softmax ops, read through a broadcast over the heads: the blocks of
  // rows slice it too.
  Function f = function([](Sym q, Sym k, Sym v, Sym mask) {
    Sym scores = einsum("bqhd,bkhd->bhqk", {q, k});
    Sym p =
        softmax(scores * (1.0 / std::sqrt((double)q.shape()[3])) + mask, -1);
    return std::vector<Sym>{einsum("bhqk,bkhd->bqhd", {p, v})};
  });
  const int64_t sizes[][4] = {
      {2, 512, 4, 512}, {1, 256, 3, 300}, {2, 509, 2, 521}};
  for (auto [b, s, h, t] : sizes) {
    Tensor q = make(DType::F32, {b, s, h, 8}, wave),
           k = make(DType::F32, {b, t, h, 8}, ripple),
           v = make(DType::F32, {b, t, h, 8}, wave);
    int64_t keys = t, queries = s;
    Tensor mask = make(DType::F32, {b, 1, s, t}, [=](int64_t e) {
      int64_t j = e % keys, i = (e / keys) % queries;
      return j * queries > i * keys ? -1e9 : 0.0;
    });
    auto out = ok(f({q, k, v, mask}));
    ASSERT_EQ(out.size(), 1u);
    SCOPED_TRACE(llvm::formatv("b {0} s {1} h {2} t {3}", b, s, h, t).str());
    expectNear(out[0], attentionReference(q, k, v, &mask), 1e-5);
    // Fused: the scores never exist whole.
    auto fn = f.concrete({q, k, v, mask});
    ASSERT_TRUE(!!fn) << llvm::toString(fn.takeError());
    EXPECT_LT((*fn)->workspaceBytes(), b * h * s * t * 4 / 4);
  }
}

TEST(FunctionTest, HeadsMajorAttentionMatchesReference) {
  // Attention on [b, h, s, d] operands (`bhqd,bhkd->bhqk`, then
  // `bhqk,bhkd->bhqd`): the weighted sum's loops for the probabilities'
  // rows are in another order than in the [b, s, h, d] layout, and its
  // queries' rows are next to their K. Blocks of rows at 257 (a prime:
  // whole, under the L2 cap), 1000 and 512 queries, with threads, and at
  // 1009 (a prime over the cap: blocks of 8 rows or more, and a last,
  // partial one).
  Function f = function([](Sym q, Sym k, Sym v) {
    Sym scores = einsum("bhqd,bhkd->bhqk", {q, k});
    Sym p = softmax(scores * (1.0 / std::sqrt((double)q.shape()[3])), -1);
    return std::vector<Sym>{einsum("bhqk,bhkd->bhqd", {p, v})};
  });
  const int64_t sizes[][4] = {{2, 257, 3, 100},
                              {1, 1000, 2, 1000},
                              {2, 512, 4, 512},
                              {1, 1009, 2, 600}};
  for (auto [b, s, h, t] : sizes) {
    Tensor q = make(DType::F32, {b, h, s, 16}, wave),
           k = make(DType::F32, {b, h, t, 16}, ripple),
           v = make(DType::F32, {b, h, t, 16}, wave);
    auto out = ok(f({q, k, v}));
    ASSERT_EQ(out.size(), 1u);
    // The reference takes [b, s, h, d]: views of the same operands.
    auto seqMajor = [](const Tensor &x) {
      return llvm::cantFail(x.transpose({0, 2, 1, 3}));
    };
    std::vector<double> want =
        attentionReference(seqMajor(q), seqMajor(k), seqMajor(v));
    SCOPED_TRACE(llvm::formatv("b {0} s {1} h {2} t {3}", b, s, h, t).str());
    for (int64_t ib = 0; ib < b; ++ib)
      for (int64_t ih = 0; ih < h; ++ih)
        for (int64_t iq = 0; iq < s; ++iq)
          for (int64_t id = 0; id < 16; ++id)
            ASSERT_NEAR(at(out[0], {ib, ih, iq, id}),
                        want[((ib * s + iq) * h + ih) * 16 + id], 1e-5)
                << ib << " " << ih << " " << iq << " " << id;
    // Fused: where the scores are large, the workspace holds no whole ones.
    auto fn = f.concrete({q, k, v});
    ASSERT_TRUE(!!fn) << llvm::toString(fn.takeError());
    if (s * t >= (1 << 18))
      EXPECT_LT((*fn)->workspaceBytes(), b * h * s * t * 4 / 4);
  }
}

TEST(FunctionTest, FusionKeepsIntermediatesOutOfMemory) {
  // Eager softmax makes five tensors of the scores' size (scaled, shifted,
  // exp, quotient); traced, the scores, their softmax and the weighted sum
  // run block of rows by block of rows (einsum-fuse-rows), so that only a
  // block's scores and probabilities exist: here one head's 129 x 129, of
  // 2 x 6 heads (under the work that takes threads, each of which would
  // have blocks of its own).
  Function f = attention();
  Tensor q = make(DType::F32, {2, 129, 6, 8}, wave);
  auto fn = f.concrete({q, q, q});
  ASSERT_TRUE(!!fn) << llvm::toString(fn.takeError());
  int64_t scores = 2 * 6 * 129 * 129 * 4, block = 129 * 129 * 4;
  EXPECT_GE((*fn)->workspaceBytes(), 2 * block);
  EXPECT_LT((*fn)->workspaceBytes(), 3 * block);
  EXPECT_LT((*fn)->workspaceBytes(), scores / 4);
  // The linalg IR after fusion: two contractions, the max, the sum and the
  // quotient; exp appears in the sum and in the quotient, the scale in the
  // max and in both.
  auto text = f.emit({q, q, q}, Stage::Linalg);
  ASSERT_TRUE(!!text) << llvm::toString(text.takeError());
  llvm::StringRef ir = *text;
  EXPECT_EQ(ir.count("linalg.generic"), 5u) << ir.str();
  EXPECT_EQ(ir.count("math.exp"), 2u) << ir.str();
}

TEST(FunctionTest, StridedArgumentsAndSeveralResults) {
  // Results: an argument returned as is, one value twice, a reduction.
  Function f = function([](Sym a, Sym b) {
    Sym prod = einsum("ij,jk->ik", {a, b});
    return std::vector<Sym>{a, prod, sum(exp(prod), {0}), prod};
  });
  Tensor base = make(DType::F32, {7, 5}, wave);
  Tensor a = llvm::cantFail(base.transpose()); // 5x7, strided
  Tensor b =
      llvm::cantFail(make(DType::F32, {7, 6}, ripple).slice(1, 0, 6, 2)); // 7x3
  auto out = ok(f({a, b}));
  ASSERT_EQ(out.size(), 4u);
  std::vector<double> wantA, wantProd(5 * 3), wantSum(3, 0.0);
  for (int64_t i = 0; i < 5; ++i)
    for (int64_t j = 0; j < 7; ++j)
      wantA.push_back(at(a, {i, j}));
  for (int64_t i = 0; i < 5; ++i)
    for (int64_t k = 0; k < 3; ++k) {
      double acc = 0;
      for (int64_t j = 0; j < 7; ++j)
        acc += at(a, {i, j}) * at(b, {j, k});
      wantProd[i * 3 + k] = acc;
      wantSum[k] += std::exp(acc);
    }
  expectNear(out[0], wantA, 0);
  expectNear(out[1], wantProd, 1e-5);
  expectNear(out[2], wantSum, 1e-4);
  expectNear(out[3], wantProd, 1e-5);
  // The views are read in place: the kernel takes their layouts.
  auto fn = f.concrete({a, b});
  ASSERT_TRUE(!!fn);
  const Graph &graph = (*fn)->graph();
  EXPECT_EQ(graph.nodes[graph.inputs[0]].strides, std::vector<int64_t>({1, 5}));
  EXPECT_EQ(graph.nodes[graph.inputs[1]].strides, std::vector<int64_t>({6, 2}));
  // The same shapes, contiguous: a retrace naming the layout.
  auto dense = ok(f({ok(a.contiguous()), ok(b.contiguous())}));
  ASSERT_EQ(dense.size(), 4u);
  expectNear(dense[1], wantProd, 1e-5);
  ASSERT_EQ(f.retraces().size(), 1u);
  EXPECT_EQ(f.retraces()[0].reason,
            "layout of operand 0: strides [1,5] -> contiguous");
}

TEST(FunctionTest, EmptyTensorsRunOpByOp) {
  Function f = function(
      [](Sym a, Sym b) { return sum(einsum("ij,jk->ik", {a, b}) + a, {1}); });
  Tensor a = make(DType::F32, {3, 0}, wave), b = make(DType::F32, {0, 0}, wave);
  auto out = ok(f({a, b}));
  ASSERT_EQ(out.size(), 1u);
  expectNear(out[0], {0.0, 0.0, 0.0}, 0);
}

TEST(FunctionTest, RetracesNameWhatChanged) {
  Session session;
  Function f = attention(&session);
  Tensor small = make(DType::F32, {1, 5, 2, 4}, wave),
         big = make(DType::F32, {1, 7, 2, 4}, wave);
  ok(f({small, small, small}));
  ok(f({small, small, small}));
  EXPECT_EQ(f.stats().traces, 1u);
  ok(f({big, big, big}));
  ok(f({small, small, small})); // traced before: no trace
  FunctionStats stats = f.stats();
  EXPECT_EQ(stats.traces, 2u);
  EXPECT_EQ(stats.retraces, 1u);
  EXPECT_EQ(stats.signatures, 2u);
  ASSERT_EQ(f.retraces().size(), 1u);
  EXPECT_EQ(f.retraces()[0].equation, "attention");
  EXPECT_EQ(f.retraces()[0].reason, "dim 1 of operand 0: 5 -> 7");
  // The session counts it with the einsum retraces.
  EXPECT_EQ(session.stats().retraces, 1u);
  EXPECT_EQ(session.recentRetraces().back().reason,
            "dim 1 of operand 0: 5 -> 7");
  // A second function with the same body shares the session's kernel.
  Function g = attention(&session);
  size_t compiles = session.stats().compiles;
  ok(g({small, small, small}));
  EXPECT_EQ(session.stats().compiles, compiles);
  EXPECT_EQ(g.stats().traces, 1u);
}

TEST(FunctionTest, ErrorsNameTheFunctionAndTheOp) {
  Function bad =
      function([](Sym a, Sym b) { return einsum("ij,jk->ik", {a, b}) * 2.0; });
  Tensor a = make(DType::F32, {2, 3}, wave), b = make(DType::F32, {4, 5}, wave);
  std::string message = error(bad({a, b}));
  EXPECT_NE(message.find("traced function 'function'"), std::string::npos)
      << message;
  EXPECT_NE(message.find("size"), std::string::npos) << message;

  Function broadcast = function([](Sym a, Sym b) { return a + b; });
  message = error(broadcast({a, b}));
  EXPECT_NE(message.find("add"), std::string::npos) << message;
  EXPECT_NE(message.find("broadcast"), std::string::npos) << message;

  // Arity from the callable's parameters.
  message = error(broadcast({a}));
  EXPECT_NE(message.find("takes 2 arguments, got 1"), std::string::npos)
      << message;
  EXPECT_EQ(error(broadcast({a, Tensor()})),
            "argument 1 of 'function' is an empty tensor handle");

  // A Sym kept from an earlier trace is not a value of the next one.
  Sym kept;
  Function leaky = function([&](Sym a) {
    Sym r = kept.valid() ? a + kept : a * 2.0;
    kept = a;
    return r;
  });
  ok(leaky({a}));
  EXPECT_TRUE(kept.shape().empty()); // its trace has ended
  message = error(leaky({b}));
  EXPECT_NE(message.find("not a value of this trace"), std::string::npos)
      << message;

  Function nothing([](llvm::ArrayRef<Sym>) { return std::vector<Sym>{}; });
  message = error(nothing({a}));
  EXPECT_NE(message.find("returns no tensor"), std::string::npos) << message;
  Function invalid([](llvm::ArrayRef<Sym>) { return std::vector<Sym>{Sym()}; });
  message = error(invalid({a}));
  EXPECT_NE(message.find("result 0 is not a value"), std::string::npos)
      << message;

  // A traced kernel refuses arguments of another signature.
  Function twice = function([](Sym a) { return a * 2.0; });
  auto fn = twice.concrete({a});
  ASSERT_TRUE(!!fn);
  auto wrong = (**fn)({b});
  ASSERT_FALSE(!!wrong);
  EXPECT_NE(llvm::toString(wrong.takeError())
                .find("is f32(4,5) but it was traced for f32(2,3)"),
            std::string::npos);
}

TEST(FunctionTest, ConcurrentCallsTraceOnce) {
  Session session;
  FunctionOptions options;
  options.session = &session;
  std::atomic<int> traces{0};
  Function f = function(
      [&](Sym a, Sym b) {
        ++traces;
        return softmax(einsum("ij,kj->ik", {a, b}), -1);
      },
      options);
  Tensor a = make(DType::F32, {9, 5}, wave),
         b = make(DType::F32, {11, 5}, ripple);
  std::vector<double> want(9 * 11);
  for (int64_t i = 0; i < 9; ++i) {
    double m = -INFINITY, z = 0;
    std::vector<double> row(11);
    for (int64_t k = 0; k < 11; ++k) {
      for (int64_t j = 0; j < 5; ++j)
        row[k] += at(a, {i, j}) * at(b, {k, j});
      m = std::max(m, row[k]);
    }
    for (double &x : row)
      z += (x = std::exp(x - m));
    for (int64_t k = 0; k < 11; ++k)
      want[i * 11 + k] = row[k] / z;
  }
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      for (int call = 0; call < 200; ++call) {
        auto out = f({a, b});
        if (!out) {
          llvm::consumeError(out.takeError());
          ++failures;
          continue;
        }
        for (int64_t e = 0; e < 9 * 11; ++e)
          if (std::abs((*out)[0].data<float>()[e] - want[e]) > 1e-6) {
            ++failures;
            break;
          }
      }
    });
  for (std::thread &t : threads)
    t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(traces.load(), 1);
  EXPECT_EQ(session.stats().compiles, 1u);
}

TEST(FunctionTest, DiskCacheServesAnotherSession) {
  llvm::SmallString<128> dir;
  ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("einjit-fn", dir));
  Tensor q = make(DType::F32, {1, 5, 2, 4}, wave);
  std::vector<double> want = attentionReference(q, q, q);
  {
    Session first;
    first.setCacheDir(dir);
    ok(attention(&first)({q, q, q}));
    EXPECT_EQ(first.stats().diskWrites, 1u);
  }
  Session second;
  second.setCacheDir(dir);
  auto out = ok(attention(&second)({q, q, q}));
  EXPECT_EQ(second.stats().diskHits, 1u);
  EXPECT_EQ(second.stats().compiles, 0u);
  ASSERT_EQ(out.size(), 1u);
  expectNear(out[0], want, 1e-5);
  llvm::sys::fs::remove_directories(dir);
}

} // namespace

/// A loss over most ops and einsum kinds, f64, and its gradients with
/// respect to every argument, traced into one kernel.
std::vector<Sym> lossAndGradients(llvm::ArrayRef<Sym> a) {
  const Sym &x = a[0], &w = a[1], &b = a[2], &m = a[3];
  Sym h = relu(einsum("bi,ij->bj", {x, w}) + b); // broadcast bias
  Sym p = logSoftmax(tanh(h) * 1.5, -1);         // [4, 3]
  Sym s = sum(p * gelu(h), {1});                 // [4]
  Sym q = einsum("ii->", {m}) * sum(max(exp(w), {0}) / sqrt(exp(b))); // []
  // Three and four operands: their gradients walk the path's steps
  // backwards (planGradients' keep: fewer flops than each einsum alone).
  Sym chain = einsum("bi,ij,j->", {x, w, b}) +
              sum(einsum("bi,ij,jk,k->b", {x, w, m, b}));
  Sym loss = einsum("b->", {s}) + q - sum(softmax(x, 0) * x) + chain;
  std::vector<Sym> out = {loss};
  llvm::append_range(out, gradients(loss, {x, w, b, m}));
  return out;
}

TEST(FunctionTest, GradientsTraceWithTheForward) {
  Function f(lossAndGradients, {.name = "loss_and_gradients"});
  std::vector<Tensor> args = {
      make(DType::F64, {4, 5}, [](int64_t e) { return std::sin(0.9 * e); }),
      make(DType::F64, {5, 3},
           [](int64_t e) { return 0.2 + std::cos(1.7 * e); }),
      make(DType::F64, {3}, [](int64_t e) { return 0.1 * e - 0.05; }),
      make(DType::F64, {3, 3}, [](int64_t e) { return 0.5 * e; })};
  std::vector<Tensor> out = ok(f(args));
  ASSERT_EQ(out.size(), 5u);
  EXPECT_EQ(f.stats().traces, 1);
  // One kernel for the forward and the backward: the graph holds both.
  auto fn = ok(f.concrete(args));
  EXPECT_GT(fn->graph().nodes.size(), 40u);
  // Central differences of the traced loss itself.
  auto loss = [&] { return ok(f(args))[0].getDouble(0); };
  for (size_t k = 0; k < args.size(); ++k) {
    ASSERT_EQ(out[k + 1].shape(), args[k].shape());
    for (int64_t e = 0; e < args[k].numel(); ++e) {
      double want =
          centralDifference(args[k].data<double>()[e], loss, /*h=*/1e-6);
      EXPECT_NEAR(out[k + 1].getDouble(e), want, 1e-6 * (1 + std::fabs(want)))
          << "argument " << k << " element " << e;
    }
  }
  EXPECT_EQ(f.stats().traces, 1); // every later call reused the kernel
}

TEST(FunctionTest, GradientsOfUnrelatedSourcesAreZeros) {
  Function f([](llvm::ArrayRef<Sym> a) {
    std::vector<Sym> g = gradients(sum(a[0] * a[0]), {a[0], a[1]});
    return std::vector<Sym>{g[0], g[1]};
  });
  Tensor x = make(DType::F32, {3}, [](int64_t e) { return e + 1.0; });
  Tensor y = make(DType::F32, {2}, [](int64_t e) { return e; });
  std::vector<Tensor> g = ok(f({x, y}));
  for (int64_t i = 0; i < 3; ++i)
    EXPECT_EQ(at(g[0], {i}), 2.0 * (i + 1));
  for (int64_t i = 0; i < 2; ++i)
    EXPECT_EQ(at(g[1], {i}), 0.0);
}

TEST(FunctionTest, RepeatedOutputLabelsWriteZerosOffTheDiagonal) {
  // In a kernel, a diagonal output is one generic over the whole output:
  // its zeros never come from an init buffer (once they came from a
  // reused, dirty one).
  Function f([](llvm::ArrayRef<Sym> a) {
    Sym d = einsum("i->ii", {a[0]});
    return std::vector<Sym>{d + a[1], einsum("ij->jij", {a[1]})};
  });
  Tensor v = make(DType::F64, {5}, [](int64_t e) { return e + 1.0; });
  Tensor m = make(DType::F64, {5, 5}, [](int64_t e) { return 100.0 + e; });
  for (int round = 0; round < 3; ++round) {
    std::vector<Tensor> out = ok(f({v, m}));
    for (int64_t i = 0; i < 5; ++i)
      for (int64_t j = 0; j < 5; ++j) {
        EXPECT_EQ(at(out[0], {i, j}), at(m, {i, j}) + (i == j ? i + 1.0 : 0));
        for (int64_t k = 0; k < 5; ++k)
          EXPECT_EQ(at(out[1], {j, i, k}), j == k ? at(m, {i, j}) : 0.0);
      }
  }
}

namespace {

TEST(FunctionTest, NarrowIntsAndBoolsFollowNumpy) {
  // u8 x i8 contracts in i16 (200 read as 200, not -56), then a bool mask
  // (True + the product: an OR with bools, a widening add with ints) and
  // a sum into i64; all traced into one kernel.
  Function f = function([](Sym a, Sym b, Sym mask) {
    return sum(einsum("ij,jk->ik", {a, b}) + mask);
  });
  Tensor a = make(DType::U8, {3, 5}, [](int64_t e) { return 200 + e; });
  Tensor b = make(DType::I8, {5, 4}, [](int64_t e) { return e - 10; });
  Tensor mask = make(DType::Bool, {4}, [](int64_t e) { return e % 2; });
  auto out = ok(f({a, b, mask}));
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(out[0].dtype(), DType::I64);
  int64_t want = 0;
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t k = 0; k < 4; ++k) {
      int16_t acc = 0;
      for (int64_t j = 0; j < 5; ++j)
        acc = int16_t(acc + int16_t(200 + i * 5 + j) * int16_t(j * 4 + k - 10));
      want += int16_t(acc + k % 2);
    }
  EXPECT_EQ(out[0].data<int64_t>()[0], want);
}

} // namespace

namespace {

TEST(FunctionTest, ComplexEinsumAndOps) {
  // (z w) * 2 + 1, traced into one kernel, on c64 against std::complex.
  Function f = function([](Sym z, Sym w, Sym one) {
    return einsum("ij,jk->ik", {z, w}) * 2.0 + one;
  });
  Tensor z = ok(Tensor::allocate(DType::C64, {3, 4}));
  Tensor w = ok(Tensor::allocate(DType::C64, {4, 5}));
  for (int64_t e = 0; e < 12; ++e)
    z.data<std::complex<float>>()[e] = {0.5f * e, 1.0f - e};
  for (int64_t e = 0; e < 20; ++e)
    w.data<std::complex<float>>()[e] = {1.0f - 0.25f * e, 0.125f * e};
  Tensor one = make(DType::F32, {1}, [](int64_t) { return 1; });
  auto out = ok(f({z, w, one}));
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(out[0].dtype(), DType::C64);
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t k = 0; k < 5; ++k) {
      std::complex<double> want = 0;
      for (int64_t j = 0; j < 4; ++j)
        want += std::complex<double>(z.data<std::complex<float>>()[i * 4 + j]) *
                std::complex<double>(w.data<std::complex<float>>()[j * 5 + k]);
      want = want * 2.0 + 1.0;
      std::complex<double> got(out[0].data<std::complex<float>>()[i * 5 + k]);
      EXPECT_NEAR(got.real(), want.real(), 1e-4) << i << "," << k;
      EXPECT_NEAR(got.imag(), want.imag(), 1e-4) << i << "," << k;
    }
}

} // namespace
