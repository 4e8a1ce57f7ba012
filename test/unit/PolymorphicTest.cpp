//===- PolymorphicTest.cpp - Shape-polymorphic einsums --------------------===//
//
// Dynamic dims, declared (setInputSignature) or found by retraces that
// change only sizes (setReduceRetracing): the results against loops in
// double precision, and the compiles and retraces against the pieces'
// power-of-two sizes.
//
//===----------------------------------------------------------------------===//

#include "einjit/runtime/Function.h"
#include "einjit/runtime/Ops.h"
#include "einjit/runtime/Session.h"

#include "TensorTestUtils.h"

#include "gtest/gtest.h"

#include <cmath>
#include <set>

using namespace einjit;
using namespace einjit::test;

namespace {

/// Small integers in f64, exact in every sum below; `seed` varies them.
Tensor ramp(DType type, std::vector<int64_t> shape, int seed = 0) {
  return make(type, shape,
              [&](int64_t e) { return double((e * 7 + seed) % 11) - 5; });
}

/// bij,bjk->bik (or ij,jk->ik with b = 1 and 2-d operands), by loops.
void expectBatchMatmul(const Tensor &a, const Tensor &b, const Tensor &c) {
  bool batched = a.rank() == 3;
  int64_t batch = batched ? a.shape()[0] : 1;
  int64_t m = a.shape()[a.rank() - 2], k = a.shape()[a.rank() - 1];
  int64_t n = b.shape()[b.rank() - 1];
  ASSERT_EQ(c.shape()[c.rank() - 2], m);
  ASSERT_EQ(c.shape()[c.rank() - 1], n);
  for (int64_t x = 0; x < batch; ++x)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double ref = 0;
        for (int64_t l = 0; l < k; ++l)
          ref += (batched ? at(a, {x, i, l}) : at(a, {i, l})) *
                 (b.rank() == 3 ? at(b, {x, l, j}) : at(b, {l, j}));
        double got = batched ? at(c, {x, i, j}) : at(c, {i, j});
        ASSERT_EQ(got, ref) << "at " << x << "," << i << "," << j;
      }
}

/// The power-of-two pieces of n.
std::set<int64_t> pieces(int64_t n) {
  std::set<int64_t> sizes;
  for (int64_t bit = 1; bit <= n; bit <<= 1)
    if (n & bit)
      sizes.insert(bit);
  return sizes;
}

TEST(PolymorphicTest, RetracesThatChangeOnlySizesMakeTheLabelDynamic) {
  Session s;
  s.setReduceRetracing(2);
  Tensor w = ramp(DType::F32, {6, 5}, 1);
  std::set<int64_t> kernels;
  for (int64_t batch = 1; batch <= 16; ++batch) {
    Tensor x = ramp(DType::F32, {batch, 3, 6}, (int)batch);
    Tensor y = ok(s.einsum("bij,jk->bik", {x, w}));
    // bij,jk->bik by loops: w is shared by every batch.
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t i = 0; i < 3; ++i)
        for (int64_t k = 0; k < 5; ++k) {
          double ref = 0;
          for (int64_t j = 0; j < 6; ++j)
            ref += at(x, {b, i, j}) * at(w, {j, k});
          ASSERT_EQ(at(y, {b, i, k}), ref) << "batch " << batch;
        }
    // Exact kernels for the first three sizes, then pieces.
    if (batch <= 3)
      kernels.insert(batch);
    else
      for (int64_t p : pieces(batch))
        kernels.insert(p);
  }
  CacheStats stats = s.stats();
  EXPECT_EQ(stats.retraces, 2u);
  EXPECT_EQ(stats.polymorphic, 1u);
  EXPECT_EQ(stats.splitCalls, 13u);
  EXPECT_EQ(stats.compiles, kernels.size()); // 1, 2, 3, 4, 8, 16
  std::vector<PolymorphicEquation> poly = s.polymorphicEquations();
  ASSERT_EQ(poly.size(), 1u);
  EXPECT_EQ(poly[0].equation, "bij,jk->bik");
  EXPECT_EQ(poly[0].labels, "b");
  EXPECT_EQ(poly[0].reason, "after 2 retraces that changed only sizes");
}

