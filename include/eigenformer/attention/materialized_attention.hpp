#pragma once
// Attention with the L x S probability matrix formed explicitly: the fastest path for
// short and moderate lengths, and the one that can return the attention weights.

#include <eigenformer/attention/attention_common.hpp>
#include <eigenformer/attention/attention_mask.hpp>
#include <eigenformer/nn/softmax.hpp>

namespace eigenformer {

// Materialised attention: the L x S probabilities are formed in `probabilities` (resized as
// needed, reusable across calls), which afterwards holds the attention weights.
template <typename T>
void materialized_attention(const MatrixView<T>& q, const MatrixView<T>& k, const MatrixView<T>& v,
                            const AttentionMask<T>& mask, T scale, MutableMatrixView<T> out,
                            Matrix<T>& probabilities) {
  detail::check_attention_shapes<T>(q, k, v, out.rows(), out.cols());
  mask.check(q.rows(), k.rows());
  probabilities.resize(q.rows(), k.rows());
  // No keys: PyTorch returns zeros(L, Ev), and an empty row has no softmax to take.
  if (k.rows() == 0) {
    out.setZero();
    return;
  }
  detail::compute_logits<T>(q, k, scale, probabilities);
  if (!mask.empty()) mask.apply(probabilities, 0, 0);
  softmax_rows<T>(probabilities);
  PackedWeight<T>& values = detail::attention_packs<T>().values;
  values.pack(v.transpose());
  values.multiply(probabilities, out);
}

}  // namespace eigenformer
