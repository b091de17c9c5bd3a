#pragma once
// Convolution + BatchNorm2d (inference) as one convolution. BatchNorm2d in eval mode, and
// DETR's FrozenBatchNorm2d, compute y = (x - mean) * gamma / sqrt(var + eps) + beta per
// channel; after a convolution that is folded into the convolution at load time:
//   w' = w * s,  b' = (b - mean) * s + beta,  s = gamma / sqrt(var + eps)
// (b = 0 for a convolution without bias). The fold is computed in double and rounded once.
//
// Also here, the other load-time rewrites of trained convolution blocks:
// - merge_parallel: conv_a(x) + conv_b(x) with conv_b a 1x1 "same" branch is one
//   convolution (RepVGG's reparameterisation: the 1x1 kernel joins the centre tap).
// - stack_outputs: several convolutions of the same input and geometry become one with
//   their output channels stacked, one GEMM instead of several.

#include <eigenformer/cnn/conv2d.hpp>
#include <eigenformer/core/error.hpp>
#include <eigenformer/core/state_dict.hpp>

#include <cmath>
#include <string>
#include <vector>

namespace eigenformer {

// Folds BatchNorm2d `<norm_prefix>{weight, bias, running_mean, running_var}` into `conv`.
template <typename T>
Conv2d<T> fold_batch_norm(const Conv2d<T>& conv, const StateDict<T>& weights,
                          const std::string& norm_prefix, double eps) {
  if (!(eps >= 0.0))
    throw InvalidArgument(
        detail::concat("BatchNorm '", norm_prefix, "': eps ", eps, " must be non-negative"));
  const Index out = conv.out_channels();
  const auto gamma = weights.vector(norm_prefix + "weight", out);
  const auto beta = weights.vector(norm_prefix + "bias", out);
  const auto mean = weights.vector(norm_prefix + "running_mean", out);
  const auto variance = weights.vector(norm_prefix + "running_var", out);
  const auto w = conv.weight_matrix();
  const Index per_channel = w.cols();
  std::vector<T> folded_weight(static_cast<std::size_t>(out * per_channel));
  std::vector<T> folded_bias(static_cast<std::size_t>(out));
  for (Index c = 0; c < out; ++c) {
    const double v = static_cast<double>(variance(c)) + eps;
    if (!(v > 0.0))
      throw FormatError(detail::concat(weights.source(), ": '", norm_prefix, "running_var'[", c,
                                       "] + eps = ", v, " is not positive"));
    const double scale = static_cast<double>(gamma(c)) / std::sqrt(v);
    for (Index k = 0; k < per_channel; ++k)
      folded_weight[static_cast<std::size_t>(c * per_channel + k)] =
          static_cast<T>(static_cast<double>(w(c, k)) * scale);
    const double conv_bias = conv.has_bias() ? static_cast<double>(conv.bias()(c)) : 0.0;
    folded_bias[static_cast<std::size_t>(c)] = static_cast<T>(
        (conv_bias - static_cast<double>(mean(c))) * scale + static_cast<double>(beta(c)));
  }
  return Conv2d<T>(Tensor<T>(conv.weight_tensor().shape(), std::move(folded_weight)),
                   Tensor<T>({out}, std::move(folded_bias)), conv.stride(), conv.padding(),
                   conv.activation(), conv.groups());
}

// A square "same"-padded convolution (padding (kernel - 1) / 2, as HF's RTDetrConvNormLayer
// and RTDetrResNetConvLayer use) at `<conv_prefix>weight` (with `<conv_prefix>bias` if the
// file has one), followed by BatchNorm2d at `norm_prefix` and `activation`.
template <typename T>
Conv2d<T> load_conv_norm(const StateDict<T>& weights, const std::string& conv_prefix,
                         const std::string& norm_prefix, Index in_channels, Index out_channels,
                         Index kernel, Index stride, double eps,
                         Activation activation = Activation::Identity) {
  const bool has_bias = weights.contains(conv_prefix + "bias");
  const auto conv = Conv2d<T>::load(weights, conv_prefix, in_channels, out_channels, kernel, stride,
                                    (kernel - 1) / 2, has_bias, activation);
  return fold_batch_norm(conv, weights, norm_prefix, eps);
}

// One convolution computing main(x) + pointwise(x): `pointwise` is 1x1 with no padding, `main`
// has odd kernels padded by half their size, both share the stride. The result keeps `main`'s
// activation.
template <typename T>
Conv2d<T> merge_parallel(const Conv2d<T>& main, const Conv2d<T>& pointwise) {
  const Index kh = main.kernel_height(), kw = main.kernel_width();
  if (pointwise.kernel_height() != 1 || pointwise.kernel_width() != 1 || pointwise.padding() != 0 ||
      kh % 2 == 0 || kw % 2 == 0 || main.padding() != kh / 2 || kh != kw ||
      main.stride() != pointwise.stride() || main.in_channels() != pointwise.in_channels() ||
      main.is_depthwise() || pointwise.is_depthwise() ||
      main.out_channels() != pointwise.out_channels())
    throw ShapeError(detail::concat("merge_parallel: cannot merge a ", pointwise.kernel_height(),
                                    "x", pointwise.kernel_width(), " convolution (padding ",
                                    pointwise.padding(), ") into a ", kh, "x", kw, " one (padding ",
                                    main.padding(), ")"));
  const Index out = main.out_channels(), in = main.in_channels();
  Matrix<T> weight = main.weight_matrix();       // (out, in * kh * kw)
  const auto extra = pointwise.weight_matrix();  // (out, in)
  const Index centre = (kh / 2) * kw + kw / 2;
  for (Index c = 0; c < in; ++c) weight.col(c * kh * kw + centre) += extra.col(c);
  Vector<T> bias = Vector<T>::Zero(out);
  if (main.has_bias()) bias += main.bias();
  if (pointwise.has_bias()) bias += pointwise.bias();
  return Conv2d<T>(Tensor<T>(main.weight_tensor().shape(),
                             std::vector<T>(weight.data(), weight.data() + weight.size())),
                   Tensor<T>({out}, std::vector<T>(bias.data(), bias.data() + out)), main.stride(),
                   main.padding(), main.activation());
}

// One convolution whose output channels are those of `parts` in order. All parts must take
// the same input channels with the same kernel, stride, padding and activation.
template <typename T>
Conv2d<T> stack_outputs(const std::vector<Conv2d<T>>& parts) {
  if (parts.empty()) throw InvalidArgument("stack_outputs: no convolutions given");
  const Conv2d<T>& first = parts.front();
  Index total = 0;
  for (const auto& part : parts) {
    if (part.in_channels() != first.in_channels() ||
        part.kernel_height() != first.kernel_height() ||
        part.kernel_width() != first.kernel_width() || part.stride() != first.stride() ||
        part.padding() != first.padding() || part.activation() != first.activation() ||
        part.is_depthwise())
      throw ShapeError(
          "stack_outputs: convolutions differ in input channels, kernel, stride, "
          "padding or activation");
    total += part.out_channels();
  }
  const Index per_channel = first.weight_matrix().cols();
  std::vector<T> weight, bias;
  weight.reserve(static_cast<std::size_t>(total * per_channel));
  bias.reserve(static_cast<std::size_t>(total));
  for (const auto& part : parts) {
    const auto w = part.weight_matrix();
    weight.insert(weight.end(), w.data(), w.data() + w.size());
    for (Index c = 0; c < part.out_channels(); ++c)
      bias.push_back(part.has_bias() ? part.bias()(c) : T(0));
  }
  Shape shape = first.weight_tensor().shape();
  shape[0] = total;
  return Conv2d<T>(Tensor<T>(std::move(shape), std::move(weight)),
                   Tensor<T>({total}, std::move(bias)), first.stride(), first.padding(),
                   first.activation());
}

}  // namespace eigenformer
