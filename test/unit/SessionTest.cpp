//===- SessionTest.cpp - Independent kernel caches
//-------------------------===//
//
// Each Session has its own cache, target, capacity and stats; the free
// functions use Session::global(). References are loops, not einjit.
//
//===----------------------------------------------------------------------===//

#include "einjit/runtime/Session.h"

#include "gtest/gtest.h"

using namespace einjit;

namespace {

Tensor ramp(std::vector<int64_t> shape) {
  Tensor t = llvm::cantFail(Tensor::allocate(DType::F64, shape));
  for (int64_t e = 0; e < t.numel(); ++e)
    t.data<double>()[e] = e % 7 - 3;
  return t;
}

/// Runs a 5x4 @ 4x3 matmul in `s` and checks it.
void matmul(Session &s) {
  Tensor a = ramp({5, 4}), b = ramp({4, 3});
  auto c = s.einsum("ij,jk->ik", {a, b});
  ASSERT_TRUE(bool(c)) << llvm::toString(c.takeError());
  for (int64_t i = 0; i < 5; ++i)
    for (int64_t k = 0; k < 3; ++k) {
      double ref = 0;
      for (int64_t j = 0; j < 4; ++j)
        ref += a.data<double>()[i * 4 + j] * b.data<double>()[j * 3 + k];
      EXPECT_EQ(c->data<double>()[i * 3 + k], ref);
    }
}

TEST(SessionTest, SessionsKeepTheirOwnKernelsAndStats) {
  Session one, two;
  matmul(one);
  matmul(one);
  EXPECT_EQ(one.stats().compiles, 1u);
  EXPECT_EQ(one.stats().hits, 1u);
  EXPECT_EQ(two.stats().compiles, 0u);
  matmul(two); // the same call on this thread: not served by one's kernel
  EXPECT_EQ(two.stats().compiles, 1u);
  EXPECT_EQ(two.stats().hits, 0u);
  EXPECT_EQ(one.stats().hits, 1u);
  one.clear();
  EXPECT_EQ(one.stats().entries, 0u);
  EXPECT_EQ(two.stats().entries, 1u);
  matmul(two);
  EXPECT_EQ(two.stats().hits, 1u);
  // Ops too.
  auto sum = one.compileOp(OpKind::Sum, {ramp({3, 4})}, {1});
  ASSERT_TRUE(bool(sum)) << llvm::toString(sum.takeError());
  EXPECT_EQ(one.stats().compiles, 1u);
  EXPECT_EQ(two.stats().compiles, 1u);
}

TEST(SessionTest, SettingsArePerSession) {
  Session one, two;
  auto generic = TargetInfo::forCPU("x86-64");
  ASSERT_TRUE(bool(generic)) << llvm::toString(generic.takeError());
  two.setTarget(*generic);
  EXPECT_EQ(two.target().cpu, "x86-64");
  EXPECT_EQ(one.target().cpu, TargetInfo::host().cpu);
  matmul(two); // runs on any x86-64
  two.setCacheCapacity(0);
  matmul(two);
  EXPECT_EQ(two.stats().entries, 0u);
  EXPECT_GE(two.stats().evictions, 2u);
  matmul(one);
  EXPECT_EQ(one.stats().entries, 1u);
  one.setCacheDir("/nonexistent-einjit-dir");
  EXPECT_EQ(two.cacheDir(),
            llvm::StringRef(std::getenv("EINJIT_CACHE_DIR")
                                ? std::getenv("EINJIT_CACHE_DIR")
                                : ""));
}

TEST(SessionTest, TheFreeFunctionsUseTheGlobalSession) {
  clearCache();
  Session &global = Session::global();
  EXPECT_EQ(global.stats().compiles, 0u);
  Tensor a = ramp({2, 3});
  ASSERT_TRUE(bool(einsum("ij->ji", {a})));
  EXPECT_EQ(global.stats().compiles, 1u);
  EXPECT_EQ(cacheStats().compiles, 1u);
  {
    Session scoped; // made and destroyed: the global one is untouched
    matmul(scoped);
  }
  ASSERT_TRUE(bool(einsum("ij->ji", {a})));
  EXPECT_EQ(cacheStats().hits, 1u);
  clearCache();
}

TEST(SessionTest, AKernelOutlivesItsSession) {
  std::shared_ptr<const CompiledEinsum> kernel;
  Tensor a = ramp({5, 4}), b = ramp({4, 3});
  {
    Session s;
    auto k = s.compileEinsum("ij,jk->ik", {a, b});
    ASSERT_TRUE(bool(k)) << llvm::toString(k.takeError());
    kernel = *k;
  }
  auto c = (*kernel)({a, b});
  ASSERT_TRUE(bool(c)) << llvm::toString(c.takeError());
  EXPECT_EQ(c->data<double>()[0], -3.0 * -3 + -2 * 0 + -1 * 3 + 0 * -1);
}

} // namespace
