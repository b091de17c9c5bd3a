#pragma once
// Multi-head attention as torch.nn.MultiheadAttention(batch_first=True) computes it, over a
// batch of sequences stacked as rows (see SequenceBatch): the projections are single GEMMs
// over all rows, and each (sequence, head) pair attends over column blocks of them.

#include <eigenformer/attention/attend_heads.hpp>
#include <eigenformer/attention/attention_mask.hpp>
#include <eigenformer/core/sequence_batch.hpp>
#include <eigenformer/core/state_dict.hpp>
#include <eigenformer/nn/linear.hpp>

#include <string>
#include <vector>

namespace eigenformer {

template <typename T>
class MultiHeadAttention {
 public:
  MultiHeadAttention() = default;
  MultiHeadAttention(Linear<T> query, Linear<T> key, Linear<T> value, Linear<T> output,
                     Index num_heads)
      : query_(std::move(query)),
        key_(std::move(key)),
        value_(std::move(value)),
        output_(std::move(output)),
        num_heads_(num_heads) {
    const Index embed = query_.out_features();
    if (num_heads_ <= 0 || embed % num_heads_ != 0)
      throw ShapeError(detail::concat("MultiHeadAttention: embed_dim ", embed,
                                      " is not divisible by num_heads ", num_heads_));
    if (key_.out_features() != embed || value_.out_features() != embed ||
        output_.in_features() != embed)
      throw ShapeError(detail::concat(
          "MultiHeadAttention: projections disagree: query ", embed, ", key ", key_.out_features(),
          ", value ", value_.out_features(), ", output in ", output_.in_features()));
    fuse_self_attention_projection();
  }

  // nn.MultiheadAttention's state_dict under `prefix`: a packed `in_proj_weight` when kdim
  // and vdim equal embed_dim, else `q_proj_weight`, `k_proj_weight`, `v_proj_weight`;
  // `in_proj_bias` and `out_proj.{weight,bias}`.
  static MultiHeadAttention load(const StateDict<T>& weights, const std::string& prefix,
                                 Index embed_dim, Index num_heads, bool bias = true, Index kdim = 0,
                                 Index vdim = 0) {
    kdim = kdim ? kdim : embed_dim;
    vdim = vdim ? vdim : embed_dim;
    const Tensor<T> in_bias =
        bias ? weights.at(prefix + "in_proj_bias", {3 * embed_dim}) : Tensor<T>();
    auto bias_part = [&](Index part) {
      return bias ? in_bias.slice_rows(part * embed_dim, embed_dim) : Tensor<T>();
    };
    Tensor<T> q, k, v;
    if (weights.contains(prefix + "in_proj_weight") && kdim == embed_dim && vdim == embed_dim) {
      const Tensor<T>& packed = weights.at(prefix + "in_proj_weight", {3 * embed_dim, embed_dim});
      q = packed.slice_rows(0, embed_dim);
      k = packed.slice_rows(embed_dim, embed_dim);
      v = packed.slice_rows(2 * embed_dim, embed_dim);
    } else {
      q = weights.at(prefix + "q_proj_weight", {embed_dim, embed_dim});
      k = weights.at(prefix + "k_proj_weight", {embed_dim, kdim});
      v = weights.at(prefix + "v_proj_weight", {embed_dim, vdim});
    }
    return MultiHeadAttention(
        Linear<T>(q, bias_part(0)), Linear<T>(k, bias_part(1)), Linear<T>(v, bias_part(2)),
        Linear<T>::load(weights, prefix + "out_proj.", embed_dim, embed_dim, bias), num_heads);
  }

  Index embed_dim() const { return query_.out_features(); }
  Index num_heads() const { return num_heads_; }
  Index head_dim() const { return embed_dim() / num_heads_; }
  const Linear<T>& query_projection() const { return query_; }
  const Linear<T>& key_projection() const { return key_; }
  const Linear<T>& value_projection() const { return value_; }
  const Linear<T>& output_projection() const { return output_; }

  // Self-attention of every sequence in `batch` (rows of `x`). `mask.key_padding`, when set,
  // covers all rows of `x`; `allowed` / `additive` are L x L and apply to every sequence.
  // `average_weights`, when given, receives per sequence the L x L attention probabilities
  // averaged over heads (need_weights=True, average_attn_weights=True).
  Matrix<T> forward(const MatrixView<T>& x, const SequenceBatch& batch,
                    const AttentionMask<T>& mask = {},
                    std::vector<Matrix<T>>* average_weights = nullptr) const {
    Matrix<T> qkv, context;
    self_attention_context(x, nullptr, batch, mask, qkv, context, nullptr, average_weights);
    return output_.forward(context);
  }

