#pragma once
// The residual sub-blocks transformer layers are built of, shared by the decoder layers
// (TransformerDecoderLayer, RTDetrDecoderLayer) so each computes them one way, in PyTorch's
// two norm placements:
//   post-norm: h = norm(h + f(h))      pre-norm: h = h + f(norm(h))

#include <eigenformer/attention/attention_mask.hpp>
#include <eigenformer/attention/multi_head_attention.hpp>
#include <eigenformer/core/error.hpp>
#include <eigenformer/core/sequence_batch.hpp>
#include <eigenformer/core/trace.hpp>
#include <eigenformer/nn/layer_norm.hpp>
#include <eigenformer/nn/mlp.hpp>

#include <optional>
#include <string>
#include <utility>

namespace eigenformer {
namespace detail {

// h gets sublayer's output added, with `norm` before the sublayer (norm_first) or after the sum.
template <typename T, typename Sublayer>
void add_and_norm(Matrix<T>& h, const LayerNorm<T>& norm, bool norm_first, Sublayer&& sublayer) {
  if (norm_first) {
    h += sublayer(norm.forward(h));
  } else {
    h += sublayer(h);
    norm.apply(h);
  }
}

}  // namespace detail

// Self-attention + add + norm. A position embedding, when given, is added to the queries and
// keys but not the values, as DETR-family decoders do.
template <typename T>
class SelfAttentionBlock {
 public:
  SelfAttentionBlock() = default;
  // `module`: the attention's upstream name ("model.decoder.layers.0.self_attn"), which the
  // trace records its output under.
  SelfAttentionBlock(MultiHeadAttention<T> attention, LayerNorm<T> norm, bool norm_first,
                     std::string module = "")
      : attention_(std::move(attention)),
        norm_(std::move(norm)),
        norm_first_(norm_first),
        module_(std::move(module)) {}

  const MultiHeadAttention<T>& attention() const { return attention_; }
  const LayerNorm<T>& norm() const { return norm_; }

  // In place on `h` (rows follow `batch`); `position` has the shape of `h`.
  void apply(Matrix<T>& h, const SequenceBatch& batch, const AttentionMask<T>& mask = {},
             const std::optional<MatrixView<T>>& position = std::nullopt,
             Trace<T>* trace = nullptr) const {
    detail::add_and_norm(h, norm_, norm_first_, [&](const MatrixView<T>& x) {
      Matrix<T> out = attend(x, batch, mask, position);
      if (trace) trace->record(module_, out);
      return out;
    });
  }

 private:
  Matrix<T> attend(const MatrixView<T>& x, const SequenceBatch& batch, const AttentionMask<T>& mask,
                   const std::optional<MatrixView<T>>& position) const {
    if (!position) return attention_.forward(x, batch, mask);
    if (position->rows() != x.rows() || position->cols() != x.cols())
      throw ShapeError(detail::concat("self-attention: position embedding is ", position->rows(),
                                      " x ", position->cols(), ", expected ", x.rows(), " x ",
                                      x.cols()));
    const Matrix<T> with_position = x + *position;
    return attention_.forward(with_position, with_position, x, batch, batch, mask);
  }

  MultiHeadAttention<T> attention_;
  LayerNorm<T> norm_;
  bool norm_first_ = false;
  std::string module_;
};

// Feed-forward (a two-layer Mlp, activation between) + add + norm.
template <typename T>
class FeedForwardBlock {
 public:
  FeedForwardBlock() = default;
  FeedForwardBlock(Mlp<T> feed_forward, LayerNorm<T> norm, bool norm_first)
      : feed_forward_(std::move(feed_forward)), norm_(std::move(norm)), norm_first_(norm_first) {}

  const Mlp<T>& feed_forward() const { return feed_forward_; }
  const LayerNorm<T>& norm() const { return norm_; }

  void apply(Matrix<T>& h) const {
    detail::add_and_norm(h, norm_, norm_first_,
                         [&](const MatrixView<T>& x) { return feed_forward_.forward(x); });
  }

 private:
  Mlp<T> feed_forward_;
  LayerNorm<T> norm_;
  bool norm_first_ = false;
};

}  // namespace eigenformer
