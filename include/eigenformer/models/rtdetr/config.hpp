#pragma once
// RT-DETR's config.json (HF transformers RTDetrConfig): the fields the hybrid encoder's
// transformer part, the query selection, the decoder and the post-processing need, checked
// for consistency when read. Both the current HF field names and the older ones are read
// (positional_encoding_temperature / pe_temperature, learn_initial_query /
// learnt_init_query). Missing fields take RTDetrConfig's defaults; a value this library
// cannot run is a FormatError naming the file and the field.
//
// The backbone's own settings are kept as the raw `backbone_config` object for the
// backbone loader to read.

#include <eigenformer/core/error.hpp>
#include <eigenformer/core/types.hpp>
#include <eigenformer/io/json_config.hpp>
#include <eigenformer/io/model_files.hpp>
#include <eigenformer/models/config_reader.hpp>
#include <eigenformer/models/rtdetr/decoder.hpp>
#include <eigenformer/nn/activations.hpp>
#include <eigenformer/transformer/encoder_layer.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace eigenformer {

struct RTDetrConfig {
  std::string source;  // the config.json path, for messages

  // Hybrid encoder (the AIFI layers; the convolutional parts read the same fields).
  Index encoder_hidden_dim = 256;
  std::vector<Index> encoder_in_channels{512, 1024, 2048};
  std::vector<Index> feat_strides{8, 16, 32};
  std::vector<Index> encode_proj_layers{2};
  Index encoder_layers = 1;
  Index encoder_attention_heads = 8;
  Index encoder_ffn_dim = 1024;
  Activation encoder_activation = Activation::GELU;  // encoder_activation_function
  Activation activation = Activation::SiLU;          // activation_function (conv blocks)
  double positional_encoding_temperature = 10000.0;
  double hidden_expansion = 1.0;
  // (height, width). The original RT-DETR precomputes the AIFI position embedding for this
  // size instead of building it per call: the same 2-D sin-cos values for a map of that size.
  // (HF instead passes pos_embed=None in eval mode, which its RTDetrMultiheadAttention cannot
  // run.) The AIFI layers therefore always add the embedding built for the map's own size.
  std::optional<std::array<Index, 2>> eval_size;

  // Query selection and decoder.
  Index d_model = 256;
  Index num_queries = 300;
  std::vector<Index> decoder_in_channels{256, 256, 256};
  Index num_feature_levels = 3;
  Index decoder_layers = 6;
  Index decoder_attention_heads = 8;
  Index decoder_ffn_dim = 1024;
  Index decoder_n_points = 4;
  Activation decoder_activation = Activation::ReLU;  // decoder_activation_function
  bool learn_initial_query = false;
  // (height, width) of the image anchors are generated for; unset: from the feature maps.
  std::optional<std::array<Index, 2>> anchor_image_size;
  // HF's RTDetrForObjectDetection always refines boxes layer by layer; the flag is kept
  // for completeness and changes nothing.
  bool with_box_refine = true;

  double layer_norm_eps = 1e-5;
  double batch_norm_eps = 1e-5;
  bool use_focal_loss = true;
  std::vector<std::string> id2label{"LABEL_0", "LABEL_1"};  // index = class id

  std::optional<JsonConfig> backbone_config;  // unset when null or absent

  Index num_labels() const { return static_cast<Index>(id2label.size()); }

  // `path` is a config.json file or a model folder holding one.
  static RTDetrConfig load(const std::string& path) {
    return from_json(JsonConfig::load(ModelFiles::config_of(path)));
  }

  static RTDetrConfig from_json(const JsonConfig& json);

  TransformerLayerConfig encoder_layer_config() const {
    TransformerLayerConfig layer;
    layer.d_model = encoder_hidden_dim;
    layer.num_heads = encoder_attention_heads;
    layer.dim_feedforward = encoder_ffn_dim;
    layer.activation = encoder_activation;
    // Post-norm only: HF's pre-norm RTDetrEncoderLayer (normalize_before) feeds the
    // normalised hidden state, not the layer input, into the feed-forward residual, unlike
    // TransformerEncoderLayer's pre-norm, so the reader refuses it.
    layer.norm_first = false;
    layer.layer_norm_eps = layer_norm_eps;
    return layer;
  }

