#pragma once
// The core of multi-head attention after the projections: for every sequence of a stacked
// batch and every head, attention over that head's column block of Q, K and V, written
// into the same column block of `context`. No per-head copies; (sequence, head) pairs run
// in parallel.

#include <eigenformer/attention/attention_mask.hpp>
#include <eigenformer/attention/scaled_dot_product_attention.hpp>
#include <eigenformer/core/error.hpp>
#include <eigenformer/core/sequence_batch.hpp>
#include <eigenformer/core/threading.hpp>

#include <vector>

namespace eigenformer {

namespace detail {

// The part of `mask` that concerns sequence `b`: its slice of the stacked key padding.
template <typename T>
AttentionMask<T> sequence_mask(const AttentionMask<T>& mask, const SequenceBatch& keys, Index b) {
  AttentionMask<T> local;
  local.causal = mask.causal;
  if (mask.allowed) local.allowed.emplace(*mask.allowed);
  if (mask.additive) local.additive.emplace(*mask.additive);
  if (mask.key_padding)
    local.key_padding.emplace(mask.key_padding->segment(keys.offset(b), keys.length(b)));
  return local;
}

}  // namespace detail

// q, k: rows x (heads * d); v: rows x (heads * dv); context: query rows x (heads * dv).
// `mask.key_padding`, when set, has one flag per stacked key row (true = padded);
// `allowed` / `additive` are L x S and apply to every sequence. `average_weights`, when
// given, receives per sequence the attention probabilities averaged over heads.
// `workspaces`, when given, keeps one workspace per thread across calls, so that repeated
// calls do not allocate (one caller at a time: a workspace is not shareable).
template <typename T>
void attend_heads(const MatrixView<T>& q, const MatrixView<T>& k, const MatrixView<T>& v,
                  Index num_heads, const SequenceBatch& query_batch, const SequenceBatch& key_batch,
                  const AttentionMask<T>& mask, MutableMatrixView<T> context,
                  std::vector<Matrix<T>>* average_weights = nullptr,
                  std::vector<AttentionWorkspace<T>>* workspaces = nullptr) {
  query_batch.check_rows(q.rows(), "attention queries");
  key_batch.check_rows(k.rows(), "attention keys");
  key_batch.check_rows(v.rows(), "attention values");
  if (query_batch.size() != key_batch.size())
    throw ShapeError(detail::concat("attention: ", query_batch.size(), " query sequences but ",
                                    key_batch.size(), " key sequences"));
  if (num_heads <= 0 || q.cols() % num_heads != 0 || v.cols() % num_heads != 0 ||
      k.cols() != q.cols())
    throw ShapeError(detail::concat("attention: widths q ", q.cols(), ", k ", k.cols(), ", v ",
                                    v.cols(), " do not split into ", num_heads, " heads"));
  if (context.rows() != q.rows() || context.cols() != v.cols())
    throw ShapeError(detail::concat("attention: context is ", context.rows(), " x ", context.cols(),
                                    ", expected ", q.rows(), " x ", v.cols()));
  if (mask.key_padding && mask.key_padding->size() != key_batch.total_rows())
    throw ShapeError(detail::concat("attention: key_padding has ", mask.key_padding->size(),
                                    " entries, expected one per key row (", key_batch.total_rows(),
                                    ")"));
  for (Index b = 0; b < query_batch.size(); ++b)
    detail::sequence_mask(mask, key_batch, b).check(query_batch.length(b), key_batch.length(b));

  const Index d = q.cols() / num_heads, dv = v.cols() / num_heads;
  const Index tasks = query_batch.size() * num_heads;
  const T scale = default_attention_scale<T>(d);
  if (average_weights) {
    average_weights->assign(static_cast<std::size_t>(query_batch.size()), Matrix<T>());
    for (Index b = 0; b < query_batch.size(); ++b)
      (*average_weights)[b].setZero(query_batch.length(b), key_batch.length(b));
  }
  // Head-averaged weights are summed across heads, so that path stays serial.
  Index multiply_adds = 0;
  for (Index b = 0; b < query_batch.size(); ++b)
    multiply_adds += query_batch.length(b) * key_batch.length(b) * (d + dv) * num_heads;
  const int threads =
      average_weights ? 1
                      : detail::threads_for(tasks, multiply_adds, detail::WorkKind::MultiplyAdds);
  std::vector<AttentionWorkspace<T>> local_workspaces;
  auto& per_thread = workspaces ? *workspaces : local_workspaces;
  if (per_thread.size() < static_cast<std::size_t>(num_threads()))
    per_thread.resize(static_cast<std::size_t>(num_threads()));
  detail::parallel_for(tasks, threads, [&](Index task) {
    AttentionWorkspace<T>& workspace = per_thread[static_cast<std::size_t>(detail::thread_index())];
    const Index b = task / num_heads, h = task % num_heads;
    const Index q0 = query_batch.offset(b), l = query_batch.length(b);
    const Index k0 = key_batch.offset(b), s = key_batch.length(b);
    // Blocks of a matrix without rows would offset its null data pointer (undefined
    // behaviour), so empty sequences are settled here: no keys give zeros, as in PyTorch.
    if (l == 0) return;
    if (s == 0) {
      context.block(q0, h * dv, l, dv).setZero();
      return;
    }
    const auto local_mask = detail::sequence_mask(mask, key_batch, b);
    auto q_head = q.block(q0, h * d, l, d);
    auto k_head = k.block(k0, h * d, s, d);
    auto v_head = v.block(k0, h * dv, s, dv);
    auto out_head = context.block(q0, h * dv, l, dv);
    if (average_weights) {
      materialized_attention<T>(q_head, k_head, v_head, local_mask, scale, out_head,
                                workspace.probabilities);
      (*average_weights)[b] += workspace.probabilities / T(num_heads);
    } else {
      scaled_dot_product_attention<T>(q_head, k_head, v_head, local_mask, scale, out_head,
                                      workspace);
    }
  });
}

}  // namespace eigenformer
