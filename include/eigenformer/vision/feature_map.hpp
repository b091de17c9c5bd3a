#pragma once
// One image's feature map in PyTorch's NCHW layout without the batch dimension: a
// `channels x (height * width)` row-major matrix, each row a channel's plane in raster order.
// Convolutions are then matrix products, and `tokens()` gives the `(height * width) x
// channels` rows that a transformer consumes (PyTorch's flatten(2).transpose(1, 2)).

#include <eigenformer/core/error.hpp>
#include <eigenformer/core/tensor.hpp>
#include <eigenformer/core/types.hpp>

namespace eigenformer {

template <typename T>
struct FeatureMap {
  Matrix<T> data;  // channels x (height * width)
  Index height = 0;
  Index width = 0;

  FeatureMap() = default;
  FeatureMap(Matrix<T> values, Index h, Index w) : data(std::move(values)), height(h), width(w) {
    if (data.cols() != h * w)
      throw ShapeError(detail::concat("FeatureMap: ", data.cols(), " values per channel, expected ",
                                      h, " x ", w));
  }
  FeatureMap(Index channels, Index h, Index w) : data(channels, h * w), height(h), width(w) {}

  Index channels() const { return data.rows(); }
  T& at(Index c, Index y, Index x) { return data(c, y * width + x); }
  T at(Index c, Index y, Index x) const { return data(c, y * width + x); }

  Matrix<T> tokens() const { return data.transpose(); }

  // Image `n` of an NCHW tensor.
  static FeatureMap from_nchw(const Tensor<T>& tensor, Index n) {
    if (tensor.rank() != 4)
      throw ShapeError(detail::concat("expected an NCHW tensor, got shape ",
                                      detail::shape_string(tensor.shape())));
    if (n < 0 || n >= tensor.dim(0))
      throw InvalidArgument(
          detail::concat("image ", n, " out of range for batch of ", tensor.dim(0)));
    const Index c = tensor.dim(1), h = tensor.dim(2), w = tensor.dim(3);
    return FeatureMap(tensor.matrix(tensor.dim(0) * c, h * w).middleRows(n * c, c), h, w);
  }
};

}  // namespace eigenformer