  RTDetrDecoderConfig decoder_config() const {
    RTDetrDecoderConfig decoder;
    decoder.d_model = d_model;
    decoder.num_heads = decoder_attention_heads;
    decoder.ffn_dim = decoder_ffn_dim;
    decoder.num_layers = decoder_layers;
    decoder.num_points = decoder_n_points;
    decoder.num_levels = num_feature_levels;
    decoder.num_labels = num_labels();
    decoder.activation = decoder_activation;
    decoder.layer_norm_eps = layer_norm_eps;
    return decoder;
  }
};

namespace detail {

// Reads RTDetrConfig's fields from `json`, keeping each default where the field is absent.
class RTDetrConfigReader : public ConfigReader {
 public:
  using ConfigReader::ConfigReader;

  RTDetrConfig read() const {
    RTDetrConfig c;
    c.source = json_.source();
    if (json_.has("model_type") && json_.get<std::string>("model_type") != "rt_detr")
      fail("model_type",
           concat("must be \"rt_detr\", got \"", json_.get<std::string>("model_type"), "\""));
    read_encoder(c);
    read_decoder(c);
    c.layer_norm_eps = json_.get_positive_number_or("layer_norm_eps", c.layer_norm_eps);
    c.batch_norm_eps = json_.get_positive_number_or("batch_norm_eps", c.batch_norm_eps);
    c.use_focal_loss = json_.get_or("use_focal_loss", c.use_focal_loss);
    c.id2label = labels();
    if (json_.has("backbone_config")) c.backbone_config.emplace(json_.child("backbone_config"));
    check_levels(c);
    return c;
  }

 private:
  void read_encoder(RTDetrConfig& c) const {
    c.d_model = json_.get_positive_or("d_model", c.d_model);
    // Configs older than the field used d_model throughout.
    c.encoder_hidden_dim = json_.get_positive_or("encoder_hidden_dim", c.d_model);
    c.encoder_in_channels = sizes("encoder_in_channels", c.encoder_in_channels);
    c.feat_strides = sizes("feat_strides", c.feat_strides);
    c.encode_proj_layers = json_.get_or("encode_proj_layers", c.encode_proj_layers);
    c.encoder_layers = json_.get_or("encoder_layers", c.encoder_layers);
    if (c.encoder_layers < 0) fail("encoder_layers", "must not be negative");
    c.encoder_attention_heads =
        json_.get_positive_or("encoder_attention_heads", c.encoder_attention_heads);
    c.encoder_ffn_dim = json_.get_positive_or("encoder_ffn_dim", c.encoder_ffn_dim);
    c.encoder_activation = activation("encoder_activation_function", c.encoder_activation);
    c.activation = activation("activation_function", c.activation);
    c.positional_encoding_temperature =
        json_.get_positive_number_or(renamed("positional_encoding_temperature", "pe_temperature"),
                                     c.positional_encoding_temperature);
    if (json_.get_or("normalize_before", false))
      fail("normalize_before",
           "must be false: HF's pre-norm RTDetrEncoderLayer (the residual around the "
           "feed-forward starts from the normalised state) is not implemented");
    c.hidden_expansion = json_.get_positive_number_or("hidden_expansion", c.hidden_expansion);
    c.eval_size = image_size("eval_size");
  }

  void read_decoder(RTDetrConfig& c) const {
    c.num_queries = json_.get_positive_or("num_queries", c.num_queries);
    c.decoder_in_channels = sizes("decoder_in_channels", c.decoder_in_channels);
    c.num_feature_levels = json_.get_positive_or("num_feature_levels", c.num_feature_levels);
    c.decoder_layers = json_.get_positive_or("decoder_layers", c.decoder_layers);
    c.decoder_attention_heads =
        json_.get_positive_or("decoder_attention_heads", c.decoder_attention_heads);
    c.decoder_ffn_dim = json_.get_positive_or("decoder_ffn_dim", c.decoder_ffn_dim);
    c.decoder_n_points = json_.get_positive_or("decoder_n_points", c.decoder_n_points);
    c.decoder_activation = activation("decoder_activation_function", c.decoder_activation);
    c.learn_initial_query =
        json_.get_or(renamed("learn_initial_query", "learnt_init_query"), c.learn_initial_query);
    c.anchor_image_size = image_size("anchor_image_size");
    c.with_box_refine = json_.get_or("with_box_refine", c.with_box_refine);
  }

