#pragma once
// The architecture of an ultralytics checkpoint, read from the `yaml` dict the model object
// carries: rows of [from, repeats, module, args] for the backbone then the head. Channels and
// constructor arguments are resolved as ultralytics' parse_model (nn/tasks.py, 8.3) resolves
// them, so each layer's arguments are those its module was built with.

#include <eigenformer/core/error.hpp>
#include <eigenformer/core/types.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace eigenformer {

struct UltralyticsLayer {
  Index index = 0;                   // N of the "model.N." weight names
  std::vector<Index> from;           // absolute indices of the input layers (-1 = the image)
  std::string module;                // as the yaml names it: "Conv", "HGBlock", "nn.Upsample", ...
  std::vector<nlohmann::json> args;  // the module's constructor arguments, parse_model-resolved
  Index out_channels = 0;
  bool multi_input = false;  // `from` was a list in the yaml

  // Positional argument `i`, or `fallback` when absent or None.
  nlohmann::json arg(std::size_t i, const nlohmann::json& fallback) const {
    return i < args.size() && !args[i].is_null() ? args[i] : fallback;
  }

  [[noreturn]] void fail(const std::string& source, const std::string& problem) const {
    throw FormatError(detail::concat(source, ": layer ", index, " (", module, ") ", problem));
  }

  // Argument `i` (or `fallback`) as an integer / a bool; anything else is a FormatError naming
  // `source`, the layer and the argument.
  Index integer_arg(std::size_t i, Index fallback, const std::string& source) const {
    const nlohmann::json value = arg(i, fallback);
    if (!value.is_number_integer())
      fail(source, detail::concat("argument ", i, " is ", value.dump(), ", expected an integer"));
    return value.get<Index>();
  }
  bool flag_arg(std::size_t i, bool fallback, const std::string& source) const {
    const nlohmann::json value = arg(i, fallback);
    if (!value.is_boolean())
      fail(source, detail::concat("argument ", i, " is ", value.dump(), ", expected a bool"));
    return value.get<bool>();
  }
};

struct UltralyticsConfig {
  std::string source;  // the checkpoint, for messages
  std::vector<UltralyticsLayer> layers;
  Index num_classes = 80;
  Index input_channels = 3;
  std::vector<std::string> names;  // class id -> name (the checkpoint's `names`)
  Index imgsz = 640;  // the square input the predictor stretches images to (train_args.imgsz)

  static UltralyticsConfig from_yaml(const nlohmann::json& yaml, const std::string& source);
};

namespace detail {

class UltralyticsYamlReader {
 public:
  UltralyticsYamlReader(const nlohmann::json& yaml, std::string source)
      : yaml_(yaml), source_(std::move(source)) {}

  UltralyticsConfig read() const {
    if (!yaml_.is_object()) fail("yaml", "is not a dict");
    UltralyticsConfig config;
    config.source = source_;
    config.num_classes = integer(get("nc"), "yaml.nc");
    if (config.num_classes <= 0 || config.num_classes > (Index{1} << 20))
      fail("yaml.nc", concat("is ", config.num_classes, ", expected a positive class count"));
    if (yaml_.contains("channels") && !yaml_["channels"].is_null())
      config.input_channels = integer(yaml_["channels"], "yaml.channels");
    read_scales();

    std::vector<nlohmann::json> rows;
    for (const char* section : {"backbone", "head"}) {
      const nlohmann::json& list = get(section);
      if (!list.is_array()) fail(concat("yaml.", section), "is not a list");
      for (const auto& row : list) rows.push_back(row);
    }
    if (rows.empty() || rows.size() > 10000) fail("yaml", "has no layers (or too many)");

    std::vector<Index> channels;  // ch[i]: output channels of layer i
    for (std::size_t i = 0; i < rows.size(); ++i)
      config.layers.push_back(layer(rows[i], static_cast<Index>(i), channels, config));
    return config;
  }

 private:
  [[noreturn]] void fail(const std::string& field, const std::string& problem) const {
    throw FormatError(concat(source_, ": ", field, " ", problem));
  }

