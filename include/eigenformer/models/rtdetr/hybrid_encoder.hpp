#pragma once
// RT-DETR's hybrid encoder with the projections around it, as HF transformers' RTDetrModel
// runs them between the backbone and the decoder (modeling_rt_detr.py):
// 1. encoder_input_proj: per backbone level, 1x1 conv + BatchNorm2d to encoder_hidden_dim;
// 2. AIFI: a transformer over the levels in encode_proj_layers (models/rtdetr/aifi.hpp);
// 3. top-down FPN: from the coarsest level, a lateral 1x1 ConvNorm + act, nearest x2
//    upsampling, concatenation with the next finer level, a CSPRepLayer;
// 4. bottom-up PAN: a 3x3 stride-2 ConvNorm + act, concatenation with the FPN map of that
//    size, a CSPRepLayer; the PAN maps are encoder_last_hidden_state;
// 5. decoder_input_proj: per level, 1x1 conv + BatchNorm2d to d_model.
//
// CSPRepLayer(x) = conv3(bottlenecks(conv1(x)) + conv2(x)), conv1/conv2 1x1 ConvNorm + act,
// three RepVGG blocks act(ConvNorm3x3(x) + ConvNorm1x1(x)), conv3 a 1x1 ConvNorm + act when
// the hidden width int(encoder_hidden_dim * hidden_expansion) differs from the output width
// and the identity otherwise. At load time every BatchNorm is folded into its convolution,
// each RepVGG block becomes one 3x3 convolution (the 1x1 kernel added to the centre tap) and
// conv1/conv2 become one GEMM with stacked outputs.
//
// BatchNorm eps: config.batch_norm_eps for the ConvNorm layers and decoder_input_proj;
// encoder_input_proj's BatchNorm2d is built without it, so it has PyTorch's default 1e-5.

