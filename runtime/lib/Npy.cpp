//===- Npy.cpp - NumPy .npy files -----------------------------------------===//
//
// The header of a .npy file is a Python dict literal that numpy reads with
// ast.literal_eval. HeaderParser below accepts the same language, as far as
// a header can use it: Python's tokens (strings with their prefixes, escapes
// and implicit concatenation; ints in every base, floats, imaginary
// numbers), whitespace, comments and line continuations where Python allows
// them, and the displays and constants literal_eval takes. It records only
// what the checks after it need, so its memory is bounded by the header.
//
//===----------------------------------------------------------------------===//

#include "einjit/runtime/Npy.h"
#include "einjit/Spec/Equation.h"
#include "einjit/Spec/Limits.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/ConvertUTF.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SwapByteOrder.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <unistd.h>

using namespace einjit;
using llvm::formatv;
using llvm::StringRef;

/// NumPy's type codes (after the byte-order character) for each dtype.
/// NumPy saves ml_dtypes' bfloat16 as a 2-byte void ("V2"), the only
/// 2-byte void in use, and einjit reads one as bf16.
static constexpr std::pair<DType, llvm::StringLiteral> kNpyCodes[] = {
    {DType::F16, "f2"},  {DType::F32, "f4"}, {DType::F64, "f8"},
    {DType::I32, "i4"},  {DType::I64, "i8"}, {DType::Bool, "b1"},
    {DType::I8, "i1"},   {DType::U8, "u1"},  {DType::I16, "i2"},
    {DType::U16, "u2"},  {DType::U32, "u4"}, {DType::U64, "u8"},
    {DType::BF16, "V2"}, {DType::C64, "c8"}, {DType::C128, "c16"}};

static constexpr llvm::StringLiteral kMagic = "\x93NUMPY";
/// The longest header np.load reads by default (its max_header_size).
static constexpr size_t kMaxHeaderChars = 10000;
/// The deepest nesting of brackets in a header, the dict's own included.
static constexpr int kMaxDepth = 100;
/// numpy's spare room in the header for the digits of a growing axis.
static constexpr size_t kGrowthAxisMaxDigits = 21;

static llvm::Error npyError(StringRef name, const llvm::Twine &what) {
  return makeEinsumError(name + ": " + what);
}

/// `text` for a one-line message, as Python's repr would show it inside
/// quotes: printable ASCII as is, everything else escaped; `quote` is
/// escaped too. More than `limit` bytes are cut, with "...".
static std::string escaped(StringRef text, char quote = 0, size_t limit = 60) {
  std::string out;
  for (unsigned char c : text.take_front(limit)) {
    if (c == '\\' || (quote && c == quote)) {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c >= 0x20 && c < 0x7f) {
      out += c;
    } else {
      out += "\\x";
      out += llvm::hexdigit(c >> 4, /*LowerCase=*/true);
      out += llvm::hexdigit(c & 15, /*LowerCase=*/true);
    }
  }
  if (text.size() > limit)
    out += "...";
  return out;
}

static std::string quoted(StringRef text) {
  return "'" + escaped(text, '\'') + "'";
}

//===----------------------------------------------------------------------===//
// The header literal
//===----------------------------------------------------------------------===//

namespace {

/// A Python literal as ast.literal_eval sees it, reduced to what the checks
/// of the header need.
struct Literal {
  enum Kind {
    Int,
    Float,
    Complex,
    Bool,
    NoneValue,
    EllipsisValue,
    Str,
    Bytes,
    Tuple,
    List,
    Dict,
    Set
  };
  /// The syntax that made it: literal_eval takes a sign only before a
  /// number constant, and a sum only of a real number and an imaginary
  /// constant.
  enum Form { Constant, Signed, Sum, Display };

  Kind kind = NoneValue;
  Form form = Constant;
  /// Whether it can be a dict key or a set element.
  bool hashable = true;
  /// Its text in the header, for messages.
  StringRef source;
  /// Int: its value, when it fits in int64.
  int64_t value = 0;
  bool negative = false;
  bool tooBig = false;
  /// Bool.
  bool truth = false;
  /// Str: the decoded string (code points above 127 as UTF-8).
  std::string text;
  /// Tuple: whether every item is an Int, and then the items.
  bool allInts = true;
  std::vector<Literal> items;
};

/// The last value of each key numpy wants, and the first other key.
struct HeaderDict {
  std::optional<Literal> descr, fortranOrder, shape;
  std::optional<std::string> unexpectedKey;
};

class HeaderParser {
public:
  /// `text` has '\r\n' and '\r' turned into '\n', as Python does; `python2`
  /// accepts Python 2's 'L' after a number, as numpy does in versions 1.0
  /// and 2.0.
  HeaderParser(StringRef text, bool python2) : text(text), python2(python2) {}

  /// The literal of the whole header; the top-level dict's keys go to
  /// `dict`. On failure, `problem` says what is wrong.
  std::optional<Literal> parse(HeaderDict &dict);

