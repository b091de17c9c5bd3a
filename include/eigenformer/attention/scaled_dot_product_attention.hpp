#pragma once
// softmax(scale * Q K^T + mask) V for one head, as torch.nn.functional.
// scaled_dot_product_attention computes it. Q is L x E, K is S x E, V is S x Ev; L may
// differ from S and Ev from E. Inputs may be column blocks of wider matrices (a head's
// slice of a fused projection), so no per-head copies are needed.
//
// Up to kMaterializedKeyLimit keys the L x S probabilities are formed at once; beyond, keys
// are processed in blocks with an online softmax (blocked_attention.hpp), so memory grows
// linearly with the sequence length. Both give the same result up to rounding.

#include <eigenformer/attention/attention_common.hpp>
#include <eigenformer/attention/attention_mask.hpp>
#include <eigenformer/attention/blocked_attention.hpp>
#include <eigenformer/attention/materialized_attention.hpp>

#include <optional>

namespace eigenformer {

constexpr Index kMaterializedKeyLimit = 1024;

template <typename T>
struct AttentionWorkspace {
  Matrix<T> probabilities;
  BlockedAttentionWorkspace<T> blocked;
};

// Writes into `out` (L x Ev); `workspace` is reused across calls to avoid allocation.
template <typename T>
void scaled_dot_product_attention(const MatrixView<T>& q, const MatrixView<T>& k,
                                  const MatrixView<T>& v, const AttentionMask<T>& mask, T scale,
                                  MutableMatrixView<T> out, AttentionWorkspace<T>& workspace) {
  if (k.rows() > kMaterializedKeyLimit)
    blocked_attention<T>(q, k, v, mask, scale, out, workspace.blocked);
  else
    materialized_attention<T>(q, k, v, mask, scale, out, workspace.probabilities);
}

template <typename T>
Matrix<T> scaled_dot_product_attention(const MatrixView<T>& q, const MatrixView<T>& k,
                                       const MatrixView<T>& v,
                                       const AttentionMask<T>& mask = AttentionMask<T>(),
                                       std::optional<T> scale = std::nullopt) {
  Matrix<T> out(q.rows(), v.cols());
  AttentionWorkspace<T> workspace;
  scaled_dot_product_attention<T>(
      q, k, v, mask, scale.value_or(default_attention_scale<T>(q.cols())), out, workspace);
  return out;
}

}  // namespace eigenformer
