//===- RuntimeTest.cpp - einjit::einsum through the JIT -------------------===//
//
// References are computed here with plain loops (closed forms), never with
// einjit. The bad-input table is shared with test/bad-inputs.py.
//
//===----------------------------------------------------------------------===//

#include "einjit/runtime/Einsum.h"
#include "einjit/runtime/Explain.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/MemoryBuffer.h"

#include "gtest/gtest.h"

#include <atomic>
#include <cmath>
#include <thread>

using namespace einjit;

namespace {

Tensor iota(DType type, std::vector<int64_t> shape, double scale = 1.0) {
  Tensor t = llvm::cantFail(Tensor::allocate(type, shape));
  for (int64_t i = 0; i < t.numel(); ++i) {
    double v = std::fmod(i * 0.37, 2.0) - 1.0;
    if (type == DType::I32)
      v = i % 7 - 3;
    else if (type == DType::I64)
      v = i % 5 - 2;
    else
      v *= scale;
    storeElement(static_cast<char *>(t.data()) + i * dtypeBytes(type), type, v);
  }
  return t;
}

Tensor run(llvm::StringRef eq, std::vector<Tensor> ops) {
  auto r = einsum(eq, ops);
  if (!r) {
    ADD_FAILURE() << eq.str() << ": " << llvm::toString(r.takeError());
    return {};
  }
  return *r;
}

TEST(RuntimeTest, MatmulMatchesLoops) {
  for (DType type : {DType::F32, DType::F64}) {
    int64_t m = 37, k = 64, n = 48;
    Tensor a = iota(type, {m, k}), b = iota(type, {k, n}, 0.5);
    Tensor c = run("ij,jk->ik", {a, b});
    ASSERT_EQ(c.shape(), llvm::ArrayRef<int64_t>({m, n}));
    ASSERT_EQ(c.dtype(), type);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double ref = 0;
        for (int64_t p = 0; p < k; ++p)
          ref += a.getDouble(i * k + p) * b.getDouble(p * n + j);
        EXPECT_NEAR(c.getDouble(i * n + j), ref,
                    type == DType::F32 ? 1e-4 : 1e-12);
      }
  }
}

TEST(RuntimeTest, TraceDiagonalTranspose) {
  Tensor a = iota(DType::F64, {5, 5});
  double trace = 0;
  for (int i = 0; i < 5; ++i)
    trace += a.getDouble(i * 6);
  EXPECT_NEAR(run("ii", {a}).getDouble(0), trace, 1e-12);
  EXPECT_NEAR(run("ii->", {a}).getDouble(0), trace, 1e-12);
  Tensor diag = run("ii->i", {a});
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(diag.getDouble(i), a.getDouble(i * 6));
  Tensor t = run("ij->ji", {a});
  for (int i = 0; i < 5; ++i)
    for (int j = 0; j < 5; ++j)
      EXPECT_EQ(t.getDouble(i * 5 + j), a.getDouble(j * 5 + i));
}

TEST(RuntimeTest, IntegersAreExact) {
  Tensor a = iota(DType::I64, {3, 4}), b = iota(DType::I64, {4});
  Tensor c = run("ij,j->i", {a, b});
  ASSERT_EQ(c.dtype(), DType::I64);
  for (int i = 0; i < 3; ++i) {
    int64_t ref = 0;
    for (int j = 0; j < 4; ++j)
      ref += a.data<int64_t>()[i * 4 + j] * b.data<int64_t>()[j];
    EXPECT_EQ(c.data<int64_t>()[i], ref);
  }
}

TEST(RuntimeTest, HalfAccumulatesInFloat) {
  // 4096 products of 1 * 1: f16 accumulation would stop at 2048.
  Tensor a = llvm::cantFail(Tensor::allocate(DType::F16, {4096}));
  for (int i = 0; i < 4096; ++i)
    a.data<uint16_t>()[i] = floatToHalf(1.0f);
  Tensor c = run("i,i->", {a, a});
  EXPECT_EQ(c.dtype(), DType::F16);
  EXPECT_EQ(halfToFloat(c.data<uint16_t>()[0]), 4096.0f);
}

