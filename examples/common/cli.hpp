#pragma once
// Command-line parsing shared by the examples: long options with values, flags and
// positional arguments; a usage error carries exit code 2.

#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace cli {

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Arguments {
 public:
  // `with_value`: options that take a value (--model DIR or --model=DIR); `flags`: options
  // that do not. Anything else starting with "--" is a usage error.
  Arguments(int argc, char** argv, std::set<std::string> with_value, std::set<std::string> flags)
      : with_value_(std::move(with_value)), flags_(std::move(flags)) {
    for (int i = 1; i < argc; ++i) {
      std::string arg = argv[i];
      if (arg == "--") {
        for (++i; i < argc; ++i) positional_.push_back(argv[i]);
        break;
      }
      if (arg.size() < 3 || arg.compare(0, 2, "--") != 0) {
        positional_.push_back(arg);
        continue;
      }
      std::string name = arg.substr(2), value;
      const auto equals = name.find('=');
      const bool inline_value = equals != std::string::npos;
      if (inline_value) value = name.substr(equals + 1), name = name.substr(0, equals);
      if (flags_.count(name) && !inline_value) {
        values_[name] = "";
      } else if (with_value_.count(name)) {
        if (!inline_value) {
          if (i + 1 >= argc) throw UsageError("option --" + name + " needs a value");
          value = argv[++i];
        }
        values_[name] = value;
      } else {
        throw UsageError("unknown option --" + name);
      }
    }
  }

  bool has(const std::string& name) const { return values_.count(name) != 0; }
  const std::vector<std::string>& positional() const { return positional_; }

  std::optional<std::string> get(const std::string& name) const {
    auto found = values_.find(name);
    if (found == values_.end()) return std::nullopt;
    return found->second;
  }

  std::string get_or(const std::string& name, const std::string& fallback) const {
    return get(name).value_or(fallback);
  }

  long get_int(const std::string& name, long fallback, long min, long max) const {
    const auto text = get(name);
    if (!text) return fallback;
    char* end = nullptr;
    const long value = std::strtol(text->c_str(), &end, 10);
    if (text->empty() || *end != '\0' || value < min || value > max)
      throw UsageError("--" + name + " must be an integer in [" + std::to_string(min) + ", " +
                       std::to_string(max) + "], got '" + *text + "'");
    return value;
  }

  double get_double(const std::string& name, double fallback, double min, double max) const {
    const auto text = get(name);
    if (!text) return fallback;
    char* end = nullptr;
    const double value = std::strtod(text->c_str(), &end);
    if (text->empty() || *end != '\0' || !(value >= min && value <= max))
      throw UsageError("--" + name + " must be a number in [" + std::to_string(min) + ", " +
                       std::to_string(max) + "], got '" + *text + "'");
    return value;
  }

 private:
  std::set<std::string> with_value_, flags_;
  std::map<std::string, std::string> values_;
  std::vector<std::string> positional_;
};

}  // namespace cli