  std::string problem;

private:
  StringRef text;
  bool python2;
  size_t pos = 0;

  bool atEnd() const { return pos >= text.size(); }
  char peek(size_t ahead = 0) const {
    return pos + ahead < text.size() ? text[pos + ahead] : '\0';
  }
  static bool isIdentStart(char c) {
    return llvm::isAlpha(c) || c == '_' || (unsigned char)c >= 0x80;
  }
  static bool isIdentChar(char c) {
    return isIdentStart(c) || llvm::isDigit(c);
  }

  std::nullopt_t fail(const llvm::Twine &what) {
    if (problem.empty())
      problem = what.str();
    return std::nullopt;
  }
  std::string found() const {
    if (atEnd())
      return "the end of the header";
    return quoted(text.substr(pos, 1));
  }
  std::nullopt_t expected(StringRef what) {
    return fail("expected " + what + ", found " + found());
  }

  void skipSpace(bool inBrackets);
  /// Skips a comment up to (not past) its newline; true if there was one.
  bool skipComment() {
    if (peek() != '#')
      return false;
    while (!atEnd() && peek() != '\n')
      ++pos;
    return true;
  }
  /// Skips a backslash-newline (a line continuation); true if there was one.
  bool skipContinuation() {
    if (peek() != '\\' || peek(1) != '\n')
      return false;
    pos += 2;
    return true;
  }
  std::optional<Literal> value(int depth, HeaderDict *record);
  std::optional<Literal> unary(int depth, HeaderDict *record);
  std::optional<Literal> atom(int depth, HeaderDict *record);
  std::optional<Literal> tuple(int depth, HeaderDict *record);
  std::optional<Literal> list(int depth);
  std::optional<Literal> dictOrSet(int depth, HeaderDict *record);
  std::optional<Literal> strings(bool inBrackets);
  bool string(bool &isBytes, bool &isFormat, std::string &out);
  bool escape(bool isBytes, std::string &out);
  std::optional<Literal> number();
  std::nullopt_t invalidNumber(size_t start) {
    size_t end = pos;
    while (end < text.size() && isIdentChar(text[end]))
      ++end;
    return fail("invalid number '" + escaped(text.slice(start, end), 0, 30) +
                "'");
  }
  bool digits(int base, std::optional<int64_t> &value);
};

} // namespace

/// Spaces, tabs, form feeds, comments and line continuations; newlines too
/// inside brackets, where Python joins lines.
void HeaderParser::skipSpace(bool inBrackets) {
  while (!atEnd()) {
    char c = peek();
    if (c == ' ' || c == '\t' || c == '\f' || (inBrackets && c == '\n'))
      ++pos;
    else if (!skipComment() && !skipContinuation())
      return;
  }
}

std::optional<Literal> HeaderParser::parse(HeaderDict &dict) {
  // literal_eval strips leading spaces and tabs; after that, lines that are
  // blank or hold a comment may come first, and the line with the dict
  // must not be indented.
  while (peek() == ' ' || peek() == '\t')
    ++pos;
  bool indented = false;
  while (true) {
    char c = peek();
    if (atEnd())
      return fail("the header is empty");
    if (c == ' ' || c == '\t') {
      indented = true;
      ++pos;
    } else if (c == '\f' || c == '\n') {
      indented = false;
      ++pos;
    } else if (skipContinuation()) {
      indented = false;
    } else if (!skipComment()) {
      break;
    }
  }
  if (indented)
    return fail("unexpected indentation before the header dict");
  std::optional<Literal> top = value(0, &dict);
  if (!top)
    return std::nullopt;
  // After it: blank lines and comments only.
  while (!atEnd()) {
    char c = peek();
    if (c == ' ' || c == '\t' || c == '\f' || c == '\n')
      ++pos;
    else if (!skipComment() && !skipContinuation())
      return fail("unexpected " + found() + " after the header dict");
  }
  return top;
}

std::optional<Literal> HeaderParser::value(int depth, HeaderDict *record) {
  size_t start = pos;
  std::optional<Literal> left = unary(depth, record);
  if (!left)
    return std::nullopt;
  skipSpace(depth > 0);
  if (peek() != '+' && peek() != '-')
    return left;
  // A complex number: real + imaginary.
  if ((left->kind != Literal::Int && left->kind != Literal::Float) ||
      left->form == Literal::Sum)
    return fail("unexpected " + found() + " after " +
                escaped(left->source, 0, 30) +
                " (only a real number plus an imaginary number is a "
                "literal)");
  ++pos;
  skipSpace(depth > 0);
  size_t rightStart = pos;
  std::optional<Literal> right = unary(depth, nullptr);
  if (!right)
    return std::nullopt;
  if (right->kind != Literal::Complex || right->form != Literal::Constant)
    return fail("'" + escaped(text.slice(rightStart, pos), 0, 30) +
                "' is not an imaginary number (only a real number plus an "
                "imaginary number is a literal)");
  Literal sum;
  sum.kind = Literal::Complex;
  sum.form = Literal::Sum;
  sum.source = text.slice(start, pos);
  return sum;
}