  // Cross-field constraints: what HF would fail on at run time, and what we do not support.
  void check_levels(const RTDetrConfig& c) const {
    const std::size_t levels = c.encoder_in_channels.size();
    if (c.feat_strides.size() != levels)
      fail("feat_strides",
           concat("has ", c.feat_strides.size(), " entries but encoder_in_channels ", levels,
                  " (one stride per backbone feature map)"));
    for (std::size_t i = 0; i < c.encode_proj_layers.size(); ++i)
      if (c.encode_proj_layers[i] < 0 || c.encode_proj_layers[i] >= static_cast<Index>(levels))
        fail(concat("encode_proj_layers[", i, "]"),
             concat("is ", c.encode_proj_layers[i], ", expected a level index in [0, ", levels,
                    ")"));
    check_divisible("encoder_hidden_dim", c.encoder_hidden_dim, "encoder_attention_heads",
                    c.encoder_attention_heads);
    check_divisible("d_model", c.d_model, "decoder_attention_heads", c.decoder_attention_heads);
    if (c.encoder_layers > 0 && !c.encode_proj_layers.empty() && c.encoder_hidden_dim % 4 != 0)
      fail("encoder_hidden_dim", concat("is ", c.encoder_hidden_dim,
                                        ", must be divisible by 4 for the 2-D sin-cos position "
                                        "embedding"));
    if (c.decoder_in_channels.size() != levels)
      fail("decoder_in_channels", concat("has ", c.decoder_in_channels.size(),
                                         " entries, expected one per hybrid encoder "
                                         "output (",
                                         levels, ", as encoder_in_channels)"));
    for (std::size_t i = 0; i < levels; ++i)
      if (c.decoder_in_channels[i] != c.encoder_hidden_dim)
        fail(concat("decoder_in_channels[", i, "]"),
             concat("is ", c.decoder_in_channels[i], " but the hybrid encoder outputs ",
                    "encoder_hidden_dim = ", c.encoder_hidden_dim, " channels"));
    if (c.num_feature_levels != static_cast<Index>(c.decoder_in_channels.size()))
      fail("num_feature_levels",
           concat("is ", c.num_feature_levels, " but decoder_in_channels has ",
                  c.decoder_in_channels.size(),
                  " entries: extra stride-2 levels are not supported"));
  }

  std::vector<std::string> labels() const {
    if (!json_.has("id2label")) {
      const Index count = json_.get_positive_or("num_labels", 2);
      // Each label becomes a string: a hostile count must not exhaust memory.
      constexpr Index kMaxLabels = Index{1} << 20;
      if (count > kMaxLabels)
        fail("num_labels",
             concat("is ", count, ", more than the ", kMaxLabels, " classes supported"));
      std::vector<std::string> names;
      for (Index id = 0; id < count; ++id) names.push_back(concat("LABEL_", id));
      return names;
    }
    std::vector<std::string> names;
    for (const auto& [id, name] : json_.get_id_map("id2label")) {
      if (id != static_cast<std::int64_t>(names.size()))
        fail("id2label", concat("must number the classes 0, 1, ..., without gaps; id ",
                                names.size(), " is missing"));
      names.push_back(name);
    }
    if (names.empty()) fail("id2label", "is empty; a detector needs at least one class");
    if (json_.has("num_labels") &&
        json_.get<Index>("num_labels") != static_cast<Index>(names.size()))
      fail("num_labels", concat("is ", json_.get<Index>("num_labels"), " but id2label lists ",
                                names.size(), " classes"));
    return names;
  }

  // The current name when present, else the old one (which then names the field in errors).
  std::string renamed(const std::string& current, const std::string& old) const {
    return !json_.has(current) && json_.has(old) ? old : current;
  }

  // null / absent, or [height, width].
  std::optional<std::array<Index, 2>> image_size(const std::string& key) const {
    if (!json_.has(key)) return std::nullopt;
    const auto values = json_.get<std::vector<Index>>(key);
    if (values.size() != 2 || values[0] <= 0 || values[1] <= 0 ||
        values[0] > JsonConfig::kMaxSize || values[1] > JsonConfig::kMaxSize)
      fail(key, "must be null or [height, width] with two positive sizes");
    return std::array<Index, 2>{values[0], values[1]};
  }

  void check_divisible(const std::string& dim_key, Index dim, const std::string& heads_key,
                       Index heads) const {
    if (dim % heads != 0)
      fail(dim_key, concat("is ", dim, ", not divisible by ", heads_key, " = ", heads));
  }
};

}  // namespace detail

inline RTDetrConfig RTDetrConfig::from_json(const JsonConfig& json) {
  return detail::RTDetrConfigReader(json).read();
}

}  // namespace eigenformer
