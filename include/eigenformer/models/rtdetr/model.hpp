#pragma once
// RT-DETR end to end, as HF transformers' RTDetrForObjectDetection runs in eval mode:
// pixel_values -> ResNet-vd backbone -> hybrid encoder (input projections, AIFI, FPN, PAN,
// decoder input projections) -> head (query selection, deformable decoder) -> per image
// logits (num_queries x num_labels, before the sigmoid) and pred_boxes (num_queries x 4:
// cx, cy, w, h normalised to [0, 1]).
//
// Images are independent (HF's pixel_mask only matters for padded batches, and RT-DETR's
// processor does not pad), so a batch is run image by image; each stage's matrix products
// use all threads (core/threading.hpp).

#include <eigenformer/cnn/feature_map.hpp>
#include <eigenformer/core/error.hpp>
#include <eigenformer/core/state_dict.hpp>
#include <eigenformer/core/tensor.hpp>
#include <eigenformer/io/model_files.hpp>
#include <eigenformer/models/rtdetr/backbone.hpp>
#include <eigenformer/models/rtdetr/config.hpp>
#include <eigenformer/models/rtdetr/head.hpp>
#include <eigenformer/models/rtdetr/hybrid_encoder.hpp>

#include <string>
#include <utility>
#include <vector>

namespace eigenformer {

template <typename T>
struct RTDetrDetections {
  Matrix<T> logits;      // num_queries x num_labels
  Matrix<T> pred_boxes;  // num_queries x 4: cx, cy, w, h in [0, 1]
};

template <typename T>
class RTDetrModel {
 public:
  RTDetrModel() = default;

  // A folder as save_pretrained writes it: config.json and model.safetensors. (ultralytics
  // .pt checkpoints load with UltralyticsRTDetr.)
  static RTDetrModel load(const std::string& path) { return load(ModelFiles::find(path)); }

  static RTDetrModel load(const ModelFiles& files) {
    if (!files.is_folder())
      files.unsupported("RTDetrModel (HF RT-DETR)",
                        "a HF folder; ultralytics .pt checkpoints load with RTDETR");
    StateDict<T> weights = load_model_weights<T>(files);
    return load(weights, RTDetrConfig::load(files.config()));
  }

  // `weights` as RTDetrForObjectDetection's state_dict names them ("model.backbone...").
  // The model keeps what it needs: `weights` need not outlive it.
  static RTDetrModel load(const StateDict<T>& weights, const RTDetrConfig& config) {
    RTDetrModel model;
    model.config_ = config;
    const RTDetrResNetConfig backbone_config =
        config.backbone_config ? RTDetrResNetConfig::from_json(*config.backbone_config)
                               : RTDetrResNetConfig();
    model.backbone_ = RTDetrResNetBackbone<T>::load(weights, backbone_config);
    model.encoder_ = RTDetrHybridEncoder<T>::load(weights, config, backbone_config.out_channels());
    model.head_ = RTDetrHead<T>::load(weights, config);
    return model;
  }

  const RTDetrConfig& config() const { return config_; }
  const RTDetrResNetBackbone<T>& backbone() const { return backbone_; }
  const RTDetrHybridEncoder<T>& encoder() const { return encoder_; }
  const RTDetrHead<T>& head() const { return head_; }

  // One image's pixel_values: 3 x (height * width). Height and width must be multiples of
  // the coarsest feature stride (32), as for HF. `options.trace` receives the hybrid encoder's
  // maps, the query selection's and the decoder layers' intermediates under HF's names.
  RTDetrDetections<T> forward(const FeatureMap<T>& pixel_values,
                              const RTDetrForwardOptions<T>& options = {}) const {
    const std::vector<FeatureMap<T>> decoder_inputs =
        encoder_.forward(backbone_.forward(pixel_values), options.trace).decoder_inputs;
    const RTDetrHeadOutput<T> out = head_.forward(decoder_inputs, options);
    return {out.logits(), out.pred_boxes()};
  }

  // A batch of pixel_values, (N, 3, height, width).
  std::vector<RTDetrDetections<T>> forward(const Tensor<T>& pixel_values) const {
    if (pixel_values.rank() != 4)
      throw ShapeError(
          detail::concat("RT-DETR: pixel_values must be (batch, channels, height, "
                         "width), got ",
                         detail::shape_string(pixel_values.shape())));
    std::vector<RTDetrDetections<T>> out;
    for (Index n = 0; n < pixel_values.dim(0); ++n)
      out.push_back(forward(FeatureMap<T>::from_nchw(pixel_values, n)));
    return out;
  }

 private:
  RTDetrConfig config_;
  RTDetrResNetBackbone<T> backbone_;
  RTDetrHybridEncoder<T> encoder_;
  RTDetrHead<T> head_;
};

}  // namespace eigenformer
