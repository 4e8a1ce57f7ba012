//===- DiskCacheTest.cpp - Kernels reused from disk -----------------------===//
//
// The persistent cache: a kernel compiled once is linked from its file
// after the in-memory cache is cleared (as a new process would), and every
// kind of damage to the file is caught before any of its code runs. The
// reference is a matmul computed here with loops.
//
//===----------------------------------------------------------------------===//

#include "einjit/runtime/Einsum.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include "gtest/gtest.h"

#include <functional>

using namespace einjit;

namespace {

constexpr int64_t M = 13, K = 7, N = 5;

Tensor filled(int64_t rows, int64_t cols, double scale) {
  Tensor t = llvm::cantFail(Tensor::allocate(DType::F64, {rows, cols}));
  for (int64_t i = 0; i < t.numel(); ++i)
    t.data<double>()[i] = (double)(i % 11) * scale - 2.0;
  return t;
}

/// Runs the matmul and checks it against loops.
void expectMatmul() {
  Tensor a = filled(M, K, 0.5), b = filled(K, N, 0.25);
  auto c = einsum("ij,jk->ik", {a, b});
  ASSERT_TRUE(bool(c)) << llvm::toString(c.takeError());
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double ref = 0;
      for (int64_t p = 0; p < K; ++p)
        ref += a.data<double>()[i * K + p] * b.data<double>()[p * N + j];
      ASSERT_EQ(c->data<double>()[i * N + j], ref) << i << "," << j;
    }
}

/// A fresh cache directory, removed (with its files) at the end.
class DiskCacheTest : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("einjit-cache", dir));
    clearCache();
    setCacheDir(dir);
  }
  void TearDown() override {
    setCacheDir("");
    clearCache();
    llvm::sys::fs::remove_directories(dir);
  }

  /// The cache's files (entries and any temporary file left behind).
  std::vector<std::string> files() {
    std::vector<std::string> found;
    std::error_code ec;
    for (llvm::sys::fs::directory_iterator it(dir, ec), end; !ec && it != end;
         it.increment(ec))
      found.push_back(it->path());
    return found;
  }

  /// Rewrites the one entry with `damage` applied to its bytes.
  void damageEntry(const std::function<void(std::string &)> &damage) {
    std::vector<std::string> entries = files();
    ASSERT_EQ(entries.size(), 1u);
    auto buffer = llvm::MemoryBuffer::getFile(entries[0]);
    ASSERT_TRUE(bool(buffer));
    std::string bytes = (*buffer)->getBuffer().str();
    damage(bytes);
    std::error_code ec;
    llvm::raw_fd_ostream os(entries[0], ec);
    ASSERT_FALSE(ec);
    os << bytes;
  }

  llvm::SmallString<128> dir;
};

TEST_F(DiskCacheTest, SecondProcessLinksWithoutCompiling) {
  Tensor a = filled(M, K, 0.5), b = filled(K, N, 0.25);
  auto first = compileEinsum("ij,jk->ik", {a, b});
  ASSERT_TRUE(bool(first)) << llvm::toString(first.takeError());
  EXPECT_FALSE((*first)->loadedFromDisk());
  CacheStats s = cacheStats();
  EXPECT_EQ(s.compiles, 1u);
  EXPECT_EQ(s.diskWrites, 1u);
  EXPECT_EQ(s.diskHits, 0u);
  ASSERT_EQ(files().size(), 1u);
  EXPECT_TRUE(llvm::StringRef(files()[0]).ends_with(".ejk"));

  // As a new process: nothing in memory, the file on disk.
  clearCache();
  auto second = compileEinsum("ab,bc->ac", {a, b}); // the same canonical key
  ASSERT_TRUE(bool(second)) << llvm::toString(second.takeError());
  EXPECT_TRUE((*second)->loadedFromDisk());
  s = cacheStats();
  EXPECT_EQ(s.compiles, 0u);
  EXPECT_EQ(s.diskHits, 1u);
  EXPECT_EQ(s.misses, 1u);
  EXPECT_GT(s.codeBytes, 0u);
  EXPECT_EQ((*second)->path().describe(), (*first)->path().describe());
  EXPECT_EQ((*second)->flops(), (*first)->flops());
  EXPECT_EQ((*second)->workspaceBytes(), (*first)->workspaceBytes());
  expectMatmul();
  EXPECT_EQ(cacheStats().hits, 1u); // from memory now

  // Other shapes are other entries.
  auto other = einsum("ij,jk->ik", {filled(3, K, 1), b});
  ASSERT_TRUE(bool(other)) << llvm::toString(other.takeError());
  EXPECT_EQ(files().size(), 2u);
}

