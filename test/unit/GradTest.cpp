//===- GradTest.cpp - The gradient einsums' equations ---------------------===//
//
// The equations gradientEinsum gives, case by case (docs/autodiff.md). Their
// values are checked against finite differences in TapeTest.
//
//===----------------------------------------------------------------------===//

#include "einjit/Spec/Grad.h"

#include "gtest/gtest.h"

using namespace einjit;

namespace {

std::string gradOf(llvm::StringRef equation,
                   std::vector<std::vector<int64_t>> shapes, int operand) {
  std::vector<DType> types(shapes.size(), DType::F64);
  auto eq = bindEquation(equation, shapes, types);
  if (!eq)
    return "bind: " + llvm::toString(eq.takeError());
  auto grad = gradientEinsum(*eq, operand);
  if (!grad)
    return "error: " + llvm::toString(grad.takeError());
  // The gradient has the operand's shape.
  EXPECT_EQ(grad->shape, shapes[operand]) << equation.str();
  return grad->str();
}

TEST(GradTest, Matmul) {
  EXPECT_EQ(gradOf("ij,jk->ik", {{2, 3}, {3, 4}}, 0),
            "ik,jk->ij (cotangent, operand 1)");
  EXPECT_EQ(gradOf("ij,jk->ik", {{2, 3}, {3, 4}}, 1),
            "ik,ij->jk (cotangent, operand 0)");
}

TEST(GradTest, SummedAwayLabelsAreBroadcastBack) {
  EXPECT_EQ(gradOf("ij->i", {{2, 3}}, 0), "i,j->ij (cotangent, ones(3))");
  EXPECT_EQ(gradOf("ij->", {{2, 3}}, 0), ",i,j->ij (cotangent, ones(2), "
                                         "ones(3))");
  // k only in the first operand, summed there.
  EXPECT_EQ(gradOf("ijk,jl->il", {{2, 3, 5}, {3, 4}}, 0),
            "il,jl,k->ijk (cotangent, operand 1, ones(5))");
}

TEST(GradTest, RepeatedLabelsTakeTheDiagonal) {
  EXPECT_EQ(gradOf("ii->", {{3, 3}}, 0), ",i->ii (cotangent, ones(3))");
  EXPECT_EQ(gradOf("ii->i", {{3, 3}}, 0), "i->ii (cotangent)");
  EXPECT_EQ(gradOf("iij,j->i", {{3, 3, 4}, {4}}, 0),
            "i,j->iij (cotangent, operand 1)");
  // The other operand's repeated label is its own diagonal, read in place.
  EXPECT_EQ(gradOf("ii,i->", {{3, 3}, {3}}, 1),
            ",ii->i (cotangent, operand 0)");
}

TEST(GradTest, BroadcastDimsAreSummed) {
  // The first operand's j has size 1 against 4: summed, kept as size 1.
  EXPECT_EQ(gradOf("ij,ij->ij", {{3, 1}, {3, 4}}, 0),
            "ij,ij,a->ia (cotangent, operand 1, ones(1))");
  // The second operand's gradient reads the first broadcast.
  EXPECT_EQ(gradOf("ij,ij->ij", {{3, 1}, {3, 4}}, 1),
            "ij,ij->ij (cotangent, operand 0)");
  // Summed away, and of size 1 in the only other operand: ones carry it.
  EXPECT_EQ(gradOf("ij,ij->i", {{3, 1}, {3, 4}}, 1),
            "i,ij,j->ij (cotangent, operand 0, ones(4))");
}

TEST(GradTest, EllipsisDimsTakeUnusedLetters) {
  EXPECT_EQ(gradOf("...ij,...jk->...ik", {{5, 2, 3}, {5, 3, 4}}, 0),
            "aik,ajk->aij (cotangent, operand 1)");
  // Broadcast batch: the first operand's leading dim of size 1 is summed.
  EXPECT_EQ(gradOf("...ij,...jk->...ik", {{1, 2, 3}, {5, 3, 4}}, 0),
            "aik,ajk,b->bij (cotangent, operand 1, ones(1))");
  // Missing leading dims: the second operand has none of the batch.
  EXPECT_EQ(gradOf("...ij,...jk->...ik", {{5, 2, 3}, {3, 4}}, 1),
            "aik,aij->jk (cotangent, operand 0)");
}

TEST(GradTest, Scalars) {
  EXPECT_EQ(gradOf(",ij->ij", {{}, {2, 3}}, 0),
            "ij,ij-> (cotangent, operand 1)");
  EXPECT_EQ(gradOf(",ij->ij", {{}, {2, 3}}, 1),
            "ij,->ij (cotangent, operand 0)");
  EXPECT_EQ(gradOf("->", {{}}, 0), "-> (cotangent)");
}

TEST(GradTest, OperandPassedTwice) {
  // x in xᵀAx: one gradient per position, which the caller adds.
  EXPECT_EQ(gradOf("i,ij,j->", {{3}, {3, 3}, {3}}, 0),
            ",ij,j->i (cotangent, operand 1, operand 2)");
  EXPECT_EQ(gradOf("i,ij,j->", {{3}, {3, 3}, {3}}, 2),
            ",i,ij->j (cotangent, operand 0, operand 1)");
}

TEST(GradTest, Errors) {
  EXPECT_EQ(gradOf("ij->i", {{2, 3}}, 1),
            "error: no operand 1 to differentiate: the equation has 1");
}

} // namespace

