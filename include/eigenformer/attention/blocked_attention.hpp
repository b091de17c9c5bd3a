#pragma once
// Attention in linear memory: keys and values are visited in blocks and the softmax is
// accumulated online (Milakov & Gimelshein 2018; FlashAttention, Dao et al. 2022; the
// blocked kernel of PyTorch's aten/src/ATen/native/cpu/FlashAttentionKernel.cpp). For each
// block of queries a running row maximum m, normaliser l and unnormalised output acc are
// kept; a new key block with logits S updates them as
//   m' = max(m, rowmax S),  P = exp(S - m'),  c = exp(m - m'),
//   l' = c l + rowsum P,    acc' = c acc + P V_block,
// and the output is acc / l. Extra memory is O(block_q x (block_k + d)) however long the
// sequences are, instead of the L x S probability matrix (the float kernel also keeps a
// packed copy of the keys and values: linear in S).
//
// Float on AVX2 / AVX-512 runs kernels/attention_x86.hpp (chosen at run time, as the other
// kernels); double and the baseline variant run the Eigen code below.

#include <eigenformer/attention/attention_common.hpp>
#include <eigenformer/attention/attention_mask.hpp>
#include <eigenformer/core/threading.hpp>
#include <eigenformer/core/types.hpp>
#include <eigenformer/kernels/attention_x86.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

namespace eigenformer {

template <typename T>
struct BlockedAttentionWorkspace {
  Matrix<T> logits;       // block_q x block_k (the float kernel: 6 x block_k)
  Matrix<T> accumulator;  // block_q x dv
  Vector<T> row_max, row_sum, correction;
  Vector<T> packed_keys, packed_values;  // float kernel only: S x d and S x dv, padded
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

namespace detail {

// Masks a block of float logits for the kernel: the generic (scalar) AttentionMask::apply.
inline void apply_float_mask(const void* mask, float* logits, Index lds, Index rows, Index cols,
                             Index row0, Index col0) {
  Eigen::Map<Matrix<float>, 0, Eigen::OuterStride<>> block(logits, rows, cols,
                                                           Eigen::OuterStride<>(lds));
  static_cast<const AttentionMask<float>*>(mask)->apply(block, row0, col0);
}

// The run-time selected float kernel (kernels/attention_x86.hpp); false for the baseline
// variant, which then runs the Eigen code. Callers have checked the shapes.
inline bool blocked_attention_kernel(const MatrixView<float>& q, const MatrixView<float>& k,
                                     const MatrixView<float>& v, const AttentionMask<float>& mask,
                                     float scale, MutableMatrixView<float>& out,
                                     BlockedAttentionWorkspace<float>& ws,
                                     AttentionBlocking blocking) {
  const Index width = kernels::flash_attention_width(kernel_variant());
  if (width == 0 || q.rows() == 0) return width != 0;
  if (k.rows() == 0) {  // no keys: zeros, as PyTorch (and no block to visit)
    out.setZero();
    return true;
  }
  const bool only_causal = mask.causal && !mask.allowed && !mask.additive && !mask.key_padding;
  const kernels::FlashAttentionArgs args{q.data(),
                                         q.outerStride(),
                                         q.rows(),
                                         q.cols(),
                                         k.data(),
                                         k.outerStride(),
                                         k.rows(),
                                         v.data(),
                                         v.outerStride(),
                                         v.cols(),
                                         out.data(),
                                         out.outerStride(),
                                         scale,
                                         blocking.query_block,
                                         blocking.key_block,
                                         mask.causal,
                                         mask.empty() || only_causal ? nullptr : &apply_float_mask,
                                         &mask,
                                         static_cast<float>(kFloatLogitLimit)};
  const KernelVariant variant = kernel_variant();
  const kernels::FlashAttentionSizes sizes = kernels::flash_attention_sizes(width, args);
  // Outside a parallel region (one head called directly) the query blocks are split between
  // the threads, as the materialised path's products are; within attend_heads' one thread.
  const Index blocks = (q.rows() + blocking.query_block - 1) / blocking.query_block;
  const Index work = q.rows() * k.rows() * (q.cols() + v.cols());
  const int threads = detail::threads_for(blocks, work, detail::WorkKind::MultiplyAdds);
  // resize() keeps the storage when the size is unchanged: no allocation on repeated calls.
  ws.packed_keys.resize(sizes.keys);
  ws.packed_values.resize(sizes.values);
  ws.logits.resize(threads, sizes.logits);
  ws.accumulator.resize(threads, sizes.accumulator);
  ws.row_max.resize(threads * sizes.rows);
  ws.row_sum.resize(threads * sizes.rows);
  kernels::flash_attention_pack(variant, args, ws.packed_keys.data(), ws.packed_values.data());
  // Each thread owns scratch row thread_index(); query blocks are handed out one at a time,
  // since with a causal mask later blocks visit more keys.
  detail::parallel_for(blocks, threads, [&](Index block) {
    const int t = detail::thread_index();
    const kernels::FlashAttentionScratch scratch{ws.packed_keys.data(),
                                                 ws.packed_values.data(),
                                                 ws.logits.row(t).data(),
                                                 ws.accumulator.row(t).data(),
                                                 ws.row_max.data() + t * sizes.rows,
                                                 ws.row_sum.data() + t * sizes.rows};
    kernels::flash_attention_queries(variant, args, scratch, block, block + 1);
  });
  return true;
}

}  // namespace detail

template <typename T>
void blocked_attention(const MatrixView<T>& q, const MatrixView<T>& k, const MatrixView<T>& v,
                       const AttentionMask<T>& mask, T scale, MutableMatrixView<T> out,
                       BlockedAttentionWorkspace<T>& ws, AttentionBlocking blocking = {}) {
  detail::check_attention_shapes<T>(q, k, v, out.rows(), out.cols());
  mask.check(q.rows(), k.rows());
  blocking.check();
  if constexpr (std::is_same_v<T, float>) {
    if (detail::blocked_attention_kernel(q, k, v, mask, scale, out, ws, blocking)) return;
  }
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
