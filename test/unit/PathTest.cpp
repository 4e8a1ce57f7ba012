//===- PathTest.cpp - Greedy contraction paths ----------------------------===//

#include "einjit/Spec/Path.h"

#include "gtest/gtest.h"

using namespace einjit;

namespace {

ContractionPath pathOf(llvm::StringRef eq,
                       std::vector<std::vector<int64_t>> shapes) {
  std::vector<DType> types(shapes.size(), DType::F64);
  auto bound = bindEquation(eq, shapes, types);
  EXPECT_TRUE((bool)bound);
  if (!bound) {
    llvm::consumeError(bound.takeError());
    return {};
  }
  return greedyPath(*bound);
}

TEST(PathTest, UnaryIsOneStep) {
  ContractionPath p = pathOf("ii->i", {{3, 3}});
  ASSERT_EQ(p.steps.size(), 1u);
  EXPECT_EQ(p.steps[0].operands, std::vector<int>({0}));
  EXPECT_EQ(p.steps[0].shape, std::vector<int64_t>({3}));
  EXPECT_EQ(p.flops(), 3); // a copy: one flop per element, as opt_einsum
}

TEST(PathTest, MatmulFlops) {
  ContractionPath p = pathOf("ij,jk->ik", {{2, 3}, {3, 4}});
  ASSERT_EQ(p.steps.size(), 1u);
  EXPECT_EQ(p.flops(), 2.0 * 2 * 3 * 4);
}

TEST(PathTest, ChainAvoidsTheLargeIntermediate) {
  // (A B) is 1000x1000 while (B v) is 10: greedy contracts B with v first.
  ContractionPath p = pathOf("ij,jk,k->i", {{1000, 10}, {10, 1000}, {1000}});
  ASSERT_EQ(p.steps.size(), 2u);
  EXPECT_EQ(p.steps[0].operands, std::vector<int>({1, 2}));
  EXPECT_EQ(p.steps[0].shape, std::vector<int64_t>({10}));
  EXPECT_EQ(p.steps[1].operands, std::vector<int>({0, 3}));
  EXPECT_EQ(p.describe(), "(0,(1,2))");
  EXPECT_EQ(p.flops(), 2.0 * 10 * 1000 * 2);
}

TEST(PathTest, LastStepProducesTheOutputInOrder) {
  ContractionPath p = pathOf("ab,bc,cd->da", {{2, 3}, {3, 4}, {4, 5}});
  ASSERT_EQ(p.steps.size(), 2u);
  EXPECT_EQ(p.steps.back().shape, std::vector<int64_t>({5, 2}));
}

TEST(PathTest, LabelsKeptWhileNeeded) {
  // 'j' is shared by all three: it must survive the first step.
  ContractionPath p = pathOf("ij,jk,j->k", {{2, 3}, {3, 4}, {3}});
  ASSERT_EQ(p.steps.size(), 2u);
  const ContractionStep &first = p.steps[0];
  EXPECT_NE(std::find(first.labels.begin(), first.labels.end(), labelId('j')),
            first.labels.end());
}

TEST(PathTest, BroadcastSizeOneInIntermediate) {
  ContractionPath p = pathOf("ij,ij,ij->ij", {{3, 1}, {3, 1}, {3, 4}});
  ASSERT_EQ(p.steps.size(), 2u);
  // Contracting the two (3,1) operands first keeps a (3,1) intermediate.
  EXPECT_EQ(p.steps[0].shape, std::vector<int64_t>({3, 1}));
  EXPECT_EQ(p.steps[1].shape, std::vector<int64_t>({3, 4}));
}

} // namespace