TEST(PolymorphicTest, ADtypeChangeIsNotASizeRetrace) {
  Session s;
  s.setReduceRetracing(1);
  ok(s.einsum("ij,jk->ik",
              {ramp(DType::F32, {2, 3}), ramp(DType::F32, {3, 4})}));
  ok(s.einsum("ij,jk->ik",
              {ramp(DType::F64, {2, 3}), ramp(DType::F64, {3, 4})}));
  EXPECT_EQ(s.stats().retraces, 1u);
  EXPECT_EQ(s.stats().polymorphic, 0u);
  // A dim that is not a leading one stays static, and says why.
  ok(s.einsum("ij,jk->ik",
              {ramp(DType::F64, {2, 3}), ramp(DType::F64, {3, 5})}));
  EXPECT_EQ(s.stats().retraces, 2u);
  EXPECT_EQ(s.stats().polymorphic, 0u);
  // Off: every size is a retrace.
  Session off;
  off.setReduceRetracing(0);
  for (int64_t n = 1; n <= 6; ++n)
    ok(off.einsum("ij,jk->ik",
                  {ramp(DType::F32, {n, 3}), ramp(DType::F32, {3, 4})}));
  EXPECT_EQ(off.stats().retraces, 5u);
  EXPECT_EQ(off.stats().polymorphic, 0u);
}

TEST(PolymorphicTest, AnInputSignatureCompilesOnlyPowerOfTwoPieces) {
  Session s;
  ok(s.setInputSignature("ij,jk->ik", {{kDynamic, 8}, {8, 5}}));
  Tensor b = ramp(DType::F64, {8, 5}, 3);
  std::set<int64_t> kernels;
  for (int64_t n : {1, 7, 129, 1000, 999, 3}) {
    Tensor a = ramp(DType::F64, {n, 8}, (int)n);
    // Spelled with other labels: the same canonical equation.
    Tensor c = ok(s.einsum("ab,bc->ac", {a, b}));
    expectBatchMatmul(a, b, c);
    for (int64_t p : pieces(n))
      kernels.insert(p);
  }
  CacheStats stats = s.stats();
  EXPECT_EQ(stats.retraces, 0u);
  EXPECT_EQ(stats.compiles, kernels.size());
  EXPECT_EQ(stats.splitCalls, 6u);
  // Another dtype splits the same way; another static size does not match
  // the kernels but is no retrace either.
  Tensor a = ramp(DType::F32, {11, 8});
  Tensor c = ok(s.einsum("ij,jk->ik", {a, ramp(DType::F32, {8, 5}, 3)}));
  expectBatchMatmul(a, ramp(DType::F32, {8, 5}, 3), c);
  EXPECT_EQ(s.stats().splitCalls, 7u);
}

TEST(PolymorphicTest, SummedDynamicLabelsAddTheirPieces) {
  Session s;
  ok(s.setInputSignature("ij,ik->jk", {{kDynamic, 4}, {kDynamic, 3}}));
  for (DType type : {DType::F64, DType::I32, DType::C128}) {
    for (int64_t n : {0, 1, 5, 77}) {
      Tensor a = ramp(type, {n, 4}, 2), b = ramp(type, {n, 3}, 5);
      Tensor c = ok(s.einsum("ij,ik->jk", {a, b}));
      ASSERT_EQ(c.dtype(), type);
      for (int64_t j = 0; j < 4; ++j)
        for (int64_t k = 0; k < 3; ++k) {
          double ref = 0;
          for (int64_t i = 0; i < n; ++i)
            ref += at(a, {i, j}) * at(b, {i, k});
          ASSERT_EQ(at(c, {j, k}), ref) << dtypeName(type).str() << " n=" << n;
        }
    }
  }
  EXPECT_EQ(s.stats().retraces, 0u);
  // f16 would add the pieces in f16: its summed labels stay static.
  Tensor a = ramp(DType::F16, {9, 4}), b = ramp(DType::F16, {9, 3});
  size_t split = s.stats().splitCalls;
  Tensor c = ok(s.einsum("ij,ik->jk", {a, b}));
  EXPECT_EQ(s.stats().splitCalls, split);
  double ref = 0;
  for (int64_t i = 0; i < 9; ++i)
    ref += at(a, {i, 2}) * at(b, {i, 1});
  EXPECT_EQ(at(c, {2, 1}), ref);
}

