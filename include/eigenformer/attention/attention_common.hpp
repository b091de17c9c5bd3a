#pragma once
// Pieces shared by the attention kernels: the default scale, shape checks, and logits.

#include <eigenformer/core/error.hpp>
#include <eigenformer/core/types.hpp>
#include <eigenformer/nn/packed_weight.hpp>

#include <cmath>
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
    throw ShapeError(
        concat("attention: queries have width ", q.cols(), " but keys have ", k.cols()));
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

// Keys and values change with every head and call, but the packed micro-kernel product
// (nn/packed_weight.hpp) still beats Eigen's GEMM after packing them: each thread keeps
// its packing storage, so repeated calls do not allocate.
template <typename T>
struct AttentionPacks {
  PackedWeight<T> keys, values;
};

template <typename T>
AttentionPacks<T>& attention_packs() {
  thread_local AttentionPacks<T> packs;
  return packs;
}

// logits = scale q k^T; the scale is folded into the packed keys.
template <typename T>
void compute_logits(const MatrixView<T>& q, const MatrixView<T>& k, T scale, Matrix<T>& logits) {
  PackedWeight<T>& keys = attention_packs<T>().keys;
  keys.pack(k * scale);
  keys.multiply(q, logits);
  if constexpr (std::is_same_v<T, float>) {
    if (logits.size() > 0 && logits.cwiseAbs().maxCoeff() > kFloatLogitLimit)
      logits = (static_cast<double>(scale) *
                (q.template cast<double>() * k.template cast<double>().transpose()))
                   .template cast<float>();
  }
}

}  // namespace detail

}  // namespace eigenformer
