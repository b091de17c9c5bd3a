#pragma once
// RT-DETR's ResNet-vd backbone as HF transformers' RTDetrResNetBackbone runs it
// (modeling_rt_detr_resnet.py, after lyuwenyu/RT-DETR presnet.py):
// - stem: three 3x3 conv + BN + act (stride 2, 1, 1; channels num_channels -> embedding/2 ->
//   embedding/2 -> embedding), then max-pool 3x3 stride 2 padding 1;
// - stages of residual blocks, the first block of stage i > 0 (and of stage 0 with
//   downsample_in_first_stage) downsampling by 2:
//   basic block: 3x3 conv (stride) + BN + ReLU, 3x3 conv + BN, add the shortcut, act;
//   bottleneck:  1x1 -> 3x3 -> 1x1 (channels out/4, out/4, out), the stride on the 1x1 when
//                downsample_in_bottleneck else on the 3x3, ReLU after the first two;
// - the "vd" shortcut: when a block downsamples, AvgPool2d(2, 2, ceil_mode=True) then a
//   1x1 conv + BN, instead of a strided 1x1 conv. HF's basic block pools whenever its input
//   and output channels differ and always has a shortcut conv in a stage's first block.
// The block-internal ReLUs are fixed (HF's RTDetrResNetConvLayer default); hidden_act is
// used by the stem and after each residual addition. Every BatchNorm is folded into its
// convolution at load time; HF freezes them with eps 1e-5 (RTDetrFrozenBatchNorm2d), which
// is also nn.BatchNorm2d's default.
//
// Output: the feature maps of the stages listed by out_indices (0 = the stem after pooling,
// i = stage i), as HF's BackboneOutput.feature_maps.

