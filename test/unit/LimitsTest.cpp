//===- LimitsTest.cpp - Limits and checked size arithmetic ----------------===//
//
// The overflow-checked helpers against closed forms, and every limit at its
// edge: the last value accepted and the first refused, through the
// equation parser, the binder and the path check.
//
//===----------------------------------------------------------------------===//

#include "einjit/Spec/Limits.h"
#include "einjit/Spec/Path.h"

#include "gtest/gtest.h"

#include <string>

using namespace einjit;

namespace {

/// The first line of `err`'s message (consumes it).
std::string message(llvm::Error err) {
  std::string text = llvm::toString(std::move(err));
  return text.substr(0, text.find('\n'));
}

TEST(LimitsTest, CheckedArithmetic) {
  EXPECT_EQ(checkedMul(INT64_MAX, 1), INT64_MAX);
  EXPECT_EQ(checkedMul(int64_t(1) << 31, int64_t(1) << 31), int64_t(1) << 62);
  EXPECT_EQ(checkedMul(int64_t(1) << 32, int64_t(1) << 31), std::nullopt);
  EXPECT_EQ(checkedMul(-1, 2), std::nullopt);
  EXPECT_EQ(checkedAdd(INT64_MAX - 1, 1), INT64_MAX);
  EXPECT_EQ(checkedAdd(INT64_MAX, 1), std::nullopt);
  EXPECT_EQ(saturatingProduct({int64_t(1) << 40, int64_t(1) << 40}), INT64_MAX);
}

TEST(LimitsTest, ProductIgnoresNoZeroOrder) {
  // A zero does not hide an overflow, wherever it stands.
  int64_t huge = int64_t(1) << 62;
  EXPECT_EQ(checkedProduct({huge, 0}, 4), std::nullopt);
  EXPECT_EQ(checkedProduct({0, huge}, 4), std::nullopt);
  EXPECT_EQ(checkedProduct({huge, 0}, 1), 0);
  EXPECT_EQ(checkedProduct({3, 0, 5}), 0);
  EXPECT_EQ(checkedProduct({3, 7, 5}), 105);
  EXPECT_EQ(checkedProduct({}), 1);
  EXPECT_EQ(checkedProduct({3, -1}), std::nullopt);
  // The limit applies to the bytes: 2^60 f32 elements are 2^62 bytes.
  EXPECT_EQ(checkedProduct({int64_t(1) << 60}, 4, kMaxTensorBytes), int64_t(1)
                                                                        << 60);
  EXPECT_EQ(checkedProduct({(int64_t(1) << 60) + 1}, 4, kMaxTensorBytes),
            std::nullopt);
}

TEST(LimitsTest, TensorSize) {
  EXPECT_EQ(llvm::cantFail(checkTensorSize("t", DType::F64, {2, 3})), 6);
  std::vector<int64_t> rank64(kMaxRank, 1), rank65(kMaxRank + 1, 1);
  EXPECT_EQ(llvm::cantFail(checkTensorSize("t", DType::F32, rank64)), 1);
  EXPECT_EQ(
      message(checkTensorSize("operand 2", DType::F32, rank65).takeError()),
      "operand 2 has rank 65; einjit's limit is 64 dimensions");
  EXPECT_EQ(
      message(checkTensorSize("the result", DType::F32, {int64_t(1) << 62, 0})
                  .takeError()),
      "the result f32(4611686018427387904,0) is too large (more than "
      "2^62 bytes, counted over the non-zero dimensions)");
  EXPECT_EQ(message(checkTensorSize("t", DType::F32, {2, -3}).takeError()),
            "t has a negative dimension -3");
}

TEST(LimitsTest, OperandCount) {
  auto equation = [](int n) {
    std::string eq = "a";
    for (int i = 1; i < n; ++i)
      eq += ",a";
    return eq + "->a";
  };
  std::vector<std::vector<int64_t>> shapes(kMaxOperands, {2});
  std::vector<DType> types(kMaxOperands, DType::F64);
  auto bound = bindEquation(equation(kMaxOperands), shapes, types);
  ASSERT_TRUE((bool)bound) << llvm::toString(bound.takeError());
  // The path of 64 operands is planned at once.
  ContractionPath path = greedyPath(*bound);
  EXPECT_EQ(path.steps.size(), size_t(kMaxOperands - 1));
  EXPECT_FALSE((bool)checkPathLimits(*bound, path));

  auto tooMany = Equation::parse(equation(1000));
  ASSERT_FALSE((bool)tooMany);
  llvm::handleAllErrors(tooMany.takeError(), [](const EinsumError &e) {
    EXPECT_EQ(e.getMessage(), "more than 64 operands (einjit's limit)");
    EXPECT_EQ(e.getColumn(), 2 * kMaxOperands - 1); // the 65th ','
  });
}

TEST(LimitsTest, EquationLength) {
  std::string spaces(kMaxEquationLength - 4, ' ');
  EXPECT_TRUE((bool)Equation::parse("i" + spaces + "->i"));
  auto tooLong = Equation::parse("i " + spaces + "->i");
  ASSERT_FALSE((bool)tooLong);
  EXPECT_EQ(message(tooLong.takeError()),
            "the equation has 4097 characters; einjit's limit is 4096");
}

TEST(LimitsTest, RankAtTheLimit) {
  std::vector<int64_t> rank64(kMaxRank, 1), rank65(kMaxRank + 1, 1);
  rank64[3] = 2;
  auto ok = bindEquation("...->...", {rank64}, {DType::F32});
  ASSERT_TRUE((bool)ok) << llvm::toString(ok.takeError());
  EXPECT_EQ(ok->outputShape(), rank64);
  auto tooHigh = bindEquation("...->...", {rank65}, {DType::F32});
  ASSERT_FALSE((bool)tooHigh);
  EXPECT_EQ(message(tooHigh.takeError()),
            "operand 0 has rank 65; einjit's limit is 64 dimensions");
}

TEST(LimitsTest, ResultRank) {
  // 52 letters and 13 ellipsis dimensions: each operand is within the
  // limit, the implicit result (65 dimensions) is not.
  std::string lower = "abcdefghijklmnopqrstuvwxyz",
              upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
  std::vector<int64_t> a(26 + 13, 1), b(26, 1);
  auto bound =
      bindEquation(lower + "...," + upper, {a, b}, {DType::F32, DType::F32});
  ASSERT_FALSE((bool)bound);
  EXPECT_EQ(message(bound.takeError()),
            "the result has rank 65; einjit's limit is 64 dimensions");
}

TEST(LimitsTest, PathSteps) {
  // Each operand and the result are small; the only step runs 2^64 loop
  // iterations.
  int64_t big = int64_t(1) << 32;
  auto bound = bindEquation("i,j->", {{big}, {big}}, {DType::F32, DType::F32});
  ASSERT_TRUE((bool)bound) << llvm::toString(bound.takeError());
  EXPECT_EQ(message(checkPathLimits(*bound, greedyPath(*bound))),
            "step 0 of the contraction path (0,1) would run more than 2^62 "
            "loop iterations");
}

} // namespace

TEST(LimitsTest, BytesString) {
  EXPECT_EQ(bytesString(1000), "1000 bytes");
  EXPECT_EQ(bytesString(8000, /*exact=*/true), "7.8 KiB (8000 bytes)");
  EXPECT_EQ(bytesString(3.0 * (int64_t(1) << 40)), "3.0 TiB");
  // A planner bound beyond int64 (the fuzzer's 1.9e25 bytes) is printed,
  // not cast: 1.9e25 / 2^60 = 16777216 EiB.
  EXPECT_EQ(bytesString(0x1p84, /*exact=*/true),
            "16777216.0 EiB (1.934281e+25 bytes)");
}