std::optional<Literal> HeaderParser::unary(int depth, HeaderDict *record) {
  if (peek() != '+' && peek() != '-')
    return atom(depth, record);
  size_t start = pos;
  bool minus = peek() == '-';
  ++pos;
  skipSpace(depth > 0);
  std::optional<Literal> operand = atom(depth, nullptr);
  if (!operand)
    return std::nullopt;
  if (operand->form != Literal::Constant ||
      (operand->kind != Literal::Int && operand->kind != Literal::Float &&
       operand->kind != Literal::Complex))
    return fail("a sign before '" + escaped(operand->source, 0, 30) +
                "' (a sign goes only before a number)");
  operand->form = Literal::Signed;
  operand->source = text.slice(start, pos);
  if (minus && operand->kind == Literal::Int &&
      (operand->value != 0 || operand->tooBig)) {
    operand->negative = true;
    operand->value = -operand->value;
  }
  return operand;
}

std::optional<Literal> HeaderParser::atom(int depth, HeaderDict *record) {
  char c = peek();
  size_t start = pos;
  if (c == '(' || c == '[' || c == '{') {
    if (depth + 1 > kMaxDepth)
      return fail(formatv("brackets nest more than {0} deep", kMaxDepth));
    std::optional<Literal> result = c == '('   ? tuple(depth + 1, record)
                                    : c == '[' ? list(depth + 1)
                                               : dictOrSet(depth + 1, record);
    if (result && result->form == Literal::Display)
      result->source = text.slice(start, pos);
    return result;
  }
  if (c == '\'' || c == '"')
    return strings(depth > 0);
  if (llvm::isDigit(c) || (c == '.' && llvm::isDigit(peek(1))))
    return number();
  if (text.substr(pos).starts_with("...")) {
    pos += 3;
    Literal ellipsis;
    ellipsis.kind = Literal::EllipsisValue;
    ellipsis.source = text.slice(start, pos);
    return ellipsis;
  }
  if (!isIdentStart(c))
    return expected("a value");
  size_t end = pos;
  while (end < text.size() && isIdentChar(text[end]))
    ++end;
  StringRef name = text.slice(pos, end);
  std::string lower = name.lower();
  if ((peek(name.size()) == '\'' || peek(name.size()) == '"') &&
      llvm::is_contained({"r", "u", "b", "f", "br", "rb", "fr", "rf"}, lower))
    return strings(depth > 0);
  pos = end;
  Literal constant;
  constant.source = name;
  if (name == "True" || name == "False") {
    constant.kind = Literal::Bool;
    constant.truth = name == "True";
    return constant;
  }
  if (name == "None") {
    constant.kind = Literal::NoneValue;
    return constant;
  }
  if (name == "set") {
    // literal_eval's one call: an empty set.
    skipSpace(depth > 0);
    if (peek() == '(') {
      ++pos;
      skipSpace(true);
      if (peek() == ')') {
        ++pos;
        constant.kind = Literal::Set;
        constant.form = Literal::Display;
        constant.hashable = false;
        constant.source = text.slice(start, pos);
        return constant;
      }
    }
  }
  return fail("unexpected name " + quoted(name) +
              " (a header holds only literals)");
}

/// After '(': an empty tuple, a parenthesized value or a tuple.
std::optional<Literal> HeaderParser::tuple(int depth, HeaderDict *record) {
  ++pos;
  skipSpace(true);
  Literal tuple;
  tuple.kind = Literal::Tuple;
  tuple.form = Literal::Display;
  if (peek() == ')') {
    ++pos;
    return tuple;
  }
  std::optional<Literal> first = value(depth, record);
  if (!first)
    return std::nullopt;
  skipSpace(true);
  if (peek() == ')') {
    ++pos;
    return first;
  }
  if (peek() != ',')
    return expected("',' or ')'");
  auto add = [&](Literal &item) {
    tuple.hashable &= item.hashable;
    tuple.allInts &= item.kind == Literal::Int;
    if (tuple.allInts)
      tuple.items.push_back(std::move(item));
  };
  add(*first);
  while (true) {
    ++pos; // ','
    skipSpace(true);
    if (peek() == ')')
      break;
    std::optional<Literal> item = value(depth, nullptr);
    if (!item)
      return std::nullopt;
    add(*item);
    skipSpace(true);
    if (peek() == ')')
      break;
    if (peek() != ',')
      return expected("',' or ')'");
  }
  ++pos;
  if (!tuple.allInts)
    tuple.items.clear();
  return tuple;
}