TEST(RuntimeTest, MixedTypesPromote) {
  Tensor a = iota(DType::I32, {3}), b = iota(DType::F32, {3});
  Tensor c = run("i,i->i", {a, b});
  EXPECT_EQ(c.dtype(), DType::F64);
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(c.getDouble(i), a.getDouble(i) * b.getDouble(i));
  // The result's rows come from the second input, so the GEMM takes the
  // inputs swapped, and each input keeps its own conversion (an f64 and an
  // i64 input: a fuzzer found the i64's sitofp applied to the f64).
  Tensor x = iota(DType::F64, {2, 3}), y = iota(DType::I64, {2, 4});
  Tensor z = run("ij,ik->kj", {x, y});
  ASSERT_EQ(z.dtype(), DType::F64);
  for (int k = 0; k < 4; ++k)
    for (int j = 0; j < 3; ++j) {
      double sum = 0;
      for (int i = 0; i < 2; ++i)
        sum += x.getDouble(i * 3 + j) * y.getDouble(i * 4 + k);
      EXPECT_EQ(z.getDouble(k * 3 + j), sum);
    }
}

TEST(RuntimeTest, StridedOperand) {
  Tensor a = iota(DType::F32, {4, 3});
  // A transposed view of `a`: shape 3x4, strides (1, 3).
  Tensor view =
      llvm::cantFail(Tensor::borrow(a.data(), DType::F32, {3, 4}, {1, 3}));
  Tensor c = run("ij->ij", {view});
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 4; ++j)
      EXPECT_EQ(c.getDouble(i * 4 + j), a.getDouble(j * 3 + i));
}

TEST(RuntimeTest, NegativeStrides) {
  // a[::-1, :] of a 4x3 tensor, as numpy makes it: the view starts at the
  // last row and steps back one row at a time.
  Tensor a = iota(DType::F64, {4, 3});
  auto view = Tensor::borrow(a.data<double>() + 9, DType::F64, {4, 3}, {-3, 1});
  ASSERT_TRUE((bool)view) << llvm::toString(view.takeError());
  Tensor c = run("ij->ji", {*view});
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 3; ++j)
      EXPECT_EQ(c.getDouble(j * 4 + i), a.getDouble((3 - i) * 3 + j));
}

TEST(RuntimeTest, BorrowChecksShapeAndStrides) {
  float x = 0;
  auto wrongRank = Tensor::borrow(&x, DType::F32, {1, 1}, {1});
  ASSERT_FALSE((bool)wrongRank);
  EXPECT_EQ(llvm::toString(wrongRank.takeError()),
            "a tensor of rank 2 cannot have 1 strides");
  auto farStride = Tensor::borrow(&x, DType::F32, {3}, {int64_t(1) << 61});
  ASSERT_FALSE((bool)farStride);
  EXPECT_EQ(llvm::toString(farStride.takeError()),
            "the strides (2305843009213693952) of a tensor of shape (3) reach "
            "beyond 2^62 bytes");
  auto minStride = Tensor::borrow(&x, DType::F32, {2}, {INT64_MIN});
  EXPECT_FALSE((bool)minStride);
  llvm::consumeError(minStride.takeError());
  // A stride is irrelevant where its dimension has one element.
  auto single = Tensor::borrow(&x, DType::F32, {1}, {INT64_MIN});
  EXPECT_TRUE((bool)single) << llvm::toString(single.takeError());
}

TEST(RuntimeTest, ZeroSizedDimensions) {
  Tensor empty = llvm::cantFail(Tensor::allocate(DType::F32, {3, 0}));
  Tensor sums = run("ij->i", {empty});
  ASSERT_EQ(sums.shape(), llvm::ArrayRef<int64_t>({3}));
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(sums.getDouble(i), 0.0);
  EXPECT_EQ(run("ij->j", {empty}).numel(), 0);
  // A size-0 dimension last, others above 1: still a valid (empty) output.
  Tensor t =
      run("ij->ji", {llvm::cantFail(Tensor::allocate(DType::F32, {0, 3}))});
  EXPECT_EQ(t.shape(), llvm::ArrayRef<int64_t>({3, 0}));
  EXPECT_TRUE(t.isContiguous());
}

