#pragma once
// One image's feature map in PyTorch's NCHW layout without the batch dimension: a
// `channels x (height * width)` row-major matrix, each row a channel's plane in raster order.
// Convolutions are then matrix products, and `tokens()` gives the `(height * width) x
// channels` rows that a transformer consumes (PyTorch's flatten(2).transpose(1, 2)).

#include <eigenformer/core/error.hpp>
#include <eigenformer/core/extent.hpp>
#include <eigenformer/core/tensor.hpp>
#include <eigenformer/core/types.hpp>

#include <string>

namespace eigenformer {

template <typename T>
struct FeatureMap {
  Matrix<T> data;  // channels x (height * width)
  Index height = 0;
  Index width = 0;

  FeatureMap() = default;
  FeatureMap(Matrix<T> values, Index h, Index w) : data(std::move(values)), height(h), width(w) {
    check("FeatureMap");
  }
  FeatureMap(Index channels, Index h, Index w)
      : data(channels, plane_size(h, w, "FeatureMap")), height(h), width(w) {}

  // The fields are public and can disagree: every entry point that indexes planes by
  // height and width checks this first. `what` names the caller's input in the message.
  void check(const std::string& what) const {
    if (data.cols() != plane_size(height, width, what))
      throw ShapeError(detail::concat(what, ": feature map of ", height, " x ", width, " holds ",
                                      data.cols(), " values per channel, expected ", height, " * ",
                                      width));
  }

  Index channels() const { return data.rows(); }
  T& at(Index c, Index y, Index x) { return data(c, y * width + x); }
  T at(Index c, Index y, Index x) const { return data(c, y * width + x); }

  Matrix<T> tokens() const { return data.transpose(); }

  // height * width, rejecting negative sizes and overflow.
  static Index plane_size(Index h, Index w, const std::string& what) {
    const auto size = detail::element_count(h, w, 1);
    if (!size)
      throw ShapeError(
          detail::concat(what, ": feature map size ", h, " x ", w, " is negative or too large"));
    return *size;
  }

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