  const nlohmann::json& get(const char* key) const {
    if (!yaml_.contains(key)) fail(concat("yaml.", key), "is missing");
    return yaml_[key];
  }

  Index integer(const nlohmann::json& value, const std::string& field) const {
    if (value.is_number_integer()) return value.get<Index>();
    if (value.is_boolean()) return value.get<bool>() ? 1 : 0;
    fail(field, concat("is ", value.dump(), ", expected an integer"));
  }

  double number(const nlohmann::json& value, const std::string& field) const {
    if (value.is_number()) return value.get<double>();
    fail(field, concat("is ", value.dump(), ", expected a number"));
  }

  // parse_model: `scales[scale]` (the first scale when none is named) gives depth, width and
  // max_channels; without scales, depth_multiple and width_multiple.
  void read_scales() const {
    depth_ = 1.0, width_ = 1.0, max_channels_ = 1e300;
    if (yaml_.contains("scales") && yaml_["scales"].is_object() && !yaml_["scales"].empty()) {
      const auto& scales = yaml_["scales"];
      std::string scale = yaml_.contains("scale") && yaml_["scale"].is_string()
                              ? yaml_["scale"].get<std::string>()
                              : std::string();
      if (scale.empty()) scale = scales.begin().key();
      if (!scales.contains(scale)) fail("yaml.scale", concat("'", scale, "' is not in scales"));
      const auto& values = scales[scale];
      if (!values.is_array() || values.size() != 3)
        fail(concat("yaml.scales.", scale), "is not [depth, width, max_channels]");
      depth_ = number(values[0], "yaml.scales depth");
      width_ = number(values[1], "yaml.scales width");
      max_channels_ = number(values[2], "yaml.scales max_channels");
    } else {
      if (yaml_.contains("depth_multiple"))
        depth_ = number(yaml_["depth_multiple"], "depth_multiple");
      if (yaml_.contains("width_multiple"))
        width_ = number(yaml_["width_multiple"], "width_multiple");
    }
    if (!(depth_ > 0 && depth_ < 100 && width_ > 0 && width_ < 100 && max_channels_ > 0))
      fail("yaml.scales", "has a non-positive or absurd depth, width or max_channels");
  }

  // make_divisible(min(c, max_channels) * width, 8): channels rounded up to a multiple of 8.
  Index scaled_channels(Index c) const {
    const double scaled = std::min(static_cast<double>(c), max_channels_) * width_;
    return static_cast<Index>(std::ceil(scaled / 8.0)) * 8;
  }

  // parse_model evaluates string arguments: "nc" is the class count, "None" is None; other
  // strings ("nearest") stay strings.
  nlohmann::json resolve(const nlohmann::json& value, Index nc) const {
    if (!value.is_string()) return value;
    const std::string& text = value.get_ref<const std::string&>();
    if (text == "nc") return nc;
    if (text == "None") return nullptr;
    if (text == "True") return true;
    if (text == "False") return false;
    return value;
  }