TEST(RuntimeTest, CacheCompilesOncePerSignature) {
  clearCache();
  Tensor a = iota(DType::F32, {8, 8}), b = iota(DType::F32, {8, 8});
  run("ij,jk->ik", {a, b});
  run("ij,jk->ik", {a, b});
  run(" ij , jk -> ik ", {a, b}); // spaces do not change the signature
  CacheStats s = cacheStats();
  EXPECT_EQ(s.compiles, 1u);
  EXPECT_EQ(s.misses, 1u);
  EXPECT_EQ(s.hits, 2u);
  EXPECT_GT(s.compileSeconds, 0.0);
  // Nor do the labels' names, or an implicit output: the key numbers the
  // labels in order of first appearance.
  Tensor p = run("ab,bc->ac", {a, b});
  Tensor q = run("ij,jk", {a, b});
  Tensor r = run("ik,kj->ij", {a, b});
  for (int64_t i = 0; i < 8; ++i)
    for (int64_t k = 0; k < 8; ++k) {
      double sum = 0;
      for (int64_t j = 0; j < 8; ++j)
        sum += a.getDouble(i * 8 + j) * b.getDouble(j * 8 + k);
      EXPECT_NEAR(p.getDouble(i * 8 + k), sum, 1e-5);
      EXPECT_NEAR(q.getDouble(i * 8 + k), sum, 1e-5);
      EXPECT_NEAR(r.getDouble(i * 8 + k), sum, 1e-5);
    }
  s = cacheStats();
  EXPECT_EQ(s.compiles, 1u);
  EXPECT_EQ(s.hits, 5u);
  // A transposed result is another contraction.
  run("ij,jk->ki", {a, b});
  EXPECT_EQ(cacheStats().compiles, 2u);
  run("ij,jk->ik", {iota(DType::F32, {4, 8}), b}); // new shape: retrace
  run("ij,jk->ik", {iota(DType::F64, {8, 8}), iota(DType::F64, {8, 8})});
  s = cacheStats();
  EXPECT_EQ(s.compiles, 4u);
  EXPECT_EQ(s.entries, 4u);
}

TEST(RuntimeTest, CacheEvictsLeastRecentlyUsed) {
  clearCache();
  setCacheCapacity(2);
  Tensor a = iota(DType::F32, {3}), b = iota(DType::F32, {4}),
         c = iota(DType::F32, {5});
  run("i->", {a});
  run("i->", {b});
  run("i->", {a}); // a is now the most recently used
  run("i->", {c}); // evicts b
  CacheStats s = cacheStats();
  EXPECT_EQ(s.compiles, 3u);
  EXPECT_EQ(s.entries, 2u);
  EXPECT_EQ(s.evictions, 1u);
  run("i->", {a}); // still cached
  EXPECT_EQ(cacheStats().compiles, 3u);
  run("i->", {b}); // compiled again
  EXPECT_EQ(cacheStats().compiles, 4u);
  setCacheCapacity(kDefaultCacheCapacity);
  clearCache();
}

TEST(RuntimeTest, RepeatedCallsKeepTheirSignaturesApart) {
  // Repeated calls are served from a per-thread table of 64 slots, by a
  // hash of the call as spelled. 70 signatures share slots, so every slot
  // check (equation text, dtype, rank, dims) must tell them apart: each
  // sum must be its own operand's. (Static kernels: without
  // setReduceRetracing(0), `i->` would turn shape-polymorphic after three
  // retraces, PolymorphicTest's subject.)
  clearCache();
  setReduceRetracing(0);
  std::vector<Tensor> operands;
  for (int64_t n = 1; n <= 70; ++n) {
    Tensor t = llvm::cantFail(Tensor::allocate(DType::F64, {n}));
    for (int64_t i = 0; i < n; ++i)
      t.data<double>()[i] = (double)i;
    operands.push_back(t);
  }
  for (int round = 0; round < 3; ++round)
    for (const Tensor &t : operands) {
      Tensor sum = run("i->", {t});
      int64_t n = t.numel();
      ASSERT_EQ(sum.getDouble(0), (double)(n * (n - 1) / 2)) << n;
    }
  // The same dims under another rank, dtype or equation are other calls.
  Tensor square = run("ij->", {iota(DType::F64, {1, 1})});
  EXPECT_EQ(square.getDouble(0), -1.0);
  Tensor f32 = run("i->", {iota(DType::F32, {1})});
  EXPECT_EQ(f32.dtype(), DType::F32);
  Tensor same = run("i->i", {operands[2]});
  EXPECT_EQ(same.numel(), 3);
  CacheStats s = cacheStats();
  EXPECT_EQ(s.compiles, 73u);
  EXPECT_EQ(s.misses, 73u);
  EXPECT_EQ(s.hits, 140u);
  setReduceRetracing(kDefaultReduceRetracing);
}

