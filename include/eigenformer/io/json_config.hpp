#pragma once
// Typed, validating access to a HuggingFace `config.json`-style file. Every failure is a
// FormatError naming the file, the field (dotted path for nested objects, [i] for array
// elements) and what was expected, so a loader never has to check types itself.

#include <eigenformer/core/error.hpp>
#include <eigenformer/core/types.hpp>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace eigenformer {
namespace detail {

// A short description of a JSON value for messages. Containers are summarised, not dumped:
// dump() recurses, and a hostile file nested a million levels deep would overflow the stack.
inline std::string describe_json(const nlohmann::json& value) {
  if (value.is_null()) return "null";
  if (value.is_array()) return concat("an array of size ", value.size());
  if (value.is_object()) return concat("an object of size ", value.size());
  std::string shown = value.dump();
  if (shown.size() > 60) shown = shown.substr(0, 57) + "...";
  return concat(value.type_name(), " ", shown);
}

// Where a value sits: the file and the field's path inside it.
struct JsonLocation {
  const std::string& file;
  std::string field;

  [[noreturn]] void fail(const std::string& expected, const nlohmann::json& got) const {
    throw FormatError(
        concat(file, ": field '", field, "' must be ", expected, ", got ", describe_json(got)));
  }
};

// JsonReader<V>::read(value, location) converts or throws; `expected()` describes V for
// messages. Types without a specialization do not compile.
template <typename V, typename = void>
struct JsonReader;

template <>
struct JsonReader<bool> {
  static std::string expected() { return "a boolean"; }
  static bool read(const nlohmann::json& value, const JsonLocation& where) {
    if (!value.is_boolean()) where.fail(expected(), value);
    return value.get<bool>();
  }
};

// One specialization for every integer type, so Index and std::int64_t (the same type on
// LP64 platforms, different ones elsewhere) never collide.
template <typename Int>
struct JsonReader<Int, std::enable_if_t<std::is_integral_v<Int> && !std::is_same_v<Int, bool>>> {
  using Limits = std::numeric_limits<Int>;
  static std::string expected() {
    return concat("an integer in [", +Limits::min(), ", ", +Limits::max(), "]");
  }
  static Int read(const nlohmann::json& value, const JsonLocation& where) {
    // nlohmann stores parsed non-negative integers as unsigned, negative ones as signed;
    // floats (even 3.0) are rejected: a size written as a float is a broken config.
    if (value.is_number_unsigned()) {
      const auto number = value.get<std::uint64_t>();
      if (number <= static_cast<std::uint64_t>(Limits::max())) return static_cast<Int>(number);
    } else if (value.is_number_integer()) {
      const auto number = value.get<std::int64_t>();
      if (fits(number)) return static_cast<Int>(number);
    }
    where.fail(expected(), value);
  }

