#pragma once
// torch.nn.TransformerDecoderLayer(batch_first=True):
//   post-norm: x = norm1(x + SA(x)); x = norm2(x + CA(x, memory)); x = norm3(x + FF(x))
//   pre-norm:  x = x + SA(norm1(x)); x = x + CA(norm2(x), memory); x = x + FF(norm3(x))

#include <eigenformer/attention/multi_head_attention.hpp>
#include <eigenformer/nn/layer_norm.hpp>
#include <eigenformer/transformer/encoder_layer.hpp>
#include <eigenformer/transformer/feed_forward.hpp>
#include <eigenformer/transformer/layer_widths.hpp>
#include <eigenformer/transformer/residual_blocks.hpp>

#include <string>
#include <utility>

namespace eigenformer {

template <typename T>
class TransformerDecoderLayer {
 public:
  TransformerDecoderLayer() = default;
  TransformerDecoderLayer(MultiHeadAttention<T> self_attention,
                          MultiHeadAttention<T> cross_attention, FeedForward<T> feed_forward,
                          LayerNorm<T> self_attention_norm, LayerNorm<T> cross_attention_norm,
                          LayerNorm<T> feed_forward_norm, bool norm_first)
      : cross_attention_(std::move(cross_attention)),
        cross_attention_norm_(std::move(cross_attention_norm)),
        norm_first_(norm_first) {
    const char* layer = "TransformerDecoderLayer";
    const Index d = self_attention.embed_dim();
    detail::check_attention_widths(layer, "self-attention", self_attention, d, true);
    detail::check_attention_widths(layer, "cross-attention", cross_attention_, d, false);
    detail::check_feed_forward_widths(layer, feed_forward, d);
    detail::check_norm_width(layer, "self-attention norm", self_attention_norm, d);
    detail::check_norm_width(layer, "cross-attention norm", cross_attention_norm_, d);
    detail::check_norm_width(layer, "feed-forward norm", feed_forward_norm, d);
    self_attention_ = SelfAttentionBlock<T>(std::move(self_attention),
                                            std::move(self_attention_norm), norm_first);
    feed_forward_ =
        FeedForwardBlock<T>(std::move(feed_forward), std::move(feed_forward_norm), norm_first);
  }

  // nn.TransformerDecoderLayer's state_dict under `prefix`.
  static TransformerDecoderLayer load(const StateDict<T>& weights, const std::string& prefix,
                                      const TransformerLayerConfig& config) {
    const Index d = config.d_model, ff = config.dim_feedforward;
    const T eps = static_cast<T>(config.layer_norm_eps);
    return TransformerDecoderLayer(
        MultiHeadAttention<T>::load(weights, prefix + "self_attn.", d, config.num_heads),
        MultiHeadAttention<T>::load(weights, prefix + "multihead_attn.", d, config.num_heads),
        FeedForward<T>(Linear<T>::load(weights, prefix + "linear1.", d, ff),
                       Linear<T>::load(weights, prefix + "linear2.", ff, d), config.activation),
        LayerNorm<T>::load(weights, prefix + "norm1.", d, eps),
        LayerNorm<T>::load(weights, prefix + "norm2.", d, eps),
        LayerNorm<T>::load(weights, prefix + "norm3.", d, eps), config.norm_first);
  }

  // `target` rows follow `target_batch`, `memory` rows `memory_batch`. `target_mask`
  // applies to the self-attention (for example causal), `memory_mask` to the
  // cross-attention (for example key_padding over the memory rows).
  Matrix<T> forward(const MatrixView<T>& target, const MatrixView<T>& memory,
                    const SequenceBatch& target_batch, const SequenceBatch& memory_batch,
                    const AttentionMask<T>& target_mask = {},
                    const AttentionMask<T>& memory_mask = {}) const {
    Matrix<T> h = target;
    self_attention_.apply(h, target_batch, target_mask);
    detail::add_and_norm(h, cross_attention_norm_, norm_first_, [&](const MatrixView<T>& x) {
      return cross_attention_.forward(x, memory, memory, target_batch, memory_batch, memory_mask);
    });
    feed_forward_.apply(h);
    return h;
  }

 private:
  SelfAttentionBlock<T> self_attention_;
  MultiHeadAttention<T> cross_attention_;
  LayerNorm<T> cross_attention_norm_;
  FeedForwardBlock<T> feed_forward_;
  bool norm_first_ = false;
};

}  // namespace eigenformer