TEST(PolymorphicTest, LeadingLabelsBeforeAnotherDynamicOneRunInPiecesOfOne) {
  Session s;
  // EinsumDense with batch and tokens dynamic: b is cut into single rows,
  // t into powers of two.
  ok(s.setInputSignature("btd,dhk->bthk",
                         {{kDynamic, kDynamic, 6}, {6, 2, 3}}));
  Tensor w = ramp(DType::F32, {6, 2, 3}, 4);
  for (auto [batch, tokens] : {std::pair<int64_t, int64_t>{3, 5}, {2, 9}}) {
    Tensor x = ramp(DType::F32, {batch, tokens, 6}, (int)tokens);
    Tensor y = ok(s.einsum("btd,dhk->bthk", {x, w}));
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t t = 0; t < tokens; ++t)
        for (int64_t h = 0; h < 2; ++h)
          for (int64_t k = 0; k < 3; ++k) {
            double ref = 0;
            for (int64_t d = 0; d < 6; ++d)
              ref += at(x, {b, t, d}) * at(w, {d, h, k});
            ASSERT_EQ(at(y, {b, t, h, k}), ref);
          }
  }
  EXPECT_EQ(s.stats().retraces, 0u);
  EXPECT_EQ(s.stats().compiles, 3u); // t = 1, 4 and 8
}

TEST(PolymorphicTest, ViewsAndBadSignatures) {
  Session s;
  ok(s.setInputSignature("bij,bjk->bik", {{kDynamic, 4, 3}, {kDynamic, 3, 2}}));
  // A strided operand runs on a kernel of its own layout, not in pieces.
  Tensor a = ramp(DType::F64, {5, 3, 4}), b = ramp(DType::F64, {5, 3, 2});
  Tensor aT = ok(a.transpose({0, 2, 1}));
  Tensor c = ok(s.einsum("bij,bjk->bik", {aT, b}));
  expectBatchMatmul(aT, b, c);
  EXPECT_EQ(s.stats().splitCalls, 0u);

  EXPECT_NE(error(s.setInputSignature("ij,jk->ik", {{4, 3}, {3, kDynamic}}))
                .find("label 'k' cannot be dynamic: in operand 1 it comes "
                      "after the static dim 'j'"),
            std::string::npos);
  EXPECT_NE(error(s.setInputSignature("ijk->kji", {{kDynamic, 2, 2}}))
                .find("in the result it comes after the static dim 'j'"),
            std::string::npos);
  EXPECT_NE(error(s.setInputSignature("ij,jk->ik", {{4, 3}, {3, 2}}))
                .find("has no dynamic dim"),
            std::string::npos);
  EXPECT_NE(error(s.setInputSignature("ij,jk->ik", {{-5, 3}, {3, 2}}))
                .find("a dim is -5"),
            std::string::npos);
  EXPECT_NE(error(s.setInputSignature("ij,ik->jk", {{kDynamic, 3}, {4, 2}}))
                .find("label 'i' is dynamic in dim 0 of operand 0 but 4 in "
                      "dim 0 of operand 1"),
            std::string::npos);
  EXPECT_NE(
      error(s.setInputSignature("ij,jk->ik", {{kDynamic, 3}})).find("operand"),
      std::string::npos);
  EXPECT_EQ(s.stats().polymorphic, 1u);
}

/// relu(x @ w + bias) for x of [b, t, d]: the function the tests trace.
Sym denseRelu(Sym x, Sym w, Sym bias) {
  return relu(einsum("btd,dk->btk", {x, w}) + bias);
}