TEST(RuntimeTest, RepeatedCallsFollowTheTarget) {
  // A call repeated after setTarget gets the new target's kernel.
  clearCache();
  Tensor a = iota(DType::F32, {5, 6}), b = iota(DType::F32, {6, 3});
  run("ij,jk->ik", {a, b});
  run("ij,jk->ik", {a, b});
  EXPECT_EQ(cacheStats().compiles, 1u);
  TargetInfo host = currentTarget();
  auto generic = TargetInfo::forCPU("x86-64");
  ASSERT_TRUE(bool(generic)) << llvm::toString(generic.takeError());
  setTarget(*generic);
  run("ij,jk->ik", {a, b});
  EXPECT_EQ(cacheStats().compiles, 2u);
  setTarget(host);
  run("ij,jk->ik", {a, b}); // the host's kernel is still cached
  CacheStats s = cacheStats();
  EXPECT_EQ(s.compiles, 2u);
  EXPECT_EQ(s.hits, 2u);
  clearCache();
}

TEST(RuntimeTest, RetracesSayWhatChanged) {
  clearCache();
  Tensor a = iota(DType::F32, {8, 4}), b = iota(DType::F32, {4, 6});
  run("ij,jk->ik", {a, b});
  EXPECT_EQ(cacheStats().retraces, 0u);
  EXPECT_TRUE(recentRetraces().empty());
  // A new batch size: the equation is traced again, and the reason says
  // which dimension of which operand changed.
  run("ij,jk->ik", {iota(DType::F32, {16, 4}), b});
  // Another spelling of the same equation, with new dtypes.
  run("ab,bc->ac", {iota(DType::F64, {16, 4}), iota(DType::F64, {4, 6})});
  // Printed to stderr under EINJIT_LOG=retrace.
  ::setenv("EINJIT_LOG", "retrace", 1);
  testing::internal::CaptureStderr();
  run("ij,jk->ik", {a, iota(DType::F32, {4, 7})});
  std::string log = testing::internal::GetCapturedStderr();
  ::unsetenv("EINJIT_LOG");
  std::vector<Retrace> retraces = recentRetraces();
  ASSERT_EQ(retraces.size(), 3u);
  EXPECT_EQ(retraces[0].equation, "ij,jk->ik");
  EXPECT_EQ(retraces[0].reason, "dim 0 of operand 0: 8 -> 16");
  EXPECT_EQ(retraces[0].count, 1u);
  EXPECT_EQ(retraces[1].equation, "ab,bc->ac");
  EXPECT_EQ(retraces[1].reason, "dtype of operand 0: f32 -> f64");
  EXPECT_EQ(retraces[1].count, 2u);
  EXPECT_EQ(retraces[2].reason, "dtype of operand 0: f64 -> f32");
  EXPECT_EQ(log, "einjit: retrace 3 of 'ij,jk->ik': dtype of operand 0: "
                 "f64 -> f32\n");
  CacheStats s = cacheStats();
  EXPECT_EQ(s.retraces, 3u);
  EXPECT_EQ(s.misses, 4u);
  // A cached signature is no retrace.
  run("ij,jk->ik", {a, b});
  EXPECT_EQ(cacheStats().retraces, 3u);
  // Another equation is a first trace, not a retrace.
  run("ij,kj->ik", {a, iota(DType::F32, {6, 4})});
  EXPECT_EQ(cacheStats().retraces, 3u);
  clearCache();
}