#include <eigenformer/cnn/concat.hpp>
#include <eigenformer/cnn/conv2d.hpp>
#include <eigenformer/cnn/conv_norm.hpp>
#include <eigenformer/cnn/feature_map.hpp>
#include <eigenformer/cnn/upsample.hpp>
#include <eigenformer/core/error.hpp>
#include <eigenformer/core/state_dict.hpp>
#include <eigenformer/core/trace.hpp>
#include <eigenformer/models/rtdetr/aifi.hpp>
#include <eigenformer/models/rtdetr/config.hpp>

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace eigenformer {

template <typename T>
class RTDetrCSPRepLayer {
 public:
  static constexpr Index kRepVggBlocks = 3;

  RTDetrCSPRepLayer() = default;

  // Binds `<prefix>{conv1, conv2, conv3, bottlenecks.<i>.conv1, bottlenecks.<i>.conv2}`,
  // each `.conv.weight` + `.norm.*`.
  static RTDetrCSPRepLayer load(const StateDict<T>& weights, const std::string& prefix,
                                Index in_channels, Index hidden_channels, Index out_channels,
                                Activation activation, double eps) {
    auto conv_norm = [&](const std::string& at, Index in, Index out, Index kernel, Activation act) {
      return load_conv_norm(weights, at + "conv.", at + "norm.", in, out, kernel, 1, eps, act);
    };
    RTDetrCSPRepLayer layer;
    layer.hidden_channels_ = hidden_channels;
    layer.input_convs_ = stack_outputs<T>(
        {conv_norm(prefix + "conv1.", in_channels, hidden_channels, 1, activation),
         conv_norm(prefix + "conv2.", in_channels, hidden_channels, 1, activation)});
    for (Index i = 0; i < kRepVggBlocks; ++i) {
      const std::string at = detail::concat(prefix, "bottlenecks.", i, ".");
      layer.bottlenecks_.push_back(merge_parallel(
          conv_norm(at + "conv1.", hidden_channels, hidden_channels, 3, activation),
          conv_norm(at + "conv2.", hidden_channels, hidden_channels, 1, Activation::Identity)));
    }
    if (hidden_channels != out_channels)
      layer.output_conv_ =
          conv_norm(prefix + "conv3.", hidden_channels, out_channels, 1, activation);
    return layer;
  }

  FeatureMap<T> forward(const FeatureMap<T>& input) const {
    const FeatureMap<T> both = input_convs_.forward(input);
    FeatureMap<T> branch(both.data.topRows(hidden_channels_), both.height, both.width);
    for (const auto& block : bottlenecks_) branch = block.forward(branch);
    branch.data += both.data.bottomRows(hidden_channels_);
    return output_conv_ ? output_conv_->forward(branch) : branch;
  }

 private:
  Index hidden_channels_ = 0;
  Conv2d<T> input_convs_;               // conv1 then conv2, stacked
  std::vector<Conv2d<T>> bottlenecks_;  // RepVGG blocks, reparameterised
  std::optional<Conv2d<T>> output_conv_;
};

template <typename T>
class RTDetrHybridEncoder {
 public:
  struct Output {
    std::vector<FeatureMap<T>> encoder_last_hidden_state;  // the PAN maps, finest first
    std::vector<FeatureMap<T>> decoder_inputs;             // after decoder_input_proj
  };
  RTDetrHybridEncoder() = default;

  // `backbone_channels`: the channels of the backbone's feature maps, one per level.
  // `prefix` is RTDetrModel's ("model.").
  static RTDetrHybridEncoder load(const StateDict<T>& weights, const RTDetrConfig& config,
                                  const std::vector<Index>& backbone_channels,
                                  const std::string& prefix = "model.") {
    const Index levels = static_cast<Index>(config.encoder_in_channels.size());
    if (static_cast<Index>(backbone_channels.size()) != levels)
      throw FormatError(detail::concat(config.source, ": the backbone gives ",
                                       backbone_channels.size(),
                                       " feature maps but "
                                       "encoder_in_channels lists ",
                                       levels));
    const Index dim = config.encoder_hidden_dim;
    const Index hidden = csp_hidden_channels(config);
    const double eps = config.batch_norm_eps;
    const std::string encoder = prefix + "encoder.";
    RTDetrHybridEncoder out;
    out.module_ = detail::module_of_prefix(prefix);
    for (Index i = 0; i < levels; ++i) {
      const std::string at = detail::concat(prefix, "encoder_input_proj.", i, ".");
      out.input_projections_.push_back(load_conv_norm(
          weights, at + "0.", at + "1.", backbone_channels[static_cast<std::size_t>(i)], dim, 1, 1,
          kPyTorchBatchNormEps));
    }
    if (config.encoder_layers > 0) out.aifi_ = RTDetrAIFI<T>::load(weights, config, encoder);
    auto conv_norm = [&](const std::string& at, Index kernel, Index stride) {
      return load_conv_norm(weights, at + "conv.", at + "norm.", dim, dim, kernel, stride, eps,
                            config.activation);
    };
    for (Index i = 0; i + 1 < levels; ++i) {
      out.lateral_convs_.push_back(
          conv_norm(detail::concat(encoder, "lateral_convs.", i, "."), 1, 1));
      out.fpn_blocks_.push_back(
          RTDetrCSPRepLayer<T>::load(weights, detail::concat(encoder, "fpn_blocks.", i, "."),
                                     2 * dim, hidden, dim, config.activation, eps));
      out.downsample_convs_.push_back(
          conv_norm(detail::concat(encoder, "downsample_convs.", i, "."), 3, 2));
      out.pan_blocks_.push_back(
          RTDetrCSPRepLayer<T>::load(weights, detail::concat(encoder, "pan_blocks.", i, "."),
                                     2 * dim, hidden, dim, config.activation, eps));
    }
    for (Index i = 0; i < config.num_feature_levels; ++i) {
      const std::string at = detail::concat(prefix, "decoder_input_proj.", i, ".");
      out.decoder_projections_.push_back(load_conv_norm(
          weights, at + "0.", at + "1.", config.decoder_in_channels[static_cast<std::size_t>(i)],
          config.d_model, 1, 1, eps));
    }
    return out;
  }

  Index num_levels() const { return static_cast<Index>(input_projections_.size()); }
  const RTDetrAIFI<T>& aifi() const { return aifi_; }

  // Steps 1-5 for one image's backbone feature maps (finest first). `trace`, when given,
  // gets each stage's map under HF's module name below the load prefix ("model."):
  // "model.encoder_input_proj.<i>", "model.encoder.aifi.<i>", "model.encoder.lateral_convs.<i>",
  // "model.encoder.fpn_blocks.<i>", "model.encoder.downsample_convs.<i>",
  // "model.encoder.pan_blocks.<i>" and "model.decoder_input_proj.<i>".
  Output forward(const std::vector<FeatureMap<T>>& backbone_features,
                 Trace<T>* trace = nullptr) const {
    std::vector<FeatureMap<T>> maps = project_inputs(backbone_features, trace);
    apply_aifi(maps, trace);
    Output out;
    out.encoder_last_hidden_state = fuse(std::move(maps), trace);
    out.decoder_inputs = project_decoder_inputs(out.encoder_last_hidden_state, trace);
    return out;
  }

  // Step 1.
  std::vector<FeatureMap<T>> project_inputs(const std::vector<FeatureMap<T>>& backbone_features,
                                            Trace<T>* trace = nullptr) const {
    check_levels(backbone_features, "backbone feature maps");
    return apply_each(input_projections_, backbone_features, "encoder_input_proj.", trace);
  }

  // Step 2, in place.
  void apply_aifi(std::vector<FeatureMap<T>>& maps, Trace<T>* trace = nullptr) const {
    aifi_.apply(maps);
    if (trace)
      for (std::size_t i = 0; i < aifi_.levels().size(); ++i)
        record(trace, "encoder.aifi.", i, maps[static_cast<std::size_t>(aifi_.levels()[i])]);
  }

  // Steps 3 and 4: the projected maps (after AIFI) to encoder_last_hidden_state.
  std::vector<FeatureMap<T>> fuse(std::vector<FeatureMap<T>> maps,
                                  Trace<T>* trace = nullptr) const {
    check_levels(maps, "projected feature maps");
    const std::size_t stages = lateral_convs_.size();
    // Top-down: fpn[k] ends up as the map of level k; the coarser of each fused pair is
    // replaced by its lateral conv output, which the bottom-up pass concatenates.
    std::vector<FeatureMap<T>> fpn(stages + 1);
    fpn[stages] = std::move(maps[stages]);
    for (std::size_t idx = 0; idx < stages; ++idx) {
      const std::size_t coarse = stages - idx, fine = coarse - 1;
      fpn[coarse] = lateral_convs_[idx].forward(fpn[coarse]);
      record(trace, "encoder.lateral_convs.", idx, fpn[coarse]);
      const FeatureMap<T> upsampled = upsample_nearest(fpn[coarse], 2);
      fpn[fine] = fpn_blocks_[idx].forward(concat_fused(upsampled, maps[fine], "FPN", idx));
      record(trace, "encoder.fpn_blocks.", idx, fpn[fine]);
    }
    std::vector<FeatureMap<T>> pan;
    pan.reserve(stages + 1);
    pan.push_back(std::move(fpn[0]));
    for (std::size_t idx = 0; idx < stages; ++idx) {
      const FeatureMap<T> downsampled = downsample_convs_[idx].forward(pan.back());
      record(trace, "encoder.downsample_convs.", idx, downsampled);
      pan.push_back(pan_blocks_[idx].forward(concat_fused(downsampled, fpn[idx + 1], "PAN", idx)));
      record(trace, "encoder.pan_blocks.", idx, pan.back());
    }
    return pan;
  }

  // Step 5.
  std::vector<FeatureMap<T>> project_decoder_inputs(const std::vector<FeatureMap<T>>& encoded,
                                                    Trace<T>* trace = nullptr) const {
    check_levels(encoded, "encoder outputs");
    return apply_each(decoder_projections_, encoded, "decoder_input_proj.", trace);
  }

 private:
  static constexpr double kPyTorchBatchNormEps = 1e-5;

  void check_levels(const std::vector<FeatureMap<T>>& maps, const char* what) const {
    if (static_cast<Index>(maps.size()) != num_levels())
      throw ShapeError(detail::concat("RT-DETR hybrid encoder: ", maps.size(), " ", what,
                                      " given, expected ", num_levels()));
  }

  void record(Trace<T>* trace, const char* module, std::size_t index,
              const FeatureMap<T>& map) const {
    if (trace) trace->record(detail::module_path(module_, detail::concat(module, index)), map);
  }

  std::vector<FeatureMap<T>> apply_each(const std::vector<Conv2d<T>>& convs,
                                        const std::vector<FeatureMap<T>>& maps, const char* module,
                                        Trace<T>* trace) const {
    std::vector<FeatureMap<T>> out;
    for (std::size_t i = 0; i < convs.size(); ++i) {
      out.push_back(convs[i].forward(maps[i]));
      record(trace, module, i, out.back());
    }
    return out;
  }

  // HF's int(encoder_hidden_dim * hidden_expansion), with the product range-checked first:
  // converting a double beyond Index's range (or NaN) to Index is undefined behaviour.
  static Index csp_hidden_channels(const RTDetrConfig& config) {
    const double hidden = static_cast<double>(config.encoder_hidden_dim) * config.hidden_expansion;
    if (!(hidden >= 1.0) || hidden > static_cast<double>(JsonConfig::kMaxSize))
      throw FormatError(
          detail::concat(config.source, ": field 'hidden_expansion' is ", config.hidden_expansion,
                         ": encoder_hidden_dim * hidden_expansion = ", hidden,
                         " CSP channels, expected between 1 and ", JsonConfig::kMaxSize));
    return static_cast<Index>(hidden);
  }

  // Sizes differ when an input side is not a multiple of the coarsest stride (HF fails in
  // torch.concat there too).
  static FeatureMap<T> concat_fused(const FeatureMap<T>& a, const FeatureMap<T>& b,
                                    const char* pass, std::size_t stage) {
    if (a.height != b.height || a.width != b.width)
      throw ShapeError(detail::concat("RT-DETR hybrid encoder ", pass, " stage ", stage,
                                      ": maps of ", a.height, " x ", a.width, " and ", b.height,
                                      " x ", b.width,
                                      " cannot be fused; image sides must be multiples of the "
                                      "coarsest feature stride"));
    return concat_channels(a, b);
  }

  std::string module_;  // the load prefix's module ("model"), the trace names' root
  std::vector<Conv2d<T>> input_projections_;
  RTDetrAIFI<T> aifi_;
  std::vector<Conv2d<T>> lateral_convs_;
  std::vector<RTDetrCSPRepLayer<T>> fpn_blocks_;
  std::vector<Conv2d<T>> downsample_convs_;
  std::vector<RTDetrCSPRepLayer<T>> pan_blocks_;
  std::vector<Conv2d<T>> decoder_projections_;
};

}  // namespace eigenformer