/// Checks y = relu(x @ w + bias) by loops.
void expectDenseRelu(const Tensor &x, const Tensor &w, const Tensor &bias,
                     const Tensor &y) {
  int64_t b = x.shape()[0], t = x.shape()[1], d = x.shape()[2];
  int64_t k = w.shape()[1];
  ASSERT_EQ(y.shape(), llvm::ArrayRef<int64_t>({b, t, k}));
  for (int64_t i = 0; i < b; ++i)
    for (int64_t j = 0; j < t; ++j)
      for (int64_t c = 0; c < k; ++c) {
        double ref = at(bias, {c});
        for (int64_t l = 0; l < d; ++l)
          ref += at(x, {i, j, l}) * at(w, {l, c});
        ASSERT_EQ(at(y, {i, j, c}), std::max(ref, 0.0)) << i << "," << j;
      }
}

TEST(PolymorphicTest, AFunctionWithAnInputSignatureRunsInPieces) {
  Session s;
  FunctionOptions options;
  options.name = "dense";
  options.session = &s;
  options.inputSignature = {{kDynamic, 5, 6}, {6, 4}, {4}};
  Function f = function(denseRelu, options);
  Tensor w = ramp(DType::F32, {6, 4}, 2), bias = ramp(DType::F32, {4}, 3);
  std::set<int64_t> sizes;
  for (int64_t b : {1, 3, 7, 12, 7}) {
    Tensor x = ramp(DType::F32, {b, 5, 6}, (int)b);
    std::vector<Tensor> y = ok(f({x, w, bias}));
    ASSERT_EQ(y.size(), 1u);
    expectDenseRelu(x, w, bias, y[0]);
    for (int64_t p : pieces(b))
      sizes.insert(p);
  }
  FunctionStats stats = f.stats();
  EXPECT_TRUE(stats.polymorphic);
  EXPECT_EQ(stats.retraces, 0u);
  EXPECT_EQ(stats.traces, sizes.size()); // 1, 2, 4, 8
  EXPECT_EQ(stats.pieceTraces, sizes.size());
  EXPECT_EQ(stats.splitCalls, 5u);
  EXPECT_EQ(s.stats().retraces, 0u);

  // Calls that do not fit the signature are errors.
  EXPECT_NE(
      error(f({ramp(DType::F32, {2, 5, 6}), ramp(DType::F32, {5, 4}), bias}))
          .find("input signature of 'dense': argument 1 is (5,4), the "
                "signature says (6,4)"),
      std::string::npos);
  options.inputSignature = {{5, kDynamic, 6}, {6, 4}, {4}};
  EXPECT_NE(error(function(denseRelu,
                           options)({ramp(DType::F32, {5, 2, 6}), w, bias}))
                .find("dim 1 of argument 0 is -1: only dim 0 may be dynamic"),
            std::string::npos);
}

TEST(PolymorphicTest, ABodyThatMixesTheBatchIsRefused) {
  Session s;
  FunctionOptions options;
  options.name = "pool";
  options.session = &s;
  options.inputSignature = {{kDynamic, 3}};
  // A mean over the batch: its rows are not the pieces' rows.
  Function pool = function([](Sym x) { return sum(x, {0}) * 0.5; }, options);
  EXPECT_NE(
      error(pool({ramp(DType::F32, {5, 3})}))
          .find("in traced function 'pool': op 1, sum(f32(4,3), axes=[0]), "
                "reduces the batch dim"),
      std::string::npos);
  // A softmax along the batch.
  Function mix = function([](Sym x) { return softmax(x, 0); }, options);
  EXPECT_NE(error(mix({ramp(DType::F32, {5, 3})})).find("runs along the batch"),
            std::string::npos);
  // Found by retraces instead, the same body stays shape-specific.
  s.setReduceRetracing(2);
  FunctionOptions plain;
  plain.session = &s;
  Function sums = function([](Sym x) { return sum(x, {0}); }, plain);
  for (int64_t b = 1; b <= 6; ++b) {
    Tensor x = ramp(DType::F64, {b, 3}, (int)b);
    std::vector<Tensor> y = ok(sums({x}));
    ASSERT_EQ(y.size(), 1u);
    for (int64_t j = 0; j < 3; ++j) {
      double ref = 0;
      for (int64_t i = 0; i < b; ++i)
        ref += at(x, {i, j});
      ASSERT_EQ(at(y[0], {j}), ref);
    }
  }
  // Six signatures traced: b = 4 as the first piece of the call that
  // found the sum, which then ran on that kernel; the others as retraces.
  FunctionStats stats = sums.stats();
  EXPECT_FALSE(stats.polymorphic);
  EXPECT_EQ(stats.traces, 6u);
  EXPECT_EQ(stats.pieceTraces, 1u);
  EXPECT_EQ(stats.retraces, 4u);
}

