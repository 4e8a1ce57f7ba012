//===- NpyTest.cpp - Reading and writing .npy files -----------------------===//
//
// Headers are built here by hand. What numpy does with each kind of header
// was checked with numpy 2.4 (Python 3.11); test/Inputs/npy/check-headers.py
// checks the same facts against the installed numpy on every lit run.
//
//===----------------------------------------------------------------------===//

#include "einjit/runtime/Npy.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"

#include "gtest/gtest.h"

#include <cstring>
#include <sys/stat.h>

using namespace einjit;

namespace {

/// The list of dtypes every unsupported-dtype message ends with.
const std::string kReads = "(einjit reads bool, ints and uints of 1 to 8 "
                           "bytes, f2, f4, f8, c8, c16, and V2 as bfloat16)";

/// A .npy file with this header dict (padded as numpy pads it) and raw
/// data.
std::string npyBytes(const std::string &dict, const std::string &data,
                     int major = 1, int minor = 0) {
  size_t lengthBytes = major == 1 ? 2 : 4;
  std::string header = dict;
  size_t total = 8 + lengthBytes + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::string out = "\x93NUMPY";
  out += char(major);
  out += char(minor);
  for (size_t i = 0; i < lengthBytes; ++i)
    out += char((header.size() >> (8 * i)) & 0xff);
  return out + header + data;
}

std::string raw(const void *p, size_t n) {
  return std::string(static_cast<const char *>(p), n);
}

std::string errorOf(llvm::StringRef bytes) {
  auto t = parseNpy(bytes, "x.npy");
  if (t)
    return "accepted";
  return llvm::toString(t.takeError());
}

/// "accepted f32(2,3)" or the error of a header with 4096 bytes of data.
std::string verdict(const std::string &dict, int major = 1) {
  auto t = parseNpy(npyBytes(dict, std::string(4096, '\0'), major), "x.npy");
  if (!t)
    return llvm::toString(t.takeError());
  return ("accepted " + dtypeName(t->dtype()) + shapeString(t->shape())).str();
}

std::string dictWithShape(const std::string &shape) {
  return "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
}

TEST(NpyTest, RoundTripEveryDType) {
  llvm::SmallString<128> dir;
  ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("npytest", dir));
  for (DType type :
       {DType::F16, DType::F32, DType::F64, DType::I32, DType::I64}) {
    Tensor t = llvm::cantFail(Tensor::allocate(type, {2, 3}));
    for (size_t i = 0; i < t.nbytes(); ++i)
      static_cast<unsigned char *>(t.data())[i] = i * 7 + 1;
    std::string path = (dir + "/t.npy").str();
    ASSERT_FALSE((bool)writeNpy(path, t));
    auto back = readNpy(path);
    ASSERT_TRUE((bool)back);
    EXPECT_EQ(back->dtype(), type);
    EXPECT_EQ(back->shape(), t.shape());
    EXPECT_EQ(std::memcmp(back->data(), t.data(), t.nbytes()), 0);
  }
  llvm::sys::fs::remove_directories(dir);
}

TEST(NpyTest, FortranOrderBecomesRowMajor) {
  // Column-major 2x3 [[0,1,2],[3,4,5]] is stored 0,3,1,4,2,5.
  double col[] = {0, 3, 1, 4, 2, 5};
  auto t = parseNpy(npyBytes("{'descr': '<f8', 'fortran_order': True, "
                             "'shape': (2, 3), }",
                             raw(col, sizeof(col))),
                    "f.npy");
  ASSERT_TRUE((bool)t);
  for (int i = 0; i < 6; ++i)
    EXPECT_EQ(t->getDouble(i), i);
}

TEST(NpyTest, BigEndianIsSwapped) {
  unsigned char be[] = {0, 0, 0, 7}; // int32 7, big-endian
  auto t = parseNpy(npyBytes("{'descr': '>i4', 'fortran_order': False, "
                             "'shape': (1,), }",
                             raw(be, 4)),
                    "b.npy");
  ASSERT_TRUE((bool)t);
  EXPECT_EQ(t->data<int32_t>()[0], 7);
}

TEST(NpyTest, ScalarShape) {
  float v = 2.5f;
  auto t = parseNpy(
      npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (), }",
               raw(&v, 4)),
      "s.npy");
  ASSERT_TRUE((bool)t);
  EXPECT_EQ(t->rank(), 0);
  EXPECT_EQ(t->getDouble(0), 2.5);
}