#include <eigenformer/cnn/conv2d.hpp>
#include <eigenformer/cnn/conv_norm.hpp>
#include <eigenformer/cnn/feature_map.hpp>
#include <eigenformer/cnn/pool2d.hpp>
#include <eigenformer/core/error.hpp>
#include <eigenformer/core/state_dict.hpp>
#include <eigenformer/io/json_config.hpp>
#include <eigenformer/models/config_reader.hpp>
#include <eigenformer/nn/activations.hpp>

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace eigenformer {

struct RTDetrResNetConfig {
  enum class LayerType { Basic, Bottleneck };

  // HF RTDetrResNetConfig's defaults (ResNet-50-vd); out_indices as RTDetrConfig sets them.
  Index num_channels = 3;
  Index embedding_size = 64;
  std::vector<Index> hidden_sizes{256, 512, 1024, 2048};
  std::vector<Index> depths{3, 4, 6, 3};
  LayerType layer_type = LayerType::Bottleneck;
  Activation hidden_act = Activation::ReLU;
  bool downsample_in_first_stage = false;
  bool downsample_in_bottleneck = false;
  std::vector<Index> out_indices{2, 3, 4};  // 0 = stem, i = stage i

  Index num_stages() const { return static_cast<Index>(depths.size()); }
  // Channels of hidden state `index` (0 = stem, i = stage i).
  Index channels_at(Index index) const {
    return index == 0 ? embedding_size : hidden_sizes[static_cast<std::size_t>(index - 1)];
  }
  std::vector<Index> out_channels() const {
    std::vector<Index> channels;
    for (Index index : out_indices) channels.push_back(channels_at(index));
    return channels;
  }

  // `json` is config.json's `backbone_config` object; absent fields keep the defaults.
  static RTDetrResNetConfig from_json(const JsonConfig& json);
};

namespace detail {

class RTDetrResNetConfigReader : public ConfigReader {
 public:
  using ConfigReader::ConfigReader;

  RTDetrResNetConfig read() const {
    RTDetrResNetConfig c;
    if (json_.has("model_type") && json_.get<std::string>("model_type") != "rt_detr_resnet")
      fail("model_type", concat("is \"", json_.get<std::string>("model_type"),
                                "\"; only the \"rt_detr_resnet\" backbone is supported"));
    c.num_channels = json_.get_positive_or("num_channels", c.num_channels);
    c.embedding_size = json_.get_positive_or("embedding_size", c.embedding_size);
    if (c.embedding_size < 2) fail("embedding_size", "must be at least 2 (the stem halves it)");
    c.hidden_sizes = sizes("hidden_sizes", c.hidden_sizes);
    c.depths = sizes("depths", c.depths);
    if (c.depths.size() != c.hidden_sizes.size())
      fail("depths", concat("has ", c.depths.size(), " entries but hidden_sizes has ",
                            c.hidden_sizes.size(), " (one per stage)"));
    c.layer_type = layer_type(c.layer_type);
    c.hidden_act = activation("hidden_act", c.hidden_act);
    c.downsample_in_first_stage =
        json_.get_or("downsample_in_first_stage", c.downsample_in_first_stage);
    c.downsample_in_bottleneck =
        json_.get_or("downsample_in_bottleneck", c.downsample_in_bottleneck);
    c.out_indices = out_indices(c);
    return c;
  }

 private:
  RTDetrResNetConfig::LayerType layer_type(RTDetrResNetConfig::LayerType fallback) const {
    if (!json_.has("layer_type")) return fallback;
    const auto name = json_.get<std::string>("layer_type");
    if (name == "basic") return RTDetrResNetConfig::LayerType::Basic;
    if (name == "bottleneck") return RTDetrResNetConfig::LayerType::Bottleneck;
    fail("layer_type", concat("is \"", name, "\", expected \"basic\" or \"bottleneck\""));
  }

  // out_indices, else out_features by stage name ("stem", "stage1", ...), else the last
  // stage, as HF's BackboneConfigMixin resolves them; both given must agree.
  std::vector<Index> out_indices(const RTDetrResNetConfig& c) const {
    const Index names = c.num_stages() + 1;
    std::optional<std::vector<Index>> from_indices, from_features;
    if (json_.has("out_indices")) {
      from_indices = json_.get<std::vector<Index>>("out_indices");
      for (std::size_t i = 0; i < from_indices->size(); ++i) {
        Index& index = (*from_indices)[i];
        if (index < -names || index >= names)
          fail(concat("out_indices[", i, "]"),
               concat("is ", index, ", expected a stage index in [0, ", names, ")"));
        if (index < 0) index += names;
      }
    }
    if (json_.has("out_features")) {
      from_features.emplace();
      const auto features = json_.get<std::vector<std::string>>("out_features");
      for (std::size_t i = 0; i < features.size(); ++i)
        from_features->push_back(stage_index(features[i], names, concat("out_features[", i, "]")));
    }
    if (from_indices && from_features && *from_indices != *from_features)
      fail("out_indices", "and out_features name different stages");
    std::vector<Index> indices = from_indices    ? *from_indices
                                 : from_features ? *from_features
                                                 : std::vector<Index>{names - 1};
    if (indices.empty()) fail("out_indices", "must list at least one stage");
    for (std::size_t i = 1; i < indices.size(); ++i)
      if (indices[i] <= indices[i - 1])
        fail("out_indices", "must list stages in increasing order without repeats");
    return indices;
  }

  Index stage_index(const std::string& name, Index names, const std::string& field) const {
    if (name == "stem") return 0;
    for (Index i = 1; i < names; ++i)
      if (name == concat("stage", i)) return i;
    fail(field,
         concat("is \"", name, "\", expected \"stem\" or \"stage1\" .. \"stage", names - 1, "\""));
  }
};

}  // namespace detail

inline RTDetrResNetConfig RTDetrResNetConfig::from_json(const JsonConfig& json) {
  return detail::RTDetrResNetConfigReader(json).read();
}

// One residual block: main-path convolutions (BN folded, the last one adding the shortcut
// and applying the block activation in its epilogue) and the shortcut.
template <typename T>
class RTDetrResNetBlock {
 public:
  RTDetrResNetBlock() = default;
  RTDetrResNetBlock(std::vector<Conv2d<T>> layers, bool pool_shortcut,
                    std::optional<Conv2d<T>> shortcut_conv)
      : layers_(std::move(layers)),
        pool_shortcut_(pool_shortcut),
        shortcut_conv_(std::move(shortcut_conv)) {
    if (layers_.size() < 2)
      throw InvalidArgument("RTDetrResNetBlock: needs at least two convolutions");
  }

  FeatureMap<T> forward(const FeatureMap<T>& input) const {
    FeatureMap<T> pooled, projected;
    const FeatureMap<T>* residual = &input;
    if (pool_shortcut_) {
      pooled = avg_pool2d(input, kShortcutPool);
      residual = &pooled;
    }
    if (shortcut_conv_) {
      projected = shortcut_conv_->forward(*residual);
      residual = &projected;
    }
    FeatureMap<T> hidden = layers_.front().forward(input);
    for (std::size_t i = 1; i + 1 < layers_.size(); ++i) hidden = layers_[i].forward(hidden);
    return layers_.back().forward(hidden, residual);
  }

 private:
  static constexpr PoolOptions kShortcutPool{2, 2, 0, true, true};

  std::vector<Conv2d<T>> layers_;
  bool pool_shortcut_ = false;
  std::optional<Conv2d<T>> shortcut_conv_;
};

template <typename T>
class RTDetrResNetBackbone {
 public:
  RTDetrResNetBackbone() = default;

  // Binds HF's names under `prefix`: embedder.embedder.<i>.{convolution,normalization},
  // encoder.stages.<s>.layers.<l>.{layer.<i>, shortcut, shortcut.1}.
  static RTDetrResNetBackbone load(const StateDict<T>& weights, const RTDetrResNetConfig& config,
                                   const std::string& prefix = "model.backbone.model.") {
    RTDetrResNetBackbone backbone;
    backbone.config_ = config;
    Loader loader{weights, config, prefix};
    backbone.stem_ = loader.stem();
    Index in = config.embedding_size;
    for (Index s = 0; s < config.num_stages(); ++s) {
      const Index out = config.hidden_sizes[static_cast<std::size_t>(s)];
      const Index stride = s > 0 || config.downsample_in_first_stage ? 2 : 1;
      for (Index l = 0; l < config.depths[static_cast<std::size_t>(s)]; ++l)
        backbone.stages_.push_back(loader.block(block_prefix(prefix, s, l), l == 0 ? in : out, out,
                                                l == 0 ? stride : 1, l == 0));
      backbone.stage_ends_.push_back(static_cast<Index>(backbone.stages_.size()));
      in = out;
    }
    return backbone;
  }

  const RTDetrResNetConfig& config() const { return config_; }
  std::vector<Index> out_channels() const { return config_.out_channels(); }

  // `pixels`: one image, num_channels x (height * width).
  std::vector<FeatureMap<T>> forward(const FeatureMap<T>& pixels) const {
    pixels.check("RT-DETR backbone pixels");
    if (pixels.channels() != config_.num_channels)
      throw ShapeError(detail::concat("RT-DETR backbone: image has ", pixels.channels(),
                                      " channels, expected num_channels = ", config_.num_channels));
    std::vector<FeatureMap<T>> features;
    auto out_index = config_.out_indices.begin();
    auto keep = [&](Index hidden_state, const FeatureMap<T>& map) {
      if (out_index != config_.out_indices.end() && *out_index == hidden_state) {
        features.push_back(map);
        ++out_index;
      }
    };
    FeatureMap<T> hidden = stem_[0].forward(pixels);
    for (std::size_t i = 1; i < stem_.size(); ++i) hidden = stem_[i].forward(hidden);
    hidden = max_pool2d(hidden, kStemPool);
    keep(0, hidden);
    std::size_t block = 0;
    for (Index s = 0; s < config_.num_stages(); ++s) {
      for (; block < static_cast<std::size_t>(stage_ends_[static_cast<std::size_t>(s)]); ++block)
        hidden = stages_[block].forward(hidden);
      keep(s + 1, hidden);
    }
    return features;
  }

 private:
  static constexpr PoolOptions kStemPool{3, 2, 1, false, true};
  static constexpr double kBatchNormEps = 1e-5;

  static std::string block_prefix(const std::string& prefix, Index stage, Index layer) {
    return detail::concat(prefix, "encoder.stages.", stage, ".layers.", layer, ".");
  }

  struct Loader {
    const StateDict<T>& weights;
    const RTDetrResNetConfig& config;
    const std::string& prefix;

    // An RTDetrResNetConvLayer / RTDetrResNetShortCut (convolution + normalization).
    Conv2d<T> conv(const std::string& at, Index in, Index out, Index kernel, Index stride,
                   Activation activation) const {
      return load_conv_norm(weights, at + "convolution.", at + "normalization.", in, out, kernel,
                            stride, kBatchNormEps, activation);
    }

    std::vector<Conv2d<T>> stem() const {
      const Index half = config.embedding_size / 2;
      const Index in[] = {config.num_channels, half, half};
      const Index out[] = {half, half, config.embedding_size};
      std::vector<Conv2d<T>> layers;
      for (Index i = 0; i < 3; ++i)
        layers.push_back(conv(detail::concat(prefix, "embedder.embedder.", i, "."), in[i], out[i],
                              3, i == 0 ? 2 : 1, config.hidden_act));
      return layers;
    }

    RTDetrResNetBlock<T> block(const std::string& at, Index in, Index out, Index stride,
                               bool first_in_stage) const {
      return config.layer_type == RTDetrResNetConfig::LayerType::Basic
                 ? basic(at, in, out, stride, first_in_stage)
                 : bottleneck(at, in, out, stride);
    }

    RTDetrResNetBlock<T> basic(const std::string& at, Index in, Index out, Index stride,
                               bool has_shortcut) const {
      const bool pool = has_shortcut && in != out;
      if ((pool && stride != 2) || (!has_shortcut && (in != out || stride != 1)))
        throw FormatError(detail::concat(
            weights.source(), ": basic block '", at, "' maps ", in, " to ", out,
            " channels with stride ", stride,
            ", which HF's RTDetrResNetBasicLayer cannot run "
            "(its pooled shortcut halves the size; check embedding_size, hidden_sizes and "
            "downsample_in_first_stage)"));
      std::optional<Conv2d<T>> shortcut;
      if (has_shortcut)
        shortcut = conv(at + (pool ? "shortcut.1." : "shortcut."), in, out, 1, pool ? 1 : stride,
                        Activation::Identity);
      std::vector<Conv2d<T>> layers{conv(at + "layer.0.", in, out, 3, stride, Activation::ReLU),
                                    conv(at + "layer.1.", out, out, 3, 1, config.hidden_act)};
      return RTDetrResNetBlock<T>(std::move(layers), pool, std::move(shortcut));
    }

    RTDetrResNetBlock<T> bottleneck(const std::string& at, Index in, Index out,
                                    Index stride) const {
      const bool project = in != out || stride != 1;
      const bool pool = stride == 2;
      std::optional<Conv2d<T>> shortcut;
      if (project)
        shortcut = conv(at + (pool ? "shortcut.1." : "shortcut."), in, out, 1, pool ? 1 : stride,
                        Activation::Identity);
      const Index reduced = out / 4;
      if (reduced < 1)
        throw FormatError(detail::concat(weights.source(), ": bottleneck block '", at, "' has ",
                                         out, " output channels, fewer than the 4 it reduces by"));
      const bool early = config.downsample_in_bottleneck;
      std::vector<Conv2d<T>> layers{
          conv(at + "layer.0.", in, reduced, 1, early ? stride : 1, Activation::ReLU),
          conv(at + "layer.1.", reduced, reduced, 3, early ? 1 : stride, Activation::ReLU),
          conv(at + "layer.2.", reduced, out, 1, 1, config.hidden_act)};
      return RTDetrResNetBlock<T>(std::move(layers), pool, std::move(shortcut));
    }
  };

  RTDetrResNetConfig config_;
  std::vector<Conv2d<T>> stem_;
  std::vector<RTDetrResNetBlock<T>> stages_;  // all blocks, stage after stage
  std::vector<Index> stage_ends_;             // one past each stage's last block in stages_
};

}  // namespace eigenformer
