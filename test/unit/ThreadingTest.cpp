//===- ThreadingTest.cpp - einjit::einsum from many threads at once -------===//
//
// Eight threads call einjit::einsum and compileEinsum at the same time on a
// few signatures, one of them large enough that its kernel runs on OpenMP
// threads. Every result is checked against a closed form, and cacheStats()
// must show each signature compiled exactly once. Its own binary, so that
// the ThreadSanitizer build (scripts/sanitize.sh tsan) compiles little more
// than the runtime and this file.
//
//===----------------------------------------------------------------------===//

#include "einjit/runtime/Einsum.h"

#include "TensorTestUtils.h"
#include "gtest/gtest.h"

#include <atomic>
#include <cmath>
#include <functional>
#include <string>
#include <thread>
#include <vector>

using namespace einjit;
using namespace einjit::test;

namespace {

constexpr int kThreads = 8;

/// Runs `body(thread)` on kThreads threads that start together.
void onThreads(const std::function<void(int)> &body) {
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      ++ready;
      while (ready.load() < kThreads)
        std::this_thread::yield();
      body(t);
    });
  for (std::thread &t : threads)
    t.join();
}

/// One signature and the closed form of its result.
struct Signature {
  std::string equation;
  std::vector<Tensor> operands;
  std::function<double(int64_t)> expected;
  double tolerance = 0;
};

std::vector<Signature> signatures() {
  std::vector<Signature> s;
  // A[i,p] = i + p, B[p,j] = p - j: C[i,j] = sum_p (i + p)(p - j)
  //   = K i (-j) + (i - j) S1 + S2 with S1 = sum p, S2 = sum p^2.
  {
    int64_t m = 16, k = 12, n = 8;
    double s1 = k * (k - 1) / 2.0, s2 = (k - 1) * k * (2 * k - 1) / 6.0;
    s.push_back(
        {"ij,jk->ik",
         {make(DType::F64, {m, k}, [=](int64_t e) { return e / k + e % k; }),
          make(DType::F64, {k, n}, [=](int64_t e) { return e / n - e % n; })},
         [=](int64_t e) {
           double i = e / n, j = e % n;
           return -k * i * j + (i - j) * s1 + s2;
         }});
  }
  // The trace of A[i,j] = 5 i + j (5x5): sum 6 i = 60.
  s.push_back({"ii->",
               {make(DType::F32, {5, 5}, [](int64_t e) { return e; })},
               [](int64_t) { return 60.0; }});
  // x . x for x = 0..99 in i64: 99 * 100 * 199 / 6.
  s.push_back({"i,i->",
               {make(DType::I64, {100}, [](int64_t e) { return e; }),
                make(DType::I64, {100}, [](int64_t e) { return e; })},
               [](int64_t) { return 328350.0; }});
  // A batched transpose with a broadcast ellipsis: out[b,j,i] = 10 i + j.
  s.push_back({"...ij->...ji",
               {make(DType::F64, {3, 4, 10}, [](int64_t e) { return e % 40; })},
               [](int64_t e) { return (e % 4) * 10 + (e % 40) / 4; }});
  // 128 x 160 x 128 ones: 2.6M loop iterations, enough for OpenMP threads.
  s.push_back({"ij,jk->ik",
               {make(DType::F32, {128, 160}, [](int64_t) { return 1; }),
                make(DType::F32, {160, 128}, [](int64_t) { return 1; })},
               [](int64_t) { return 160.0; }});
  return s;
}

/// How many elements of `t` differ from `sig`'s closed form.
int wrongElements(const Signature &sig, const Tensor &t) {
  int wrong = 0;
  for (int64_t e = 0; e < t.numel(); ++e)
    if (std::abs(t.getDouble(e) - sig.expected(e)) > sig.tolerance)
      ++wrong;
  return wrong;
}

TEST(ThreadingTest, ConcurrentEinsumCompilesEachSignatureOnce) {
  clearCache();
  std::vector<Signature> sigs = signatures();
  // 8 threads x 250 rounds x 5 signatures: 10,000 calls, most of them
  // repeated calls served by the threads' fast tables.
  constexpr int kRounds = 250;
  std::atomic<int> errors{0}, wrong{0};
  onThreads([&](int thread) {
    for (int r = 0; r < kRounds; ++r) {
      // Each thread walks the signatures from a different start, so that
      // first calls of every signature race with one another.
      for (size_t k = 0; k < sigs.size(); ++k) {
        const Signature &sig = sigs[(k + thread) % sigs.size()];
        auto result = einsum(sig.equation, sig.operands);
        if (!result) {
          llvm::consumeError(result.takeError());
          ++errors;
          continue;
        }
        // Every element in the first and last rounds, the corners between.
        if (r < 2 || r == kRounds - 1)
          wrong += wrongElements(sig, *result);
        else
          for (int64_t e : {int64_t(0), result->numel() - 1})
            wrong += std::abs(result->getDouble(e) - sig.expected(e)) >
                     sig.tolerance;
      }
    }
  });
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(wrong.load(), 0);
  CacheStats stats = cacheStats();
  EXPECT_EQ(stats.compiles, sigs.size());
  EXPECT_EQ(stats.misses, sigs.size());
  EXPECT_EQ(stats.entries, sigs.size());
  EXPECT_EQ(stats.hits, kThreads * kRounds * sigs.size() - sigs.size());
}