std::optional<Literal> HeaderParser::list(int depth) {
  ++pos;
  Literal list;
  list.kind = Literal::List;
  list.form = Literal::Display;
  list.hashable = false;
  skipSpace(true);
  while (peek() != ']') {
    if (!value(depth, nullptr))
      return std::nullopt;
    skipSpace(true);
    if (peek() == ']')
      break;
    if (peek() != ',')
      return expected("',' or ']'");
    ++pos;
    skipSpace(true);
  }
  ++pos;
  return list;
}

/// After '{': a dict, or a set. The entries of a dict go to `record`.
std::optional<Literal> HeaderParser::dictOrSet(int depth, HeaderDict *record) {
  ++pos;
  Literal result;
  result.form = Literal::Display;
  result.hashable = false;
  result.kind = Literal::Dict;
  skipSpace(true);
  if (peek() == '}') {
    ++pos;
    return result;
  }
  bool first = true;
  while (true) {
    size_t keyStart = pos;
    std::optional<Literal> key = value(depth, nullptr);
    if (!key)
      return std::nullopt;
    skipSpace(true);
    if (first && peek() != ':')
      result.kind = Literal::Set;
    first = false;
    if (!key->hashable)
      return fail("unhashable " +
                  StringRef(result.kind == Literal::Dict ? "key" : "element") +
                  " '" + escaped(text.slice(keyStart, pos).rtrim(), 0, 30) +
                  "'");
    if (result.kind == Literal::Dict) {
      if (peek() != ':')
        return expected("':' after a dict key");
      ++pos;
      skipSpace(true);
      std::optional<Literal> entry = value(depth, nullptr);
      if (!entry)
        return std::nullopt;
      if (record) {
        bool isStr = key->kind == Literal::Str;
        if (isStr && key->text == "descr")
          record->descr = std::move(*entry);
        else if (isStr && key->text == "fortran_order")
          record->fortranOrder = std::move(*entry);
        else if (isStr && key->text == "shape")
          record->shape = std::move(*entry);
        else if (!record->unexpectedKey)
          record->unexpectedKey =
              isStr ? quoted(key->text) : escaped(key->source, 0, 30);
      }
      skipSpace(true);
    }
    char close = '}';
    if (peek() == close)
      break;
    if (peek() != ',')
      return expected("',' or '}'");
    ++pos;
    skipSpace(true);
    if (peek() == close)
      break;
  }
  ++pos;
  return result;
}

/// One or more adjacent string literals, joined.
std::optional<Literal> HeaderParser::strings(bool inBrackets) {
  size_t start = pos;
  Literal result;
  bool anyBytes = false, anyStr = false, anyFormat = false;
  while (true) {
    bool isBytes = false, isFormat = false;
    if (!string(isBytes, isFormat, result.text))
      return std::nullopt;
    (isBytes ? anyBytes : anyStr) = true;
    anyFormat |= isFormat;
    size_t end = pos;
    skipSpace(inBrackets);
    // Another string literal next?
    size_t prefix = 0;
    while (prefix < 2 && llvm::isAlpha(peek(prefix)))
      ++prefix;
    StringRef letters = text.substr(pos, prefix);
    char quote = peek(prefix);
    bool isString =
        (quote == '\'' || quote == '"') &&
        llvm::is_contained({"", "r", "u", "b", "f", "br", "rb", "fr", "rf"},
                           letters.lower());
    if (!isString) {
      pos = end;
      break;
    }
  }
  result.source = text.slice(start, pos);
  if (anyBytes && anyStr)
    return fail("bytes and str literals joined in '" +
                escaped(result.source, 0, 30) + "'");
  if (anyFormat)
    return fail("an f-string '" + escaped(result.source, 0, 30) +
                "' (f-strings are not literals)");
  result.kind = anyBytes ? Literal::Bytes : Literal::Str;
  if (anyBytes)
    result.text.clear();
  return result;
}

/// One string literal with its prefix; its characters are appended to
/// `out`.
bool HeaderParser::string(bool &isBytes, bool &isFormat, std::string &out) {
  bool raw = false;
  while (llvm::isAlpha(peek())) {
    char c = llvm::toLower(peek());
    raw |= c == 'r';
    isBytes |= c == 'b';
    isFormat |= c == 'f';
    ++pos;
  }
  char quote = peek();
  bool triple = peek(1) == quote && peek(2) == quote;
  pos += triple ? 3 : 1;
  while (true) {
    if (atEnd() || (!triple && peek() == '\n')) {
      fail("unterminated string");
      return false;
    }
    char c = peek();
    if (c == quote && (!triple || (peek(1) == quote && peek(2) == quote))) {
      pos += triple ? 3 : 1;
      return true;
    }
    if (isBytes && (unsigned char)c >= 0x80) {
      fail("a bytes literal holds a non-ASCII character");
      return false;
    }
    if (c != '\\') {
      out += c;
      ++pos;
      continue;
    }
    if (pos + 1 >= text.size()) {
      fail("unterminated string");
      return false;
    }
    if (raw) {
      out += text.substr(pos, 2);
      pos += 2;
      continue;
    }
    if (!escape(isBytes, out))
      return false;
  }
}