TEST_F(DiskCacheTest, MultiStepPathsAndWorkspacesRoundTrip) {
  // Three operands: a two-step path with an intermediate in the workspace.
  Tensor a = filled(9, 8, 0.5), b = filled(8, 7, 0.25), c = filled(7, 3, 1);
  auto first = einsum("ij,jk,kl->il", {a, b, c});
  ASSERT_TRUE(bool(first)) << llvm::toString(first.takeError());
  clearCache();
  auto kernel = compileEinsum("ij,jk,kl->il", {a, b, c});
  ASSERT_TRUE(bool(kernel)) << llvm::toString(kernel.takeError());
  EXPECT_TRUE((*kernel)->loadedFromDisk());
  EXPECT_EQ((*kernel)->path().steps.size(), 2u);
  EXPECT_GT((*kernel)->workspaceBytes(), 0);
  auto second = (**kernel)({a, b, c});
  ASSERT_TRUE(bool(second)) << llvm::toString(second.takeError());
  for (int64_t i = 0; i < 9; ++i)
    for (int64_t l = 0; l < 3; ++l) {
      double ref = 0;
      for (int64_t j = 0; j < 8; ++j)
        for (int64_t k = 0; k < 7; ++k)
          ref += a.data<double>()[i * 8 + j] * b.data<double>()[j * 7 + k] *
                 c.data<double>()[k * 3 + l];
      EXPECT_NEAR(second->data<double>()[i * 3 + l], ref, 1e-9);
      EXPECT_EQ(second->data<double>()[i * 3 + l],
                first->data<double>()[i * 3 + l]);
    }
}

TEST_F(DiskCacheTest, DamagedEntriesAreCompiledAgainNeverRun) {
  expectMatmul(); // writes the entry
  std::vector<std::string> original;
  {
    auto buffer = llvm::MemoryBuffer::getFile(files()[0]);
    ASSERT_TRUE(bool(buffer));
    original.push_back((*buffer)->getBuffer().str());
  }
  const std::string &good = original[0];
  struct Damage {
    const char *what;
    std::function<void(std::string &)> apply;
  };
  Damage damages[] = {
      {"truncated to half", [](std::string &b) { b.resize(b.size() / 2); }},
      {"truncated inside the header", [](std::string &b) { b.resize(10); }},
      {"empty", [](std::string &b) { b.clear(); }},
      {"a byte appended", [](std::string &b) { b.push_back('x'); }},
      {"a bit flipped in the object code",
       [](std::string &b) { b[b.size() - 40] ^= 0x10; }},
      {"a bit flipped in the key", [](std::string &b) { b[30] ^= 1; }},
      {"a bit flipped in the checksum", [](std::string &b) { b[16] ^= 1; }},
      {"another format version", [](std::string &b) { b[7] = '9'; }},
      {"garbage", [](std::string &b) { b.assign(b.size(), '\xcc'); }},
  };
  size_t rejected = 0;
  for (const Damage &damage : damages) {
    SCOPED_TRACE(damage.what);
    damageEntry(damage.apply);
    clearCache();
    expectMatmul();
    CacheStats s = cacheStats();
    EXPECT_EQ(s.diskRejected, 1u);
    EXPECT_EQ(s.diskHits, 0u);
    EXPECT_EQ(s.compiles, 1u);
    EXPECT_EQ(s.diskWrites, 1u); // replaced by a good entry
    ++rejected;
    // The replacement is a good entry again, byte for byte (the compile is
    // deterministic), and is reused.
    auto buffer = llvm::MemoryBuffer::getFile(files()[0]);
    ASSERT_TRUE(bool(buffer));
    EXPECT_EQ((*buffer)->getBuffer(), good);
    clearCache();
    expectMatmul();
    EXPECT_EQ(cacheStats().diskHits, 1u);
  }
  EXPECT_EQ(rejected, std::size(damages));
}

TEST_F(DiskCacheTest, AnotherSignaturesEntryIsRejected) {
  // A file holding another key's kernel under this key's name, as a hash
  // collision would: the key inside tells them apart.
  Tensor a = filled(M, K, 0.5), b = filled(K, N, 0.25);
  ASSERT_TRUE(bool(einsum("ij,jk->ik", {filled(4, K, 1), b})));
  std::vector<std::string> before = files();
  ASSERT_EQ(before.size(), 1u);
  expectMatmul();
  std::vector<std::string> after = files();
  ASSERT_EQ(after.size(), 2u);
  std::string mine = after[0] == before[0] ? after[1] : after[0];
  ASSERT_FALSE(llvm::sys::fs::copy_file(before[0], mine));
  clearCache();
  expectMatmul();
  EXPECT_EQ(cacheStats().diskRejected, 1u);
  EXPECT_EQ(cacheStats().compiles, 1u);
}

TEST_F(DiskCacheTest, UnwritableDirectoryStillRuns) {
  // The cache directory is a file: nothing can be stored, the calls work.
  llvm::SmallString<128> file(dir);
  llvm::sys::path::append(file, "not-a-directory");
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(file, ec);
    ASSERT_FALSE(ec);
  }
  setCacheDir(file);
  expectMatmul();
  CacheStats s = cacheStats();
  EXPECT_EQ(s.diskFailures, 1u);
  EXPECT_EQ(s.diskWrites, 0u);
  EXPECT_EQ(s.compiles, 1u);
}

TEST_F(DiskCacheTest, NoTemporaryFilesAreLeft) {
  for (int64_t rows : {1, 2, 3, 5, 8})
    ASSERT_TRUE(
        bool(einsum("ij,jk->ik", {filled(rows, K, 1), filled(K, N, 1)})));
  std::vector<std::string> entries = files();
  EXPECT_EQ(entries.size(), 5u);
  for (const std::string &entry : entries)
    EXPECT_TRUE(llvm::StringRef(entry).ends_with(".ejk")) << entry;
}

} // namespace