TEST(RuntimeTest, CacheEvictsPastItsCodeBytes) {
  clearCache();
  Tensor a = iota(DType::F32, {3, 5}), b = iota(DType::F32, {4, 5}),
         c = iota(DType::F32, {6, 5});
  auto held = compileEinsum("ij->j", {a});
  ASSERT_TRUE(bool(held)) << llvm::toString(held.takeError());
  size_t one = (*held)->codeBytes();
  EXPECT_GT(one, 0u); // object code was linked for it
  EXPECT_EQ(cacheStats().codeBytes, one);
  run("ij->j", {b});
  size_t two = cacheStats().codeBytes;
  EXPECT_GT(two, one);
  // Room for the two kernels' code, not much more: a third evicts the
  // least recently used (a's), and the cache stays within the bytes.
  setCacheCapacity(kDefaultCacheCapacity, two + one / 2);
  run("ij->j", {c});
  CacheStats s = cacheStats();
  EXPECT_LE(s.codeBytes, two + one / 2);
  EXPECT_GE(s.evictions, 1u);
  size_t compiles = s.compiles;
  run("ij->j", {c}); // the newest stays
  EXPECT_EQ(cacheStats().compiles, compiles);
  run("ij->j", {a}); // the oldest was evicted
  EXPECT_EQ(cacheStats().compiles, compiles + 1);
  // A kernel the caller holds still runs after its eviction.
  auto again = (**held)({a});
  EXPECT_TRUE(bool(again));
  setCacheCapacity(kDefaultCacheCapacity);
  clearCache();
}

TEST(RuntimeTest, HeldKernelOutlivesTheCache) {
  // A caller's CompiledEinsum keeps its code alive through clearCache and
  // eviction; it is freed with the last handle.
  Tensor a = iota(DType::F64, {6, 5}), b = iota(DType::F64, {5, 4});
  auto kernel = compileEinsum("ij,jk->ik", {a, b});
  ASSERT_TRUE((bool)kernel) << llvm::toString(kernel.takeError());
  clearCache();
  setCacheCapacity(0);
  run("i->", {iota(DType::F32, {7})});
  auto c = (**kernel)({a, b});
  ASSERT_TRUE((bool)c) << llvm::toString(c.takeError());
  for (int i = 0; i < 6; ++i)
    for (int k = 0; k < 4; ++k) {
      double ref = 0;
      for (int j = 0; j < 5; ++j)
        ref += a.getDouble(i * 5 + j) * b.getDouble(j * 4 + k);
      EXPECT_NEAR(c->getDouble(i * 4 + k), ref, 1e-12);
    }
  EXPECT_EQ(cacheStats().entries, 0u);
  setCacheCapacity(kDefaultCacheCapacity);
}

TEST(RuntimeTest, IntermediatesUseTheWorkspace) {
  // Three steps, two intermediates: the kernel asks the runtime for their
  // bytes, and the result matches loops.
  Tensor a = iota(DType::F64, {3, 4}), b = iota(DType::F64, {4, 5}),
         c = iota(DType::F64, {5, 6}), d = iota(DType::F64, {6, 2});
  auto kernel = compileEinsum("ij,jk,kl,lm->im", {a, b, c, d});
  ASSERT_TRUE((bool)kernel) << llvm::toString(kernel.takeError());
  EXPECT_GE((*kernel)->workspaceBytes(), 2 * 8 * 2); // two f64 intermediates
  auto r = (**kernel)({a, b, c, d});
  ASSERT_TRUE((bool)r) << llvm::toString(r.takeError());
  for (int i = 0; i < 3; ++i)
    for (int m = 0; m < 2; ++m) {
      double ref = 0;
      for (int j = 0; j < 4; ++j)
        for (int k = 0; k < 5; ++k)
          for (int l = 0; l < 6; ++l)
            ref += a.getDouble(i * 4 + j) * b.getDouble(j * 5 + k) *
                   c.getDouble(k * 6 + l) * d.getDouble(l * 2 + m);
      EXPECT_NEAR(r->getDouble(i * 2 + m), ref, 1e-12);
    }
}