namespace {
GradientPlan planChain(int64_t keepBytes) {
  // Issue 7's chain: i=1024, j=64, k=1024, l=64, m=1024.
  BoundEquation eq = llvm::cantFail(bindEquation(
      "ij,jk,kl,lm->im", {{1024, 64}, {64, 1024}, {1024, 64}, {64, 1024}},
      {DType::F32, DType::F32, DType::F32, DType::F32}));
  Plan forward = llvm::cantFail(planContraction(eq));
  return llvm::cantFail(planGradients(eq, forward.path, keepBytes));
}
} // namespace

TEST(GradTest, JointPlanKeepsTheChainsIntermediates) {
  GradientPlan plan = planChain(0);
  // By hand: the forward contracts jk,kl (2*64*1024*64), then ij,jl
  // (2*1024*64*64), then il,lm (2*1024*64*1024); the backward gives each
  // step's two inputs their cotangents at the step's own cost.
  EXPECT_EQ(plan.forwardFlops, 2.0 * 8388608 + 134217728);
  EXPECT_EQ(plan.keepFlops, 2 * 134217728.0 + 4 * 8388608.0);
  // Each recomputed gradient contracts the 1024x1024 cotangent at least
  // once over 64: at least 2*1024*1024*64 each.
  EXPECT_GE(plan.recomputeFlops, 4 * 134217728.0);
  ASSERT_EQ(plan.strategy, GradientPlan::Strategy::Keep);
  // Kept: jl (64x64) and il (1024x64), f32.
  EXPECT_EQ(plan.keptBytes, (64 * 64 + 1024 * 64) * 4);
  ASSERT_EQ(plan.forward.size(), 2u);
  EXPECT_EQ(plan.forward[0].equation, "jk,kl->jl");
  EXPECT_EQ(plan.forward[1].equation, "ij,jl->il");
  ASSERT_EQ(plan.backward.size(), 6u);
  // The last step (il with lm, in the planner's order) comes first.
  EXPECT_EQ(plan.backward[0].equation, "im,il->lm");
  EXPECT_EQ(plan.backward[1].equation, "im,lm->il");
  EXPECT_NE(plan.str().find("gradients: keep (fewer flops, and the kept "
                            "intermediates fit)"),
            std::string::npos)
      << plan.str();
}

TEST(GradTest, JointPlanRecomputesOverTheBudget) {
  GradientPlan plan = planChain(100000);
  EXPECT_EQ(plan.strategy, GradientPlan::Strategy::Recompute);
  EXPECT_EQ(plan.reason, "the kept intermediates (278528 bytes) exceed the "
                         "budget (100000 bytes)");
  EXPECT_EQ(plan.keptBytes, 0);
  EXPECT_TRUE(plan.forward.empty());
  ASSERT_EQ(plan.backward.size(), 4u);
  EXPECT_EQ(plan.backward[0].equation, "im,jk,kl,lm->ij");
  EXPECT_FALSE(plan.backward[0].path.empty());
}

TEST(GradTest, JointPlanOfTwoOperandsRecomputes) {
  // A matmul keeps nothing: its gradients are the two einsums either way.
  BoundEquation eq = llvm::cantFail(bindEquation(
      "ij,jk->ik", {{20, 30}, {30, 40}}, {DType::F64, DType::F64}));
  GradientPlan plan = llvm::cantFail(
      planGradients(eq, llvm::cantFail(planContraction(eq)).path));
  EXPECT_EQ(plan.strategy, GradientPlan::Strategy::Recompute);
  EXPECT_EQ(plan.reason, "keeping saves no flops");
  EXPECT_EQ(plan.recomputeFlops, 2 * (2.0 * 20 * 30 * 40));
}
