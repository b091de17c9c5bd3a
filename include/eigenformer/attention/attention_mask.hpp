#pragma once
// Which keys each query may attend to, for one attention head over L queries and S keys.
// The parts combine: a key is attended only if every part present allows it, and the
// additive bias is added to the logits of the allowed keys.
//
// Conventions (PyTorch's):
// - `causal`: query i attends key j iff j <= i, the lower-left triangle of the L x S
//   matrix as `F.scaled_dot_product_attention(is_causal=True)` builds it, also when L != S;
// - `allowed` (L x S): true = may attend, the SDPA boolean convention. Note that
//   nn.MultiheadAttention's boolean attn_mask is the opposite (true = masked): negate it;
// - `additive` (L x S): added to the scaled logits (use -inf to mask);
// - `key_padding` (S): true = padded key, ignored, as nn.MultiheadAttention's key_padding_mask.
//
// A query that may attend no key at all gets an all-zero output row (and zero attention
// weights), as F.scaled_dot_product_attention returns since PyTorch 2.5 (_safe_softmax,
// pytorch#133882); SDPA before 2.5 and a plain torch.softmax over the logits give NaN there.
// A padded query row thus stays finite and harmless.

#include <eigenformer/core/error.hpp>
#include <eigenformer/core/types.hpp>

#include <optional>

namespace eigenformer {

template <typename T>
struct AttentionMask {
  bool causal = false;
  std::optional<Eigen::Ref<const BoolMatrix, 0, Eigen::OuterStride<>>> allowed;
  std::optional<MatrixView<T>> additive;
  std::optional<Eigen::Ref<const BoolVector>> key_padding;

  static AttentionMask none() { return {}; }
  static AttentionMask causal_mask() {
    AttentionMask mask;
    mask.causal = true;
    return mask;
  }

  bool empty() const { return !causal && !allowed && !additive && !key_padding; }

  void check(Index queries, Index keys) const {
    auto expect = [&](const char* what, Index rows, Index cols, Index want_rows, Index want_cols) {
      if (rows != want_rows || cols != want_cols)
        throw ShapeError(detail::concat("attention mask '", what, "' is ", rows, " x ", cols,
                                        ", expected ", want_rows, " x ", want_cols,
                                        " (queries x keys)"));
    };
    if (allowed) expect("allowed", allowed->rows(), allowed->cols(), queries, keys);
    if (additive) expect("additive", additive->rows(), additive->cols(), queries, keys);
    if (key_padding) expect("key_padding", key_padding->size(), 1, keys, 1);
  }

  // Adds the mask to a block of logits: rows [row0, row0 + rows) and columns
  // [col0, col0 + cols) of the full L x S logit matrix. Masked entries become -inf.
  template <typename Block>
  void apply(Block&& logits, Index row0, Index col0) const {
    constexpr T minus_inf = -std::numeric_limits<T>::infinity();
    if (additive) logits += additive->block(row0, col0, logits.rows(), logits.cols());
    for (Index i = 0; i < logits.rows(); ++i) {
      for (Index j = 0; j < logits.cols(); ++j) {
        const Index query = row0 + i, key = col0 + j;
        const bool masked = (causal && key > query) || (allowed && !(*allowed)(query, key)) ||
                            (key_padding && (*key_padding)(key));
        if (masked) logits(i, j) = minus_inf;
      }
    }
  }

  // True when no key in columns [col0, col0 + cols) can be allowed for rows up to
  // row0 + rows - 1 by the causal part: lets blocked kernels skip whole key blocks.
  bool causally_skipped(Index last_row, Index col0) const { return causal && col0 > last_row; }
};

}  // namespace eigenformer
