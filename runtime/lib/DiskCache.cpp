//===- DiskCache.cpp - Kernels' object code on disk -----------------------===//
//
// File layout, little-endian:
//
//   "EINJITK1"            8 bytes of magic (the format's version)
//   payload size          u64
//   xxh3-64 of payload    u64
//   payload:
//     key                 u32 length, bytes
//     workspace bytes     i64
//     path steps          u32 count, each u32 count + i32 value ids
//     object code         u64 length, bytes
//
//===----------------------------------------------------------------------===//

#include "DiskCache.h"

#include "einjit/Spec/Equation.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Support/xxhash.h"

using namespace einjit;
namespace endian = llvm::support::endian;

static constexpr llvm::StringLiteral kMagic = "EINJITK1";
static constexpr size_t kHeaderBytes = 8 + 8 + 8;

std::string einjit::diskEntryPath(llvm::StringRef dir, llvm::StringRef key) {
  llvm::XXH128_hash_t hash = llvm::xxh3_128bits(
      llvm::ArrayRef<uint8_t>(key.bytes_begin(), key.size()));
  llvm::SmallString<256> path(dir);
  llvm::sys::path::append(
      path,
      llvm::formatv("{0:x-16}{1:x-16}.ejk", hash.high64, hash.low64).str());
  return path.str().str();
}

namespace {
/// Reads the payload front to back; any read past its end fails.
class Reader {
public:
  explicit Reader(llvm::StringRef data) : data(data) {}

  template <typename T>
  bool read(T &value) {
    if (data.size() < sizeof(T))
      return false;
    value = endian::read<T, llvm::endianness::little>(data.data());
    data = data.drop_front(sizeof(T));
    return true;
  }
  bool read(std::string &bytes, uint64_t size) {
    if (data.size() < size)
      return false;
    bytes.assign(data.data(), size);
    data = data.drop_front(size);
    return true;
  }
  bool done() const { return data.empty(); }

private:
  llvm::StringRef data;
};

class Writer {
public:
  template <typename T>
  void write(T value) {
    char bytes[sizeof(T)];
    endian::write<T, llvm::endianness::little>(bytes, value);
    out.append(bytes, sizeof(T));
  }
  std::string out;
};
} // namespace

/// Parses a payload into `entry`; false when it does not hold one entry
/// for `key` exactly.
static bool parsePayload(llvm::StringRef payload, llvm::StringRef key,
                         DiskEntry &entry, std::string &why) {
  Reader in(payload);
  uint32_t keyBytes;
  std::string stored;
  if (!in.read(keyBytes) || !in.read(stored, keyBytes)) {
    why = "the key is cut short";
    return false;
  }
  if (stored != key) {
    why = "it holds another signature (a hash collision)";
    return false;
  }
  uint32_t steps;
  if (!in.read(entry.workspaceBytes) || entry.workspaceBytes < 0 ||
      !in.read(steps) || steps > payload.size()) {
    why = "the kernel's description is malformed";
    return false;
  }
  entry.steps.assign(steps, {});
  for (std::vector<int> &step : entry.steps) {
    uint32_t values;
    if (!in.read(values) || values > payload.size()) {
      why = "the kernel's description is malformed";
      return false;
    }
    step.resize(values);
    for (int &value : step) {
      int32_t id;
      if (!in.read(id)) {
        why = "the kernel's description is malformed";
        return false;
      }
      value = id;
    }
  }
  uint64_t objectBytes;
  if (!in.read(objectBytes) || !in.read(entry.object, objectBytes) ||
      !in.done() || entry.object.empty()) {
    why = "the object code is malformed";
    return false;
  }
  return true;
}

DiskRead einjit::readDiskEntry(llvm::StringRef dir, llvm::StringRef key,
                               DiskEntry &entry, std::string &why) {
  std::string path = diskEntryPath(dir, key);
  // Read into memory, not mapped: the file may be replaced meanwhile.
  auto file = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                          /*RequiresNullTerminator=*/false,
                                          /*IsVolatile=*/true);
  if (!file)
    return DiskRead::Missing;
  llvm::StringRef data = (*file)->getBuffer();
  auto reject = [&](const llvm::Twine &reason) {
    why = (path + ": " + reason).str();
    return DiskRead::Rejected;
  };
  if (data.size() < kHeaderBytes || !data.starts_with(kMagic))
    return reject("not an einjit kernel file of this version");
  uint64_t size = endian::read64le(data.data() + 8);
  uint64_t checksum = endian::read64le(data.data() + 16);
  llvm::StringRef payload = data.drop_front(kHeaderBytes);
  if (payload.size() != size)
    return reject(llvm::formatv("{0} bytes of payload where the header says "
                                "{1} (truncated or appended to)",
                                payload.size(), size));
  if (llvm::xxh3_64bits(payload) != checksum)
    return reject("checksum mismatch (the file is corrupt)");
  std::string reason;
  if (!parsePayload(payload, key, entry, reason))
    return reject(reason);
  return DiskRead::Loaded;
}

llvm::Error einjit::writeDiskEntry(llvm::StringRef dir, llvm::StringRef key,
                                   const DiskEntry &entry) {
  Writer payload;
  payload.write<uint32_t>(key.size());
  payload.out.append(key.data(), key.size());
  payload.write<int64_t>(entry.workspaceBytes);
  payload.write<uint32_t>(entry.steps.size());
  for (const std::vector<int> &step : entry.steps) {
    payload.write<uint32_t>(step.size());
    for (int value : step)
      payload.write<int32_t>(value);
  }
  payload.write<uint64_t>(entry.object.size());
  payload.out += entry.object;

  Writer header;
  header.out = kMagic.str();
  header.write<uint64_t>(payload.out.size());
  header.write<uint64_t>(llvm::xxh3_64bits(payload.out));

  auto fail = [&](const llvm::Twine &what, std::error_code ec) {
    return makeEinsumError(("cannot write the kernel cache in '" + dir +
                            "': " + what + ": " + ec.message())
                               .str());
  };
  if (std::error_code ec = llvm::sys::fs::create_directories(
          dir, /*IgnoreExisting=*/true, llvm::sys::fs::perms::owner_all))
    return fail("cannot create it", ec);
  std::string path = diskEntryPath(dir, key);
  int fd;
  llvm::SmallString<256> temp;
  if (std::error_code ec = llvm::sys::fs::createUniqueFile(
          path + ".%%%%%%%%.tmp", fd, temp, llvm::sys::fs::OF_None,
          llvm::sys::fs::perms::owner_read | llvm::sys::fs::perms::owner_write))
    return fail("cannot create a temporary file", ec);
  {
    llvm::raw_fd_ostream os(fd, /*shouldClose=*/true);
    os << header.out << payload.out;
    os.close();
    if (os.has_error()) {
      std::error_code ec = os.error();
      os.clear_error();
      llvm::sys::fs::remove(temp);
      return fail(temp.str(), ec);
    }
  }
  if (std::error_code ec = llvm::sys::fs::rename(temp, path)) {
    llvm::sys::fs::remove(temp);
    return fail(path, ec);
  }
  return llvm::Error::success();
}
