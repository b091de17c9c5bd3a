#pragma once
// torch.nn.TransformerEncoderLayer(batch_first=True):
//   post-norm: x = norm1(x + SA(x));  x = norm2(x + FF(x))
//   pre-norm:  x = x + SA(norm1(x));  x = x + FF(norm2(x))
// Optionally a position embedding is added to the queries and keys of the self-attention
// but not to its values, as DETR-family encoders (RT-DETR's AIFI) do. Every encoder model
// (BERT, RT-DETR's AIFI) binds its checkpoint's names onto this one layer (EncoderLayerNames).

#include <eigenformer/attention/multi_head_attention.hpp>
#include <eigenformer/nn/layer_norm.hpp>
#include <eigenformer/transformer/feed_forward.hpp>
#include <eigenformer/transformer/layer_widths.hpp>
#include <eigenformer/transformer/residual_blocks.hpp>

#include <optional>
#include <string>
#include <utility>

namespace eigenformer {

struct TransformerLayerConfig {
  Index d_model = 512;
  Index num_heads = 8;
  Index dim_feedforward = 2048;
  Activation activation = Activation::ReLU;
  bool norm_first = false;
  double layer_norm_eps = 1e-5;
};

// Where an encoder layer's parameters sit under the layer's prefix: the weight-name schema of
// one checkpoint family. The self-attention is either an nn.MultiheadAttention
// (`packed_attention`: in_proj_weight, in_proj_bias, out_proj) or four Linear layers.
struct EncoderLayerNames {
  std::string packed_attention;
  std::string query, key, value, attention_output;
  std::string attention_norm;
  std::string feed_forward_in, feed_forward_out;
  std::string feed_forward_norm;

  // Self-attention as four Linear layers: query, key, value, output.
  static EncoderLayerNames separate(std::string query, std::string key, std::string value,
                                    std::string attention_output, std::string attention_norm,
                                    std::string feed_forward_in, std::string feed_forward_out,
                                    std::string feed_forward_norm) {
    return {"",
            std::move(query),
            std::move(key),
            std::move(value),
            std::move(attention_output),
            std::move(attention_norm),
            std::move(feed_forward_in),
            std::move(feed_forward_out),
            std::move(feed_forward_norm)};
  }

  // Self-attention as one nn.MultiheadAttention.
  static EncoderLayerNames packed(std::string attention, std::string attention_norm,
                                  std::string feed_forward_in, std::string feed_forward_out,
                                  std::string feed_forward_norm) {
    return {std::move(attention),
            "",
            "",
            "",
            "",
            std::move(attention_norm),
            std::move(feed_forward_in),
            std::move(feed_forward_out),
            std::move(feed_forward_norm)};
  }

  // torch.nn.TransformerEncoderLayer's state_dict.
  static EncoderLayerNames torch() {
    return packed("self_attn.", "norm1.", "linear1.", "linear2.", "norm2.");
  }
};

template <typename T>
class TransformerEncoderLayer {
 public:
  TransformerEncoderLayer() = default;
  TransformerEncoderLayer(MultiHeadAttention<T> self_attention, FeedForward<T> feed_forward,
                          LayerNorm<T> attention_norm, LayerNorm<T> feed_forward_norm,
                          bool norm_first) {
    const char* layer = "TransformerEncoderLayer";
    const Index d = self_attention.embed_dim();
    detail::check_attention_widths(layer, "self-attention", self_attention, d, true);
    detail::check_feed_forward_widths(layer, feed_forward, d);
    detail::check_norm_width(layer, "attention norm", attention_norm, d);
    detail::check_norm_width(layer, "feed-forward norm", feed_forward_norm, d);
    self_attention_ =
        SelfAttentionBlock<T>(std::move(self_attention), std::move(attention_norm), norm_first);
    feed_forward_ =
        FeedForwardBlock<T>(std::move(feed_forward), std::move(feed_forward_norm), norm_first);
  }

  // The layer under `prefix` ("layers.0."), its parameters named as `names` says.
  static TransformerEncoderLayer load(const StateDict<T>& weights, const std::string& prefix,
                                      const TransformerLayerConfig& config,
                                      const EncoderLayerNames& names = EncoderLayerNames::torch()) {
    const Index d = config.d_model, ff = config.dim_feedforward;
    const T eps = static_cast<T>(config.layer_norm_eps);
    auto linear = [&](const std::string& name, Index in, Index out) {
      return Linear<T>::load(weights, prefix + name, in, out);
    };
    // One statement per part: the first mismatching tensor in layer order is the one reported.
    MultiHeadAttention<T> attention;
    if (names.packed_attention.empty()) {
      Linear<T> query = linear(names.query, d, d);
      Linear<T> key = linear(names.key, d, d);
      Linear<T> value = linear(names.value, d, d);
      attention = MultiHeadAttention<T>(std::move(query), std::move(key), std::move(value),
                                        linear(names.attention_output, d, d), config.num_heads);
    } else {
      attention = MultiHeadAttention<T>::load(weights, prefix + names.packed_attention, d,
                                              config.num_heads);
    }
    LayerNorm<T> attention_norm =
        LayerNorm<T>::load(weights, prefix + names.attention_norm, d, eps);
    Linear<T> feed_forward_in = linear(names.feed_forward_in, d, ff);
    Linear<T> feed_forward_out = linear(names.feed_forward_out, ff, d);
    return TransformerEncoderLayer(
        std::move(attention),
        FeedForward<T>(std::move(feed_forward_in), std::move(feed_forward_out), config.activation),
        std::move(attention_norm),
        LayerNorm<T>::load(weights, prefix + names.feed_forward_norm, d, eps), config.norm_first);
  }

  Index d_model() const { return self_attention_.attention().embed_dim(); }
  const MultiHeadAttention<T>& self_attention() const { return self_attention_.attention(); }

  // `mask` as for MultiHeadAttention (key_padding: true = padded row). `position`, when
  // given, has the shape of `x` and is added to queries and keys only.
  Matrix<T> forward(const MatrixView<T>& x, const SequenceBatch& batch,
                    const AttentionMask<T>& mask = {},
                    std::optional<MatrixView<T>> position = std::nullopt) const {
    Matrix<T> h = x;
    apply(h, batch, mask, position);
    return h;
  }

  // In place on `h`, with the buffers of `workspace` when given (see LayerWorkspace).
  void apply(Matrix<T>& h, const SequenceBatch& batch, const AttentionMask<T>& mask = {},
             const std::optional<MatrixView<T>>& position = std::nullopt,
             LayerWorkspace<T>* workspace = nullptr) const {
    if (h.cols() != d_model())
      throw ShapeError(detail::concat("TransformerEncoderLayer: input is ", h.rows(), " x ",
                                      h.cols(), ", expected ", d_model(), " columns"));
    LayerWorkspace<T> local;
    LayerWorkspace<T>& ws = workspace ? *workspace : local;
    self_attention_.apply(h, batch, mask, position, nullptr, &ws);
    feed_forward_.apply(h, &ws);
  }

 private:
  SelfAttentionBlock<T> self_attention_;
  FeedForwardBlock<T> feed_forward_;
};

}  // namespace eigenformer
