#pragma once
// LayerNorm over the feature dimension (each row), as torch.nn.LayerNorm: biased variance,
// eps inside the square root, then the elementwise affine transform.

#include <eigenformer/core/state_dict.hpp>
#include <eigenformer/core/tensor.hpp>
#include <eigenformer/core/types.hpp>

#include <cmath>
#include <string>

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
    return LayerNorm(weights.at(prefix + "weight", {features}), weights.at(prefix + "bias", {features}),
                     eps);
  }

  Index features() const { return weight_.size(); }
  T eps() const { return eps_; }
  ConstVectorMap<T> weight() const { return weight_.vector(); }
  ConstVectorMap<T> bias() const { return bias_.vector(); }

  // Normalises every row of `x` in place.
  void apply(MutableMatrixView<T> x) const {
    if (x.cols() != features())
      throw ShapeError(detail::concat("LayerNorm: input has ", x.cols(), " features, expected ",
                                      features()));
    const auto gamma = weight().transpose().array();
    const auto beta = bias().transpose().array();
    for (Index r = 0; r < x.rows(); ++r) {
      auto row = x.row(r).array();
      const T mean = row.mean();
      const T variance = (row - mean).square().mean();
      const T inv_std = T(1) / std::sqrt(variance + eps_);
      row = (row - mean) * inv_std * gamma + beta;
    }
  }

  Matrix<T> forward(const MatrixView<T>& x) const {
    Matrix<T> out = x;
    apply(out);
    return out;
  }

 private:
  Tensor<T> weight_;
  Tensor<T> bias_;
  T eps_ = T(1e-5);
};

}  // namespace eigenformer
