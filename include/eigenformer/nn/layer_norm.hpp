#pragma once
// LayerNorm over the feature dimension (each row), as torch.nn.LayerNorm: biased variance,
// eps inside the square root, then the elementwise affine transform.

#include <eigenformer/core/state_dict.hpp>
#include <eigenformer/core/tensor.hpp>
#include <eigenformer/core/threading.hpp>
#include <eigenformer/core/types.hpp>
#include <eigenformer/kernels/rows_x86.hpp>

#include <cmath>
#include <string>
#include <type_traits>

namespace eigenformer {

template <typename T>
class LayerNorm {
 public:
  LayerNorm() = default;
  LayerNorm(Tensor<T> weight, Tensor<T> bias, T eps)
      : weight_(std::move(weight)), bias_(std::move(bias)), eps_(eps) {
    if (weight_.rank() != 1 || bias_.shape() != weight_.shape())
      throw ShapeError(detail::concat("LayerNorm: weight ", detail::shape_string(weight_.shape()),
                                      " and bias ", detail::shape_string(bias_.shape()),
                                      " must be equal 1-d shapes"));
  }

  // Binds `<prefix>weight` and `<prefix>bias`, each of size `features`.
  static LayerNorm load(const StateDict<T>& weights, const std::string& prefix, Index features,
                        T eps) {
    return LayerNorm(weights.at(prefix + "weight", {features}),
                     weights.at(prefix + "bias", {features}), eps);
  }

  Index features() const { return weight_.size(); }
  T eps() const { return eps_; }
  ConstVectorMap<T> weight() const { return weight_.vector(); }
  ConstVectorMap<T> bias() const { return bias_.vector(); }

  // Normalises every row of `x` in place.
  void apply(MutableMatrixView<T> x) const {
    if (x.cols() != features())
      throw ShapeError(
          detail::concat("LayerNorm: input has ", x.cols(), " features, expected ", features()));
    const KernelVariant variant = kernel_variant();  // outside the parallel region: it may throw
    detail::parallel_for(x.rows(),
                         detail::threads_for(x.rows(), x.size(), detail::WorkKind::Elements),
                         [&](Index r) {
                           auto row = x.row(r);
                           if (!run_time_kernel(variant, row.data(), nullptr)) normalize_row(row);
                         });
  }

  // hidden = LayerNorm(x + hidden) row by row: a sublayer's output, the residual
  // connection and the post-norm in one pass over memory.
  void apply_residual(const MatrixView<T>& x, MutableMatrixView<T> hidden) const {
    if (x.cols() != features() || hidden.cols() != features() || x.rows() != hidden.rows())
      throw ShapeError(detail::concat("LayerNorm: residual input is ", x.rows(), " x ", x.cols(),
                                      " and ", hidden.rows(), " x ", hidden.cols(), ", expected ",
                                      features(), " features"));
    const KernelVariant variant = kernel_variant();
    detail::parallel_for(x.rows(),
                         detail::threads_for(x.rows(), x.size(), detail::WorkKind::Elements),
                         [&](Index r) {
                           auto row = hidden.row(r);
                           if (run_time_kernel(variant, row.data(), x.row(r).data())) return;
                           row += x.row(r);
                           normalize_row(row);
                         });
  }

  Matrix<T> forward(const MatrixView<T>& x) const {
    Matrix<T> out = x;
    apply(out);
    return out;
  }

 private:
  // The AVX2 / AVX-512 row kernel for float (row += residual first, when not null); false for
  // the baseline variant and other types.
  bool run_time_kernel([[maybe_unused]] KernelVariant variant, [[maybe_unused]] T* row,
                       [[maybe_unused]] const T* residual) const {
    if constexpr (std::is_same_v<T, float>)
      return features() > 0 && kernels::layer_norm_row(variant, row, residual, weight().data(),
                                                       bias().data(), eps_, features());
    return false;
  }

  template <typename Row>
  void normalize_row(Row& row) const {
    auto values = row.array();
    const T mean = values.mean();
    const T variance = (values - mean).square().mean();
    const T inv_std = T(1) / std::sqrt(variance + eps_);
    values = (values - mean) * inv_std * weight().transpose().array() + bias().transpose().array();
  }

  Tensor<T> weight_;
  Tensor<T> bias_;
  T eps_ = T(1e-5);
};

}  // namespace eigenformer