TEST(RuntimeTest, PlanOptionsChooseThePathAndTheCap) {
  // ab,bc,cd->ad, a = d = 3, b = c = 40 (f64): (A B) and (B C) are 3x40
  // and 40x3, 120 elements, 960 bytes, each way 2*3*40*40 + 2*3*40*3 flops;
  // (A C) first is an outer product of 3x40x40x3. Every strategy and a
  // 960-byte cap give the loops' result; 959 bytes leave no path.
  Tensor a = iota(DType::F64, {3, 40}), b = iota(DType::F64, {40, 40}),
         c = iota(DType::F64, {40, 3});
  for (PathStrategy s : {PathStrategy::Greedy, PathStrategy::Optimal,
                         PathStrategy::DP, PathStrategy::Auto}) {
    auto kernel = compileEinsum("ab,bc,cd->ad", {a, b, c}, {s, 960});
    ASSERT_TRUE((bool)kernel) << llvm::toString(kernel.takeError());
    EXPECT_EQ((*kernel)->flops(), 2.0 * 3 * 40 * 40 + 2.0 * 3 * 40 * 3);
    auto r = (**kernel)({a, b, c});
    ASSERT_TRUE((bool)r) << llvm::toString(r.takeError());
    for (int i = 0; i < 3; ++i)
      for (int l = 0; l < 3; ++l) {
        double ref = 0;
        for (int j = 0; j < 40; ++j)
          for (int k = 0; k < 40; ++k)
            ref += a.getDouble(i * 40 + j) * b.getDouble(j * 40 + k) *
                   c.getDouble(k * 3 + l);
        EXPECT_NEAR(r->getDouble(i * 3 + l), ref, 1e-10);
      }
  }
  auto refused =
      compileEinsum("ab,bc,cd->ad", {a, b, c}, {PathStrategy::Auto, 959});
  ASSERT_FALSE((bool)refused);
  EXPECT_NE(llvm::toString(refused.takeError())
                .find("the smallest limit that works is 960 bytes"),
            std::string::npos);
}

TEST(RuntimeTest, ExplainTellsThePlan) {
  // ij,jk,k->i with i = 100, j = 10, k = 100: B x first (2*10*100 flops,
  // a 10-vector), then A with it (2*100*10); naive: 100*10*100 iterations
  // of two multiplies and an add.
  auto ex = explain("ij,jk,k->i", {{100, 10}, {10, 100}, {100}},
                    {DType::F32, DType::F32, DType::F32});
  ASSERT_TRUE((bool)ex) << llvm::toString(ex.takeError());
  EXPECT_EQ(ex->strategy, "auto");
  EXPECT_EQ(ex->chosen, "optimal");
  EXPECT_EQ(ex->path, "(0,(1,2))");
  EXPECT_EQ(ex->flops, 4000);
  EXPECT_EQ(ex->naiveFlops, 300000);
  EXPECT_EQ(ex->largestIntermediate, 10);
  EXPECT_EQ(ex->largestIntermediateBytes, 40);
  ASSERT_EQ(ex->steps.size(), 2u);
  EXPECT_EQ(ex->steps[0].contraction, "jk,k->j");
  EXPECT_EQ(ex->steps[1].contraction, "ij,j->i");
  EXPECT_EQ(ex->steps[1].shape, std::vector<int64_t>({100}));
  EXPECT_FALSE(ex->steps[0].kernel.kind.empty());
  EXPECT_GT(ex->planSeconds, 0);
  EXPECT_NE(ex->str().find("path: (0,(1,2))"), std::string::npos);
  EXPECT_NE(ex->json().find("\"path\":[[1,2],[0,3]]"), std::string::npos);
  // An unknown label in the output is the binder's error, not a crash.
  auto bad = explain("ij->k", {{2, 2}}, {DType::F32});
  ASSERT_FALSE((bool)bad);
  llvm::consumeError(bad.takeError());
}

