#pragma once
// Helpers for the reader tests: files written into a private temporary directory, and an
// assertion that a call throws a given error type whose message contains given parts.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace eigenformer::testing {

// A fresh directory under the system temp dir, removed with its files on destruction.
class TempDir {
 public:
  TempDir() {
    std::random_device random;
    path_ = std::filesystem::temp_directory_path() /
            ("eigenformer-test-" + std::to_string(random()) + "-" + std::to_string(random()));
    std::filesystem::create_directories(path_);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }

  std::string path() const { return path_.string(); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

  std::string write(const std::string& name, const std::string& text) const {
    return write(name, std::vector<unsigned char>(text.begin(), text.end()));
  }
  std::string write(const std::string& name, const std::vector<unsigned char>& bytes) const {
    const std::string where = file(name);
    std::ofstream out(where, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    if (!out) throw std::runtime_error("cannot write test file " + where);
    return where;
  }

 private:
  std::filesystem::path path_;
};

// Passes when `call` throws an `Expected` (or a subclass) whose what() contains every
// one of `parts`; the failure message shows what was thrown instead.
template <typename Expected, typename Call>
::testing::AssertionResult throws_with(Call&& call, const std::vector<std::string>& parts) {
  try {
    call();
  } catch (const Expected& e) {
    const std::string message = e.what();
    for (const auto& part : parts)
      if (message.find(part) == std::string::npos)
        return ::testing::AssertionFailure()
               << "message \"" << message << "\" lacks \"" << part << "\"";
    return ::testing::AssertionSuccess() << message;
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "threw another type: " << e.what();
  }
  return ::testing::AssertionFailure() << "did not throw";
}

}  // namespace eigenformer::testing