TEST(PolymorphicTest, AFunctionRetracedForItsBatchBecomesPolymorphic) {
  Session s;
  s.setReduceRetracing(2);
  FunctionOptions options;
  options.session = &s;
  Function f = function(denseRelu, options);
  Tensor w = ramp(DType::F32, {6, 4}, 2), bias = ramp(DType::F32, {4}, 3);
  for (int64_t b = 1; b <= 9; ++b) {
    Tensor x = ramp(DType::F32, {b, 5, 6}, (int)b);
    std::vector<Tensor> y = ok(f({x, w, bias}));
    ASSERT_EQ(y.size(), 1u);
    expectDenseRelu(x, w, bias, y[0]);
  }
  FunctionStats stats = f.stats();
  EXPECT_TRUE(stats.polymorphic);
  EXPECT_EQ(stats.retraces, 2u); // b = 2 and 3; then pieces
  EXPECT_EQ(stats.splitCalls, 6u);
  // Traced: b = 1, 2, 3 as signatures, then the pieces 4 and 8 (1 and 2
  // were traced already... as counted signatures, which pieces reuse).
  EXPECT_EQ(stats.traces, 5u);
}

TEST(PolymorphicTest, EagerOpsRetracedForTheirBatchRunInPieces) {
  // Eager ops use the global session.
  clearCache();
  setReduceRetracing(2);
  Tensor bias = ramp(DType::F64, {4}, 1);
  for (int64_t b = 1; b <= 11; ++b) {
    Tensor x = ramp(DType::F64, {b, 4}, (int)b);
    Tensor y = ok(add(x, bias));
    Tensor p = ok(softmax(x, -1));
    Tensor r = ok(sum(x, {1}));
    for (int64_t i = 0; i < b; ++i) {
      double total = 0, denominator = 0;
      for (int64_t j = 0; j < 4; ++j) {
        ASSERT_EQ(at(y, {i, j}), at(x, {i, j}) + at(bias, {j}));
        total += at(x, {i, j});
        denominator += std::exp(at(x, {i, j}));
      }
      ASSERT_EQ(at(r, {i}), total);
      for (int64_t j = 0; j < 4; ++j)
        ASSERT_NEAR(at(p, {i, j}), std::exp(at(x, {i, j})) / denominator,
                    1e-15);
    }
  }
  CacheStats stats = cacheStats();
  EXPECT_EQ(stats.polymorphic, 3u); // add, softmax, sum
  EXPECT_EQ(stats.retraces, 6u);    // b = 2 and 3 of each
  EXPECT_EQ(stats.splitCalls, 24u); // b = 4 to 11 of each
  // A sum over the batch cannot run in pieces: its kernel is exact.
  Tensor x = ramp(DType::F64, {5, 4});
  Tensor column = ok(sum(x, {0}));
  double total = 0;
  for (int64_t i = 0; i < 5; ++i)
    total += at(x, {i, 2});
  EXPECT_EQ(at(column, {2}), total);
  EXPECT_EQ(cacheStats().splitCalls, 24u);
  setReduceRetracing(kDefaultReduceRetracing);
  clearCache();
}

} // namespace
