#pragma once
// RT-DETR's AIFI (attention-based intra-scale feature interaction, Zhao et al. 2023): the
// hybrid encoder's transformer part, as HF transformers' RTDetrAIFILayer runs it. A feature
// map is flattened to its (height * width) raster-order tokens, passed through
// `encoder_layers` transformer encoder layers whose self-attention adds the 2-D sin-cos
// position embedding to queries and keys (not values), and reshaped back to a map.
//
// Weights use the names HF checkpoints store (model.encoder.encoder.<i>.layers.<j>.):
// self_attn.{q,k,v,out}_proj, self_attn_layer_norm, fc1, fc2, final_layer_norm.

#include <eigenformer/cnn/feature_map.hpp>
#include <eigenformer/core/error.hpp>
#include <eigenformer/core/sequence_batch.hpp>
#include <eigenformer/core/state_dict.hpp>
#include <eigenformer/models/rtdetr/config.hpp>
#include <eigenformer/nn/positional_encoding.hpp>
#include <eigenformer/transformer/encoder_layer.hpp>

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace eigenformer {

// HF RTDetrEncoderLayer's parameter names, bound onto the shared encoder layer.
inline EncoderLayerNames rtdetr_encoder_layer_names() {
  return EncoderLayerNames::separate("self_attn.q_proj.", "self_attn.k_proj.", "self_attn.v_proj.",
                                     "self_attn.out_proj.", "self_attn_layer_norm.", "fc1.", "fc2.",
                                     "final_layer_norm.");
}

// The encoder layers applied to one feature map.
template <typename T>
class RTDetrAIFILayer {
 public:
  RTDetrAIFILayer() = default;
  // Without `position_temperature` the layers see no position embedding. ultralytics' AIFI
  // builds its grid with meshgrid(w, h, indexing="ij"): HF's embedding of a map with height and
  // width swapped (`swapped_grid`); the two agree on square maps only.
  RTDetrAIFILayer(std::vector<TransformerEncoderLayer<T>> layers, Index hidden_dim,
                  std::optional<double> position_temperature, bool swapped_grid = false)
      : layers_(std::move(layers)),
        hidden_dim_(hidden_dim),
        position_temperature_(position_temperature),
        swapped_grid_(swapped_grid) {}

  // Binds `<prefix>layers.<j>.` for every encoder layer; `prefix` is
  // "model.encoder.encoder.<i>.".
  static RTDetrAIFILayer load(const StateDict<T>& weights, const std::string& prefix,
                              const RTDetrConfig& config) {
    std::vector<TransformerEncoderLayer<T>> layers;
    for (Index j = 0; j < config.encoder_layers; ++j)
      layers.push_back(TransformerEncoderLayer<T>::load(
          weights, detail::concat(prefix, "layers.", j, "."), config.encoder_layer_config(),
          rtdetr_encoder_layer_names()));
    // Also with eval_size set: see RTDetrConfig::eval_size.
    return RTDetrAIFILayer(std::move(layers), config.encoder_hidden_dim,
                           config.positional_encoding_temperature);
  }

  Index hidden_dim() const { return hidden_dim_; }
  Index num_layers() const { return static_cast<Index>(layers_.size()); }

  // `tokens`: (height * width) x hidden_dim, the map's pixels in raster order.
  Matrix<T> forward_tokens(const MatrixView<T>& tokens, Index height, Index width) const {
    if (height <= 0 || width <= 0 || tokens.rows() != height * width ||
        tokens.cols() != hidden_dim_)
      throw ShapeError(detail::concat("RT-DETR AIFI: tokens are ", tokens.rows(), " x ",
                                      tokens.cols(), ", expected (", height, " * ", width, ") x ",
                                      hidden_dim_));
    Matrix<T> hidden = tokens;
    if (layers_.empty()) return hidden;
    std::optional<Matrix<T>> position;
    if (position_temperature_)
      position =
          swapped_grid_
              ? sincos_position_embedding_2d<T>(height, width, hidden_dim_, *position_temperature_)
              : sincos_position_embedding_2d<T>(width, height, hidden_dim_, *position_temperature_);
    const SequenceBatch one_map = SequenceBatch::single(hidden.rows());
    LayerWorkspace<T> workspace;
    for (const auto& layer : layers_)
      layer.apply(hidden, one_map, {},
                  position ? std::optional<MatrixView<T>>(*position) : std::nullopt, &workspace);
    return hidden;
  }

  FeatureMap<T> forward(const FeatureMap<T>& map) const {
    map.check("RT-DETR AIFI input");
    if (map.channels() != hidden_dim_)
      throw ShapeError(detail::concat("RT-DETR AIFI: feature map has ", map.channels(),
                                      " channels, expected encoder_hidden_dim = ", hidden_dim_));
    return FeatureMap<T>(forward_tokens(map.tokens(), map.height, map.width).transpose(),
                         map.height, map.width);
  }

 private:
  std::vector<TransformerEncoderLayer<T>> layers_;
  Index hidden_dim_ = 0;
  std::optional<double> position_temperature_;
  bool swapped_grid_ = false;
};

// All AIFI layers of the hybrid encoder: AIFI i transforms level encode_proj_layers[i].
template <typename T>
class RTDetrAIFI {
 public:
  RTDetrAIFI() = default;
  RTDetrAIFI(std::vector<RTDetrAIFILayer<T>> layers, std::vector<Index> levels)
      : layers_(std::move(layers)), levels_(std::move(levels)) {
    if (layers_.size() != levels_.size())
      throw InvalidArgument(detail::concat("RT-DETR AIFI: ", layers_.size(), " layers for ",
                                           levels_.size(), " levels"));
  }

  // `prefix` is the hybrid encoder's ("model.encoder.").
  static RTDetrAIFI load(const StateDict<T>& weights, const RTDetrConfig& config,
                         const std::string& prefix = "model.encoder.") {
    std::vector<RTDetrAIFILayer<T>> layers;
    for (std::size_t i = 0; i < config.encode_proj_layers.size(); ++i)
      layers.push_back(
          RTDetrAIFILayer<T>::load(weights, detail::concat(prefix, "encoder.", i, "."), config));
    return RTDetrAIFI(std::move(layers), config.encode_proj_layers);
  }

  const std::vector<Index>& levels() const { return levels_; }
  const RTDetrAIFILayer<T>& layer(Index i) const { return layers_.at(static_cast<std::size_t>(i)); }

  // Replaces each transformed level of one image's projected feature maps in place.
  void apply(std::vector<FeatureMap<T>>& maps) const {
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      const Index level = levels_[i];
      if (level < 0 || level >= static_cast<Index>(maps.size()))
        throw ShapeError(detail::concat("RT-DETR AIFI: level ", level, " requested but only ",
                                        maps.size(), " feature maps given"));
      maps[static_cast<std::size_t>(level)] =
          layers_[i].forward(maps[static_cast<std::size_t>(level)]);
    }
  }

 private:
  std::vector<RTDetrAIFILayer<T>> layers_;
  std::vector<Index> levels_;
};

}  // namespace eigenformer