static void appendCodePoint(uint32_t cp, std::string &out) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xc0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += char(0xe0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3f));
    out += char(0x80 | (cp & 0x3f));
  } else {
    out += char(0xf0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3f));
    out += char(0x80 | ((cp >> 6) & 0x3f));
    out += char(0x80 | (cp & 0x3f));
  }
}

/// The escape sequence at `pos` (a backslash and what follows).
bool HeaderParser::escape(bool isBytes, std::string &out) {
  char c = peek(1);
  pos += 2;
  switch (c) {
  case '\n':
    return true;
  case '\\':
  case '\'':
  case '"':
    out += c;
    return true;
  case 'a':
    out += '\a';
    return true;
  case 'b':
    out += '\b';
    return true;
  case 'f':
    out += '\f';
    return true;
  case 'n':
    out += '\n';
    return true;
  case 'r':
    out += '\r';
    return true;
  case 't':
    out += '\t';
    return true;
  case 'v':
    out += '\v';
    return true;
  default:
    break;
  }
  if (c >= '0' && c <= '7') {
    uint32_t cp = c - '0';
    for (int i = 0; i < 2 && peek() >= '0' && peek() <= '7'; ++i)
      cp = cp * 8 + (text[pos++] - '0');
    appendCodePoint(cp, out);
    return true;
  }
  int hexDigits = c == 'x' ? 2 : isBytes ? 0 : c == 'u' ? 4 : c == 'U' ? 8 : 0;
  if (hexDigits) {
    uint32_t cp = 0;
    for (int i = 0; i < hexDigits; ++i) {
      if (!llvm::isHexDigit(peek())) {
        fail(formatv("truncated \\{0} escape in a string", c));
        return false;
      }
      cp = cp * 16 + llvm::hexDigitValue(text[pos++]);
    }
    if (cp > 0x10ffff) {
      fail("\\U escape beyond U+10FFFF in a string");
      return false;
    }
    appendCodePoint(cp, out);
    return true;
  }
  if (c == 'N' && !isBytes) {
    fail("a \\N{...} escape in a string (einjit does not decode them)");
    return false;
  }
  // Python keeps an unknown escape as it is.
  out += '\\';
  out += c;
  return true;
}

/// Digits of `base` with single '_' between them; `value` becomes nullopt
/// when it exceeds INT64_MAX. False if there is no digit.
bool HeaderParser::digits(int base, std::optional<int64_t> &value) {
  auto isDigit = [&](char c) {
    return llvm::isHexDigit(c) && (int)llvm::hexDigitValue(c) < base;
  };
  if (!isDigit(peek()))
    return false;
  while (true) {
    if (value)
      value = checkedMul(*value, base);
    if (value)
      value = checkedAdd(*value, llvm::hexDigitValue(text[pos]));
    ++pos;
    if (peek() == '_' && isDigit(peek(1)))
      ++pos;
    else if (!isDigit(peek()))
      return true;
  }
}

std::optional<Literal> HeaderParser::number() {
  size_t start = pos;
  Literal number;
  number.kind = Literal::Int;
  std::optional<int64_t> value = 0;
  char radix = llvm::toLower(peek(1));
  if (peek() == '0' && (radix == 'x' || radix == 'o' || radix == 'b')) {
    pos += 2;
    if (peek() == '_')
      ++pos;
    if (!digits(radix == 'x' ? 16 : radix == 'o' ? 8 : 2, value))
      return invalidNumber(start);
  } else {
    std::optional<int64_t> unused;
    bool integerPart = digits(10, value);
    StringRef integer = text.slice(start, pos);
    if (peek() == '.') {
      ++pos;
      number.kind = Literal::Float;
      // "1." is a float; ".5" needs its digits.
      if (!digits(10, unused) && !integerPart)
        return expected("a digit");
    }
    char e = llvm::toLower(peek());
    if (e == 'e' &&
        (llvm::isDigit(peek(1)) ||
         ((peek(1) == '+' || peek(1) == '-') && llvm::isDigit(peek(2))))) {
      pos += llvm::isDigit(peek(1)) ? 1 : 2;
      digits(10, unused);
      number.kind = Literal::Float;
    }
    if (llvm::toLower(peek()) == 'j') {
      ++pos;
      number.kind = Literal::Complex;
    }
    // "0777" is not a Python 3 literal; "000" is.
    if (number.kind == Literal::Int && integer.size() > 1 &&
        integer[0] == '0' && integer.find_first_not_of("0_") != StringRef::npos)
      return fail("leading zeros in the integer '" + escaped(integer, 0, 30) +
                  "'");
  }
  number.source = text.slice(start, pos);
  number.value = value.value_or(0);
  number.tooBig = !value;
  // A letter or digit straight after a number is an error, but for the
  // 'L' of a Python 2 long, which numpy removes in versions 1.0 and 2.0
  // (even after spaces).
  size_t end = pos;
  while (peek() == ' ' || peek() == '\t' || peek() == '\f' ||
         (peek() == '\\' && peek(1) == '\n'))
    pos += peek() == '\\' ? 2 : 1;
  if (python2 && peek() == 'L' && !isIdentChar(peek(1))) {
    ++pos;
    return number;
  }
  pos = end;
  if (isIdentChar(peek()))
    return invalidNumber(start);
  return number;
}

