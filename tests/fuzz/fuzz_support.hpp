#pragma once
// Shared by the fuzz targets. The contract they check: any input either loads or fails with
// an eigenformer::Error; anything else (a crash, a sanitizer report, another exception type,
// a broken invariant) is a bug. An exception escaping LLVMFuzzerTestOneInput aborts, which
// libFuzzer reports as a crash with the input saved.

#include <eigenformer/core/error.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <sys/mman.h>
#include <unistd.h>

namespace eigenformer::fuzz {

// An invariant of the library's output; failing it is a bug even without a sanitizer report.
inline void require(bool condition, const char* invariant) {
  if (condition) return;
  std::fprintf(stderr, "fuzz invariant broken: %s\n", invariant);
  std::abort();
}

// Runs `load`, accepting an eigenformer::Error as the answer to a bad input.
template <typename Load>
void expect_load_or_error(Load&& load) {
  try {
    load();
  } catch (const Error&) {
  }
}

// A file in memory (memfd), for the loaders that take a path: each input is written to it
// and read back through /proc/self/fd, with no disk traffic.
class MemoryFile {
 public:
  MemoryFile() : fd_(::memfd_create("eigenformer-fuzz", 0)) {
    require(fd_ >= 0, "memfd_create succeeds");
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;
  ~MemoryFile() { ::close(fd_); }

  // Replaces the contents with `size` bytes at `data`; returns the path to open.
  const std::string& write(const std::uint8_t* data, std::size_t size) {
    require(::ftruncate(fd_, 0) == 0, "ftruncate succeeds");
    for (std::size_t done = 0; done < size;) {
      const ssize_t written = ::pwrite(fd_, data + done, size - done, static_cast<off_t>(done));
      require(written > 0, "pwrite succeeds");
      done += static_cast<std::size_t>(written);
    }
    return path_;
  }

 private:
  int fd_;
  std::string path_;
};

}  // namespace eigenformer::fuzz
