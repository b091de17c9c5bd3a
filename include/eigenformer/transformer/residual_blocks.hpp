#pragma once
// The residual sub-blocks transformer layers are built of, shared by the encoder and decoder
// layers (TransformerEncoderLayer, TransformerDecoderLayer, RTDetrDecoderLayer and every
// model binding onto them) so each computes them one way, in PyTorch's two norm placements:
//   post-norm: h = norm(h + f(h))      pre-norm: h = h + f(norm(h))
// Post-norm adds the residual inside the LayerNorm's pass over the rows; buffers live in a
// LayerWorkspace that callers may keep, so repeated calls do not allocate.

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
#include <vector>

namespace eigenformer {
// Scratch buffers of a layer's blocks. One per thread: a workspace is not shareable.
template <typename T>
struct LayerWorkspace {
  Matrix<T> normed, qkv, context, intermediate, projected;
  std::vector<AttentionWorkspace<T>> attention;  // one per thread
};

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

// The sublayer's input: h itself (post-norm) or norm(h) in `normed` (pre-norm).
template <typename T>
const Matrix<T>& sublayer_input(const Matrix<T>& h, const LayerNorm<T>& norm, bool norm_first,
                                Matrix<T>& normed) {
  if (!norm_first) return h;
  normed = h;
  norm.apply(normed);
  return normed;
}

// h += out (pre-norm) or h = norm(h + out) in one pass (post-norm).
template <typename T>
void add_residual(Matrix<T>& h, const Matrix<T>& out, const LayerNorm<T>& norm, bool norm_first) {
  if (norm_first)
    h += out;
  else
    norm.apply_residual(out, h);
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
             const std::optional<MatrixView<T>>& position = std::nullopt, Trace<T>* trace = nullptr,
             LayerWorkspace<T>* workspace = nullptr) const {
    LayerWorkspace<T> local;
    LayerWorkspace<T>& ws = workspace ? *workspace : local;
    const Matrix<T>& x = detail::sublayer_input(h, norm_, norm_first_, ws.normed);
    attention_.self_attention_context(x, position ? &*position : nullptr, batch, mask, ws.qkv,
                                      ws.context, &ws.attention);
    ws.projected.resize(h.rows(), attention_.embed_dim());
    attention_.output_projection().forward(ws.context, ws.projected);
    if (trace) trace->record(module_, ws.projected);
    detail::add_residual(h, ws.projected, norm_, norm_first_);
  }

 private:
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
      : feed_forward_(std::move(feed_forward)), norm_(std::move(norm)), norm_first_(norm_first) {
    if (feed_forward_.num_layers() != 2)
      throw InvalidArgument(detail::concat("FeedForwardBlock: the feed-forward has ",
                                           feed_forward_.num_layers(), " layers, expected 2"));
  }

  const Mlp<T>& feed_forward() const { return feed_forward_; }
  const LayerNorm<T>& norm() const { return norm_; }

  // The first product's bias and activation are applied inside it.
  void apply(Matrix<T>& h, LayerWorkspace<T>* workspace = nullptr) const {
    LayerWorkspace<T> local;
    LayerWorkspace<T>& ws = workspace ? *workspace : local;
    const Matrix<T>& x = detail::sublayer_input(h, norm_, norm_first_, ws.normed);
    const Linear<T>& first = feed_forward_.layer(0);
    ws.intermediate.resize(h.rows(), first.out_features());
    first.forward(x, ws.intermediate, feed_forward_.activation());
    ws.projected.resize(h.rows(), feed_forward_.out_features());
    feed_forward_.layer(1).forward(ws.intermediate, ws.projected);
    detail::add_residual(h, ws.projected, norm_, norm_first_);
  }

 private:
  Mlp<T> feed_forward_;
  LayerNorm<T> norm_;
  bool norm_first_ = false;
};

}  // namespace eigenformer
