//===- Equation.cpp - The einsum language: parse and bind -----------------===//
//
// Parsing checks the characters and the structure of the equation; binding
// checks it against the operands. NumPy is the reference for every rule:
// implicit outputs list the ellipsis dimensions, then the letters used once in
// ASCII order (upper case first); a letter repeated within one operand takes
// a diagonal; a dimension of size 1 broadcasts against any size.
//
//===----------------------------------------------------------------------===//

#include "einjit/Spec/Equation.h"
#include "einjit/Spec/Limits.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <set>

using namespace einjit;
using llvm::formatv;

char EinsumError::ID = 0;

void EinsumError::log(llvm::raw_ostream &os) const {
  os << msg;
  if (column < 0)
    return;
  // A window of at most kWidth characters around the column, with "..."
  // where the equation goes on, and '?' for bytes that would not print, so
  // the caret stays under its character.
  constexpr int kWidth = 72, kContext = 48;
  int n = equation.size();
  int begin = 0, end = n;
  if (n > kWidth) {
    begin = std::max(0, std::min(column - kContext, n - kWidth));
    end = std::min(n, begin + kWidth);
  }
  std::string shown = begin > 0 ? "..." : "";
  int caret = column - begin + shown.size();
  for (int i = begin; i < end; ++i)
    shown += llvm::isPrint(equation[i]) ? equation[i] : '?';
  if (end < n)
    shown += "...";
  os << "\n  " << shown << "\n  " << std::string(caret, ' ') << '^';
}

std::error_code EinsumError::convertToErrorCode() const {
  return llvm::inconvertibleErrorCode();
}

llvm::Error einjit::makeEinsumError(const llvm::Twine &message,
                                    llvm::StringRef equation, int column) {
  return llvm::make_error<EinsumError>(message.str(), equation.str(), column);
}

int einjit::labelId(char letter) {
  if (letter >= 'a' && letter <= 'z')
    return letter - 'a';
  if (letter >= 'A' && letter <= 'Z')
    return 26 + (letter - 'A');
  return -1;
}

std::string einjit::labelName(int id) {
  if (id < 26)
    return std::string(1, char('a' + id));
  if (id < kNumLetters)
    return std::string(1, char('A' + id - 26));
  return "..." + std::to_string(id - kNumLetters);
}

static bool isLetter(char c) { return labelId(c) >= 0; }

/// Describes a term for messages: "operand 2" or "the output".
static std::string termName(int operand) {
  return operand < 0 ? "the output" : "operand " + std::to_string(operand);
}

/// Parses the term in text[begin, end); `operand` is -1 for the output.
static llvm::Expected<Term> parseTerm(llvm::StringRef text, int begin, int end,
                                      int operand) {
  Term term;
  term.column = begin;
  for (int i = begin; i < end; ++i) {
    char c = text[i];
    if (c == ' ')
      continue;
    if (isLetter(c)) {
      term.labels.push_back(c);
      term.columns.push_back(i);
      continue;
    }
    if (c == '.') {
      if (i + 3 > end || text.substr(i, 3) != "...")
        return makeEinsumError("'.' is not part of an ellipsis '...'", text, i);
      if (term.hasEllipsis())
        return makeEinsumError(
            termName(operand) + " has more than one ellipsis '...'", text, i);
      term.ellipsis = term.labels.size();
      term.ellipsisColumn = i;
      i += 2;
      continue;
    }
    if (c == ',' && operand < 0)
      return makeEinsumError("the output of an equation cannot contain ','",
                             text, i);
    if (!llvm::isPrint(c))
      return makeEinsumError(
          formatv("invalid byte 0x{0:x-2} in equation", (unsigned char)c), text,
          i);
    return makeEinsumError(formatv("invalid character '{0}' in equation", c),
                           text, i);
  }
  return term;
}