 private:
  static bool fits(std::int64_t number) {
    if constexpr (std::is_signed_v<Int>)
      return number >= static_cast<std::int64_t>(Limits::min()) &&
             number <= static_cast<std::int64_t>(Limits::max());
    else
      return number >= 0 && static_cast<std::uint64_t>(number) <= Limits::max();
  }
};

template <typename Real>
struct JsonReader<Real, std::enable_if_t<std::is_floating_point_v<Real>>> {
  static std::string expected() { return "a number"; }
  static Real read(const nlohmann::json& value, const JsonLocation& where) {
    if (!value.is_number()) where.fail(expected(), value);
    const double number = value.get<double>();
    if (std::abs(number) > static_cast<double>(std::numeric_limits<Real>::max()))
      where.fail(concat("a number within +-", std::numeric_limits<Real>::max()), value);
    return static_cast<Real>(number);
  }
};

template <>
struct JsonReader<std::string> {
  static std::string expected() { return "a string"; }
  static std::string read(const nlohmann::json& value, const JsonLocation& where) {
    if (!value.is_string()) where.fail(expected(), value);
    return value.get<std::string>();
  }
};

template <typename Element>
struct JsonReader<std::vector<Element>> {
  static std::string expected() {
    return "an array (each element " + JsonReader<Element>::expected() + ")";
  }
  static std::vector<Element> read(const nlohmann::json& value, const JsonLocation& where) {
    if (!value.is_array()) where.fail(expected(), value);
    std::vector<Element> out;
    out.reserve(value.size());
    for (std::size_t i = 0; i < value.size(); ++i)
      out.push_back(JsonReader<Element>::read(
          value[i], JsonLocation{where.file, concat(where.field, "[", i, "]")}));
    return out;
  }
};

// Documents nested deeper than this are refused while parsing: nlohmann's copy constructor
// and dump() recurse, so a file nested a million levels deep would overflow the stack
// wherever a value is copied or printed. HF's files nest fewer than ten levels.
inline constexpr int kMaxJsonDepth = 512;

// Parses a JSON file; every failure (unreadable, malformed, too deep) is a FormatError.
inline nlohmann::json read_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FormatError(concat(path, ": cannot open file: ", std::strerror(errno)));
  std::string text;
  char buffer[1 << 14];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) text.append(buffer, in.gcount());
  if (in.bad())  // e.g. the path is a directory
    throw FormatError(concat(path, ": cannot read file: ", std::strerror(errno)));
  // `depth` counts the containers around the one starting.
  const auto limit_depth = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json&) {
    using Event = nlohmann::json::parse_event_t;
    if ((event == Event::object_start || event == Event::array_start) && depth >= kMaxJsonDepth)
      throw FormatError(
          concat(path, ": JSON nested deeper than the limit of ", kMaxJsonDepth, " levels"));
    return true;
  };
  try {
    return nlohmann::json::parse(text, limit_depth);
  } catch (const nlohmann::json::parse_error& e) {
    throw FormatError(concat(path, ": invalid JSON at byte ", e.byte, ": ", e.what()));
  } catch (const nlohmann::json::exception& e) {  // out_of_range: a number like 1e400
    throw FormatError(concat(path, ": invalid JSON: ", e.what()));
  }
}

}  // namespace detail

class JsonConfig {
 public:
  // get_positive refuses sizes above this: no real layer has 2^30 units, and a corrupt
  // value that large would otherwise turn into a huge allocation.
  static constexpr Index kMaxSize = Index{1} << 30;

  static JsonConfig load(const std::string& path) {
    return JsonConfig(detail::read_json_file(path), path);
  }

  // A file whose top level is an array of objects (sentence-transformers' modules.json).
  static std::vector<JsonConfig> load_objects(const std::string& path) {
    const auto document = std::make_shared<const nlohmann::json>(detail::read_json_file(path));
    if (!document->is_array())
      throw FormatError(detail::concat(path, ": top level must be an array of objects, got ",
                                       detail::describe_json(*document)));
    return objects_of(document, *document, path, "");
  }

  // `source` names the file in messages.
  JsonConfig(nlohmann::json value, std::string source)
      : JsonConfig(std::make_shared<const nlohmann::json>(std::move(value)), nullptr,
                   std::move(source), std::string()) {}

  const nlohmann::json& json() const { return *value_; }
  const std::string& source() const { return source_; }
  // Dotted path of this object inside the file: empty at the top, "backbone_config." below.
  const std::string& path() const { return path_; }

  bool has(const std::string& key) const {
    auto found = value_->find(key);
    return found != value_->end() && !found->is_null();
  }

  template <typename V>
  V get(const std::string& key) const {
    return detail::JsonReader<V>::read(required(key, detail::JsonReader<V>::expected()),
                                       location(key));
  }

  // A missing or null field gives `fallback` (HF writes unset options as null).
  template <typename V>
  V get_or(const std::string& key, V fallback) const {
    return has(key) ? get<V>(key) : std::move(fallback);
  }

  // A size or count: an integer in [1, kMaxSize].
  Index get_positive(const std::string& key) const {
    const auto& value = required(key, positive_expected());
    if (!is_positive_size(value)) location(key).fail(positive_expected(), value);
    return value.get<Index>();
  }
  Index get_positive_or(const std::string& key, Index fallback) const {
    return has(key) ? get_positive(key) : fallback;
  }

