//===- EquationTest.cpp - The einsum language: parse and bind -------------===//
//
// Every feature of the language and every error, with the message and the
// column it points at. Expected shapes are what numpy.einsum returns.
//
//===----------------------------------------------------------------------===//

#include "einjit/Spec/Equation.h"

#include "gtest/gtest.h"

using namespace einjit;
using Shapes = std::vector<std::vector<int64_t>>;

namespace {

BoundEquation bind(llvm::StringRef eq, const Shapes &shapes,
                   std::vector<DType> types = {}) {
  if (types.empty())
    types.assign(shapes.size(), DType::F32);
  auto bound = bindEquation(eq, shapes, types);
  if (!bound) {
    ADD_FAILURE() << eq.str() << ": " << llvm::toString(bound.takeError());
    return {};
  }
  return *bound;
}

std::vector<int64_t> outShape(llvm::StringRef eq, const Shapes &shapes) {
  return bind(eq, shapes).outputShape();
}

/// Binds and expects an EinsumError with `message` pointing at `column`.
void expectError(llvm::StringRef eq, const Shapes &shapes,
                 const std::string &message, int column,
                 std::vector<DType> types = {}) {
  if (types.empty())
    types.assign(shapes.size(), DType::F32);
  auto bound = bindEquation(eq, shapes, types);
  ASSERT_FALSE(bound) << "'" << eq.str() << "' should be rejected";
  llvm::handleAllErrors(bound.takeError(), [&](const EinsumError &e) {
    EXPECT_EQ(e.getMessage(), message) << eq.str();
    EXPECT_EQ(e.getColumn(), column) << eq.str();
  });
}

using V = std::vector<int64_t>;

TEST(EquationTest, ExplicitOutput) {
  EXPECT_EQ(outShape("ij,jk->ik", {{2, 3}, {3, 4}}), V({2, 4}));
  EXPECT_EQ(outShape("ij->ji", {{2, 3}}), V({3, 2}));
  EXPECT_EQ(outShape("ij->", {{2, 3}}), V({}));
  EXPECT_EQ(outShape("i,j->ij", {{2}, {5}}), V({2, 5}));
  EXPECT_EQ(outShape("bij,bjk->bik", {{7, 2, 3}, {7, 3, 4}}), V({7, 2, 4}));
}

TEST(EquationTest, ImplicitOutputSortsLabelsUsedOnce) {
  EXPECT_EQ(outShape("ij,jk", {{2, 3}, {3, 4}}), V({2, 4}));
  EXPECT_EQ(outShape("ba", {{2, 3}}), V({3, 2}));
  EXPECT_EQ(outShape("ij,ij", {{2, 3}, {2, 3}}), V({}));
  // ASCII order: upper case before lower case, as numpy.
  EXPECT_EQ(outShape("bA", {{2, 3}}), V({3, 2}));
  EXPECT_EQ(outShape("Ab,ba", {{2, 3}, {3, 4}}), V({2, 4}));
  EXPECT_EQ(outShape("aB,Ba,Cc", {{2, 3}, {3, 2}, {4, 5}}), V({4, 5}));
}

TEST(EquationTest, Ellipsis) {
  EXPECT_EQ(outShape("...ij,...jk->...ik", {{5, 1, 2, 3}, {4, 3, 2}}),
            V({5, 4, 2, 2}));
  EXPECT_EQ(outShape("...ij,...jk", {{5, 1, 2, 3}, {4, 3, 2}}),
            V({5, 4, 2, 2}));
  EXPECT_EQ(outShape("i...->...", {{2, 3, 4}}), V({3, 4}));
  EXPECT_EQ(outShape("i...j->j...", {{2, 3, 4, 5}}), V({5, 3, 4}));
  EXPECT_EQ(outShape("...,...", {{2, 3}, {3}}), V({2, 3}));
  EXPECT_EQ(outShape("...->...", {{}}), V({}));
  // An ellipsis of rank 0 in the output is allowed.
  EXPECT_EQ(outShape("ij->...ij", {{2, 3}}), V({2, 3}));
  // Spaces anywhere.
  EXPECT_EQ(outShape(" ... i , ... i -> ... ", {{4, 2}, {2}}), V({4}));
}

TEST(EquationTest, EllipsisLabels) {
  BoundEquation b = bind("a...,...b", {{2, 3, 4}, {4, 5}});
  ASSERT_EQ(b.inputs[0].size(), 3u);
  EXPECT_EQ(labelName(b.inputs[0][1]), "...0");
  EXPECT_EQ(labelName(b.inputs[0][2]), "...1");
  // The shorter ellipsis is right-aligned with the longer one.
  EXPECT_EQ(b.inputs[1][0], b.inputs[0][2]);
  EXPECT_EQ(b.outputShape(), V({3, 4, 2, 5}));
}

TEST(EquationTest, RepeatedLabelsTakeDiagonals) {
  EXPECT_EQ(outShape("ii->i", {{4, 4}}), V({4}));
  EXPECT_EQ(outShape("ii->", {{4, 4}}), V({}));
  EXPECT_EQ(outShape("ii", {{4, 4}}), V({}));
  EXPECT_EQ(outShape("iij->j", {{3, 3, 5}}), V({5}));
  EXPECT_EQ(outShape("iii->i", {{3, 3, 3}}), V({3}));
  BoundEquation b = bind("ii->i", {{4, 4}});
  EXPECT_EQ(b.inputs[0][0], b.inputs[0][1]);
  EXPECT_TRUE(b.summedLabels().empty());
}

TEST(EquationTest, SummedLabels) {
  BoundEquation b = bind("ij,jk->ik", {{2, 3}, {3, 4}});
  EXPECT_EQ(b.summedLabels(), std::vector<int>({labelId('j')}));
  EXPECT_EQ(bind("i,j->", {{2}, {3}}).summedLabels().size(), 2u);
}

TEST(EquationTest, ScalarsAndManyOperands) {
  EXPECT_EQ(outShape("->", {{}}), V({}));
  EXPECT_EQ(outShape("", {{}}), V({}));
  EXPECT_EQ(outShape(",->", {{}, {}}), V({}));
  EXPECT_EQ(outShape(",i->i", {{}, {3}}), V({3}));
  EXPECT_EQ(
      outShape("ab,bc,cd,de,ef->af", {{2, 3}, {3, 4}, {4, 5}, {5, 6}, {6, 7}}),
      V({2, 7}));
}

TEST(EquationTest, SizeOneBroadcasts) {
  EXPECT_EQ(outShape("ij,ij->ij", {{3, 1}, {3, 4}}), V({3, 4}));
  EXPECT_EQ(outShape("ij,jk", {{2, 1}, {3, 4}}), V({2, 4}));
  EXPECT_EQ(outShape("...i,...i->...", {{1, 2}, {5, 2}}), V({5}));
  EXPECT_EQ(outShape("ij->", {{0, 3}}), V({}));
  EXPECT_EQ(outShape("ij,j->ij", {{0, 3}, {1}}), V({0, 3}));
}

TEST(EquationTest, UpperAndLowerCaseAreDistinct) {
  BoundEquation b = bind("aA->Aa", {{2, 3}});
  EXPECT_EQ(b.outputShape(), V({3, 2}));
  EXPECT_EQ(labelId('a'), 0);
  EXPECT_EQ(labelId('A'), 26);
  EXPECT_EQ(labelName(51), "Z");
}

TEST(EquationTest, DTypePromotionFollowsNumPy) {
  auto result = [](DType a, DType b) {
    return bind("i,i", {{2}, {2}}, {a, b}).resultType;
  };
  EXPECT_EQ(result(DType::F32, DType::F32), DType::F32);
  EXPECT_EQ(result(DType::F32, DType::F64), DType::F64);
  EXPECT_EQ(result(DType::F16, DType::F32), DType::F32);
  EXPECT_EQ(result(DType::I32, DType::I64), DType::I64);
  EXPECT_EQ(result(DType::I32, DType::I32), DType::I32);
  EXPECT_EQ(result(DType::I32, DType::F32), DType::F64);
  EXPECT_EQ(result(DType::I64, DType::F16), DType::F64);
  BoundEquation half = bind("i,i", {{2}, {2}}, {DType::F16, DType::F16});
  EXPECT_EQ(half.resultType, DType::F16);
  EXPECT_EQ(half.computeType, DType::F32);
  EXPECT_EQ(parseDType("float64"), DType::F64);
  EXPECT_EQ(parseDType("complex64"), DType::C64);
  EXPECT_EQ(parseDType("c32"), std::nullopt);
}

TEST(EquationTest, ErrorsInTheEquation) {
  expectError("ij,j#->i", {{2, 3}, {3, 4}}, "invalid character '#' in equation",
              4);
  expectError("ij,jk->i1", {{2, 3}, {3, 4}},
              "invalid character '1' in equation", 8);
  expectError("ij,jk->i\xc3\xa9", {{2, 3}, {3, 4}},
              "invalid byte 0xc3 in equation", 8);
  expectError("i\tj", {{2, 3}}, "invalid byte 0x09 in equation", 1);
  expectError("i..j->ij", {{2, 3}}, "'.' is not part of an ellipsis '...'", 1);
  expectError("ij->i.", {{2, 3}}, "'.' is not part of an ellipsis '...'", 5);
  expectError("...i...", {{2, 3}}, "operand 0 has more than one ellipsis '...'",
              4);
  expectError("...i->......", {{2, 3}},
              "the output has more than one ellipsis '...'", 9);
  expectError("ij-ji", {{2, 3}}, "'-' must be followed by '>'", 2);
  expectError("ij>ji", {{2, 3}}, "'>' must follow '-'", 2);
  expectError("ij->ji-", {{2, 3}}, "'-' must be followed by '>'", 6);
  expectError("i->i->i", {{2}}, "equation has more than one '->'", 4);
  expectError("ij->i,j", {{2, 3}},
              "the output of an equation cannot contain ','", 5);
  expectError("ij->ii", {{2, 3}},
              "label 'i' appears more than once in the output", 5);
  expectError("ij,jk->il", {{2, 3}, {3, 4}},
              "label 'l' in the output appears in no input", 8);
}

TEST(EquationTest, ErrorsAgainstOperands) {
  expectError("ij,jk->ik", {{2, 3}}, "equation has 2 operands but 1 was given",
              -1);
  expectError("ij", {{2, 3}, {3, 4}, {1}},
              "equation has 1 operand but 3 were given", -1);
  expectError("ij,jk", {{2, 3}, {3, 4, 5}},
              "operand 1 has rank 3 but its subscripts name 2 dimensions", 3);
  expectError("i", {{}},
              "operand 0 has rank 0 but its subscripts name 1 "
              "dimension",
              0);
  expectError("ij...", {{2}},
              "operand 0 has rank 1 but its subscripts name 2 dimensions "
              "besides '...'",
              0);
  expectError("ij,jk->ik", {{2, 3}, {4, 5}},
              "label 'j' has size 3 in operand 0 and 4 in operand 1", 3);
  expectError("ii->i", {{2, 3}},
              "label 'i' is repeated in operand 0 with sizes 2 and 3; a "
              "diagonal needs equal sizes",
              1);
  expectError("ii->i", {{2, 1}},
              "label 'i' is repeated in operand 0 with sizes 2 and 1; a "
              "diagonal needs equal sizes",
              1);
  expectError("...i,...i", {{3, 2}, {4, 2}},
              "dimension 0 of '...' has size 3 in operand 0 and 4 in operand 1",
              5);
  expectError("...i->i", {{2, 3}},
              "the output has no '...' but the operands' ellipsis stands for "
              "1 dimension",
              6);
  expectError("i", {{-1}}, "operand 0 has a negative dimension -1", -1);
}

TEST(EquationTest, ErrorLogHasCaretUnderColumn) {
  auto bound =
      bindEquation("ij,jk->il", {{2, 3}, {3, 4}}, {DType::F32, DType::F32});
  ASSERT_FALSE(bound);
  EXPECT_EQ(llvm::toString(bound.takeError()),
            "label 'l' in the output appears in no input\n"
            "  ij,jk->il\n"
            "          ^");
}

TEST(EquationTest, StrIsCanonical) {
  auto text = [](llvm::StringRef eq) {
    auto parsed = Equation::parse(eq);
    EXPECT_TRUE((bool)parsed) << eq.str();
    return parsed ? parsed->str() : std::string();
  };
  EXPECT_EQ(text("ij,jk->ik"), "ij,jk->ik");
  EXPECT_EQ(text(" ij , jk -> ki "), "ij,jk->ki");
  // Implicit outputs, as numpy.einsum makes them.
  EXPECT_EQ(text("ij,jk"), "ij,jk->ik");
  EXPECT_EQ(text("ba"), "ba->ab");
  EXPECT_EQ(text("Ab,bC"), "Ab,bC->AC");
  EXPECT_EQ(text("ii"), "ii->");
  EXPECT_EQ(text("...ij,...jk"), "...ij,...jk->...ik");
  EXPECT_EQ(text("i...j,j->...i"), "i...j,j->...i");
  // The canonical text parses to itself.
  for (llvm::StringRef eq : {"ij,jk", "b...a,a", "Ab,bC", "i,i"})
    EXPECT_EQ(text(text(eq)), text(eq));
}

} // namespace
