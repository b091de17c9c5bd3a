#pragma once
// softmax(scale * Q K^T + mask) V for one head, as torch.nn.functional.
// scaled_dot_product_attention computes it. Q is L x E, K is S x E, V is S x Ev; L may
// differ from S and Ev from E. Inputs may be column blocks of wider matrices (a head's
// slice of a fused projection), so no per-head copies are needed.

#include <eigenformer/attention/attention_mask.hpp>
#include <eigenformer/core/error.hpp>
#include <eigenformer/core/types.hpp>
#include <eigenformer/nn/softmax.hpp>

#include <cmath>
#include <optional>
#include <type_traits>

namespace eigenformer {

template <typename T>
T default_attention_scale(Index head_dim) {
  return T(1) / std::sqrt(static_cast<T>(head_dim));
}

namespace detail {

template <typename T>
void check_attention_shapes(const MatrixView<T>& q, const MatrixView<T>& k, const MatrixView<T>& v,
                            Index out_rows, Index out_cols) {
  if (k.cols() != q.cols())
    throw ShapeError(concat("attention: queries have width ", q.cols(), " but keys have ", k.cols()));
  if (v.rows() != k.rows())
    throw ShapeError(concat("attention: ", k.rows(), " keys but ", v.rows(), " values"));
  if (out_rows != q.rows() || out_cols != v.cols())
    throw ShapeError(concat("attention: output is ", out_rows, " x ", out_cols, ", expected ",
                            q.rows(), " x ", v.cols()));
}

// Logits of magnitude m carry an absolute float rounding error of about m * 6e-8, and
// softmax turns absolute logit errors into relative probability errors. Beyond this
// magnitude float logits would cost more than 1e-5 of accuracy, so they are recomputed in
// double; typical models never get there, so the common path stays in float.
constexpr double kFloatLogitLimit = 32.0;

template <typename T, typename Logits>
void compute_logits(const MatrixView<T>& q, const MatrixView<T>& k, T scale, Logits& logits) {
  logits.noalias() = scale * (q * k.transpose());
  if constexpr (std::is_same_v<T, float>) {
    if (logits.size() > 0 && logits.cwiseAbs().maxCoeff() > kFloatLogitLimit)
      logits = (static_cast<double>(scale) *
                (q.template cast<double>() * k.template cast<double>().transpose()))
                   .template cast<float>();
  }
}

}  // namespace detail

// Materialised attention: the L x S probabilities are formed in `probabilities` (resized as
// needed, reusable across calls), which afterwards holds the attention weights.
template <typename T>
void scaled_dot_product_attention(const MatrixView<T>& q, const MatrixView<T>& k,
                                  const MatrixView<T>& v, const AttentionMask<T>& mask, T scale,
                                  MutableMatrixView<T> out, Matrix<T>& probabilities) {
  detail::check_attention_shapes<T>(q, k, v, out.rows(), out.cols());
  mask.check(q.rows(), k.rows());
  probabilities.resize(q.rows(), k.rows());
  detail::compute_logits<T>(q, k, scale, probabilities);
  if (!mask.empty()) mask.apply(probabilities, 0, 0);
  softmax_rows<T>(probabilities);
  out.noalias() = probabilities * v;
}

template <typename T>
Matrix<T> scaled_dot_product_attention(const MatrixView<T>& q, const MatrixView<T>& k,
                                       const MatrixView<T>& v,
                                       const AttentionMask<T>& mask = AttentionMask<T>(),
                                       std::optional<T> scale = std::nullopt) {
  Matrix<T> out(q.rows(), v.cols());
  Matrix<T> probabilities;
  scaled_dot_product_attention<T>(q, k, v, mask, scale.value_or(default_attention_scale<T>(q.cols())),
                                  out, probabilities);
  return out;
}

}  // namespace eigenformer
