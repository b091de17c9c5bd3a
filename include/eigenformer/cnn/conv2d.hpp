#pragma once
// 2-D convolution as torch.nn.Conv2d computes it (zero padding, dilation 1; groups 1, or
// depthwise: groups = in = out channels) on a FeatureMap. With groups 1 it is one matrix product: the weight (out, in, kh, kw), as PyTorch stores it, is
// viewed without a copy as an (out, in * kh * kw) matrix and multiplied by the unfolded
// input patches (im2col), whose row (c, ky, kx) and column (y, x) hold
// input(c, y * stride - padding + ky, x * stride - padding + kx). A 1x1 stride-1 convolution
// needs no unfolding: it is the weight times the input matrix.
//
// Bias, an optional residual and the activation are applied in one pass over the output, so
// "conv + BatchNorm (folded) + add + ReLU" costs one GEMM and one sweep. A depthwise
// convolution has no product to share between channels: each plane is filtered directly.

#include <eigenformer/core/error.hpp>
#include <eigenformer/core/state_dict.hpp>
#include <eigenformer/core/tensor.hpp>
#include <eigenformer/core/types.hpp>
#include <eigenformer/nn/activations.hpp>
#include <eigenformer/cnn/feature_map.hpp>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

namespace eigenformer {

// Output extent of a convolution over `input` positions: floor((in + 2p - k) / s) + 1.
inline Index conv_output_size(Index input, Index kernel, Index stride, Index padding) {
  const Index span = input + 2 * padding - kernel;
  return span < 0 ? 0 : span / stride + 1;
}

namespace detail {

// Unfolded patches are produced a band of output rows at a time, so the buffer stays a few
// MB however large the image; bands keep at least this many columns so the GEMM that
// follows is not starved for width.
constexpr Index kUnfoldTileElements = Index{1} << 20;
constexpr Index kUnfoldMinColumns = 1024;

// One growing buffer per thread, reused by every convolution that thread runs.
template <typename T>
T* unfold_buffer(Index size) {
  thread_local std::vector<T> buffer;
  if (static_cast<Index>(buffer.size()) < size) buffer.resize(static_cast<std::size_t>(size));
  return buffer.data();
}

// First and one-past-last output column x whose input column x * stride + offset lies in
// [0, width); the others read zero padding.
inline std::pair<Index, Index> valid_output_range(Index offset, Index stride, Index width,
                                                  Index out_width) {
  const Index begin = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  const Index limit = width - offset;  // x * stride < limit
  const Index end = limit <= 0 ? 0 : std::min(out_width, (limit + stride - 1) / stride);
  return {std::min(begin, end), end};
}

}  // namespace detail

template <typename T>
class Conv2d {
 public:
  Conv2d() = default;

  // `weight` is (out, in / groups, kh, kw); `bias` is empty or (out).
  Conv2d(Tensor<T> weight, Tensor<T> bias, Index stride, Index padding,
         Activation activation = Activation::Identity, Index groups = 1)
      : weight_(std::move(weight)),
        bias_(std::move(bias)),
        stride_(stride),
        padding_(padding),
        activation_(activation),
        groups_(groups) {
    if (weight_.rank() != 4 || weight_.size() == 0)
      throw ShapeError(detail::concat("Conv2d: weight must be a non-empty (out, in, kh, kw), got ",
                                      detail::shape_string(weight_.shape())));
    if (!bias_.empty() && bias_.shape() != Shape{out_channels()})
      throw ShapeError(detail::concat("Conv2d: bias shape ", detail::shape_string(bias_.shape()),
                                      " does not match ", out_channels(), " output channels"));
    if (stride_ < 1 || padding_ < 0)
      throw InvalidArgument(detail::concat("Conv2d: stride ", stride_, " must be >= 1 and padding ",
                                           padding_, " >= 0"));
    if (groups_ != 1 && !(weight_.dim(1) == 1 && groups_ == out_channels()))
      throw InvalidArgument(detail::concat("Conv2d: groups ", groups_, " with weight ",
                                           detail::shape_string(weight_.shape()),
                                           ": only groups 1 and depthwise (groups = in = out "
                                           "channels) are supported"));
  }

