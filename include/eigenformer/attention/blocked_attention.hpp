#pragma once
// Attention in linear memory: keys and values are visited in blocks and the softmax is
// accumulated online (Milakov & Gimelshein 2018; FlashAttention, Dao et al. 2022; the
// blocked kernel of PyTorch's aten/src/ATen/native/cpu/FlashAttentionKernel.cpp). For each
// block of queries a running row maximum m, normaliser l and unnormalised output acc are
// kept; a new key block with logits S updates them as
//   m' = max(m, rowmax S),  P = exp(S - m'),  c = exp(m - m'),
//   l' = c l + rowsum P,    acc' = c acc + P V_block,
// and the output is acc / l. Extra memory is O(block_q x (block_k + d)) however long the
// sequences are, instead of the L x S probability matrix.

#include <eigenformer/attention/attention_common.hpp>
#include <eigenformer/attention/attention_mask.hpp>
#include <eigenformer/core/types.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

namespace eigenformer {

template <typename T>
struct BlockedAttentionWorkspace {
  Matrix<T> logits;       // block_q x block_k
  Matrix<T> accumulator;  // block_q x dv
  Vector<T> row_max, row_sum, correction;
};

struct AttentionBlocking {
  Index query_block = 64;
  Index key_block = 256;

  // A block of zero rows would never advance the loops over queries and keys.
  void check() const {
    if (query_block <= 0 || key_block <= 0)
      throw InvalidArgument(detail::concat("AttentionBlocking: query_block ", query_block,
                                           " and key_block ", key_block, " must be positive"));
  }
};

template <typename T>
void blocked_attention(const MatrixView<T>& q, const MatrixView<T>& k, const MatrixView<T>& v,
                       const AttentionMask<T>& mask, T scale, MutableMatrixView<T> out,
                       BlockedAttentionWorkspace<T>& ws, AttentionBlocking blocking = {}) {
  detail::check_attention_shapes<T>(q, k, v, out.rows(), out.cols());
  mask.check(q.rows(), k.rows());
  blocking.check();
  constexpr T minus_inf = -std::numeric_limits<T>::infinity();
  const Index queries = q.rows(), keys = k.rows(), dv = v.cols();
  for (Index q0 = 0; q0 < queries; q0 += blocking.query_block) {
    const Index bq = std::min(blocking.query_block, queries - q0);
    ws.accumulator.setZero(bq, dv);
    ws.row_max.setConstant(bq, minus_inf);
    ws.row_sum.setZero(bq);
    for (Index k0 = 0; k0 < keys; k0 += blocking.key_block) {
      if (mask.causally_skipped(q0 + bq - 1, k0)) break;  // later blocks are masked too
      const Index bk = std::min(blocking.key_block, keys - k0);
      ws.logits.resize(bq, bk);
      detail::compute_logits<T>(q.middleRows(q0, bq), k.middleRows(k0, bk), scale, ws.logits);
      if (!mask.empty()) mask.apply(ws.logits, q0, k0);
      ws.correction.resize(bq);
      for (Index i = 0; i < bq; ++i) {
        const T block_max = ws.logits.row(i).maxCoeff();
        const T new_max = std::max(ws.row_max(i), block_max);
        if (new_max == minus_inf) {  // every key so far masked for this query
          ws.logits.row(i).setZero();
          ws.correction(i) = T(1);
          continue;
        }
        ws.logits.row(i) = (ws.logits.row(i).array() - new_max).exp().matrix();
        ws.correction(i) = std::exp(ws.row_max(i) - new_max);
        ws.row_sum(i) = ws.row_sum(i) * ws.correction(i) + ws.logits.row(i).sum();
        ws.row_max(i) = new_max;
      }
      ws.accumulator = ws.correction.asDiagonal() * ws.accumulator;
      ws.accumulator.noalias() += ws.logits * v.middleRows(k0, bk);
    }
    // A query that could attend no key (all masked, or no keys at all) keeps l = 0 and gets
    // zeros, as the materialised path.
    for (Index i = 0; i < bq; ++i)
      out.row(q0 + i) = ws.row_sum(i) > T(0) ? (ws.accumulator.row(i) / ws.row_sum(i)).eval()
                                             : RowVector<T>::Zero(dv);
  }
}

}  // namespace eigenformer