TEST(NpyTest, VersionsTwoAndThree) {
  float data[6] = {0, 1, 2, 3, 4, 5};
  std::string dict = dictWithShape("(2, 3)");
  for (int major : {2, 3}) {
    auto t = parseNpy(npyBytes(dict, raw(data, sizeof(data)), major), "v.npy");
    ASSERT_TRUE((bool)t) << major;
    EXPECT_EQ(t->getDouble(5), 5);
  }
  // Python 2's long suffix: numpy drops it in 1.0 and 2.0, not in 3.0.
  EXPECT_EQ(verdict(dictWithShape("(2L, 3)"), 1), "accepted f32(2,3)");
  EXPECT_EQ(verdict(dictWithShape("(2L, 3)"), 2), "accepted f32(2,3)");
  EXPECT_EQ(verdict(dictWithShape("(2L, 3)"), 3),
            "x.npy: corrupt header: invalid number '2L'");
}

TEST(NpyTest, CorruptFilesAreErrors) {
  float data[6] = {};
  std::string good = dictWithShape("(2, 3)");
  std::string file = npyBytes(good, raw(data, 24));
  EXPECT_EQ(errorOf("hello"), "x.npy: not a .npy file (bad magic string)");
  EXPECT_EQ(errorOf(""), "x.npy: not a .npy file (it is empty)");
  EXPECT_EQ(errorOf(npyBytes(good, raw(data, 20))),
            "x.npy: truncated data: shape needs 24 bytes but the file holds "
            "20");
  // Cut anywhere before the data: a truncated header, even inside the
  // magic string.
  EXPECT_EQ(errorOf(file.substr(0, 4)),
            "x.npy: truncated header: the file ends after 4 bytes");
  EXPECT_EQ(errorOf(file.substr(0, 7)),
            "x.npy: truncated header: the file ends after 7 bytes");
  EXPECT_EQ(errorOf(file.substr(0, 9)),
            "x.npy: truncated header: the file ends after 9 bytes");
  EXPECT_EQ(errorOf(file.substr(0, 30)),
            "x.npy: truncated header: the file ends after 30 bytes, its "
            "header after 128");
  EXPECT_EQ(errorOf(npyBytes("{'descr': '<M8[s]', 'fortran_order': False, "
                             "'shape': (2,), }",
                             raw(data, 16))),
            "x.npy: unsupported dtype '<M8[s]' " + kReads);
  EXPECT_EQ(
      errorOf(npyBytes("{'descr': '<f4', 'shape': (2,), }", raw(data, 8))),
      "x.npy: corrupt header: no 'fortran_order' key");
  EXPECT_EQ(errorOf(npyBytes(dictWithShape("(2, x)"), raw(data, 8))),
            "x.npy: corrupt header: unexpected name 'x' (a header holds only "
            "literals)");
  EXPECT_EQ(errorOf(npyBytes("not a dict", "")),
            "x.npy: corrupt header: unexpected name 'not' (a header holds "
            "only literals)");
  for (auto [major, minor] :
       {std::pair{9, 0}, {0, 0}, {1, 1}, {2, 1}, {4, 0}}) {
    std::string v = file;
    v[6] = major;
    v[7] = minor;
    EXPECT_EQ(errorOf(v),
              "x.npy: unsupported .npy version " + std::to_string(major) + "." +
                  std::to_string(minor) + " (einjit reads 1.0, 2.0 and 3.0)");
  }
  // A version 2.0 length of 4 GiB in a small file.
  std::string huge = "\x93NUMPY\x02";
  huge += std::string(1, '\0') + "\xff\xff\xff\xff" + good;
  EXPECT_EQ(errorOf(huge), "x.npy: truncated header: the file ends after 71 "
                           "bytes, its header after 4294967307");
}

