//===- TargetInfoTest.cpp - The CPU kernels are compiled for --------------===//
//
// SIMD shapes of named CPUs (from LLVM's CPU definitions, independent of the
// host), the host's own description, and the errors for unknown names.
//
//===----------------------------------------------------------------------===//

#include "einjit/Compiler/TargetInfo.h"

#include "gtest/gtest.h"

using namespace einjit;

namespace {

TargetInfo target(llvm::StringRef cpu, llvm::StringRef mattr = "") {
  auto t = TargetInfo::forCPU(cpu, mattr);
  if (!t) {
    ADD_FAILURE() << cpu.str() << ": " << llvm::toString(t.takeError());
    return {};
  }
  return *t;
}

TEST(TargetInfoTest, NamedCPUs) {
  EXPECT_EQ(target("skylake-avx512").vectorBits, 512u);
  EXPECT_EQ(target("skylake-avx512").vectorRegisters, 32u);
  EXPECT_EQ(target("znver4").vectorBits, 512u);
  EXPECT_EQ(target("haswell").vectorBits, 256u);
  EXPECT_EQ(target("haswell").vectorRegisters, 16u);
  EXPECT_EQ(target("znver3").vectorBits, 256u);
  EXPECT_EQ(target("x86-64").vectorBits, 128u);
  // Features on top of the CPU's own.
  EXPECT_EQ(target("skylake-avx512", "-avx512f").vectorBits, 256u);
  EXPECT_EQ(target("x86-64", "+avx2").vectorBits, 256u);
  EXPECT_EQ(target("haswell", "+avx2").mattr, "+avx2");
}

TEST(TargetInfoTest, BF16DotProducts) {
  // AVX512-BF16: Zen 4 and Sapphire Rapids have it, Skylake-X and AVX2
  // machines do not; it follows --mattr either way.
  EXPECT_TRUE(target("znver4").bf16Dot);
  EXPECT_TRUE(target("sapphirerapids").bf16Dot);
  EXPECT_FALSE(target("skylake-avx512").bf16Dot);
  EXPECT_FALSE(target("znver3").bf16Dot);
  EXPECT_FALSE(target("haswell").bf16Dot);
  EXPECT_FALSE(target("znver4", "-avx512bf16").bf16Dot);
  EXPECT_TRUE(target("skylake-avx512", "+avx512bf16").bf16Dot);
  // Without AVX-512 registers, no AVX512-BF16 instruction either.
  EXPECT_FALSE(target("znver4", "-avx512f").bf16Dot);
}

TEST(TargetInfoTest, Int8DotProducts) {
  // AVX512-VNNI: Cascade Lake, Ice Lake, Sapphire Rapids and Zen 4.
  EXPECT_TRUE(target("znver4").int8Dot);
  EXPECT_TRUE(target("cascadelake").int8Dot);
  EXPECT_TRUE(target("sapphirerapids").int8Dot);
  EXPECT_FALSE(target("skylake-avx512").int8Dot);
  EXPECT_FALSE(target("haswell").int8Dot);
  EXPECT_FALSE(target("znver4", "-avx512vnni").int8Dot);
  // The micro-kernel's vpdpbusd is the 512-bit one.
  EXPECT_FALSE(target("znver4", "-avx512f").int8Dot);
}

TEST(TargetInfoTest, Host) {
  const TargetInfo &host = TargetInfo::host();
  EXPECT_FALSE(host.cpu.empty());
  EXPECT_TRUE(host.vectorBits == 128 || host.vectorBits == 256 ||
              host.vectorBits == 512);
  EXPECT_GT(host.l1Bytes, 0);
  EXPECT_GE(host.l2Bytes, host.l1Bytes);
  EXPECT_FALSE((bool)host.checkRunsOnHost());
  // "native" and "" are the host.
  EXPECT_EQ(target("native"), host);
  EXPECT_EQ(target(""), host);
  // Every project machine runs AVX2 and SSE kernels.
  EXPECT_FALSE((bool)target("haswell").checkRunsOnHost());
  EXPECT_FALSE((bool)target("x86-64").checkRunsOnHost());
}

TEST(TargetInfoTest, Errors) {
  auto cpu = TargetInfo::forCPU("pentium9");
  ASSERT_FALSE((bool)cpu);
  EXPECT_EQ(llvm::toString(cpu.takeError()),
            "unknown CPU 'pentium9' (LLVM's names, such as haswell, znver3, "
            "skylake-avx512, sapphirerapids, native)");
  for (llvm::StringRef mattr : {"avx2", "+avx9000", "+"}) {
    auto feature = TargetInfo::forCPU("haswell", mattr);
    ASSERT_FALSE((bool)feature) << mattr.str();
    EXPECT_EQ(llvm::toString(feature.takeError()),
              ("unknown CPU feature '" + mattr +
               "' (LLVM's names with + or -, such as +avx2, -avx512f)")
                  .str());
  }
  // No x86 CPU has both FMA4 (AMD Bulldozer) and AMX (Intel).
  auto lacks = target("", "+fma4,+amx-tile").checkRunsOnHost();
  ASSERT_TRUE((bool)lacks);
  EXPECT_NE(llvm::toString(std::move(lacks)).find("which this machine"),
            std::string::npos);
}

} // namespace
