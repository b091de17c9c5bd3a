#pragma once
// A minimal read-only zip reader for the archives torch.save writes: the central directory
// (zip64 included) is parsed and validated up front; entry data is only ever read in place
// from the memory-mapped file. Only STORED (uncompressed) entries can be read, which is
// all torch writes. Every offset and size is checked against the file before use.

#include <eigenformer/core/error.hpp>
#include <eigenformer/io/dtype.hpp>
#include <eigenformer/io/safetensors.hpp>  // detail::FileBytes, detail::multiply_overflows

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace eigenformer {

struct ZipLimits {
  std::uint64_t max_entries = 1u << 20;
  // Verifying CRC-32s costs one pass over the data; the fuzzer turns it off to reach the
  // parsers behind it.
  bool verify_checksums = true;
};

namespace detail {

struct ZipEntry {
  std::string name;
  std::uint16_t method = 0;
  std::uint16_t flags = 0;
  std::uint32_t crc32 = 0;
  std::uint64_t compressed_size = 0;
  std::uint64_t size = 0;
  std::uint64_t local_header = 0;  // absolute file offset (any prefix bytes included)
};

inline std::uint16_t le16(const unsigned char* p) {
  return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}
inline std::uint32_t le32(const unsigned char* p) {
  return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
         (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}
inline std::uint64_t le64(const unsigned char* p) {
  return static_cast<std::uint64_t>(le32(p)) | (static_cast<std::uint64_t>(le32(p + 4)) << 32);
}

// True when [offset, offset + length) lies inside [0, size), without overflowing.
inline bool range_fits(std::uint64_t offset, std::uint64_t length, std::uint64_t size) {
  return offset <= size && length <= size - offset;
}

inline std::uint32_t crc32(const unsigned char* data, std::size_t size) {
  static const std::array<std::uint32_t, 256> table = [] {
    std::array<std::uint32_t, 256> out{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1u) ? 0xedb88320u ^ (c >> 1) : c >> 1;
      out[i] = c;
    }
    return out;
  }();
  std::uint32_t c = 0xffffffffu;
  for (std::size_t i = 0; i < size; ++i) c = table[(c ^ data[i]) & 0xffu] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

class ZipArchive {
 public:
  static std::shared_ptr<const ZipArchive> open(const std::string& path,
                                                const ZipLimits& limits = {}) {
    return std::shared_ptr<const ZipArchive>(
        new ZipArchive(path, std::make_shared<detail::FileBytes>(path), limits));
  }

  // `name` is used in messages.
  static std::shared_ptr<const ZipArchive> from_bytes(const std::string& name,
                                                      std::vector<unsigned char> bytes,
                                                      const ZipLimits& limits = {}) {
    return std::shared_ptr<const ZipArchive>(
        new ZipArchive(name, std::make_shared<detail::FileBytes>(std::move(bytes)), limits));
  }

  // Wraps bytes already in memory (so a caller can look at them before deciding).
  static std::shared_ptr<const ZipArchive> from_file_bytes(
      const std::string& name, std::shared_ptr<const detail::FileBytes> bytes,
      const ZipLimits& limits = {}) {
    return std::shared_ptr<const ZipArchive>(new ZipArchive(name, std::move(bytes), limits));
  }

  const std::string& path() const { return path_; }
  const std::vector<ZipEntry>& entries() const { return entries_; }
  // Bytes before the archive proper (a self-extracting stub, a concatenated header).
  std::uint64_t prefix_bytes() const { return prefix_; }
  // The file bytes; entry data points into them.
  const std::shared_ptr<const detail::FileBytes>& file() const { return bytes_; }

  const ZipEntry* find(const std::string& name) const {
    auto found = index_.find(name);
    return found == index_.end() ? nullptr : &entries_[found->second];
  }

  // The data of a STORED entry, in place; checked against its local header and CRC-32.
  const unsigned char* data(const ZipEntry& entry) const {
    if (entry.flags & 1u) fail("entry '", entry.name, "' is encrypted");
    if (entry.method != 0)
      fail("entry '", entry.name, "' uses compression method ", entry.method,
           entry.method == 8 ? " (deflate)" : "",
           "; only stored (uncompressed) entries are supported, as torch.save writes them");
    if (entry.compressed_size != entry.size)
      fail("entry '", entry.name, "' is stored but its compressed size ", entry.compressed_size,
           " differs from its size ", entry.size);
    const std::uint64_t file_size = bytes_->size();
    const unsigned char* base = bytes_->data();
    if (!detail::range_fits(entry.local_header, 30, file_size) ||
        detail::le32(base + entry.local_header) != 0x04034b50u)
      fail("entry '", entry.name, "': no local header at offset ", entry.local_header);
    const unsigned char* local = base + entry.local_header;
    const std::uint16_t name_length = detail::le16(local + 26);
    const std::uint16_t extra_length = detail::le16(local + 28);
    const std::uint64_t begin = entry.local_header + 30 + name_length + extra_length;
    if (name_length != entry.name.size() ||
        !detail::range_fits(entry.local_header + 30, name_length, file_size) ||
        entry.name.compare(0, std::string::npos, reinterpret_cast<const char*>(local + 30),
                           name_length) != 0)
      fail("entry '", entry.name, "': local header names a different entry");
    if (detail::le16(local + 8) != entry.method)
      fail("entry '", entry.name, "': local header disagrees on the compression method");
    if (!detail::range_fits(begin, entry.size, file_size))
      fail("entry '", entry.name, "': data [", begin, ", +", entry.size,
           ") runs past the end of the file (", file_size,
           " bytes): truncated or not a zip archive");
    if (limits_.verify_checksums &&
        detail::crc32(base + begin, static_cast<std::size_t>(entry.size)) != entry.crc32)
      fail("entry '", entry.name, "': CRC-32 mismatch (corrupt file)");
    return base + begin;
  }

 private:
  ZipArchive(std::string path, std::shared_ptr<const detail::FileBytes> bytes,
             const ZipLimits& limits)
      : path_(std::move(path)), bytes_(std::move(bytes)), limits_(limits) {
    parse();
  }

  template <typename... Parts>
  [[noreturn]] void fail(const Parts&... parts) const {
    throw FormatError(detail::concat(path_, ": ", parts...));
  }

  // The end-of-central-directory record: the last signature, searched backwards over the
  // largest possible comment, whose comment fits in the file.
  std::uint64_t find_end_record() const {
    const std::uint64_t size = bytes_->size();
    const unsigned char* base = bytes_->data();
    if (size >= 22) {
      const std::uint64_t lowest = size - 22 > 0xffff ? size - 22 - 0xffff : 0;
      for (std::uint64_t pos = size - 22 + 1; pos-- > lowest;)
        if (detail::le32(base + pos) == 0x06054b50u &&
            pos + 22 + detail::le16(base + pos + 20) <= size)
          return pos;
    }
    fail("truncated or not a zip archive (no end-of-central-directory record in its ", size,
         " bytes)");
  }

  void parse() {
    const std::uint64_t size = bytes_->size();
    const unsigned char* base = bytes_->data();
    const std::uint64_t end_record = find_end_record();
    const unsigned char* eocd = base + end_record;
    std::uint64_t entry_count = detail::le16(eocd + 10);
    std::uint64_t directory_size = detail::le32(eocd + 12);
    std::uint64_t directory_offset = detail::le32(eocd + 16);
    if (detail::le16(eocd + 4) != 0 || detail::le16(eocd + 6) != 0 ||
        detail::le16(eocd + 8) != detail::le16(eocd + 10))
      fail("multi-disk zip archives are not supported");
    // The central directory ends where the (zip64) end record begins; the difference from
    // the declared offset is the number of prefix bytes.
    std::uint64_t directory_end = end_record;
    if (end_record >= 20 && detail::le32(eocd - 20) == 0x07064b50u) {
      const std::uint64_t locator = end_record - 20;
      const std::uint64_t declared = detail::le64(base + locator + 8);
      // The zip64 end record normally sits right before its locator; otherwise trust the
      // declared offset (no prefix).
      std::uint64_t record = locator >= 56 ? locator - 56 : size;
      if (record >= size || detail::le32(base + record) != 0x06064b50u) record = declared;
      if (!detail::range_fits(record, 56, size) || detail::le32(base + record) != 0x06064b50u)
        fail("zip64 end-of-central-directory record missing (truncated or not a zip archive)");
      if (detail::le32(base + record + 16) != 0 || detail::le32(base + record + 20) != 0)
        fail("multi-disk zip archives are not supported");
      entry_count = detail::le64(base + record + 32);
      directory_size = detail::le64(base + record + 40);
      directory_offset = detail::le64(base + record + 48);
      directory_end = record;
    } else if (entry_count == 0xffff || directory_size == 0xffffffffu ||
               directory_offset == 0xffffffffu) {
      fail("zip64 archive without its zip64 end-of-central-directory locator (truncated?)");
    }
    if (directory_size > directory_end)
      fail("central directory of ", directory_size, " bytes does not fit before offset ",
           directory_end, ": truncated or not a zip archive");
    const std::uint64_t directory = directory_end - directory_size;
    if (directory_offset > directory)
      fail("central directory offset ", directory_offset, " lies past where it ends (", directory,
           "): truncated or not a zip archive");
    prefix_ = directory - directory_offset;
    if (entry_count > limits_.max_entries)
      fail("archive lists ", entry_count, " entries, more than the limit of ", limits_.max_entries);
    if (entry_count > directory_size / 46)
      fail("archive lists ", entry_count, " entries, but its central directory has only ",
           directory_size, " bytes");
    entries_.reserve(static_cast<std::size_t>(entry_count));
    std::uint64_t pos = directory;
    for (std::uint64_t i = 0; i < entry_count; ++i) {
      const std::uint64_t end = directory + directory_size;
      if (!detail::range_fits(pos, 46, end) || detail::le32(base + pos) != 0x02014b50u)
        fail("central directory entry ", i, " at offset ", pos, " is malformed");
      const unsigned char* header = base + pos;
      ZipEntry entry;
      entry.flags = detail::le16(header + 8);
      entry.method = detail::le16(header + 10);
      entry.crc32 = detail::le32(header + 16);
      entry.compressed_size = detail::le32(header + 20);
      entry.size = detail::le32(header + 24);
      const std::uint64_t name_length = detail::le16(header + 28);
      const std::uint64_t extra_length = detail::le16(header + 30);
      const std::uint64_t comment_length = detail::le16(header + 32);
      std::uint64_t local = detail::le32(header + 42);
      if (!detail::range_fits(pos + 46, name_length + extra_length + comment_length, end))
        fail("central directory entry ", i, " runs past the directory");
      entry.name.assign(reinterpret_cast<const char*>(header + 46), name_length);
      read_zip64_extra(entry, local, header + 46 + name_length, extra_length,
                       detail::le16(header + 34));
      if (local > UINT64_MAX - prefix_ || !detail::range_fits(local + prefix_, 30, size))
        fail("entry '", entry.name, "': local header offset ", local,
             " is past the end of the file: truncated or not a zip archive");
      entry.local_header = local + prefix_;
      if (!index_.emplace(entry.name, entries_.size()).second)
        fail("duplicate entry '", entry.name, "'");
      entries_.push_back(std::move(entry));
      pos += 46 + name_length + extra_length + comment_length;
    }
  }

  // The zip64 extended information field holds, in this order and only for the fields
  // whose 32-bit value is saturated: size, compressed size, local header offset, disk.
  void read_zip64_extra(ZipEntry& entry, std::uint64_t& local, const unsigned char* extra,
                        std::uint64_t length, std::uint16_t disk) const {
    const bool want_size = entry.size == 0xffffffffu;
    const bool want_compressed = entry.compressed_size == 0xffffffffu;
    const bool want_local = local == 0xffffffffu;
    for (std::uint64_t at = 0; at + 4 <= length;) {
      const std::uint16_t id = detail::le16(extra + at);
      const std::uint64_t field = detail::le16(extra + at + 2);
      if (field > length - at - 4) fail("entry '", entry.name, "': extra field runs past its end");
      if (id == 0x0001) {
        const unsigned char* p = extra + at + 4;
        std::uint64_t left = field;
        auto take = [&](std::uint64_t& out) {
          if (left < 8) fail("entry '", entry.name, "': zip64 extra field is too short");
          out = detail::le64(p);
          p += 8;
          left -= 8;
        };
        if (want_size) take(entry.size);
        if (want_compressed) take(entry.compressed_size);
        if (want_local) take(local);
        if (disk == 0xffff && (left < 4 || detail::le32(p) != 0))
          fail("multi-disk zip archives are not supported");
        return;
      }
      at += 4 + field;
    }
    if (want_size || want_compressed || want_local)
      fail("entry '", entry.name, "': saturated size or offset without a zip64 extra field");
    if (disk != 0) fail("multi-disk zip archives are not supported");
  }

  std::string path_;
  std::shared_ptr<const detail::FileBytes> bytes_;
  ZipLimits limits_;
  std::uint64_t prefix_ = 0;
  std::vector<ZipEntry> entries_;
  std::map<std::string, std::size_t> index_;
};

}  // namespace detail

}  // namespace eigenformer