  // Self-attention up to the output projection, into `context` (rows x embed_dim); `qkv` is
  // scratch and `workspaces` (one per thread) the per-head buffers, so that callers keeping
  // them do not allocate. `position`, when given, has the shape of `x` and is added to the
  // queries and keys but not the values, as DETR-family layers do.
  void self_attention_context(const MatrixView<T>& x, const MatrixView<T>* position,
                              const SequenceBatch& batch, const AttentionMask<T>& mask,
                              Matrix<T>& qkv, Matrix<T>& context,
                              std::vector<AttentionWorkspace<T>>* workspaces = nullptr,
                              std::vector<Matrix<T>>* average_weights = nullptr) const {
    batch.check_rows(x.rows(), "MultiHeadAttention input");
    const Index e = embed_dim();
    qkv.resize(x.rows(), 3 * e);
    if (position) {
      if (position->rows() != x.rows() || position->cols() != x.cols())
        throw ShapeError(detail::concat("MultiHeadAttention: position embedding is ",
                                        position->rows(), " x ", position->cols(), ", expected ",
                                        x.rows(), " x ", x.cols()));
      context = x + *position;  // scratch until the heads write the context
      query_.forward(context, qkv.leftCols(e));
      key_.forward(context, qkv.middleCols(e, e));
      value_.forward(x, qkv.rightCols(e));
    } else if (has_fused_) {
      fused_.forward(x, qkv);
    } else {
      query_.forward(x, qkv.leftCols(e));
      key_.forward(x, qkv.middleCols(e, e));
      value_.forward(x, qkv.rightCols(e));
    }
    context.resize(x.rows(), e);
    attend_heads<T>(qkv.leftCols(e), qkv.middleCols(e, e), qkv.rightCols(e), num_heads_, batch,
                    batch, mask, context, average_weights, workspaces);
  }

  // Attention of `query` rows over `key`/`value` rows (cross-attention, or q = k != v as
  // in DETR-style layers that add positions to queries and keys only).
  Matrix<T> forward(const MatrixView<T>& query, const MatrixView<T>& key,
                    const MatrixView<T>& value, const SequenceBatch& query_batch,
                    const SequenceBatch& key_batch, const AttentionMask<T>& mask = {},
                    std::vector<Matrix<T>>* average_weights = nullptr) const {
    query_batch.check_rows(query.rows(), "MultiHeadAttention query");
    key_batch.check_rows(key.rows(), "MultiHeadAttention key");
    key_batch.check_rows(value.rows(), "MultiHeadAttention value");
    if (query_batch.size() != key_batch.size())
      throw ShapeError(detail::concat("MultiHeadAttention: ", query_batch.size(),
                                      " query sequences but ", key_batch.size(), " key sequences"));
    const Matrix<T> q = query_.forward(query);
    const Matrix<T> k = key_.forward(key);
    const Matrix<T> v = value_.forward(value);
    return attend(q, k, v, query_batch, key_batch, mask, average_weights);
  }

 private:
  // Self-attention with a packed projection is one (3E x E) GEMM; separate weights of the
  // same input width are stacked once here for the same effect.
  void fuse_self_attention_projection() {
    const Index in = query_.in_features();
    const bool same_bias =
        query_.has_bias() == key_.has_bias() && key_.has_bias() == value_.has_bias();
    if (key_.in_features() != in || value_.in_features() != in || !same_bias) return;
    fused_ = stack_outputs<T>({query_, key_, value_});
    has_fused_ = true;
  }

  Matrix<T> attend(const MatrixView<T>& q, const MatrixView<T>& k, const MatrixView<T>& v,
                   const SequenceBatch& query_batch, const SequenceBatch& key_batch,
                   const AttentionMask<T>& mask, std::vector<Matrix<T>>* average_weights) const {
    Matrix<T> context(q.rows(), embed_dim());
    attend_heads<T>(q, k, v, num_heads_, query_batch, key_batch, mask, context, average_weights);
    return output_.forward(context);
  }

  Linear<T> query_, key_, value_, output_;
  Linear<T> fused_;  // query, key and value stacked, for self-attention
  bool has_fused_ = false;
  Index num_heads_ = 1;
};

}  // namespace eigenformer