// Malformed headers, each with numpy's verdict (np.load, numpy 2.4).
TEST(NpyTest, HeaderTable) {
  struct Row {
    const char *dict;
    std::string expected;
  } rows[] = {
      // What numpy accepts.
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}",
       "accepted f32(2,3)"},
      {"{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2, 3)}",
       "accepted f32(2,3)"},
      {"{'descr':'<f4','fortran_order':False,'shape':(2,3,),}",
       "accepted f32(2,3)"},
      {"{'shape': (), 'fortran_order': False, 'descr': '<f8'}",
       "accepted f64()"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': ( )}",
       "accepted f32()"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (3,)}",
       "accepted f32(3)"},
      {"{'descr': '<f4',\n 'fortran_order': False, # a comment\n "
       "'shape': (2,\n 3)}",
       "accepted f32(2,3)"},
      {"{'descr': '<f8', 'descr': '<i8', 'fortran_order': False, "
       "'shape': (9,), 'shape': (2, 3)}",
       "accepted i64(2,3)"},
      {"{'descr': [('a', '<f4')], 'descr': '<f4', 'fortran_order': False, "
       "'shape': (2, 3)}",
       "accepted f32(2,3)"},
      {"{'des' \"cr\": u'<f4', r'fortran_order': False, '''shape''': "
       "(2, 3)}",
       "accepted f32(2,3)"},
      {"{'\\x64escr': '\\x3cf4', 'fortran_\\157rder': False, "
       "'\\u0073hape': (2, 3)}",
       "accepted f32(2,3)"},
      {"{'descr': '<f4', 'fortran_order': (False), 'shape': ((2, 3))}",
       "accepted f32(2,3)"},
      {"({'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)})",
       "accepted f32(2,3)"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (+2, -0, 0x3, "
       "0o3, 0b1, 1_0, 00)}",
       "accepted f32(2,0,3,3,1,10,0)"},
      {"{'descr': 'f4', 'fortran_order': False, 'shape': (2,)}",
       "accepted f32(2)"},
      {"{'descr': '|i8', 'fortran_order': False, 'shape': (2,)}",
       "accepted i64(2)"},
      {"{'descr': '=f2', 'fortran_order': False, 'shape': (2,)}",
       "accepted f16(2)"},
      {" \n#c\n{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} "
       "# c\n\n",
       "accepted f32(2)"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}\r\n",
       "accepted f32(2)"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} \\\n",
       "accepted f32(2)"},
      // What numpy rejects.
      {"{'descr': '<f4', 'fortran_order': False, 'shape': 3}",
       "x.npy: corrupt header: 'shape' is not a tuple of ints: 3"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (3)}",
       "x.npy: corrupt header: 'shape' is not a tuple of ints: 3"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': [3]}",
       "x.npy: corrupt header: 'shape' is not a tuple of ints: [3]"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': ((3,),)}",
       "x.npy: corrupt header: 'shape' is not a tuple of ints: ((3,),)"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (True, 2)}",
       "x.npy: corrupt header: 'shape' is not a tuple of ints: (True, 2)"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (3.0,)}",
       "x.npy: corrupt header: 'shape' is not a tuple of ints: (3.0,)"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,,3)}",
       "x.npy: corrupt header: expected a value, found ','"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (,)}",
       "x.npy: corrupt header: expected a value, found ','"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3)}",
       "x.npy: corrupt header: negative dimension -3 in the shape (2, -3)"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (--3,)}",
       "x.npy: corrupt header: expected a value, found '-'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (03,)}",
       "x.npy: corrupt header: leading zeros in the integer '03'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1_,)}",
       "x.npy: corrupt header: invalid number '1_'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (3,)*2}",
       "x.npy: corrupt header: expected ',' or '}', found '*'"},
      {"{'descr': '<f4', 'fortran_order': False}",
       "x.npy: corrupt header: no 'shape' key"},
      {"{}", "x.npy: corrupt header: no 'descr' key"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}",
       "x.npy: corrupt header: unexpected key 'x'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 7: 1}",
       "x.npy: corrupt header: unexpected key 7"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), [7]: 1}",
       "x.npy: corrupt header: unhashable key '[7]'"},
      {"{b'descr': '<f4', 'fortran_order': False, 'shape': (2,)}",
       "x.npy: corrupt header: unexpected key b'descr'"},
      {"{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}",
       "x.npy: corrupt header: 'fortran_order' is neither True nor False: "
       "0"},
      {"{'descr': '<f4, 'fortran_order': False, 'shape': (2,)}",
       "x.npy: corrupt header: expected ',' or '}', found 'f'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x",
       "x.npy: corrupt header: unterminated string"},
      {"{'de\nscr': '<f4', 'fortran_order': False, 'shape': (2,)}",
       "x.npy: corrupt header: unterminated string"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} x",
       "x.npy: corrupt header: unexpected 'x' after the header dict"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,)},",
       "x.npy: corrupt header: unexpected ',' after the header dict"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}}",
       "x.npy: corrupt header: unexpected '}' after the header dict"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,)",
       "x.npy: corrupt header: expected ',' or '}', found the end of the "
       "header"},
      {"\n {'descr': '<f4', 'fortran_order': False, 'shape': (2,)}",
       "x.npy: corrupt header: unexpected indentation before the header "
       "dict"},
      {"{'descr': '<f4', 'fortran_order':\v False, 'shape': (2,)}",
       "x.npy: corrupt header: expected a value, found '\\x0b'"},
      {"[{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}]",
       "x.npy: corrupt header: not a dict: [{'descr': '<f4', "
       "'fortran_order': False, 'shape': (2,)}]"},
      {"", "x.npy: corrupt header: the header is empty"},
      {"{'descr': f'<f4', 'fortran_order': False, 'shape': (2,)}",
       "x.npy: corrupt header: an f-string 'f'<f4'' (f-strings are not "
       "literals)"},
      {"{'descr': 'float32', 'fortran_order': False, 'shape': (2,)}",
       "x.npy: unsupported dtype 'float32' " + kReads},
      {"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,)}",
       "x.npy: unsupported dtype [('a', '<f4')] " + kReads},
      {"{'descr': '<f4 ', 'fortran_order': False, 'shape': (2,)}",
       "x.npy: unsupported dtype '<f4 ' " + kReads},
  };
  for (const Row &row : rows)
    EXPECT_EQ(verdict(row.dict), row.expected) << row.dict;
}

