//===- PlanTest.cpp - Path strategies and the memory cap ------------------===//
//
// Expected costs come from opt_einsum 3.4.0 (test/Inputs/opt_einsum_paths.tsv,
// made by bench/planner_reference.py) or are worked by hand in the comments;
// none comes from einjit.
//
//===----------------------------------------------------------------------===//

#include "einjit/Spec/Path.h"

#include "llvm/ADT/StringExtras.h"
#include "gtest/gtest.h"

#include <fstream>
#include <sstream>

using namespace einjit;

namespace {

BoundEquation bindOrFail(llvm::StringRef eq,
                         std::vector<std::vector<int64_t>> shapes,
                         DType type = DType::F64) {
  std::vector<DType> types(shapes.size(), type);
  auto bound = bindEquation(eq, shapes, types);
  if (!bound) {
    ADD_FAILURE() << llvm::toString(bound.takeError());
    return {};
  }
  return std::move(*bound);
}

Plan plan(const BoundEquation &eq, PathStrategy strategy,
          int64_t memoryLimitBytes = 0) {
  auto p = planContraction(eq, {strategy, memoryLimitBytes});
  if (!p) {
    ADD_FAILURE() << llvm::toString(p.takeError());
    return {};
  }
  return std::move(*p);
}

std::string errorOf(const BoundEquation &eq, PathStrategy strategy,
                    int64_t memoryLimitBytes) {
  auto p = planContraction(eq, {strategy, memoryLimitBytes});
  if (p)
    return "no error";
  std::string message;
  llvm::handleAllErrors(
      p.takeError(), [&](const EinsumError &e) { message = e.getMessage(); });
  return message;
}

constexpr PathStrategy kAll[] = {PathStrategy::Greedy, PathStrategy::Optimal,
                                 PathStrategy::DP, PathStrategy::Auto};

TEST(PlanTest, StrategyNames) {
  for (PathStrategy s : kAll)
    EXPECT_EQ(parsePathStrategy(pathStrategyName(s)), s);
  EXPECT_FALSE(parsePathStrategy("best"));
}

TEST(PlanTest, ChainEveryStrategy) {
  // A (1000x10) B (10x1000) v (1000): B v first, 2*10*1000 flops, then
  // A (Bv), 2*1000*10: 40000 in all. A B first costs 2*10^7 + 2*10^6.
  BoundEquation eq = bindOrFail("ij,jk,k->i", {{1000, 10}, {10, 1000}, {1000}});
  for (PathStrategy s : kAll) {
    Plan p = plan(eq, s);
    EXPECT_EQ(p.path.flops(), 40000) << pathStrategyName(s).str();
    EXPECT_EQ(p.path.describe(), "(0,(1,2))") << pathStrategyName(s).str();
    EXPECT_EQ(p.path.largestIntermediate(), 10);
  }
}

TEST(PlanTest, NaiveFlops) {
  // One loop nest over i, j, k: 1000*10*1000 iterations of two multiplies
  // and an add.
  BoundEquation eq = bindOrFail("ij,jk,k->i", {{1000, 10}, {10, 1000}, {1000}});
  EXPECT_EQ(naiveFlops(eq), 3.0 * 1000 * 10 * 1000);
}

TEST(PlanTest, DPSumsPrivateLabelsFirst) {
  // ab,cd,de->be, every size 2; opt_einsum's dp costs 104, its optimal
  // 208. Summing A's private a and B's private c first (2*4 each), then
  // B' (d) with C (de) into e (2*2*2) and the outer product of A' (b) with
  // it (4) costs 36: dp and optimal must reach at most opt_einsum's dp.
  BoundEquation eq = bindOrFail("ab,cd,de->be", {{2, 2}, {2, 2}, {2, 2}});
  EXPECT_LE(plan(eq, PathStrategy::DP).path.flops(), 104);
  EXPECT_LE(plan(eq, PathStrategy::Optimal).path.flops(), 104);
}

TEST(PlanTest, OptimalTakesOuterProducts) {
  // a,b,ab->: contracting the two vectors' outer product with the matrix
  // costs 1*a*b + 2*a*b; a with ab first costs 2ab then 2b. With a = b =
  // 100: 30000 against 20200. Both are pairwise trees.
  BoundEquation eq = bindOrFail("a,b,ab->", {{100}, {100}, {100, 100}});
  EXPECT_EQ(plan(eq, PathStrategy::Optimal).path.flops(), 20200);
}

TEST(PlanTest, MemoryCapIsEnforced) {
  // ab,bc,cd->ad with a=d=10, b=c=100: (A B) and (B C) are 10x100 and
  // 100x10, 1000 f64 = 8000 bytes; (A, C) has no shared label: a 10x100x100
  // x10 outer product. A cap of 8000 bytes works; 7999 none.
  BoundEquation eq =
      bindOrFail("ab,bc,cd->ad", {{10, 100}, {100, 100}, {100, 10}});
  for (PathStrategy s : kAll) {
    Plan p = plan(eq, s, 8000);
    EXPECT_LE(p.path.largestIntermediate() * 8, 8000)
        << pathStrategyName(s).str();
    EXPECT_EQ(errorOf(eq, s, 7999),
              "no contraction path of 'ab,bc,cd->ad' keeps every "
              "intermediate within the memory limit of 7.8 KiB (7999 "
              "bytes); the smallest limit that works is 7.8 KiB (8000 "
              "bytes), with the path ((0,1),2)")
        << pathStrategyName(s).str();
  }
}

TEST(PlanTest, CapChangesThePath) {
  // ij,jk,kl->il, i = l = 2, j = 100, k = 1000 (f32). Cheapest: (A B) is
  // 2x1000 (2*2*100*1000 = 4e5 flops) then with C: 2*2*1000*2 = 8000.
  // (B C) is 100x2 = 2*100*1000*2 = 4e5, then 2*2*100*2 = 800: 400800,
  // the cheaper, intermediate 200 elements. Every tree has one
  // intermediate: AB 2000 elements, BC 200, AC (an outer product) 4e5. So
  // 400 bytes (100 f32) fits none, and the smallest cap is 200 elements,
  // 800 bytes, with (B C) first.
  BoundEquation eq = bindOrFail("ij,jk,kl->il",
                                {{2, 100}, {100, 1000}, {1000, 2}}, DType::F32);
  Plan free = plan(eq, PathStrategy::Optimal);
  EXPECT_EQ(free.path.describe(), "(0,(1,2))");
  EXPECT_EQ(free.path.flops(), 400800);
  EXPECT_EQ(errorOf(eq, PathStrategy::Greedy, 400),
            "no contraction path of 'ij,jk,kl->il' keeps every intermediate "
            "within the memory limit of 400 bytes; the smallest limit that "
            "works is 800 bytes, with the path (0,(1,2))");
}

TEST(PlanTest, OptimalRefusesManyOperands) {
  std::string eq;
  std::vector<std::vector<int64_t>> shapes;
  for (int i = 0; i <= kMaxOptimalOperands; ++i) {
    eq += std::string(i ? "," : "") + char('a' + i) + char('a' + i + 1);
    shapes.push_back({2, 2});
  }
  BoundEquation bound = bindOrFail(eq, shapes);
  EXPECT_EQ(errorOf(bound, PathStrategy::Optimal, 0),
            "the optimal strategy takes at most 16 operands, '" + eq +
                "' has 17; use dp or greedy");
  // dp and greedy take it: a chain of 2x2 matrices.
  EXPECT_LE(plan(bound, PathStrategy::DP).path.flops(),
            plan(bound, PathStrategy::Greedy).path.flops());
}

TEST(PlanTest, PathFromStepsChecksTheSteps) {
  BoundEquation eq = bindOrFail("ij,jk,k->i", {{2, 3}, {3, 4}, {4}});
  auto good = pathFromSteps(eq, {{1, 2}, {0, 3}});
  ASSERT_TRUE((bool)good);
  EXPECT_EQ(good->steps[0].labels, std::vector<int>({labelId('j')}));
  auto bad = pathFromSteps(eq, {{1, 2}, {1, 0}});
  ASSERT_FALSE((bool)bad);
  EXPECT_EQ(llvm::toString(bad.takeError()),
            "step 1 of the path uses value 1, already consumed");
}

/// One row of test/Inputs/opt_einsum_paths.tsv.
struct Reference {
  std::string equation, shapes, strategy, limit, flops, largest, path;
};

std::vector<Reference> readReferences() {
  std::ifstream in(EINJIT_TEST_INPUTS "/opt_einsum_paths.tsv");
  EXPECT_TRUE(in.good()) << "cannot read opt_einsum_paths.tsv";
  std::vector<Reference> rows;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#')
      continue;
    llvm::SmallVector<llvm::StringRef> f;
    llvm::StringRef(line).split(f, '\t');
    if (f.size() != 7) {
      ADD_FAILURE() << "bad row: " << line;
      continue;
    }
    rows.push_back({f[0].str(), f[1].str(), f[2].str(), f[3].str(), f[4].str(),
                    f[5].str(), f[6].str()});
  }
  return rows;
}