//===----------------------------------------------------------------------===//
// Reading
//===----------------------------------------------------------------------===//

/// The dtype of a header's 'descr', or nullopt if einjit does not read it;
/// `swap` tells whether its bytes need reversing on this host.
static std::optional<DType> parseDescr(StringRef descr, bool &swap) {
  char order = '=';
  if (!descr.empty() && StringRef("<>=|").contains(descr[0])) {
    order = descr[0];
    descr = descr.drop_front();
  }
  for (auto [type, npyCode] : kNpyCodes) {
    if (descr != npyCode)
      continue;
    bool big = order == '>' ||
               ((order == '=' || order == '|') && llvm::sys::IsBigEndianHost);
    swap = big != llvm::sys::IsBigEndianHost;
    return type;
  }
  return std::nullopt;
}

llvm::Expected<Tensor> einjit::parseNpy(StringRef bytes, StringRef name) {
  if (bytes.empty())
    return npyError(name, "not a .npy file (it is empty)");
  if (!bytes.starts_with(kMagic)) {
    if (kMagic.starts_with(bytes))
      return npyError(name, formatv("truncated header: the file ends after "
                                    "{0} bytes",
                                    bytes.size()));
    return npyError(name, "not a .npy file (bad magic string)");
  }
  if (bytes.size() < 8)
    return npyError(name, formatv("truncated header: the file ends after {0} "
                                  "bytes",
                                  bytes.size()));
  unsigned major = (unsigned char)bytes[6], minor = (unsigned char)bytes[7];
  if (major < 1 || major > 3 || minor != 0)
    return npyError(name, formatv("unsupported .npy version {0}.{1} (einjit "
                                  "reads 1.0, 2.0 and 3.0)",
                                  major, minor));
  size_t lengthBytes = major == 1 ? 2 : 4;
  size_t headerStart = 8 + lengthBytes;
  if (bytes.size() < headerStart)
    return npyError(name, formatv("truncated header: the file ends after {0} "
                                  "bytes",
                                  bytes.size()));
  uint64_t headerLen = 0;
  for (size_t i = lengthBytes; i-- > 0;)
    headerLen = (headerLen << 8) | (unsigned char)bytes[8 + i];
  if (bytes.size() - headerStart < headerLen)
    return npyError(name, formatv("truncated header: the file ends after {0} "
                                  "bytes, its header after {1}",
                                  bytes.size(), headerStart + headerLen));
  StringRef header = bytes.substr(headerStart, headerLen);

  // numpy decodes versions 1.0 and 2.0 as latin-1 (any byte is a
  // character), 3.0 as UTF-8.
  size_t chars = header.size();
  if (major == 3) {
    auto *begin = reinterpret_cast<const llvm::UTF8 *>(header.begin());
    if (!llvm::isLegalUTF8String(
            &begin, reinterpret_cast<const llvm::UTF8 *>(header.end())))
      return npyError(name, "corrupt header: not valid UTF-8 (version 3.0 "
                            "headers are UTF-8)");
    chars = llvm::count_if(
        header, [](char c) { return ((unsigned char)c & 0xc0) != 0x80; });
  }
  if (chars > kMaxHeaderChars)
    return npyError(name, formatv("header of {0} characters is longer than "
                                  "{1} (np.load's limit)",
                                  chars, kMaxHeaderChars));
  if (header.contains('\0'))
    return npyError(name, "corrupt header: it holds a NUL byte");
  // Python reads '\r\n' and '\r' as '\n'.
  std::string text;
  text.reserve(header.size());
  for (size_t i = 0; i < header.size(); ++i) {
    if (header[i] != '\r') {
      text += header[i];
      continue;
    }
    text += '\n';
    if (i + 1 < header.size() && header[i + 1] == '\n')
      ++i;
  }

  HeaderDict dict;
  HeaderParser parser(text, /*python2=*/major < 3);
  std::optional<Literal> top = parser.parse(dict);
  if (!top)
    return npyError(name, "corrupt header: " + parser.problem);
  if (top->kind != Literal::Dict)
    return npyError(name,
                    "corrupt header: not a dict: " + escaped(top->source));
  if (dict.unexpectedKey)
    return npyError(name,
                    "corrupt header: unexpected key " + *dict.unexpectedKey);
  using Entry = std::pair<StringRef, const std::optional<Literal> *>;
  for (Entry entry :
       {Entry{"descr", &dict.descr}, Entry{"fortran_order", &dict.fortranOrder},
        Entry{"shape", &dict.shape}})
    if (!*entry.second)
      return npyError(name, "corrupt header: no '" + entry.first + "' key");

  // numpy's checks, in its order.
  const Literal &shapeValue = *dict.shape;
  if (shapeValue.kind != Literal::Tuple || !shapeValue.allInts)
    return npyError(name, "corrupt header: 'shape' is not a tuple of ints: " +
                              escaped(shapeValue.source));
  if (dict.fortranOrder->kind != Literal::Bool)
    return npyError(name, "corrupt header: 'fortran_order' is neither True "
                          "nor False: " +
                              escaped(dict.fortranOrder->source));
  bool fortranOrder = dict.fortranOrder->truth;
  bool swap = false;
  std::optional<DType> dtype;
  if (dict.descr->kind == Literal::Str)
    dtype = parseDescr(dict.descr->text, swap);
  if (!dtype)
    return npyError(name, "unsupported dtype " +
                              (dict.descr->kind == Literal::Str
                                   ? quoted(dict.descr->text)
                                   : escaped(dict.descr->source)) +
                              " (einjit reads bool, ints and uints of 1 to 8 "
                              "bytes, f2, f4, f8, c8, c16, and V2 as "
                              "bfloat16)");

  std::vector<int64_t> shape;
  for (const Literal &dim : shapeValue.items) {
    if (dim.negative)
      return npyError(name, "corrupt header: negative dimension " +
                                escaped(dim.source) + " in the shape " +
                                escaped(shapeValue.source));
    if (dim.tooBig)
      return npyError(name, "dimension " + escaped(dim.source) +
                                " does not fit in 64 bits");
    shape.push_back(dim.value);
  }
  llvm::Expected<int64_t> count = checkTensorSize("the array", *dtype, shape);
  if (!count)
    return npyError(name, llvm::toString(count.takeError()));
  // The product of the dimensions is within 2^62 bytes, so this cannot
  // overflow; the data is checked against the file before any allocation.
  std::optional<int64_t> need = checkedMul(*count, dtypeBytes(*dtype));
  size_t dataStart = headerStart + headerLen;
  size_t available = bytes.size() - dataStart;
  if (!need || (uint64_t)*need > available)
    return npyError(name, formatv("truncated data: shape needs {0} bytes but "
                                  "the file holds {1}",
                                  need.value_or(INT64_MAX), available));

  auto allocated = Tensor::allocate(*dtype, shape);
  if (!allocated)
    return npyError(name, llvm::toString(allocated.takeError()));
  Tensor t = std::move(*allocated);
  size_t nbytes = *need;
  // Bytes swap per number: each part of a complex on its own.
  size_t elem = dtypeBytes(realPart(*dtype));
  std::memcpy(t.data(), bytes.data() + dataStart, nbytes);
  if (swap) {
    auto *p = static_cast<char *>(t.data());
    for (size_t i = 0; i < nbytes; i += elem)
      std::reverse(p + i, p + i + elem);
  }
  // Kernels take a bool as the byte 0 or 1 (their ANDs and ORs are bitwise);
  // NumPy reads any other byte as true.
  if (*dtype == DType::Bool)
    for (auto &b : llvm::MutableArrayRef<uint8_t>(t.data<uint8_t>(), nbytes))
      b = b != 0;
  if (!fortranOrder || shape.size() < 2 || *count == 0)
    return t;
  // Fortran order: the first dimension varies fastest.
  std::vector<int64_t> strides(shape.size());
  std::optional<int64_t> stride = 1;
  for (size_t i = 0; i < shape.size() && stride; ++i) {
    strides[i] = *stride;
    stride = checkedMul(*stride, shape[i]);
  }
  if (!stride)
    return npyError(name, "the array " + shapeString(shape) + " is too large");
  // A view that is already row-major (only one dimension above 1) has the
  // same bytes as `t`; otherwise copy out of `t` before it goes.
  auto view = Tensor::borrow(t.data(), *dtype, shape, strides);
  if (!view)
    return npyError(name, llvm::toString(view.takeError()));
  if (view->isContiguous())
    return t;
  return view->contiguous();
}