TEST(NpyTest, SizesAreCheckedBeforeAllocation) {
  // numpy: "array is too big".
  EXPECT_EQ(verdict(dictWithShape("(4611686018427387904, 0)")),
            "x.npy: the array f32(4611686018427387904,0) is too large (more "
            "than 2^62 bytes, counted over the non-zero dimensions)");
  EXPECT_EQ(verdict(dictWithShape("(0, 4611686018427387904)")),
            "x.npy: the array f32(0,4611686018427387904) is too large (more "
            "than 2^62 bytes, counted over the non-zero dimensions)");
  // Zero-size arrays up to 2^62 bytes are fine, as in numpy.
  EXPECT_EQ(verdict(dictWithShape("(1152921504606846976, 0)")),
            "accepted f32(1152921504606846976,0)");
  // Python ints of any size: an error, not a wrapped value.
  EXPECT_EQ(verdict(dictWithShape("(9223372036854775808,)")),
            "x.npy: dimension 9223372036854775808 does not fit in 64 bits");
  EXPECT_EQ(verdict(dictWithShape("(0, 99999999999999999999999999999)")),
            "x.npy: dimension 99999999999999999999999999999 does not fit in "
            "64 bits");
  EXPECT_EQ(verdict(dictWithShape("(0xffffffffffffffff,)")),
            "x.npy: dimension 0xffffffffffffffff does not fit in 64 bits");
  std::string rank65 = "(";
  for (int i = 0; i < 65; ++i)
    rank65 += "1,";
  EXPECT_EQ(verdict(dictWithShape(rank65 + ")")),
            "x.npy: the array has rank 65; einjit's limit is 64 dimensions");
  // A terabyte promised by a small file: checked against the file first.
  EXPECT_EQ(verdict(dictWithShape("(1099511627776,)")),
            "x.npy: truncated data: shape needs 4398046511104 bytes but the "
            "file holds 4096");
}

