#pragma once
// ultralytics' RTDETRDetectionModel in eval mode, built from its checkpoint: the layers of the
// checkpoint's own yaml (UltralyticsConfig) run in order, each on the outputs of its `from`
// layers, as DetectionModel._predict_once runs them; the last layer is the RTDETRDecoder.
// BatchNorms are folded and RepConvs merged at load, as ultralytics' fuse() does.
//
// Input: one image as a (3, H * W) FeatureMap of RGB values in [0, 1], H and W multiples of 32.

#include <eigenformer/cnn/concat.hpp>
#include <eigenformer/cnn/conv2d.hpp>
#include <eigenformer/cnn/feature_map.hpp>
#include <eigenformer/cnn/upsample.hpp>
#include <eigenformer/core/error.hpp>
#include <eigenformer/core/state_dict.hpp>
#include <eigenformer/io/model_files.hpp>
#include <eigenformer/io/torch_checkpoint.hpp>
#include <eigenformer/models/rtdetr/aifi.hpp>
#include <eigenformer/models/ultralytics/config.hpp>
#include <eigenformer/models/ultralytics/hgnet.hpp>
#include <eigenformer/models/ultralytics/module_weights.hpp>
#include <eigenformer/models/ultralytics/rep_c3.hpp>
#include <eigenformer/models/ultralytics/rtdetr_decoder.hpp>
#include <eigenformer/transformer/encoder_layer.hpp>

#include <cstdlib>
#include <functional>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

namespace eigenformer {

template <typename T>
class UltralyticsRTDetr {
 public:
  using Layer = std::function<FeatureMap<T>(const std::vector<const FeatureMap<T>*>&)>;

  UltralyticsRTDetr() = default;

  // An ultralytics checkpoint file: rtdetr-l.pt / rtdetr-x.pt as released, or a trainer's
  // last.pt / best.pt (its `ema` model).
  static UltralyticsRTDetr load(const std::string& path) {
    return load(load_torch_checkpoint<T>(ModelFiles::find(path).checkpoint()));
  }

  static UltralyticsRTDetr load(const TorchCheckpoint<T>& checkpoint) {
    const nlohmann::json attributes = checkpoint.attributes();
    auto fail = [&](const std::string& problem) {
      throw FormatError(detail::concat(checkpoint.source, ": ", problem));
    };
    if (!attributes.contains("yaml"))
      fail(detail::concat("the model object (", checkpoint.modules.at("").class_name,
                          ") carries no yaml: not an ultralytics model"));
    UltralyticsConfig config = UltralyticsConfig::from_yaml(attributes["yaml"], checkpoint.source);
    config.names = class_names(attributes, config.num_classes, checkpoint.source);
    // The predictor's imgsz: the training size, from train_args (released form) or the
    // model's args (trainer form).
    for (const nlohmann::json* args : {&checkpoint.metadata, &attributes}) {
      for (const char* key : {"train_args", "args"}) {
        if (!args->contains(key) || !(*args)[key].is_object()) continue;
        const nlohmann::json& imgsz = (*args)[key].value("imgsz", nlohmann::json());
        if (imgsz.is_number_integer() && imgsz.get<Index>() >= 32 && imgsz.get<Index>() <= 8192)
          config.imgsz = imgsz.get<Index>();
      }
    }
    return load(UltralyticsWeights<T>(checkpoint.weights, checkpoint.modules), config);
  }

  // `weights` named as the model's state_dict names them ("model.0.stem1.conv.weight"). The
  // model keeps what it needs: `weights` need not outlive it.
  static UltralyticsRTDetr load(const UltralyticsWeights<T>& weights,
                                const UltralyticsConfig& config) {
    UltralyticsRTDetr model;
    model.config_ = config;
    const std::size_t count = config.layers.size();
    if (config.layers.back().module != "RTDETRDecoder")
      throw FormatError(detail::concat(config.source, ": the last layer is ",
                                       config.layers.back().module,
                                       ", expected RTDETRDecoder (not an RT-DETR checkpoint)"));
    for (std::size_t i = 0; i + 1 < count; ++i)
      model.layers_.push_back(make_layer(weights, config.layers[i]));
    model.decoder_ = UltralyticsRTDetrDecoder<T>::load(weights, config.layers.back(), config.names);
    // Outputs read by a layer other than the next (ultralytics' `save` list) are kept; the
    // others are dropped once the next layer has run.
    model.kept_.assign(count, false);
    for (const auto& layer : config.layers)
      for (Index f : layer.from)
        if (f >= 0 && (f != layer.index - 1 || &layer == &config.layers.back()))
          model.kept_[static_cast<std::size_t>(f)] = true;
    return model;
  }

  const UltralyticsConfig& config() const { return config_; }
  const UltralyticsRTDetrDecoder<T>& decoder() const { return decoder_; }
  Index num_classes() const { return config_.num_classes; }
  const std::vector<std::string>& names() const { return config_.names; }

