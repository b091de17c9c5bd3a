#pragma once
// torch.nn.TransformerEncoderLayer(batch_first=True):
//   post-norm: x = norm1(x + SA(x));  x = norm2(x + FF(x))
//   pre-norm:  x = x + SA(norm1(x));  x = x + FF(norm2(x))
// Optionally a position embedding is added to the queries and keys of the self-attention
// but not to its values, as DETR-family encoders (RT-DETR's AIFI) do.

#include <eigenformer/attention/multi_head_attention.hpp>
#include <eigenformer/nn/layer_norm.hpp>
#include <eigenformer/transformer/feed_forward.hpp>
#include <eigenformer/transformer/layer_widths.hpp>

#include <optional>
#include <string>

namespace eigenformer {

struct TransformerLayerConfig {
  Index d_model = 512;
  Index num_heads = 8;
  Index dim_feedforward = 2048;
  Activation activation = Activation::ReLU;
  bool norm_first = false;
  double layer_norm_eps = 1e-5;
};

template <typename T>
class TransformerEncoderLayer {
 public:
  TransformerEncoderLayer() = default;
  TransformerEncoderLayer(MultiHeadAttention<T> self_attention, FeedForward<T> feed_forward,
                          LayerNorm<T> attention_norm, LayerNorm<T> feed_forward_norm,
                          bool norm_first)
      : self_attention_(std::move(self_attention)),
        feed_forward_(std::move(feed_forward)),
        attention_norm_(std::move(attention_norm)),
        feed_forward_norm_(std::move(feed_forward_norm)),
        norm_first_(norm_first) {
    const char* layer = "TransformerEncoderLayer";
    const Index d = self_attention_.embed_dim();
    detail::check_attention_widths(layer, "self-attention", self_attention_, d, true);
    detail::check_feed_forward_widths(layer, feed_forward_, d);
    detail::check_norm_width(layer, "attention norm", attention_norm_, d);
    detail::check_norm_width(layer, "feed-forward norm", feed_forward_norm_, d);
  }

  // nn.TransformerEncoderLayer's state_dict under `prefix` ("layers.0.").
  static TransformerEncoderLayer load(const StateDict<T>& weights, const std::string& prefix,
                                      const TransformerLayerConfig& config) {
    const Index d = config.d_model, ff = config.dim_feedforward;
    const T eps = static_cast<T>(config.layer_norm_eps);
    return TransformerEncoderLayer(
        MultiHeadAttention<T>::load(weights, prefix + "self_attn.", d, config.num_heads),
        FeedForward<T>(Linear<T>::load(weights, prefix + "linear1.", d, ff),
                       Linear<T>::load(weights, prefix + "linear2.", ff, d), config.activation),
        LayerNorm<T>::load(weights, prefix + "norm1.", d, eps),
        LayerNorm<T>::load(weights, prefix + "norm2.", d, eps), config.norm_first);
  }

  const MultiHeadAttention<T>& self_attention() const { return self_attention_; }

  // `mask` as for MultiHeadAttention (key_padding: true = padded row). `position`, when
  // given, has the shape of `x` and is added to queries and keys only.
  Matrix<T> forward(const MatrixView<T>& x, const SequenceBatch& batch,
                    const AttentionMask<T>& mask = {},
                    std::optional<MatrixView<T>> position = std::nullopt) const {
    Matrix<T> h = x;
    if (norm_first_) {
      h += attend(attention_norm_.forward(h), batch, mask, position);
      h += feed_forward_.forward(feed_forward_norm_.forward(h));
    } else {
      h += attend(h, batch, mask, position);
      attention_norm_.apply(h);
      h += feed_forward_.forward(h);
      feed_forward_norm_.apply(h);
    }
    return h;
  }

 private:
  Matrix<T> attend(const MatrixView<T>& x, const SequenceBatch& batch, const AttentionMask<T>& mask,
                   const std::optional<MatrixView<T>>& position) const {
    if (!position) return self_attention_.forward(x, batch, mask);
    if (position->rows() != x.rows() || position->cols() != x.cols())
      throw ShapeError(detail::concat("TransformerEncoderLayer: position embedding is ",
                                      position->rows(), " x ", position->cols(), ", expected ",
                                      x.rows(), " x ", x.cols()));
    const Matrix<T> with_position = x + *position;
    return self_attention_.forward(with_position, with_position, x, batch, batch, mask);
  }

  MultiHeadAttention<T> self_attention_;
  FeedForward<T> feed_forward_;
  LayerNorm<T> attention_norm_, feed_forward_norm_;
  bool norm_first_ = false;
};

}  // namespace eigenformer