TEST(NpyTest, MessagesAreOneEscapedLine) {
  std::string withControl = "{'descr': '\x01\x1b[31m\x7f\xff\\x00', "
                            "'fortran_order': False, 'shape': (2,)}";
  std::string message = verdict(withControl);
  EXPECT_EQ(message, "x.npy: unsupported dtype '\\x01\\x1b[31m\\x7f\\xff"
                     "\\x00' " +
                         kReads);
  // A key with a newline and a quote.
  EXPECT_EQ(verdict("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), "
                    "'a\\n\\'b': 1}"),
            "x.npy: corrupt header: unexpected key 'a\\n\\'b'");
  // A raw NUL is refused whole (Python refuses source with NUL bytes).
  std::string nul = dictWithShape("(2,)");
  nul.insert(10, 1, '\0');
  EXPECT_EQ(verdict(nul), "x.npy: corrupt header: it holds a NUL byte");
  // Long values are cut.
  std::string longDescr = "{'descr': '" + std::string(500, 'z') +
                          "', 'fortran_order': False, 'shape': (2,)}";
  message = verdict(longDescr);
  EXPECT_LT(message.size(), 200u);
  for (const std::string &m : {message, verdict(withControl)})
    for (unsigned char c : m)
      EXPECT_TRUE(c >= 0x20 && c < 0x7f) << m;
}

TEST(NpyTest, HeaderLimits) {
  // np.load's max_header_size: 10000 characters.
  std::string dict = dictWithShape("(2,)");
  auto withLength = [&](size_t length) {
    std::string header = dict + std::string(length - dict.size() - 1, ' ');
    std::string out = "\x93NUMPY\x02";
    out += '\0';
    for (int i = 0; i < 4; ++i)
      out += char((length >> (8 * i)) & 0xff);
    return out + header + "\n" + std::string(8, '\0');
  };
  EXPECT_EQ(errorOf(withLength(10000)), "accepted");
  EXPECT_EQ(errorOf(withLength(10001)),
            "x.npy: header of 10001 characters is longer than 10000 "
            "(np.load's limit)");
  // Deep nesting is an error, not a stack overflow.
  std::string deep = "{'descr': " + std::string(9000, '[') + "}";
  EXPECT_EQ(verdict(deep),
            "x.npy: corrupt header: brackets nest more than 100 deep");
  std::string nested = "{'descr': " + std::string(99, '[') +
                       std::string(99, ']') +
                       ", 'descr': '<f4', 'fortran_order': False, "
                       "'shape': (2,)}";
  EXPECT_EQ(verdict(nested), "accepted f32(2)");
  // Invalid UTF-8 in version 3.0 only (1.0 and 2.0 are latin-1).
  std::string latin = dict + " # \xff";
  EXPECT_EQ(verdict(latin, 2), "accepted f32(2)");
  EXPECT_EQ(verdict(latin, 3), "x.npy: corrupt header: not valid UTF-8 "
                               "(version 3.0 headers are UTF-8)");
}

TEST(NpyTest, OnlyRegularFilesAreRead) {
  auto expectError = [](llvm::StringRef path, llvm::StringRef message) {
    auto t = readNpy(path);
    ASSERT_FALSE((bool)t) << path.str();
    EXPECT_EQ(llvm::toString(t.takeError()), message.str());
  };
  if (llvm::sys::fs::exists("/dev/zero"))
    expectError("/dev/zero",
                "/dev/zero: not a regular file (it is a character device)");
  llvm::SmallString<128> dir;
  ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("npytest", dir));
  expectError(dir, (dir + ": not a regular file (it is a directory)").str());
  std::string fifo = (dir + "/fifo.npy").str();
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  expectError(fifo, fifo + ": not a regular file (it is a FIFO)");
  auto missing = readNpy("/nonexistent/dir/a.npy");
  ASSERT_FALSE((bool)missing);
  EXPECT_EQ(llvm::toString(missing.takeError()),
            "/nonexistent/dir/a.npy: cannot read: No such file or directory");
  llvm::sys::fs::remove_directories(dir);
}

/// numpy's header for a 128-byte preamble: this dict, padded.
std::string numpyHeader(const std::string &dict) {
  std::string out = "\x93NUMPY\x01";
  out += '\0';
  out += "v";
  out += '\0';
  out += dict;
  out.append(127 - out.size(), ' ');
  return out + "\n";
}