  // Binds `<prefix>weight` (out, in, kernel, kernel) and, when `has_bias`, `<prefix>bias`.
  static Conv2d load(const StateDict<T>& weights, const std::string& prefix, Index in_channels,
                     Index out_channels, Index kernel, Index stride, Index padding,
                     bool has_bias = false, Activation activation = Activation::Identity) {
    return Conv2d(weights.at(prefix + "weight", {out_channels, in_channels, kernel, kernel}),
                  has_bias ? weights.at(prefix + "bias", {out_channels}) : Tensor<T>(), stride,
                  padding, activation);
  }

  Index out_channels() const { return weight_.dim(0); }
  Index in_channels() const { return weight_.dim(1) * groups_; }
  Index groups() const { return groups_; }
  bool is_depthwise() const { return groups_ > 1; }
  Index kernel_height() const { return weight_.dim(2); }
  Index kernel_width() const { return weight_.dim(3); }
  Index stride() const { return stride_; }
  Index padding() const { return padding_; }
  Activation activation() const { return activation_; }
  bool has_bias() const { return !bias_.empty(); }
  const Tensor<T>& weight_tensor() const { return weight_; }
  const Tensor<T>& bias_tensor() const { return bias_; }
  // The weight as the (out, in * kh * kw) matrix the GEMM uses.
  ConstMatrixMap<T> weight_matrix() const {
    return weight_.matrix(out_channels(), weight_.size() / out_channels());
  }
  ConstVectorMap<T> bias() const { return bias_.vector(); }

  Index output_height(Index height) const {
    return conv_output_size(height, kernel_height(), stride_, padding_);
  }
  Index output_width(Index width) const {
    return conv_output_size(width, kernel_width(), stride_, padding_);
  }

  // output = activation(conv(input) + bias [+ residual]). `output` is resized as needed and
  // must not be `input`; `residual`, when given, has the output's shape.
  void forward(const FeatureMap<T>& input, FeatureMap<T>& output,
               const FeatureMap<T>* residual = nullptr) const {
    check_input(input);
    const Index out_h = output_height(input.height), out_w = output_width(input.width);
    output.data.resize(out_channels(), out_h * out_w);
    output.height = out_h;
    output.width = out_w;
    if (residual) check_residual(*residual, output);
    if (is_depthwise())
      depthwise(input, output);
    else if (is_pointwise())
      output.data.noalias() = weight_matrix() * input.data;
    else
      unfolded_product(input, output);
    finish(output, residual);
  }

  FeatureMap<T> forward(const FeatureMap<T>& input, const FeatureMap<T>* residual = nullptr) const {
    FeatureMap<T> output;
    forward(input, output, residual);
    return output;
  }

 private:
  bool is_pointwise() const {
    return groups_ == 1 && kernel_height() == 1 && kernel_width() == 1 && stride_ == 1 && padding_ == 0;
  }

  void check_input(const FeatureMap<T>& input) const {
    input.check("Conv2d input");
    if (input.channels() != in_channels())
      throw ShapeError(detail::concat("Conv2d: input has ", input.channels(),
                                      " channels, expected ", in_channels()));
    if (output_height(input.height) < 1 || output_width(input.width) < 1)
      throw ShapeError(detail::concat("Conv2d: input ", input.height, " x ", input.width,
                                      " is smaller than the ", kernel_height(), " x ",
                                      kernel_width(), " kernel with padding ", padding_));
  }

  static void check_residual(const FeatureMap<T>& residual, const FeatureMap<T>& output) {
    if (residual.channels() != output.channels() || residual.height != output.height ||
        residual.width != output.width)
      throw ShapeError(detail::concat("Conv2d: residual is ", residual.channels(), " x ",
                                      residual.height, " x ", residual.width, ", output is ",
                                      output.channels(), " x ", output.height, " x ",
                                      output.width));
  }