llvm::Expected<Equation> Equation::parse(llvm::StringRef text,
                                         ParseOptions options) {
  if ((int64_t)text.size() > kMaxEquationLength)
    return makeEinsumError(formatv("the equation has {0} characters; einjit's "
                                   "limit is {1}",
                                   text.size(), kMaxEquationLength));
  Equation eq;
  eq.text = text.str();
  int n = text.size();

  // Locate '->' and reject stray '-' or '>'.
  int arrow = -1;
  for (int i = 0; i < n; ++i) {
    if (text[i] == '-') {
      if (i + 1 >= n || text[i + 1] != '>')
        return makeEinsumError("'-' must be followed by '>'", text, i);
      if (arrow >= 0)
        return makeEinsumError("equation has more than one '->'", text, i);
      arrow = i;
      ++i;
    } else if (text[i] == '>') {
      return makeEinsumError("'>' must follow '-'", text, i);
    }
  }

  int inputsEnd = arrow >= 0 ? arrow : n;
  int begin = 0;
  for (int i = 0; i <= inputsEnd; ++i) {
    if (i < inputsEnd && text[i] != ',')
      continue;
    if ((int64_t)eq.inputs.size() == kMaxOperands)
      return makeEinsumError(
          formatv("more than {0} operands (einjit's limit)", kMaxOperands),
          text, begin - 1);
    auto term = parseTerm(text, begin, i, eq.inputs.size());
    if (!term)
      return term.takeError();
    eq.inputs.push_back(std::move(*term));
    begin = i + 1;
  }

  if (arrow < 0)
    return eq;

  auto out = parseTerm(text, arrow + 2, n, -1);
  if (!out)
    return out.takeError();
  for (auto [i, c] : llvm::enumerate(out->labels)) {
    int col = out->columns[i];
    if (out->labels.find(c) != i && !options.repeatedOutputLabels)
      return makeEinsumError(
          formatv("label '{0}' appears more than once in the output", c), text,
          col);
    bool used = llvm::any_of(eq.inputs, [&](const Term &t) {
      return t.labels.find(c) != std::string::npos;
    });
    if (!used)
      return makeEinsumError(
          formatv("label '{0}' in the output appears in no input", c), text,
          col);
  }
  eq.output = std::move(*out);
  return eq;
}

static std::string termText(const Term &term) {
  std::string s;
  for (int j = 0, e = term.labels.size(); j <= e; ++j) {
    if (j == term.ellipsis)
      s += "...";
    if (j < e)
      s += term.labels[j];
  }
  return s;
}

std::string Equation::str() const {
  std::string s;
  for (auto [i, term] : llvm::enumerate(inputs))
    s += (i ? "," : "") + termText(term);
  s += "->";
  if (output)
    return s + termText(*output);
  if (llvm::any_of(inputs, [](const Term &t) { return t.hasEllipsis(); }))
    s += "...";
  std::vector<int> counts(kNumLetters, 0);
  for (const Term &term : inputs)
    for (char c : term.labels)
      ++counts[labelId(c)];
  // ASCII order: 'A'-'Z' before 'a'-'z', as bindEquation.
  for (int id = 26; id < kNumLetters; ++id)
    if (counts[id] == 1)
      s += labelName(id);
  for (int id = 0; id < 26; ++id)
    if (counts[id] == 1)
      s += labelName(id);
  return s;
}

std::vector<int64_t> BoundEquation::outputShape() const {
  std::vector<int64_t> shape;
  for (int id : output)
    shape.push_back(labelSizes[id]);
  return shape;
}

std::vector<int> BoundEquation::summedLabels() const {
  std::vector<int> summed;
  for (int id = 0, e = labelSizes.size(); id < e; ++id)
    if (labelSizes[id] >= 0 && !llvm::is_contained(output, id))
      summed.push_back(id);
  return summed;
}

bool BoundEquation::repeatsOutputLabel() const {
  for (auto [i, id] : llvm::enumerate(output))
    if (llvm::find(output, id) != output.begin() + i)
      return true;
  return false;
}

BoundEquation BoundEquation::withUniqueOutput() const {
  BoundEquation unique = *this;
  unique.output.clear();
  for (int id : output)
    if (!llvm::is_contained(unique.output, id))
      unique.output.push_back(id);
  return unique;
}

/// Where a label was first given a size, for messages.
struct SizeOrigin {
  int operand = -1;
  int64_t size = -1;
};

