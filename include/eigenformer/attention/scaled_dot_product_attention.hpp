#pragma once
// softmax(scale * Q K^T + mask) V for one head, as torch.nn.functional.
// scaled_dot_product_attention computes it. Q is L x E, K is S x E, V is S x Ev; L may
// differ from S and Ev from E. Inputs may be column blocks of wider matrices (a head's
// slice of a fused projection), so no per-head copies are needed.
//
// Short key sequences form the L x S probabilities at once (materialized_attention.hpp);
// longer ones are processed in blocks with an online softmax (blocked_attention.hpp), so
// memory grows linearly with the sequence length. Both give the same result up to rounding;
// use_blocked_attention() is the rule.

#include <eigenformer/attention/attention_common.hpp>
#include <eigenformer/attention/attention_mask.hpp>
#include <eigenformer/attention/blocked_attention.hpp>
#include <eigenformer/attention/materialized_attention.hpp>

#include <optional>
#include <type_traits>

namespace eigenformer {

// Where the blocked path wins (docs/performance.md, "Long attention"): the float kernel of
// kernels/attention_x86.hpp (AVX2 / AVX-512) ties with the materialised path at 64 keys and
// is faster from 128 on; the Eigen blocked code (double, baseline variant) only beyond 1024.
constexpr Index kBlockedKernelMinKeys = 128;
constexpr Index kMaterializedKeyLimit = 1024;

template <typename T>
bool use_blocked_attention(Index keys) {
  if constexpr (std::is_same_v<T, float>) {
    if (kernels::flash_attention_width(kernel_variant()) > 0) return keys >= kBlockedKernelMinKeys;
  }
  return keys > kMaterializedKeyLimit;
}

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
  if (use_blocked_attention<T>(k.rows()))
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
