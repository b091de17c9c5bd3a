#pragma once
// PP-HGNetV2's stem and block, as ultralytics' HGStem and HGBlock (nn/modules/block.py)
// compute them, with every BatchNorm folded into its convolution at load.
//   HGStem:  stem1 (3x3 s2) -> pad right/bottom 1 -> [maxpool 2x2 s1 ceil | stem2a (2x2), pad,
//            stem2b (2x2)] concatenated -> stem3 (3x3 s2) -> stem4 (1x1); ReLU throughout.
//   HGBlock: n convs in a chain (plain k x k, or LightConv: 1x1 then depthwise k x k), the input
//            and every output concatenated -> squeeze 1x1 to c2 / 2 -> excite 1x1 to c2, plus the
//            input when `shortcut` and c1 == c2.

#include <eigenformer/cnn/concat.hpp>
#include <eigenformer/cnn/conv2d.hpp>
#include <eigenformer/cnn/feature_map.hpp>
#include <eigenformer/cnn/pad.hpp>
#include <eigenformer/cnn/pool2d.hpp>
#include <eigenformer/models/ultralytics/module_weights.hpp>

#include <string>
#include <utility>
#include <vector>

namespace eigenformer {

template <typename T>
class HGStem {
 public:
  HGStem() = default;

  // HGStem(c1, cm, c2) under `prefix` ("model.0.").
  static HGStem load(const UltralyticsWeights<T>& w, const std::string& prefix, Index c1, Index cm,
                     Index c2) {
    if (cm < 2 || cm % 2 != 0)
      throw FormatError(detail::concat(w.source(), ": HGStem '", prefix, "' has ", cm,
                                       " middle channels, expected an even count"));
    const Activation relu = Activation::ReLU;
    HGStem stem;
    stem.stem1_ = w.conv_norm_act(prefix + "stem1.", c1, cm, 3, 2, 1, 1, relu);
    stem.stem2a_ = w.conv_norm_act(prefix + "stem2a.", cm, cm / 2, 2, 1, 0, 1, relu);
    stem.stem2b_ = w.conv_norm_act(prefix + "stem2b.", cm / 2, cm, 2, 1, 0, 1, relu);
    stem.stem3_ = w.conv_norm_act(prefix + "stem3.", 2 * cm, cm, 3, 2, 1, 1, relu);
    stem.stem4_ = w.conv_norm_act(prefix + "stem4.", cm, c2, 1, 1, 0, 1, relu);
    return stem;
  }

  FeatureMap<T> forward(const FeatureMap<T>& x) const {
    const FeatureMap<T> padded = pad2d(stem1_.forward(x), 0, 1, 0, 1);
    const FeatureMap<T> branch = stem2b_.forward(pad2d(stem2a_.forward(padded), 0, 1, 0, 1));
    PoolOptions pool;
    pool.kernel = 2;
    pool.stride = 1;
    pool.ceil_mode = true;
    const FeatureMap<T> pooled = max_pool2d(padded, pool);
    return stem4_.forward(stem3_.forward(concat_channels(pooled, branch)));
  }

 private:
  Conv2d<T> stem1_, stem2a_, stem2b_, stem3_, stem4_;
};

template <typename T>
class HGBlock {
 public:
  HGBlock() = default;

  // HGBlock(c1, cm, c2, k, n, lightconv, shortcut) under `prefix` ("model.1."); ReLU.
  static HGBlock load(const UltralyticsWeights<T>& w, const std::string& prefix, Index c1, Index cm,
                      Index c2, Index k, Index n, bool lightconv, bool shortcut) {
    if (n < 1 || k < 1 || k % 2 == 0)
      throw FormatError(detail::concat(w.source(), ": HGBlock '", prefix, "' has ", n,
                                       " convolutions of kernel ", k,
                                       ", expected at least one with an odd kernel"));
    const Activation relu = Activation::ReLU;
    HGBlock block;
    for (Index i = 0; i < n; ++i) {
      const std::string m = detail::concat(prefix, "m.", i, ".");
      const Index in = i == 0 ? c1 : cm;
      if (lightconv) {
        block.chain_.push_back(
            w.conv_norm_act(m + "conv1.", in, cm, 1, 1, 0, 1, Activation::Identity));
        block.chain_.push_back(w.conv_norm_act(m + "conv2.", cm, cm, k, 1, k / 2, cm, relu));
      } else {
        block.chain_.push_back(w.conv_norm_act(m, in, cm, k, 1, k / 2, 1, relu));
      }
    }
    block.per_step_ = lightconv ? 2 : 1;
    block.squeeze_ = w.conv_norm_act(prefix + "sc.", c1 + n * cm, c2 / 2, 1, 1, 0, 1, relu);
    block.excite_ = w.conv_norm_act(prefix + "ec.", c2 / 2, c2, 1, 1, 0, 1, relu);
    block.add_ = shortcut && c1 == c2;
    return block;
  }

  FeatureMap<T> forward(const FeatureMap<T>& x) const {
    std::vector<FeatureMap<T>> outputs;
    outputs.reserve(chain_.size() / per_step_);
    const FeatureMap<T>* last = &x;
    for (std::size_t i = 0; i < chain_.size(); i += per_step_) {
      FeatureMap<T> y = chain_[i].forward(*last);
      if (per_step_ == 2) y = chain_[i + 1].forward(y);
      outputs.push_back(std::move(y));
      last = &outputs.back();
    }
    std::vector<const FeatureMap<T>*> parts{&x};
    for (const auto& y : outputs) parts.push_back(&y);
    const FeatureMap<T> squeezed = squeeze_.forward(concat_channels<T>(parts));
    // The shortcut joins after the excitation's ReLU, so it cannot be the conv's residual.
    FeatureMap<T> y = excite_.forward(squeezed);
    if (add_) y.data += x.data;
    return y;
  }

 private:
  std::vector<Conv2d<T>> chain_;
  std::size_t per_step_ = 1;
  Conv2d<T> squeeze_, excite_;
  bool add_ = false;
};

}  // namespace eigenformer