  UltralyticsLayer layer(const nlohmann::json& row, Index i, std::vector<Index>& channels,
                         const UltralyticsConfig& config) const {
    const std::string where = concat("yaml layer ", i);
    if (!row.is_array() || row.size() != 4)
      fail(where, concat("is ", row.dump(), ", expected [from, repeats, module, args]"));
    UltralyticsLayer out;
    out.index = i;
    out.module = row[2].is_string() ? row[2].get<std::string>() : std::string();
    if (out.module.empty()) fail(where, "has no module name");
    // Only the name after the last dot matters for torch.nn modules ("nn.Upsample").
    const std::string where_module = concat(where, " (", out.module, ")");

    auto absolute = [&](const nlohmann::json& f) {
      const Index index = integer(f, concat(where_module, " from"));
      const Index resolved = index < 0 ? i + index : index;
      if (resolved < -1 || resolved >= i || (index < 0 && resolved < -1))
        fail(concat(where_module, " from"), concat(index, " does not name an earlier layer"));
      return resolved;
    };
    if (row[0].is_array()) {
      out.multi_input = true;
      for (const auto& f : row[0]) out.from.push_back(absolute(f));
      if (out.from.empty()) fail(concat(where_module, " from"), "is an empty list");
    } else {
      out.from.push_back(absolute(row[0]));
    }
    auto channels_of = [&](Index layer) -> Index {
      return layer < 0 ? config.input_channels : channels[static_cast<std::size_t>(layer)];
    };

    Index n = integer(row[1], concat(where_module, " repeats"));
    if (n < 1 || n > 1000) fail(concat(where_module, " repeats"), concat("is ", n));
    if (n > 1) n = std::max<Index>(static_cast<Index>(std::llround(n * depth_)), 1);

    if (!row[3].is_array()) fail(concat(where_module, " args"), "is not a list");
    std::vector<nlohmann::json> args;
    for (const auto& a : row[3]) args.push_back(resolve(a, config.num_classes));

    const Index c1 = channels_of(out.from.front());
    const std::string& m = out.module;
    auto first_int = [&](std::size_t k) {
      if (args.size() <= k) fail(concat(where_module, " args"), concat("has no argument ", k));
      return integer(args[k], concat(where_module, " args[", k, "]"));
    };
    if (m == "Conv" || m == "DWConv" || m == "RepC3" || m == "RepConv") {
      Index c2 = first_int(0);
      if (c2 != config.num_classes) c2 = scaled_channels(c2);
      args.erase(args.begin());
      args.insert(args.begin(), {c1, c2});
      if (m == "RepC3") {
        args.insert(args.begin() + 2, n);
        n = 1;
      }
      out.out_channels = c2;
    } else if (m == "AIFI") {
      args.insert(args.begin(), c1);
      out.out_channels = c1;
    } else if (m == "HGStem" || m == "HGBlock") {
      const Index cm = first_int(0), c2 = first_int(1);
      args.erase(args.begin(), args.begin() + 2);
      args.insert(args.begin(), {c1, cm, c2});
      if (m == "HGBlock") {
        while (args.size() < 4) args.push_back(3);  // k's default
        args.insert(args.begin() + 4, n);
        n = 1;
      }
      out.out_channels = c2;
    } else if (m == "Concat") {
      out.out_channels = 0;
      for (Index f : out.from) out.out_channels += channels_of(f);
    } else if (m == "RTDETRDecoder") {
      std::vector<Index> inputs;
      for (Index f : out.from) inputs.push_back(channels_of(f));
      args.insert(
          args.begin() + std::min<std::ptrdiff_t>(1, static_cast<std::ptrdiff_t>(args.size())),
          nlohmann::json(inputs));
      out.out_channels = 0;
    } else if (m == "nn.Upsample" || m == "torch.nn.Upsample") {
      out.out_channels = c1;
    } else {
      fail(where, concat("uses module ", m,
                         ", which eigenformer does not implement (supported: HGStem, HGBlock, "
                         "DWConv, Conv, RepC3, RepConv, AIFI, Concat, nn.Upsample, "
                         "RTDETRDecoder)"));
    }
    if (n != 1)
      fail(where_module, concat("repeats ", n, " times; only HGBlock and RepC3 take repeats"));
    if (!out.multi_input && m == "Concat") fail(where_module, "takes a single input");
    if (out.multi_input && m != "Concat" && m != "RTDETRDecoder")
      fail(where_module, "takes several inputs, which only Concat and RTDETRDecoder do");
    out.args = std::move(args);
    channels.push_back(out.out_channels);
    return out;
  }

  template <typename... Parts>
  static std::string concat(const Parts&... parts) {
    return detail::concat(parts...);
  }

  const nlohmann::json& yaml_;
  std::string source_;
  mutable double depth_ = 1.0, width_ = 1.0, max_channels_ = 1e300;
};

}  // namespace detail

inline UltralyticsConfig UltralyticsConfig::from_yaml(const nlohmann::json& yaml,
                                                      const std::string& source) {
  return detail::UltralyticsYamlReader(yaml, source).read();
}

}  // namespace eigenformer
