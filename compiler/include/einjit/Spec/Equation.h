//===- Equation.h - The einsum language: parse and bind ---------*- C++ -*-===//
//
// The einsum language with NumPy semantics, in pure C++ (no MLIR). An
// equation is parsed into terms (`Equation::parse`), then bound to operand
// shapes and dtypes (`bindEquation`), which expands ellipses, applies NumPy
// broadcasting, checks every size and computes the output. Every error says
// what is wrong and, where it can, the column of the offending character.
//
//===----------------------------------------------------------------------===//

#ifndef EINJIT_SPEC_EQUATION_H
#define EINJIT_SPEC_EQUATION_H

#include "einjit/Spec/DType.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace einjit {

/// An error in an equation or in the operands given to it. `message()` is
/// one line; when the error has a column, `log()` adds the equation and a
/// caret under the offending character on two more lines.
class EinsumError : public llvm::ErrorInfo<EinsumError> {
public:
  static char ID;
  EinsumError(std::string message, std::string equation = "", int column = -1)
      : msg(std::move(message)), equation(std::move(equation)), column(column) {
  }

  const std::string &getMessage() const { return msg; }
  int getColumn() const { return column; }
  void log(llvm::raw_ostream &os) const override;
  std::error_code convertToErrorCode() const override;

private:
  std::string msg;
  std::string equation;
  int column;
};

/// Makes an EinsumError pointing at `column` of `equation` (-1: nowhere).
llvm::Error makeEinsumError(const llvm::Twine &message,
                            llvm::StringRef equation = "", int column = -1);

/// One side of an equation: the labels of one operand, or of the output.
struct Term {
  /// Letters in order, without the ellipsis.
  std::string labels;
  /// Column of each letter in the equation text.
  std::vector<int> columns;
  /// Index into `labels` before which `...` stands, or -1.
  int ellipsis = -1;
  int ellipsisColumn = -1;
  /// Column where the term starts.
  int column = 0;

  bool hasEllipsis() const { return ellipsis >= 0; }
};

/// What the parser accepts beyond NumPy.
struct ParseOptions {
  /// An explicit output may repeat a label (`i->ii`, `ij->iij`): the
  /// result is zero except where the repeated dims' indices are equal,
  /// which hold the einsum with that label once in the output (`i->ii`
  /// makes a diagonal matrix of a vector). NumPy rejects such outputs;
  /// einjit::einsum and einsum.contract accept them, as gradients of
  /// diagonals need them (docs/autodiff.md).
  bool repeatedOutputLabels = false;
};

/// A parsed equation, not yet bound to shapes.
struct Equation {
  std::string text;
  std::vector<Term> inputs;
  /// Present only for an explicit output (`->`).
  std::optional<Term> output;

  static llvm::Expected<Equation> parse(llvm::StringRef text,
                                        ParseOptions options = {});

  /// The canonical text: no spaces, and the output always explicit (an
  /// implicit one as NumPy makes it: `...` if an input has one, then the
  /// letters used once, in ASCII order). Parsing it gives an equation that
  /// binds to the same result.
  std::string str() const;
};

/// Label ids: 0-25 are 'a'-'z', 26-51 are 'A'-'Z', and 52 + k is dimension k
/// of the broadcast ellipsis.
constexpr int kNumLetters = 52;
int labelId(char letter);
/// 'a'..'Z' for letters, "...0", "...1" for ellipsis dimensions.
std::string labelName(int id);

/// An equation bound to concrete operand shapes and dtypes.
struct BoundEquation {
  std::string text;
  /// For each operand, the label id of each of its dimensions.
  std::vector<std::vector<int>> inputs;
  std::vector<std::vector<int64_t>> inputShapes;
  std::vector<DType> inputTypes;
  /// Label ids of the result dimensions, in order.
  std::vector<int> output;
  /// Size of each label after broadcasting, indexed by label id; -1 for ids
  /// that do not occur.
  std::vector<int64_t> labelSizes;
  /// Result dtype (NumPy promotion) and the type products are summed in.
  DType resultType = DType::F32;
  DType computeType = DType::F32;

  std::vector<int64_t> outputShape() const;
  /// Label ids that occur in some input but not in the output.
  std::vector<int> summedLabels() const;
  /// Whether the output repeats a label (ParseOptions::repeatedOutputLabels).
  bool repeatsOutputLabel() const;
  /// This equation with each output label once, in order of first
  /// appearance: what is computed before it is laid on the diagonal of the
  /// repeated dims. The same equation when no label repeats.
  BoundEquation withUniqueOutput() const;
};

/// Binds `eq` to operand shapes and dtypes, with NumPy semantics (and a
/// repeated output label where `eq` was parsed to allow one).
llvm::Expected<BoundEquation>
bindEquation(const Equation &eq, llvm::ArrayRef<std::vector<int64_t>> shapes,
             llvm::ArrayRef<DType> types);

/// Parses and binds in one step.
llvm::Expected<BoundEquation>
bindEquation(llvm::StringRef text, llvm::ArrayRef<std::vector<int64_t>> shapes,
             llvm::ArrayRef<DType> types, ParseOptions options = {});

} // namespace einjit

#endif // EINJIT_SPEC_EQUATION_H