static StringRef fileTypeName(llvm::sys::fs::file_type type) {
  using llvm::sys::fs::file_type;
  switch (type) {
  case file_type::directory_file:
    return "a directory";
  case file_type::character_file:
    return "a character device";
  case file_type::block_file:
    return "a block device";
  case file_type::fifo_file:
    return "a FIFO";
  case file_type::socket_file:
    return "a socket";
  default:
    return "of an unknown type";
  }
}

llvm::Expected<Tensor> einjit::readNpy(StringRef path) {
  namespace fs = llvm::sys::fs;
  // A device, FIFO or directory is refused before it is opened: reading
  // /dev/zero would never end, and opening a FIFO blocks.
  fs::file_status status;
  if (std::error_code ec = fs::status(path, status))
    return npyError(path, "cannot read: " + ec.message());
  if (status.type() != fs::file_type::regular_file)
    return npyError(path, "not a regular file (it is " +
                              fileTypeName(status.type()) + ")");
  llvm::Expected<fs::file_t> file = fs::openNativeFileForRead(path);
  if (!file)
    return npyError(path, "cannot read: " + llvm::toString(file.takeError()));
  // The same check on what was opened, in case the path changed since.
  std::error_code ec = fs::status(*file, status);
  if (ec || status.type() != fs::file_type::regular_file) {
    fs::closeFile(*file);
    if (ec)
      return npyError(path, "cannot read: " + ec.message());
    return npyError(path, "not a regular file (it is " +
                              fileTypeName(status.type()) + ")");
  }
  auto buffer =
      llvm::MemoryBuffer::getOpenFile(*file, path, status.getSize(),
                                      /*RequiresNullTerminator=*/false);
  fs::closeFile(*file);
  if (!buffer)
    return npyError(path, "cannot read: " + buffer.getError().message());
  return parseNpy((*buffer)->getBuffer(), path);
}

