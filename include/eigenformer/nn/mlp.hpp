#pragma once
// A stack of Linear layers with an activation between consecutive layers and none after the
// last: DETR's MLP prediction head (HF DetrMLPPredictionHead / RTDetrMLPPredictionHead use
// ReLU), which predicts boxes and encodes reference points as query positions, and with two
// layers a transformer's position-wise feed-forward block (FeedForward).

#include <eigenformer/core/state_dict.hpp>
#include <eigenformer/nn/activations.hpp>
#include <eigenformer/nn/linear.hpp>

#include <string>
#include <utility>
#include <vector>

namespace eigenformer {

template <typename T>
class Mlp {
 public:
  Mlp() = default;
  explicit Mlp(std::vector<Linear<T>> layers, Activation activation = Activation::ReLU)
      : layers_(std::move(layers)), activation_(activation) {
    if (layers_.empty()) throw InvalidArgument("Mlp: needs at least one layer");
    for (std::size_t i = 1; i < layers_.size(); ++i)
      if (layers_[i].in_features() != layers_[i - 1].out_features())
        throw ShapeError(detail::concat("Mlp: layer ", i - 1, " has ",
                                        layers_[i - 1].out_features(), " outputs but layer ", i,
                                        " takes ", layers_[i].in_features()));
  }

  // Binds `<prefix>layers.<i>.{weight,bias}` (HF's ModuleList naming); layer i maps
  // dims[i] -> dims[i + 1], so `dims` holds the input width, the hidden widths and the output
  // width: {4, 512, 256} is RT-DETR's query_pos_head at d_model 256.
  static Mlp load(const StateDict<T>& weights, const std::string& prefix,
                  const std::vector<Index>& dims, Activation activation = Activation::ReLU) {
    if (dims.size() < 2)
      throw InvalidArgument(detail::concat("Mlp '", prefix, "': dims must list at least an input ",
                                           "and an output width, got ", dims.size(), " values"));
    std::vector<Linear<T>> layers;
    layers.reserve(dims.size() - 1);
    for (std::size_t i = 0; i + 1 < dims.size(); ++i)
      layers.push_back(Linear<T>::load(weights, detail::concat(prefix, "layers.", i, "."), dims[i],
                                       dims[i + 1]));
    return Mlp(std::move(layers), activation);
  }

  // Two layers, second(activation(first(x))): a transformer's feed-forward block.
  Mlp(Linear<T> first, Linear<T> second, Activation activation)
      : Mlp(two_layers(std::move(first), std::move(second)), activation) {}

  Index num_layers() const { return static_cast<Index>(layers_.size()); }
  Index in_features() const { return layers_.empty() ? 0 : layers_.front().in_features(); }
  Index out_features() const { return layers_.empty() ? 0 : layers_.back().out_features(); }
  const Linear<T>& layer(Index i) const { return layers_.at(static_cast<std::size_t>(i)); }
  Activation activation() const { return activation_; }

  Matrix<T> forward(const MatrixView<T>& x) const {
    if (layers_.empty())
      throw InvalidArgument("Mlp: forward on an empty (default-constructed) Mlp");
    const std::size_t last = layers_.size() - 1;
    Matrix<T> h = layers_.front().forward(x, last > 0 ? activation_ : Activation::Identity);
    for (std::size_t i = 1; i <= last; ++i)
      h = layers_[i].forward(h, i < last ? activation_ : Activation::Identity);
    return h;
  }

 private:
  // A braced list would copy the layers (initializer_list elements are const).
  static std::vector<Linear<T>> two_layers(Linear<T> first, Linear<T> second) {
    std::vector<Linear<T>> layers;
    layers.reserve(2);
    layers.push_back(std::move(first));
    layers.push_back(std::move(second));
    return layers;
  }

  std::vector<Linear<T>> layers_;
  Activation activation_ = Activation::ReLU;
};

}  // namespace eigenformer