TEST(NpyTest, HeaderBytesAreNumpys) {
  // What np.save writes (numpy 2.4), byte for byte, with its spare room
  // for growing the first axis (the last in Fortran order).
  EXPECT_EQ(formatNpyHeader(DType::F32, {2, 3}),
            numpyHeader("{'descr': '<f4', 'fortran_order': False, 'shape': "
                        "(2, 3), }"));
  EXPECT_EQ(formatNpyHeader(DType::F64, {}),
            numpyHeader("{'descr': '<f8', 'fortran_order': False, 'shape': "
                        "(), }"));
  EXPECT_EQ(formatNpyHeader(DType::I32, {5}),
            numpyHeader("{'descr': '<i4', 'fortran_order': False, 'shape': "
                        "(5,), }"));
  EXPECT_EQ(formatNpyHeader(DType::F16, {4, 3}, /*fortranOrder=*/true),
            numpyHeader("{'descr': '<f2', 'fortran_order': True, 'shape': "
                        "(4, 3), }"));
  EXPECT_EQ(formatNpyHeader(DType::I64, {0, 7}),
            numpyHeader("{'descr': '<i8', 'fortran_order': False, 'shape': "
                        "(0, 7), }"));
}

/// The version, header length and data offset of formatted header bytes.
void expectWellFormed(const std::string &header, int major) {
  ASSERT_GE(header.size(), 12u);
  EXPECT_EQ(header.substr(0, 6), "\x93NUMPY");
  EXPECT_EQ(header[6], major);
  EXPECT_EQ(header[7], 0);
  size_t lengthBytes = major == 1 ? 2 : 4;
  uint64_t length = 0;
  for (size_t i = lengthBytes; i-- > 0;)
    length = (length << 8) | (unsigned char)header[8 + i];
  EXPECT_EQ(8 + lengthBytes + length, header.size());
  EXPECT_EQ(header.size() % 64, 0u);
  EXPECT_EQ(header.back(), '\n');
}

TEST(NpyTest, VersionTwoHeaders) {
  // Forced: byte for byte the file numpy loads in npy.test (numpy writes
  // the same bytes with np.lib.format.write_array(version=(2, 0))).
  float data[6] = {0, 1, 2, 3, 4, 5};
  std::string file =
      formatNpyHeader(DType::F32, {2, 3}, false, 2) + raw(data, sizeof(data));
  auto checkedIn =
      llvm::MemoryBuffer::getFile(EINJIT_TEST_INPUTS "/npy/einjit-v2.npy");
  ASSERT_TRUE((bool)checkedIn);
  EXPECT_EQ(file, (*checkedIn)->getBuffer().str());
  expectWellFormed(file.substr(0, file.size() - sizeof(data)), 2);
  auto t = parseNpy(file, "v2.npy");
  ASSERT_TRUE((bool)t);
  EXPECT_EQ(t->getDouble(4), 4);

  // einjit's largest header, rank 64 with 19-digit dimensions, is about
  // 1400 bytes: far from version 1.0's 65535.
  std::vector<int64_t> widest(64, INT64_MAX);
  std::string v1 = formatNpyHeader(DType::F64, widest);
  expectWellFormed(v1, 1);
  EXPECT_LT(v1.size(), 1536u);
  // Only a shape beyond einjit's limits needs version 2.0.
  std::vector<int64_t> tooMany(3200, INT64_MAX);
  std::string v2 = formatNpyHeader(DType::F64, tooMany);
  EXPECT_GT(v2.size(), 65536u);
  expectWellFormed(v2, 2);
  std::vector<int64_t> justFits(3000, INT64_MAX);
  expectWellFormed(formatNpyHeader(DType::F64, justFits), 1);
}

TEST(NpyTest, WriteErrorsAreErrors) {
  Tensor t = llvm::cantFail(Tensor::allocate(DType::F32, {2, 3}));
  if (llvm::sys::fs::exists("/dev/full")) {
    llvm::Error err = writeNpy("/dev/full", t);
    ASSERT_TRUE((bool)err);
    EXPECT_EQ(llvm::toString(std::move(err)),
              "/dev/full: cannot write: No space left on device");
    // More data than the stream buffers.
    Tensor big = llvm::cantFail(Tensor::allocate(DType::F64, {1 << 20}));
    err = writeNpy("/dev/full", big);
    ASSERT_TRUE((bool)err);
    llvm::consumeError(std::move(err));
  }
  llvm::Error err = writeNpy("/nonexistent/dir/out.npy", t);
  ASSERT_TRUE((bool)err);
  EXPECT_EQ(llvm::toString(std::move(err)),
            "/nonexistent/dir/out.npy: cannot write: No such file or "
            "directory");
}

} // namespace