  // Each output plane accumulates its kh * kw shifted input rows, clipped to the image.
  void depthwise(const FeatureMap<T>& input, FeatureMap<T>& output) const {
    const Index kh = kernel_height(), kw = kernel_width(), out_h = output.height,
                out_w = output.width, channels = out_channels();
#ifdef _OPENMP
#pragma omp parallel for if (output.data.size() * kh * kw > (Index{1} << 16))
#endif
    for (Index c = 0; c < channels; ++c) {
      const T* plane = input.data.row(c).data();
      const T* taps = weight_.data() + c * kh * kw;
      T* destination = output.data.row(c).data();
      std::fill(destination, destination + out_h * out_w, T(0));
      for (Index ky = 0; ky < kh; ++ky) {
        for (Index kx = 0; kx < kw; ++kx) {
          const T tap = taps[ky * kw + kx];
          const Index offset = kx - padding_;
          const auto [x_begin, x_end] =
              detail::valid_output_range(offset, stride_, input.width, out_w);
          for (Index y = 0; y < out_h; ++y) {
            const Index source_y = y * stride_ - padding_ + ky;
            if (source_y < 0 || source_y >= input.height) continue;
            const T* source = plane + source_y * input.width;
            T* row = destination + y * out_w;
            for (Index x = x_begin; x < x_end; ++x) row[x] += tap * source[x * stride_ + offset];
          }
        }
      }
    }
  }

  void unfolded_product(const FeatureMap<T>& input, FeatureMap<T>& output) const {
    const Index patch = in_channels() * kernel_height() * kernel_width();
    const Index out_w = output.width, out_h = output.height;
    const Index columns_wanted =
        std::max(detail::kUnfoldTileElements / patch, detail::kUnfoldMinColumns);
    const Index band = std::clamp((columns_wanted + out_w - 1) / out_w, Index{1}, out_h);
    T* buffer = detail::unfold_buffer<T>(patch * band * out_w);
    for (Index y0 = 0; y0 < out_h; y0 += band) {
      const Index rows = std::min(band, out_h - y0);
      Eigen::Map<Matrix<T>> columns(buffer, patch, rows * out_w);
      unfold(input, y0, rows, out_w, columns);
      output.data.middleCols(y0 * out_w, rows * out_w).noalias() = weight_matrix() * columns;
    }
  }

  // im2col of output rows [y0, y0 + rows).
  void unfold(const FeatureMap<T>& input, Index y0, Index rows, Index out_w,
              Eigen::Map<Matrix<T>>& columns) const {
    const Index kh = kernel_height(), kw = kernel_width(), patch = columns.rows();
#ifdef _OPENMP
#pragma omp parallel for if (patch * columns.cols() > (Index{1} << 16))
#endif
    for (Index r = 0; r < patch; ++r) {
      const Index c = r / (kh * kw), ky = (r / kw) % kh, kx = r % kw;
      const T* plane = input.data.row(c).data();
      const Index offset = kx - padding_;  // source x = x * stride + offset
      const auto [x_begin, x_end] = detail::valid_output_range(offset, stride_, input.width, out_w);
      T* destination = columns.row(r).data();
      for (Index y = y0; y < y0 + rows; ++y, destination += out_w) {
        const Index source_y = y * stride_ - padding_ + ky;
        if (source_y < 0 || source_y >= input.height) {
          std::fill(destination, destination + out_w, T(0));
          continue;
        }
        const T* source = plane + source_y * input.width;
        std::fill(destination, destination + x_begin, T(0));
        if (stride_ == 1)
          std::copy(source + x_begin + offset, source + x_end + offset, destination + x_begin);
        else
          for (Index x = x_begin; x < x_end; ++x) destination[x] = source[x * stride_ + offset];
        std::fill(destination + x_end, destination + out_w, T(0));
      }
    }
  }

  void finish(FeatureMap<T>& output, const FeatureMap<T>* residual) const {
    if (!has_bias() && !residual && activation_ == Activation::Identity) return;
    const Index channels = output.channels();
#ifdef _OPENMP
#pragma omp parallel for if (output.data.size() > (Index{1} << 16))
#endif
    for (Index c = 0; c < channels; ++c) {
      auto row = output.data.row(c);
      if (has_bias()) row.array() += bias()(c);
      if (residual) row += residual->data.row(c);
      apply_activation(activation_, row);
    }
  }

  Tensor<T> weight_;
  Tensor<T> bias_;
  Index stride_ = 1;
  Index padding_ = 0;
  Activation activation_ = Activation::Identity;
  Index groups_ = 1;
};

}  // namespace eigenformer