  // A finite number > 0 (an epsilon, a scale); a missing or null field gives `fallback`.
  double get_positive_number_or(const std::string& key, double fallback) const {
    if (!has(key)) return fallback;
    const double value = get<double>(key);
    if (!(value > 0.0) || !std::isfinite(value))
      location(key).fail("a positive finite number", value_->at(key));
    return value;
  }

  // Shares this config's parsed document: no copy of the subtree.
  JsonConfig child(const std::string& key) const {
    return JsonConfig(document_, &required(key, "an object"), source_, path_ + key + ".");
  }

  // The elements of the array field `key`, each an object sharing this config's document:
  // copying them out would recurse through nlohmann's copy constructor.
  std::vector<JsonConfig> objects(const std::string& key) const {
    const auto& array = required(key, "an array of objects");
    if (!array.is_array()) location(key).fail("an array of objects", array);
    return objects_of(document_, array, source_, path_ + key);
  }

  // An object whose keys are decimal integers, like HF's id2label {"0": "person", ...}.
  std::map<std::int64_t, std::string> get_id_map(const std::string& key) const {
    const char* expected = "an object whose keys are decimal integers and values strings";
    const auto& value = required(key, expected);
    if (!value.is_object()) location(key).fail(expected, value);
    std::map<std::int64_t, std::string> out;
    for (const auto& [id_text, name] : value.items()) {
      const auto where = location(key + "." + id_text);
      std::int64_t id = 0;
      const char* end = id_text.data() + id_text.size();
      const auto parsed = std::from_chars(id_text.data(), end, id);
      if (id_text.empty() || parsed.ec != std::errc() || parsed.ptr != end)
        throw FormatError(detail::concat(source_, ": field '", path_, key, "' must be ", expected,
                                         ", got key '", id_text, "'"));
      if (!out.emplace(id, detail::JsonReader<std::string>::read(name, where)).second)
        throw FormatError(detail::concat(source_, ": field '", path_, key, "' lists id ", id,
                                         " twice (key '", id_text, "')"));
    }
    return out;
  }

 private:
  // `value` points into `document`; null means the whole document.
  JsonConfig(std::shared_ptr<const nlohmann::json> document, const nlohmann::json* value,
             std::string source, std::string path)
      : document_(std::move(document)),
        value_(value ? value : document_.get()),
        source_(std::move(source)),
        path_(std::move(path)) {
    if (value_->is_object()) return;
    if (!path_.empty())
      detail::JsonLocation{source_, path_.substr(0, path_.size() - 1)}.fail("a JSON object",
                                                                            *value_);
    throw FormatError(detail::concat(source_, ": top level must be a JSON object, got ",
                                     detail::describe_json(*value_)));
  }

  // `field` names `array` in messages: its elements are `field[i]`.
  static std::vector<JsonConfig> objects_of(const std::shared_ptr<const nlohmann::json>& document,
                                            const nlohmann::json& array, const std::string& source,
                                            const std::string& field) {
    std::vector<JsonConfig> out;
    out.reserve(array.size());
    for (std::size_t i = 0; i < array.size(); ++i)
      out.push_back(JsonConfig(document, &array[i], source, detail::concat(field, "[", i, "].")));
    return out;
  }

  detail::JsonLocation location(const std::string& key) const { return {source_, path_ + key}; }

  const nlohmann::json& required(const std::string& key, const std::string& expected) const {
    auto found = value_->find(key);
    if (found == value_->end())
      throw FormatError(detail::concat(source_, ": missing required field '", path_, key,
                                       "' (expected ", expected, ")"));
    return *found;
  }

  static bool is_positive_size(const nlohmann::json& value) {
    if (value.is_number_unsigned())
      return value.get<std::uint64_t>() - 1 < static_cast<std::uint64_t>(kMaxSize);  // 0 wraps
    if (value.is_number_integer())
      return value.get<std::int64_t>() >= 1 && value.get<std::int64_t>() <= kMaxSize;
    return false;
  }

  static std::string positive_expected() {
    return detail::concat("a positive integer at most ", kMaxSize);
  }

  std::shared_ptr<const nlohmann::json> document_;
  const nlohmann::json* value_;
  std::string source_;
  std::string path_;
};

}  // namespace eigenformer
