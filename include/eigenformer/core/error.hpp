#pragma once
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace eigenformer {

// Every failure eigenformer reports derives from Error, so a host program can catch
// one type. Messages name the file, tensor or field and what was expected.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A file (safetensors, config.json, vocab, image) is malformed or unsupported.
class FormatError : public Error {
 public:
  using Error::Error;
};

// Tensor or matrix shapes disagree with what an operation or a config expects.
class ShapeError : public Error {
 public:
  using Error::Error;
};

// A caller-supplied argument is out of range (token id, sequence length, option).
class InvalidArgument : public Error {
 public:
  using Error::Error;
};

namespace detail {

template <typename... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}

template <typename Int>
std::string shape_string(const std::vector<Int>& shape) {
  std::ostringstream out;
  out << '[';
  for (std::size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << ']';
  return out.str();
}

}  // namespace detail
}  // namespace eigenformer