//===----------------------------------------------------------------------===//
// Writing
//===----------------------------------------------------------------------===//

std::string einjit::formatNpyHeader(DType dtype, llvm::ArrayRef<int64_t> shape,
                                    bool fortranOrder, unsigned minMajor) {
  // numpy's _write_array_header: the keys sorted, each value's repr.
  std::string header = "{'descr': '";
  // One-byte types have no byte order ('|'), as NumPy writes them.
  if (dtypeBytes(dtype) == 1)
    header += '|';
  else
    header += llvm::sys::IsBigEndianHost ? '>' : '<';
  for (auto [type, npyCode] : kNpyCodes)
    if (type == dtype)
      header += npyCode;
  header += "', 'fortran_order': ";
  header += fortranOrder ? "True" : "False";
  header += ", 'shape': (";
  for (auto [i, d] : llvm::enumerate(shape))
    header += (i ? ", " : "") + std::to_string(d);
  header += shape.size() == 1 ? ",), }" : "), }";
  if (!shape.empty()) {
    size_t digits =
        std::to_string(fortranOrder ? shape.back() : shape.front()).size();
    if (digits < kGrowthAxisMaxDigits)
      header.append(kGrowthAxisMaxDigits - digits, ' ');
  }
  // numpy's _wrap_header: spaces and '\n' up to a multiple of 64 bytes
  // (at least one space), with version 1.0's 2-byte length if it fits.
  for (unsigned major = std::max(minMajor, 1u);; ++major) {
    size_t lengthBytes = major == 1 ? 2 : 4;
    size_t unpadded = kMagic.size() + 2 + lengthBytes + header.size() + 1;
    size_t padding = 64 - unpadded % 64;
    size_t length = header.size() + padding + 1;
    if (major == 1 && length > 0xffff)
      continue;
    std::string out = kMagic.str();
    out += char(major);
    out += char(0);
    for (size_t i = 0; i < lengthBytes; ++i)
      out += char((length >> (8 * i)) & 0xff);
    out += header;
    out.append(padding, ' ');
    out += '\n';
    return out;
  }
}

llvm::Error einjit::writeNpy(StringRef path, const Tensor &tensor) {
  auto contiguous = tensor.contiguous();
  if (!contiguous)
    return npyError(path, llvm::toString(contiguous.takeError()));
  const Tensor &t = *contiguous;
  std::string header = formatNpyHeader(t.dtype(), t.shape());

  // A regular file, or a new one, is written beside its name and renamed
  // into place, so that a failed write leaves the old file (or none), never
  // a partial one. Devices, pipes and "-" (standard output) are written
  // directly.
  llvm::sys::fs::file_status status;
  bool exists = !llvm::sys::fs::status(path, status);
  bool direct =
      path == "-" || (exists && !llvm::sys::fs::is_regular_file(status));
  llvm::SmallString<256> target(path);
  if (!direct) {
    int fd;
    if (std::error_code ec =
            llvm::sys::fs::createUniqueFile(path + ".tmp-%%%%%%", fd, target))
      return npyError(path, "cannot write: " + ec.message());
    ::close(fd);
  }
  auto discard = [&](std::error_code ec) {
    if (!direct)
      llvm::sys::fs::remove(target);
    return npyError(path, "cannot write: " + ec.message());
  };

  std::error_code ec;
  llvm::raw_fd_ostream os(target, ec, llvm::sys::fs::OF_None);
  if (ec)
    return discard(ec);
  os << header;
  os.write(static_cast<const char *>(t.data()), t.nbytes());
  os.close();
  if (os.has_error()) {
    ec = os.error();
    // Otherwise the stream's destructor aborts the process.
    os.clear_error();
    return discard(ec);
  }
  if (!direct)
    if (std::error_code renamed = llvm::sys::fs::rename(target, path))
      return discard(renamed);
  return llvm::Error::success();
}
