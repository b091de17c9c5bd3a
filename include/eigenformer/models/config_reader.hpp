#pragma once
// Checks shared by the model config readers: every failure is a FormatError that names the
// file and the (dotted) field, and says what was expected.

#include <eigenformer/core/error.hpp>
#include <eigenformer/io/json_config.hpp>
#include <eigenformer/nn/activations.hpp>

#include <string>
#include <vector>

namespace eigenformer::detail {

class ConfigReader {
 public:
  explicit ConfigReader(const JsonConfig& json) : json_(json) {}

 protected:
  [[noreturn]] void fail(const std::string& field, const std::string& problem) const {
    throw FormatError(concat(json_.source(), ": field '", json_.path(), field, "' ", problem));
  }

  // A non-empty list of positive sizes; absent keeps `fallback`.
  std::vector<Index> sizes(const std::string& key, std::vector<Index> fallback) const {
    std::vector<Index> values = json_.get_or(key, std::move(fallback));
    if (values.empty()) fail(key, "must not be empty");
    for (std::size_t i = 0; i < values.size(); ++i)
      if (values[i] <= 0 || values[i] > JsonConfig::kMaxSize)
        fail(concat(key, "[", i, "]"), concat("is ", values[i], ", expected a positive size"));
    return values;
  }

  // An activation name as HF configs spell it; absent keeps `fallback`.
  Activation activation(const std::string& key, Activation fallback) const {
    if (!json_.has(key)) return fallback;
    try {
      return parse_activation(json_.get<std::string>(key));
    } catch (const InvalidArgument& e) {
      fail(key, e.what());
    }
  }

  const JsonConfig& json_;
};

}  // namespace eigenformer::detail