std::vector<std::vector<int64_t>> parseShapes(llvm::StringRef text) {
  std::vector<std::vector<int64_t>> shapes;
  llvm::SmallVector<llvm::StringRef> operands;
  text.split(operands, ',');
  for (llvm::StringRef operand : operands) {
    std::vector<int64_t> shape;
    llvm::SmallVector<llvm::StringRef> dims;
    operand.split(dims, 'x');
    for (llvm::StringRef d : dims) {
      int64_t v = 0;
      EXPECT_FALSE(d.getAsInteger(10, v)) << text.str();
      shape.push_back(v);
    }
    shapes.push_back(shape);
  }
  return shapes;
}

// Every strategy costs no more flops than opt_einsum's same strategy, on
// opt_einsum's own test equations and random networks (auto against
// opt_einsum's auto). Greedy is opt_einsum's rule: the same cost.
TEST(PlanTest, NeverWorseThanOptEinsum) {
  std::vector<Reference> rows = readReferences();
  int checked = 0;
  for (const Reference &row : rows) {
    if (row.limit != "-")
      continue;
    auto strategy = parsePathStrategy(row.strategy);
    ASSERT_TRUE(strategy) << row.strategy;
    BoundEquation eq = bindOrFail(row.equation, parseShapes(row.shapes));
    auto p = planContraction(eq, {*strategy, 0});
    ASSERT_TRUE((bool)p) << row.equation << " " << row.strategy << ": "
                         << llvm::toString(p.takeError());
    double reference = std::stod(row.flops);
    EXPECT_LE(p->path.flops(), reference)
        << row.equation << " " << row.shapes << " " << row.strategy << " "
        << p->path.describe() << " against opt_einsum's " << row.path;
    if (*strategy == PathStrategy::Greedy) {
      EXPECT_EQ(p->path.flops(), reference) << row.equation;
    }
    ++checked;
  }
  EXPECT_GE(checked, 400);
}

