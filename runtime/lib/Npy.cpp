//===- Npy.cpp - NumPy .npy files -----------------------------------------===//

#include "einjit/runtime/Npy.h"
#include "einjit/Spec/Equation.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cstring>

using namespace einjit;
using llvm::formatv;
using llvm::StringRef;

/// NumPy's type codes (after the byte-order character) for each dtype.
static constexpr std::pair<DType, llvm::StringLiteral> kNpyCodes[] = {
    {DType::F16, "f2"},
    {DType::F32, "f4"},
    {DType::F64, "f8"},
    {DType::I32, "i4"},
    {DType::I64, "i8"}};

static llvm::Error npyError(StringRef name, const llvm::Twine &what) {
  return makeEinsumError(name + ": " + what);
}

/// The value of `key` in the header dict, up to the next top-level ','.
static std::optional<StringRef> headerValue(StringRef header, StringRef key) {
  for (char quote : {'\'', '"'}) {
    std::string needle = std::string(1, quote) + key.str() + quote;
    size_t at = header.find(needle);
    if (at == StringRef::npos)
      continue;
    StringRef rest = header.substr(at + needle.size()).ltrim();
    if (!rest.consume_front(":"))
      return std::nullopt;
    rest = rest.ltrim();
    if (rest.starts_with("(")) {
      size_t close = rest.find(')');
      if (close == StringRef::npos)
        return std::nullopt;
      return rest.substr(0, close + 1);
    }
    size_t end = rest.find_first_of(",}");
    return rest.substr(0, end).trim();
  }
  return std::nullopt;
}

llvm::Expected<Tensor> einjit::parseNpy(StringRef bytes, StringRef name) {
  if (bytes.size() < 10 || !bytes.starts_with("\x93NUMPY"))
    return npyError(name, "not a .npy file (bad magic string)");
  unsigned major = (unsigned char)bytes[6];
  size_t headerLen, headerStart;
  if (major == 1) {
    headerLen = (unsigned char)bytes[8] | ((unsigned char)bytes[9] << 8);
    headerStart = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12)
      return npyError(name, "truncated header");
    headerLen = 0;
    for (int i = 3; i >= 0; --i)
      headerLen = (headerLen << 8) | (unsigned char)bytes[8 + i];
    headerStart = 12;
  } else {
    return npyError(name, formatv("unsupported .npy version {0}", major));
  }
  if (bytes.size() < headerStart + headerLen)
    return npyError(name, "truncated header");
  StringRef header = bytes.substr(headerStart, headerLen).trim();
  if (!header.starts_with("{") || !header.ends_with("}"))
    return npyError(name, "corrupt header (not a dict)");

  auto descr = headerValue(header, "descr");
  auto fortran = headerValue(header, "fortran_order");
  auto shapeText = headerValue(header, "shape");
  if (!descr || !fortran || !shapeText)
    return npyError(name, "corrupt header (needs descr, fortran_order and "
                          "shape)");
  StringRef d = descr->trim("'\"");
  if (d.size() < 2)
    return npyError(name, formatv("corrupt dtype '{0}'", d));
  char order = d[0];
  StringRef code = d.drop_front();
  std::optional<DType> dtype;
  for (auto [type, npyCode] : kNpyCodes)
    if (code == npyCode)
      dtype = type;
  if (!dtype || (order != '<' && order != '>' && order != '=' && order != '|'))
    return npyError(name, formatv("unsupported dtype '{0}' (einjit reads "
                                  "f16, f32, f64, i32, i64)",
                                  d));
  bool swap = order == '>';

  bool isFortran;
  if (*fortran == "True")
    isFortran = true;
  else if (*fortran == "False")
    isFortran = false;
  else
    return npyError(name, formatv("corrupt fortran_order '{0}'", *fortran));

  std::vector<int64_t> shape;
  StringRef dims = shapeText->trim("()");
  llvm::SmallVector<StringRef> parts;
  dims.split(parts, ',');
  for (StringRef p : parts) {
    p = p.trim();
    if (p.empty())
      continue;
    int64_t v;
    if (p.getAsInteger(10, v) || v < 0)
      return npyError(name, formatv("corrupt shape '{0}'", *shapeText));
    shape.push_back(v);
  }

  size_t elem = dtypeBytes(*dtype);
  double count = 1;
  for (int64_t v : shape)
    count *= v;
  size_t dataStart = headerStart + headerLen;
  size_t available = bytes.size() - dataStart;
  if (count * elem > (double)available)
    return npyError(name, formatv("truncated data: shape needs {0} bytes but "
                                  "the file holds {1}",
                                  (uint64_t)(count * elem), available));

  auto allocated = Tensor::allocate(*dtype, shape);
  if (!allocated)
    return npyError(name, llvm::toString(allocated.takeError()));
  Tensor t = std::move(*allocated);
  size_t nbytes = t.nbytes();
  std::memcpy(t.data(), bytes.data() + dataStart, nbytes);
  if (swap) {
    auto *p = static_cast<char *>(t.data());
    for (size_t i = 0; i < nbytes; i += elem)
      std::reverse(p + i, p + i + elem);
  }
  if (isFortran && shape.size() > 1) {
    std::vector<int64_t> strides(shape.size());
    int64_t s = 1;
    for (size_t i = 0; i < shape.size(); ++i) {
      strides[i] = s;
      s *= std::max<int64_t>(shape[i], 1);
    }
    // A view that is already row-major (only one dimension above 1) has
    // the same bytes as `t`; otherwise copy out of `t` before it goes.
    auto view = Tensor::borrow(t.data(), *dtype, shape, strides);
    if (!view)
      return view.takeError();
    if (view->isContiguous())
      return t;
    return view->contiguous();
  }
  return t;
}

llvm::Expected<Tensor> einjit::readNpy(StringRef path) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    return npyError(path, "cannot read: " + buffer.getError().message());
  return parseNpy((*buffer)->getBuffer(), path);
}

llvm::Error einjit::writeNpy(StringRef path, const Tensor &tensor) {
  auto contiguous = tensor.contiguous();
  if (!contiguous)
    return contiguous.takeError();
  const Tensor &t = *contiguous;
  std::string descr;
  for (auto [type, npyCode] : kNpyCodes)
    if (type == t.dtype())
      descr = ("<" + npyCode).str();
  std::string shape = "(";
  for (int64_t d : t.shape())
    shape += std::to_string(d) + ", ";
  if (t.rank() > 1)
    shape.resize(shape.size() - 2);
  else if (t.rank() == 1)
    shape.resize(shape.size() - 1);
  shape += ")";
  std::string header = "{'descr': '" + descr +
                       "', 'fortran_order': False, 'shape': " + shape + ", }";
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';

  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec, llvm::sys::fs::OF_None);
  if (ec)
    return npyError(path, "cannot write: " + ec.message());
  os << "\x93NUMPY" << char(1) << char(0) << char(header.size() & 0xff)
     << char(header.size() >> 8) << header;
  os.write(static_cast<const char *>(t.data()), t.nbytes());
  os.close();
  if (os.has_error())
    return npyError(path, "write failed");
  return llvm::Error::success();
}
