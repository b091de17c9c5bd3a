#pragma once
// ultralytics' RepC3 (nn/modules/block.py), the RT-DETR neck's CSP block:
//   cv3(m(cv1(x)) + cv2(x)), m a chain of RepConv, cv3 the identity when c_ == c2,
// and RepConv as fuse() leaves it: act(conv1(x) + conv2(x) [+ bn(x)]), the 3x3 and 1x1 branches
// (each BatchNorm-folded) summed into one 3x3 convolution at load (RepVGG).

#include <eigenformer/cnn/conv2d.hpp>
#include <eigenformer/cnn/conv_norm.hpp>
#include <eigenformer/cnn/feature_map.hpp>
#include <eigenformer/models/ultralytics/module_weights.hpp>

#include <optional>
#include <string>
#include <vector>

namespace eigenformer {

// RepConv(c, c) under `prefix`: the merged convolution, SiLU unless the checkpoint says else.
template <typename T>
Conv2d<T> load_rep_conv(const UltralyticsWeights<T>& w, const std::string& prefix, Index channels) {
  const Conv2d<T> branch3 =
      w.conv_norm_act(prefix + "conv1.", channels, channels, 3, 1, 1, 1, Activation::Identity);
  const Conv2d<T> branch1 =
      w.conv_norm_act(prefix + "conv2.", channels, channels, 1, 1, 0, 1, Activation::Identity);
  Conv2d<T> merged = merge_parallel(branch3, branch1);
  if (w.tensors().contains(prefix + "bn.running_mean")) {
    // The identity branch: a 1x1 identity kernel with the BatchNorm folded in.
    std::vector<T> eye(static_cast<std::size_t>(channels * channels), T(0));
    for (Index c = 0; c < channels; ++c) eye[static_cast<std::size_t>(c * channels + c)] = T(1);
    const Conv2d<T> identity(Tensor<T>({channels, channels, 1, 1}, std::move(eye)), Tensor<T>(), 1,
                             0);
    merged = merge_parallel(
        merged, fold_batch_norm(identity, w.tensors(), prefix + "bn.",
                                w.norm_eps(prefix + "bn.", UltralyticsWeights<T>::kBatchNormEps)));
  }
  const Activation act = w.activation(prefix + "act.", Activation::SiLU);
  return Conv2d<T>(merged.weight_tensor(), merged.bias_tensor(), 1, 1, act);
}

template <typename T>
class RepC3 {
 public:
  RepC3() = default;

  // RepC3(c1, c2, n, e) under `prefix` ("model.17.").
  static RepC3 load(const UltralyticsWeights<T>& w, const std::string& prefix, Index c1, Index c2,
                    Index n, double e) {
    const auto hidden = static_cast<Index>(static_cast<double>(c2) * e);
    if (n < 0 || hidden < 1)
      throw FormatError(detail::concat(w.source(), ": RepC3 '", prefix, "' has ", n,
                                       " RepConvs of ", hidden, " channels"));
    RepC3 block;
    // ultralytics builds cv1 with c2 outputs and the RepConvs with c_ inputs: equal only for
    // e = 1, the value every RT-DETR uses; the shapes are checked against the file either way.
    block.cv1_ = w.conv_norm_act(prefix + "cv1.", c1, hidden, 1, 1, 0, 1, Activation::SiLU);
    block.cv2_ = w.conv_norm_act(prefix + "cv2.", c1, hidden, 1, 1, 0, 1, Activation::SiLU);
    for (Index i = 0; i < n; ++i)
      block.chain_.push_back(load_rep_conv(w, detail::concat(prefix, "m.", i, "."), hidden));
    if (hidden != c2)
      block.cv3_ = w.conv_norm_act(prefix + "cv3.", hidden, c2, 1, 1, 0, 1, Activation::SiLU);
    return block;
  }

  FeatureMap<T> forward(const FeatureMap<T>& x) const {
    FeatureMap<T> y = cv1_.forward(x);
    for (const auto& conv : chain_) y = conv.forward(y);
    y.data += cv2_.forward(x).data;
    return cv3_ ? cv3_->forward(y) : y;
  }

 private:
  Conv2d<T> cv1_, cv2_;
  std::vector<Conv2d<T>> chain_;
  std::optional<Conv2d<T>> cv3_;
};

}  // namespace eigenformer