  // `options.trace` gets each layer's output as "model.<i>" (ultralytics' module names), then
  // the decoder's intermediates (UltralyticsRTDetrDecoder::forward).
  UltralyticsDetectorOutput<T> forward(const FeatureMap<T>& image,
                                       const RTDetrForwardOptions<T>& options = {}) const {
    const std::vector<FeatureMap<T>> outputs = run(image, options.trace);
    return decoder_.forward(decoder_inputs(outputs), options);
  }

 private:
  std::vector<FeatureMap<T>> run(const FeatureMap<T>& image, Trace<T>* trace) const {
    image.check("ultralytics RT-DETR input");
    if (image.channels() != config_.input_channels)
      throw ShapeError(detail::concat("ultralytics RT-DETR: input has ", image.channels(),
                                      " channels, expected ", config_.input_channels));
    if (image.height < 32 || image.width < 32 || image.height % 32 != 0 || image.width % 32 != 0)
      throw ShapeError(detail::concat("ultralytics RT-DETR: input is ", image.height, " x ",
                                      image.width,
                                      ", expected multiples of 32 (the coarsest feature stride)"));
    std::vector<FeatureMap<T>> outputs(layers_.size());
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      std::vector<const FeatureMap<T>*> inputs;
      for (Index f : config_.layers[i].from)
        inputs.push_back(f < 0 ? &image : &outputs[static_cast<std::size_t>(f)]);
      outputs[i] = layers_[i](inputs);
      if (trace) trace->record(detail::concat("model.", i), outputs[i]);
      if (i > 0 && !kept_[i - 1]) outputs[i - 1] = FeatureMap<T>();
    }
    return outputs;
  }

  std::vector<const FeatureMap<T>*> decoder_inputs(
      const std::vector<FeatureMap<T>>& outputs) const {
    std::vector<const FeatureMap<T>*> inputs;
    for (Index f : config_.layers.back().from) {
      if (f < 0)
        throw FormatError(detail::concat(config_.source, ": RTDETRDecoder reads the image"));
      inputs.push_back(&outputs[static_cast<std::size_t>(f)]);
    }
    return inputs;
  }

  // The checkpoint's `names` ({0: "person", ...}); ultralytics' "class<i>" where absent.
  static std::vector<std::string> class_names(const nlohmann::json& attributes, Index count,
                                              const std::string& source) {
    std::vector<std::string> names;
    for (Index i = 0; i < count; ++i) names.push_back(detail::concat("class", i));
    if (!attributes.contains("names") || attributes["names"].is_null()) return names;
    const nlohmann::json& given = attributes["names"];
    auto fail = [&](const std::string& problem) {
      throw FormatError(detail::concat(source, ": model.names ", problem));
    };
    if (given.is_object()) {
      if (static_cast<Index>(given.size()) != count)
        fail(detail::concat("has ", given.size(), " entries for ", count, " classes"));
      for (const auto& [key, value] : given.items()) {
        char* end = nullptr;
        const long long id = std::strtoll(key.c_str(), &end, 10);
        if (key.empty() || *end != '\0' || id < 0 || id >= count || !value.is_string())
          fail(detail::concat("has entry ", key, ": ", value.dump(), ", expected class ids 0..",
                              count - 1, " with string names"));
        names[static_cast<std::size_t>(id)] = value.template get<std::string>();
      }
    } else if (given.is_array()) {
      if (static_cast<Index>(given.size()) != count)
        fail(detail::concat("has ", given.size(), " entries for ", count, " classes"));
      for (std::size_t i = 0; i < given.size(); ++i) {
        if (!given[i].is_string()) fail(detail::concat("[", i, "] is not a string"));
        names[i] = given[i].get<std::string>();
      }
    } else {
      fail("is neither a dict nor a list");
    }
    return names;
  }