/// Whether a path written `(0,1)(0,1,2)` has a step of three or more.
bool hasWideStep(llvm::StringRef path) {
  llvm::SmallVector<llvm::StringRef> steps;
  path.split(steps, ')');
  return llvm::any_of(steps,
                      [](llvm::StringRef s) { return s.count(',') >= 2; });
}

// Under opt_einsum's limits (in elements; they also count the output,
// einjit's does not): einjit meets the limit or names a larger smallest
// limit, and where opt_einsum found a pairwise path within the limit,
// einjit's costs no more.
TEST(PlanTest, MemoryLimitsAgainstOptEinsum) {
  int checked = 0;
  for (const Reference &row : readReferences()) {
    if (row.limit == "-")
      continue;
    auto strategy = parsePathStrategy(row.strategy);
    ASSERT_TRUE(strategy);
    BoundEquation eq = bindOrFail(row.equation, parseShapes(row.shapes));
    int64_t limit = std::stoll(row.limit);
    auto p = planContraction(eq, {*strategy, limit * 8});
    ++checked;
    if (!p) {
      std::string message = llvm::toString(p.takeError());
      // Then no pairwise path fits: opt_einsum failed too, or fell back to
      // a step of three or more values.
      EXPECT_TRUE(row.flops == "-" || hasWideStep(row.path))
          << row.equation << " limit " << limit << ": " << message
          << "; opt_einsum: " << row.path;
      continue;
    }
    EXPECT_LE(p->path.largestIntermediate(), limit) << row.equation;
  }
  EXPECT_GE(checked, 100);
}

} // namespace