llvm::Expected<BoundEquation>
einjit::bindEquation(const Equation &eq,
                     llvm::ArrayRef<std::vector<int64_t>> shapes,
                     llvm::ArrayRef<DType> types) {
  const std::string &text = eq.text;
  int numOperands = eq.inputs.size();
  if ((int)shapes.size() != numOperands)
    return makeEinsumError(formatv("equation has {0} operand{1} but {2} "
                                   "{3} given",
                                   numOperands, numOperands == 1 ? "" : "s",
                                   shapes.size(),
                                   shapes.size() == 1 ? "was" : "were"));
  if (types.size() != shapes.size())
    return makeEinsumError(formatv("{0} dtypes given for {1} operands",
                                   types.size(), shapes.size()));

  // Ranks, and how many dimensions each ellipsis stands for.
  int ellipsisRank = 0;
  std::vector<int> ellipsisRanks(numOperands, 0);
  for (int i = 0; i < numOperands; ++i) {
    const Term &term = eq.inputs[i];
    if (auto size =
            checkTensorSize("operand " + llvm::Twine(i), types[i], shapes[i]);
        !size)
      return size.takeError();
    int rank = shapes[i].size();
    int named = term.labels.size();
    if (!term.hasEllipsis() && rank != named)
      return makeEinsumError(formatv("operand {0} has rank {1} but its "
                                     "subscripts name {2} dimension{3}",
                                     i, rank, named, named == 1 ? "" : "s"),
                             text, term.column);
    if (term.hasEllipsis() && rank < named)
      return makeEinsumError(formatv("operand {0} has rank {1} but its "
                                     "subscripts name {2} dimensions besides "
                                     "'...'",
                                     i, rank, named),
                             text, term.column);
    ellipsisRanks[i] = rank - named;
    ellipsisRank = std::max(ellipsisRank, ellipsisRanks[i]);
  }

  BoundEquation bound;
  bound.text = text;
  bound.labelSizes.assign(kNumLetters + ellipsisRank, -1);
  std::vector<SizeOrigin> origins(bound.labelSizes.size());

  for (int i = 0; i < numOperands; ++i) {
    const Term &term = eq.inputs[i];
    std::vector<int> dims;
    std::vector<int> columns;
    for (int j = 0, e = term.labels.size(); j <= e; ++j) {
      if (j == term.ellipsis) {
        for (int k = 0; k < ellipsisRanks[i]; ++k) {
          dims.push_back(kNumLetters + ellipsisRank - ellipsisRanks[i] + k);
          columns.push_back(term.ellipsisColumn);
        }
      }
      if (j < e) {
        dims.push_back(labelId(term.labels[j]));
        columns.push_back(term.columns[j]);
      }
    }

    for (int d = 0, e = dims.size(); d < e; ++d) {
      int id = dims[d];
      int64_t size = shapes[i][d];
      // A repeated label within one operand takes a diagonal: equal sizes.
      for (int p = 0; p < d; ++p) {
        if (dims[p] == id && shapes[i][p] != size)
          return makeEinsumError(
              formatv("label '{0}' is repeated in operand {1} with sizes {2} "
                      "and {3}; a diagonal needs equal sizes",
                      labelName(id), i, shapes[i][p], size),
              text, columns[d]);
      }
      SizeOrigin &origin = origins[id];
      int64_t &known = bound.labelSizes[id];
      if (known < 0 || known == 1) {
        known = size;
        origin = {i, size};
      } else if (size != known && size != 1) {
        std::string what =
            id < kNumLetters
                ? formatv("label '{0}'", labelName(id)).str()
                : formatv("dimension {0} of '...'", id - kNumLetters).str();
        return makeEinsumError(formatv("{0} has size {1} in operand {2} and "
                                       "{3} in operand {4}",
                                       what, origin.size, origin.operand, size,
                                       i),
                               text, columns[d]);
      }
    }
    bound.inputs.push_back(std::move(dims));
    bound.inputShapes.push_back(shapes[i]);
  }

  // The output.
  if (eq.output) {
    const Term &out = *eq.output;
    if (!out.hasEllipsis() && ellipsisRank > 0)
      return makeEinsumError(
          formatv("the output has no '...' but the operands' ellipsis stands "
                  "for {0} dimension{1}",
                  ellipsisRank, ellipsisRank == 1 ? "" : "s"),
          text, out.column);
    for (int j = 0, e = out.labels.size(); j <= e; ++j) {
      if (j == out.ellipsis)
        for (int k = 0; k < ellipsisRank; ++k)
          bound.output.push_back(kNumLetters + k);
      if (j < e)
        bound.output.push_back(labelId(out.labels[j]));
    }
  } else {
    for (int k = 0; k < ellipsisRank; ++k)
      bound.output.push_back(kNumLetters + k);
    std::vector<int> counts(kNumLetters, 0);
    for (const Term &term : eq.inputs)
      for (char c : term.labels)
        ++counts[labelId(c)];
    // ASCII order: 'A'-'Z' before 'a'-'z'.
    for (int id = 26; id < kNumLetters; ++id)
      if (counts[id] == 1)
        bound.output.push_back(id);
    for (int id = 0; id < 26; ++id)
      if (counts[id] == 1)
        bound.output.push_back(id);
  }

  bound.inputTypes.assign(types.begin(), types.end());
  DType result = types.empty() ? DType::F64 : types[0];
  for (DType t : types)
    result = promoteTypes(result, t);
  bound.resultType = result;
  bound.computeType = accumulatorType(result);
  if (auto size = checkTensorSize("the result", result, bound.outputShape());
      !size)
    return size.takeError();
  return bound;
}

llvm::Expected<BoundEquation>
einjit::bindEquation(llvm::StringRef text,
                     llvm::ArrayRef<std::vector<int64_t>> shapes,
                     llvm::ArrayRef<DType> types, ParseOptions options) {
  auto eq = Equation::parse(text, options);
  if (!eq)
    return eq.takeError();
  return bindEquation(*eq, shapes, types);
}
