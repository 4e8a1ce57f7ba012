//===- NpyTest.cpp - Reading and writing .npy files -----------------------===//

#include "einjit/runtime/Npy.h"

#include "llvm/Support/FileSystem.h"

#include "gtest/gtest.h"

#include <cstring>

using namespace einjit;

namespace {

/// A version 1.0 .npy file with this header dict and raw data.
std::string npyBytes(const std::string &dict, const std::string &data) {
  std::string header = dict;
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::string out = "\x93NUMPY";
  out += char(1);
  out += char(0);
  out += char(header.size() & 0xff);
  out += char(header.size() >> 8);
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

TEST(NpyTest, CorruptFilesAreErrors) {
  float data[6] = {};
  std::string good = "{'descr': '<f4', 'fortran_order': False, "
                     "'shape': (2, 3), }";
  EXPECT_EQ(errorOf("hello"), "x.npy: not a .npy file (bad magic string)");
  EXPECT_EQ(errorOf(npyBytes(good, raw(data, 20))),
            "x.npy: truncated data: shape needs 24 bytes but the file holds "
            "20");
  EXPECT_EQ(errorOf(npyBytes(good, raw(data, 24)).substr(0, 30)),
            "x.npy: truncated header");
  EXPECT_EQ(errorOf(npyBytes("{'descr': '<c8', 'fortran_order': False, "
                             "'shape': (2,), }",
                             raw(data, 16))),
            "x.npy: unsupported dtype '<c8' (einjit reads f16, f32, f64, "
            "i32, i64)");
  EXPECT_EQ(
      errorOf(npyBytes("{'descr': '<f4', 'shape': (2,), }", raw(data, 8))),
      "x.npy: corrupt header (needs descr, fortran_order and shape)");
  EXPECT_EQ(errorOf(npyBytes("{'descr': '<f4', 'fortran_order': False, "
                             "'shape': (2, x), }",
                             raw(data, 8))),
            "x.npy: corrupt shape '(2, x)'");
  EXPECT_EQ(errorOf(npyBytes("not a dict", "")),
            "x.npy: corrupt header (not a dict)");
  std::string v9 = npyBytes(good, raw(data, 24));
  v9[6] = 9;
  EXPECT_EQ(errorOf(v9), "x.npy: unsupported .npy version 9");
  auto missing = readNpy("/nonexistent/dir/a.npy");
  ASSERT_FALSE((bool)missing);
  EXPECT_EQ(llvm::toString(missing.takeError())
                .rfind("/nonexistent/dir/a.npy: cannot read:", 0),
            0u);
}

} // namespace