TEST(ThreadingTest, ConcurrentCompileEinsumSharesOneKernel) {
  clearCache();
  std::vector<Signature> sigs = signatures();
  // kernels[t][k]: what thread t got for signature k.
  std::vector<std::vector<const CompiledEinsum *>> kernels(
      kThreads, std::vector<const CompiledEinsum *>(sigs.size()));
  std::atomic<int> errors{0}, wrong{0};
  onThreads([&](int thread) {
    for (size_t k = 0; k < sigs.size(); ++k) {
      size_t which = (sigs.size() - k + thread) % sigs.size();
      const Signature &sig = sigs[which];
      auto compiled = compileEinsum(sig.equation, sig.operands);
      if (!compiled) {
        llvm::consumeError(compiled.takeError());
        ++errors;
        continue;
      }
      kernels[thread][which] = compiled->get();
      // Run it twice: into a new tensor, and into one the caller owns.
      auto result = (**compiled)(sig.operands);
      if (!result) {
        llvm::consumeError(result.takeError());
        ++errors;
        continue;
      }
      wrong += wrongElements(sig, *result);
      const BoundEquation &eq = (*compiled)->equation();
      Tensor out =
          llvm::cantFail(Tensor::allocate(eq.resultType, eq.outputShape()));
      if (auto err = (*compiled)->run(sig.operands, out)) {
        llvm::consumeError(std::move(err));
        ++errors;
        continue;
      }
      wrong += wrongElements(sig, out);
    }
  });
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(wrong.load(), 0);
  for (size_t k = 0; k < sigs.size(); ++k)
    for (int t = 1; t < kThreads; ++t)
      EXPECT_EQ(kernels[t][k], kernels[0][k]) << sigs[k].equation;
  CacheStats stats = cacheStats();
  EXPECT_EQ(stats.compiles, sigs.size());
  EXPECT_EQ(stats.entries, sigs.size());
  EXPECT_EQ(stats.hits, kThreads * sigs.size() - sigs.size());
}

TEST(ThreadingTest, EveryThreadItsOwnSignature) {
  // Eight different shapes compiled at the same time, each used by one
  // thread: eight compiles, and each thread's calls after its first hit.
  // (Static kernels: the next test makes the shapes polymorphic.)
  clearCache();
  setReduceRetracing(0);
  constexpr int kCalls = 4;
  std::atomic<int> errors{0}, wrong{0};
  onThreads([&](int thread) {
    int64_t n = 2 + thread;
    Tensor a = make(DType::F64, {n, 3}, [](int64_t e) { return e % 3; });
    Tensor b = make(DType::F64, {3}, [](int64_t) { return 2; });
    for (int r = 0; r < kCalls; ++r) {
      // out[i] = sum_j 2 j = 6.
      auto result = einsum("ij,j->i", {a, b});
      if (!result) {
        llvm::consumeError(result.takeError());
        ++errors;
        continue;
      }
      for (int64_t e = 0; e < n; ++e)
        if (result->getDouble(e) != 6.0)
          ++wrong;
    }
  });
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(wrong.load(), 0);
  CacheStats stats = cacheStats();
  EXPECT_EQ(stats.compiles, size_t(kThreads));
  EXPECT_EQ(stats.misses, size_t(kThreads));
  EXPECT_EQ(stats.hits, size_t(kThreads * (kCalls - 1)));
  setReduceRetracing(kDefaultReduceRetracing);
}

TEST(ThreadingTest, ShapePolymorphicCallsFromManyThreads) {
  // A declared dynamic dim, every thread with sizes of its own: each
  // power-of-two piece compiles exactly once, and no call retraces.
  clearCache();
  ASSERT_FALSE(bool(setInputSignature("ij,j->i", {{kDynamic, 5}, {5}})));
  constexpr int kCalls = 40;
  std::atomic<int> errors{0}, wrong{0};
  onThreads([&](int thread) {
    Tensor b = make(DType::F64, {5}, [](int64_t j) { return j; });
    for (int r = 0; r < kCalls; ++r) {
      int64_t n = 1 + (thread * 37 + r * 11) % 100;
      Tensor a = make(DType::F64, {n, 5}, [](int64_t e) { return e % 5; });
      // out[i] = sum_j j * j = 30.
      auto result = einsum("ij,j->i", {a, b});
      if (!result) {
        llvm::consumeError(result.takeError());
        ++errors;
        continue;
      }
      for (int64_t e = 0; e < n; ++e)
        if (result->getDouble(e) != 30.0)
          ++wrong;
    }
  });
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(wrong.load(), 0);
  CacheStats stats = cacheStats();
  EXPECT_EQ(stats.retraces, 0u);
  EXPECT_EQ(stats.splitCalls, size_t(kThreads * kCalls));
  EXPECT_LE(stats.compiles, 7u); // 1, 2, 4, ..., 64
  EXPECT_EQ(stats.compiles, stats.entries);
  clearCache();
}

} // namespace