TEST(RuntimeTest, ConcurrentCallersShareTheCache) {
  clearCache();
  Tensor a = iota(DType::F64, {16, 12}), b = iota(DType::F64, {12, 8});
  std::vector<double> ref(16 * 8, 0.0);
  for (int i = 0; i < 16; ++i)
    for (int j = 0; j < 8; ++j)
      for (int p = 0; p < 12; ++p)
        ref[i * 8 + j] += a.getDouble(i * 12 + p) * b.getDouble(p * 8 + j);
  std::atomic<int> wrong{0};
  auto worker = [&] {
    for (int r = 0; r < 20; ++r) {
      auto c = einsum("ij,jk->ik", {a, b});
      if (!c) {
        llvm::consumeError(c.takeError());
        ++wrong;
        continue;
      }
      for (int e = 0; e < 16 * 8; ++e)
        if (std::abs(c->getDouble(e) - ref[e]) > 1e-12)
          ++wrong;
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back(worker);
  for (std::thread &t : threads)
    t.join();
  EXPECT_EQ(wrong.load(), 0);
  CacheStats s = cacheStats();
  EXPECT_EQ(s.compiles, 1u);
  EXPECT_EQ(s.hits, 79u);
}

TEST(RuntimeTest, CompiledEinsumRejectsOtherShapes) {
  Tensor a = iota(DType::F32, {2, 3}), b = iota(DType::F32, {3, 4});
  auto kernel = compileEinsum("ij,jk->ik", {a, b});
  ASSERT_TRUE((bool)kernel);
  auto bad = (**kernel)({a, iota(DType::F32, {3, 5})});
  ASSERT_FALSE((bool)bad);
  EXPECT_EQ(llvm::toString(bad.takeError()),
            "operand 1 is f32(3,5) but the kernel was compiled for f32(3,4)");
}

TEST(RuntimeTest, EmitsEveryStage) {
  Tensor a = iota(DType::F32, {2, 3}), b = iota(DType::F32, {3, 4});
  for (auto [stage, marker] : {std::pair{Stage::Einsum, "einsum.contract"},
                               std::pair{Stage::Linalg, "linalg.generic"},
                               std::pair{Stage::Vector, "vector.contract"},
                               std::pair{Stage::LLVM, "llvm.func @einsum"}}) {
    auto text = emitEinsum("ij,jk->ik", {a, b}, stage);
    ASSERT_TRUE((bool)text);
    EXPECT_NE(text->find(marker), std::string::npos) << marker;
  }
}

/// A tensor from a random spec "f32:2x3" (values do not matter here).
Tensor fromSpec(llvm::StringRef spec) {
  auto [type, dims] = spec.split(':');
  std::vector<int64_t> shape;
  llvm::SmallVector<llvm::StringRef> parts;
  if (!dims.empty())
    dims.split(parts, 'x');
  for (llvm::StringRef p : parts)
    shape.push_back(std::stoll(p.str()));
  return llvm::cantFail(Tensor::allocate(*parseDType(type), shape));
}

TEST(RuntimeTest, BadInputsGiveTheirMessage) {
  auto file = llvm::MemoryBuffer::getFile(EINJIT_TEST_INPUTS "/bad-inputs.tsv");
  ASSERT_TRUE((bool)file);
  llvm::SmallVector<llvm::StringRef> lines;
  (*file)->getBuffer().split(lines, '\n', -1, false);
  int checked = 0;
  for (llvm::StringRef line : lines) {
    if (line.starts_with("#"))
      continue;
    llvm::SmallVector<llvm::StringRef> cols;
    line.split(cols, '\t');
    ASSERT_EQ(cols.size(), 3u) << line.str();
    std::vector<Tensor> ops;
    llvm::SmallVector<llvm::StringRef> specs;
    cols[1].split(specs, ' ', -1, false);
    for (llvm::StringRef s : specs)
      ops.push_back(fromSpec(s));
    auto result = einsum(cols[0], ops);
    ASSERT_FALSE((bool)result) << cols[0].str() << " was accepted";
    std::string message = llvm::toString(result.takeError());
    EXPECT_EQ(llvm::StringRef(message).split('\n').first, cols[2])
        << cols[0].str();
    ++checked;
  }
  EXPECT_GE(checked, 30);
}

} // namespace