  static Layer make_layer(const UltralyticsWeights<T>& w, const UltralyticsLayer& layer) {
    const std::string prefix = detail::concat("model.", layer.index, ".");
    const std::string& m = layer.module;
    auto fail = [&](const std::string& problem) { layer.fail(w.source(), problem); };
    auto integer = [&](std::size_t i, Index fallback) {
      return layer.integer_arg(i, fallback, w.source());
    };
    auto flag = [&](std::size_t i, bool fallback) {
      return layer.flag_arg(i, fallback, w.source());
    };
    // Conv's and DWConv's act argument: True = SiLU, False = none.
    auto act = [&](std::size_t i) {
      return flag(i, true) ? Activation::SiLU : Activation::Identity;
    };
    auto single = [](auto block) {
      return Layer([block = std::move(block)](const std::vector<const FeatureMap<T>*>& x) {
        return block.forward(*x.front());
      });
    };
    const Index c1 = integer(0, 0);

    if (m == "Conv") {  // Conv(c1, c2, k, s, p, g, d, act)
      const Index k = integer(2, 1), s = integer(3, 1), g = integer(5, 1), d = integer(6, 1);
      if (d != 1) fail("has dilation, which eigenformer does not implement");
      const Index p = layer.arg(4, nullptr).is_null() ? k / 2 : integer(4, 0);
      return single(w.conv_norm_act(prefix, c1, integer(1, 0), k, s, p, g, act(7)));
    }
    if (m == "DWConv") {  // DWConv(c1, c2, k, s, d, act): groups gcd(c1, c2)
      const Index c2 = integer(1, 0), k = integer(2, 1), s = integer(3, 1), d = integer(4, 1);
      if (d != 1) fail("has dilation, which eigenformer does not implement");
      return single(w.conv_norm_act(prefix, c1, c2, k, s, k / 2, std::gcd(c1, c2), act(5)));
    }
    if (m == "HGStem") return single(HGStem<T>::load(w, prefix, c1, integer(1, 0), integer(2, 0)));
    if (m == "HGBlock")  // HGBlock(c1, cm, c2, k, n, lightconv, shortcut)
      return single(HGBlock<T>::load(w, prefix, c1, integer(1, 0), integer(2, 0), integer(3, 3),
                                     integer(4, 6), flag(5, false), flag(6, false)));
    if (m == "RepC3") {  // RepC3(c1, c2, n, e)
      const nlohmann::json e = layer.arg(3, 1.0);
      if (!e.is_number()) fail(detail::concat("expansion is ", e.dump()));
      return single(RepC3<T>::load(w, prefix, c1, integer(1, 0), integer(2, 3), e.get<double>()));
    }
    if (m == "RepConv") return single(load_rep_conv(w, prefix, c1));
    if (m == "AIFI") return single(load_aifi(w, prefix, c1, integer(1, 2048), integer(2, 8)));
    if (m == "Concat") {
      if (integer(0, 1) != 1) fail("concatenates along a dimension other than channels");
      return Layer(
          [](const std::vector<const FeatureMap<T>*>& x) { return concat_channels<T>(x); });
    }
    if (m == "nn.Upsample" || m == "torch.nn.Upsample") {  // Upsample(size, scale_factor, mode)
      if (!layer.arg(0, nullptr).is_null())
        fail("has a fixed size; only scale factors are supported");
      const nlohmann::json mode = layer.arg(2, "nearest");
      if (mode != "nearest") fail(detail::concat("has mode ", mode.dump(), "; only nearest"));
      const nlohmann::json scale = layer.arg(1, nullptr);
      if (!scale.is_number() || scale.get<double>() < 1 ||
          scale.get<double>() != static_cast<double>(static_cast<Index>(scale.get<double>())))
        fail(detail::concat("has scale factor ", scale.dump(), "; only whole factors"));
      const auto factor = static_cast<Index>(scale.get<double>());
      return Layer([factor](const std::vector<const FeatureMap<T>*>& x) {
        return upsample_nearest(*x.front(), factor);
      });
    }
    fail("is not supported");
    return {};
  }

  // AIFI(c1, cm, heads): one post-norm nn.TransformerEncoderLayer-style block (GELU) with the
  // 2-D sin-cos position embedding on queries and keys, bound onto the shared AIFI layer.
  static RTDetrAIFILayer<T> load_aifi(const UltralyticsWeights<T>& w, const std::string& prefix,
                                      Index c1, Index cm, Index heads) {
    TransformerLayerConfig config;
    config.d_model = c1;
    config.num_heads = heads;
    config.dim_feedforward = cm;
    config.activation = w.activation(prefix + "act.", Activation::GELU);
    config.layer_norm_eps = w.norm_eps(prefix + "norm1.", 1e-5);
    if (w.norm_eps(prefix + "norm2.", 1e-5) != config.layer_norm_eps)
      throw FormatError(detail::concat(w.source(), ": ", prefix, "norm1 and ", prefix,
                                       "norm2 have different eps"));
    std::vector<TransformerEncoderLayer<T>> layers;
    layers.push_back(
        TransformerEncoderLayer<T>::load(w.tensors(), prefix, config, aifi_layer_names()));
    return RTDetrAIFILayer<T>(std::move(layers), c1, 10000.0, true);
  }

  // ultralytics AIFI's parameter names: an nn.MultiheadAttention `ma`, fc1, fc2, norm1, norm2.
  static EncoderLayerNames aifi_layer_names() {
    return EncoderLayerNames::packed("ma.", "norm1.", "fc1.", "fc2.", "norm2.");
  }

  UltralyticsConfig config_;
  std::vector<Layer> layers_;
  std::vector<bool> kept_;
  UltralyticsRTDetrDecoder<T> decoder_;
};

}  // namespace eigenformer
