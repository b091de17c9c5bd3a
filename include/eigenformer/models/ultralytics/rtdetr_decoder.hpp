#pragma once
// ultralytics' RTDETRDecoder (nn/modules/head.py) in eval mode, bound onto the library's
// RT-DETR head: the same query selection and deformable decoder HF's RT-DETR runs, under
// ultralytics' names. Its output is ultralytics' y: per query cx, cy, w, h (fractions of the
// input) then the sigmoid class scores, from the last decoder layer.
//
// Name table (ultralytics -> the shared blocks):
//   input_proj.<l>.{0,1}            1x1 conv + BatchNorm2d, folded     (decoder input projection)
//   enc_output.{0,1}, enc_score_head, enc_bbox_head.layers.<j>         (query selection)
//   query_pos_head.layers.{0,1}, dec_score_head.<i>, dec_bbox_head.<i>.layers.<j>
//   decoder.layers.<i>.self_attn (packed in_proj), .cross_attn.{value_proj, sampling_offsets,
//     attention_weights, output_proj}, .linear1/.linear2 (ReLU), .norm1/.norm2/.norm3

#include <eigenformer/attention/multi_head_attention.hpp>
#include <eigenformer/attention/multi_scale_deformable_attention.hpp>
#include <eigenformer/cnn/conv2d.hpp>
#include <eigenformer/cnn/conv_norm.hpp>
#include <eigenformer/cnn/feature_map.hpp>
#include <eigenformer/core/trace.hpp>
#include <eigenformer/models/rtdetr/config.hpp>
#include <eigenformer/models/rtdetr/decoder.hpp>
#include <eigenformer/models/rtdetr/head.hpp>
#include <eigenformer/models/rtdetr/query_selection.hpp>
#include <eigenformer/models/ultralytics/config.hpp>
#include <eigenformer/models/ultralytics/module_weights.hpp>
#include <eigenformer/nn/embedding.hpp>
#include <eigenformer/nn/layer_norm.hpp>
#include <eigenformer/nn/linear.hpp>
#include <eigenformer/nn/mlp.hpp>
#include <eigenformer/transformer/feed_forward.hpp>

#include <string>
#include <utility>
#include <vector>

namespace eigenformer {

template <typename T>
struct UltralyticsDetectorOutput {
  RTDetrHeadOutput<T> head;  // query selection and every decoder layer
  Matrix<T> y;               // num_queries x (4 + num_classes): ultralytics' model(x)[0]
};

template <typename T>
class UltralyticsRTDetrDecoder {
 public:
  UltralyticsRTDetrDecoder() = default;

  // RTDETRDecoder(nc, ch, hd, nq, ndp, nh, ndl, d_ffn, dropout, act, eval_idx, nd,
  // label_noise_ratio, box_noise_scale, learnt_init_query) as `layer` resolves it.
  static UltralyticsRTDetrDecoder load(const UltralyticsWeights<T>& w,
                                       const UltralyticsLayer& layer,
                                       const std::vector<std::string>& names) {
    const std::string prefix = detail::concat("model.", layer.index, ".");
    auto fail = [&](const std::string& problem) { layer.fail(w.source(), problem); };
    auto integer = [&](std::size_t i, Index fallback) {
      const Index value = layer.integer_arg(i, fallback, w.source());
      if (value <= 0 || value > (Index{1} << 20))
        fail(detail::concat("argument ", i, " is ", value, ", expected a positive count"));
      return value;
    };
    const Index nc = integer(0, 80);
    std::vector<Index> in_channels;
    const nlohmann::json channels = layer.arg(1, nlohmann::json::array());
    for (const auto& c : channels) {
      if (!c.is_number_integer() || c.get<Index>() <= 0)
        fail(detail::concat("has input channels ", channels.dump()));
      in_channels.push_back(c.get<Index>());
    }
    if (in_channels.empty()) fail("has no input feature maps");
    const Index hd = integer(2, 256), nq = integer(3, 300), points = integer(4, 4),
                heads = integer(5, 8), layers = integer(6, 6), ffn = integer(7, 1024);
    const nlohmann::json eval_idx = layer.arg(10, -1);
    if (!(eval_idx.is_number_integer() &&
          (eval_idx.get<Index>() == -1 || eval_idx.get<Index>() == layers - 1)))
      fail(detail::concat("has eval_idx ", eval_idx.dump(),
                          "; only the last layer's output (eval_idx -1) is supported"));
    const bool learnt_query = layer.arg(14, false).is_boolean() && layer.arg(14, false).get<bool>();
    if (static_cast<Index>(names.size()) != nc)
      fail(detail::concat("predicts ", nc, " classes but the checkpoint names ", names.size()));
    if (hd % heads != 0) fail(detail::concat("hidden size ", hd, " is not divisible by ", heads));

    UltralyticsRTDetrDecoder decoder;
    decoder.module_ = detail::module_of_prefix(prefix);
    RTDetrConfig& config = decoder.config_;
    config.source = w.source();
    config.d_model = hd;
    config.num_queries = nq;
    config.num_feature_levels = static_cast<Index>(in_channels.size());
    config.decoder_in_channels = in_channels;
    config.decoder_layers = layers;
    config.decoder_attention_heads = heads;
    config.decoder_ffn_dim = ffn;
    config.decoder_n_points = points;
    config.decoder_activation = Activation::ReLU;
    config.learn_initial_query = learnt_query;
    config.id2label = names;

    for (std::size_t l = 0; l < in_channels.size(); ++l) {
      const std::string p = detail::concat(prefix, "input_proj.", l, ".");
      const Conv2d<T> conv(w.tensors().at(p + "0.weight", {hd, in_channels[l], 1, 1}), Tensor<T>(),
                           1, 0);
      decoder.input_projections_.push_back(
          fold_batch_norm(conv, w.tensors(), p + "1.", w.norm_eps(p + "1.", 1e-5)));
    }

    const StateDict<T>& t = w.tensors();
    auto layer_norm = [&](const std::string& p) {
      return LayerNorm<T>::load(t, p, hd, static_cast<T>(w.norm_eps(p, 1e-5)));
    };
    std::optional<Embedding<T>> learned_target;
    if (learnt_query) learned_target = Embedding<T>::load(t, prefix + "tgt_embed.weight", nq, hd);
    RTDetrQuerySelection<T> selection(
        Linear<T>::load(t, prefix + "enc_output.0.", hd, hd), layer_norm(prefix + "enc_output.1."),
        Linear<T>::load(t, prefix + "enc_score_head.", hd, nc),
        Mlp<T>::load(t, prefix + "enc_bbox_head.", {hd, hd, hd, 4}), nq, std::nullopt,
        std::move(learned_target), detail::module_of_prefix(prefix));

    std::vector<RTDetrDecoderLayer<T>> decoder_layers;
    std::vector<Linear<T>> class_heads;
    std::vector<Mlp<T>> box_heads;
    for (Index i = 0; i < layers; ++i) {
      const std::string p = detail::concat(prefix, "decoder.layers.", i, ".");
      decoder_layers.emplace_back(
          MultiHeadAttention<T>::load(t, p + "self_attn.", hd, heads), layer_norm(p + "norm1."),
          MultiScaleDeformableAttention<T>::load(t, p + "cross_attn.", hd, heads,
                                                 config.num_feature_levels, points),
          layer_norm(p + "norm2."),
          FeedForward<T>(Linear<T>::load(t, p + "linear1.", hd, ffn),
                         Linear<T>::load(t, p + "linear2.", ffn, hd),
                         w.activation(p + "act.", Activation::ReLU)),
          layer_norm(p + "norm3."), detail::module_of_prefix(p));
      class_heads.push_back(
          Linear<T>::load(t, detail::concat(prefix, "dec_score_head.", i, "."), hd, nc));
      box_heads.push_back(
          Mlp<T>::load(t, detail::concat(prefix, "dec_bbox_head.", i, "."), {hd, hd, hd, 4}));
    }
    RTDetrDecoder<T> deformable(
        config.decoder_config(), Mlp<T>::load(t, prefix + "query_pos_head.", {4, 2 * hd, hd}),
        std::move(decoder_layers), std::move(class_heads), std::move(box_heads));
    decoder.head_ = RTDetrHead<T>(config, std::move(selection), std::move(deformable));
    return decoder;
  }

  const RTDetrConfig& config() const { return config_; }
  const RTDetrHead<T>& head() const { return head_; }

  // `maps`: the decoder's inputs (the neck's outputs, finest first). `options.trace` gets
  // "model.<i>.input_proj.<l>", the query selection's and decoder layers' intermediates under
  // ultralytics' names ("model.<i>.decoder.layers.<j>.cross_attn", ...) and y as "model.<i>".
  UltralyticsDetectorOutput<T> forward(const std::vector<const FeatureMap<T>*>& maps,
                                       const RTDetrForwardOptions<T>& options = {}) const {
    const std::vector<FeatureMap<T>> projected = project(maps);
    if (options.trace)
      for (std::size_t l = 0; l < projected.size(); ++l)
        options.trace->record(detail::concat(module_, ".input_proj.", l), projected[l]);
    UltralyticsDetectorOutput<T> out = finish(head_.forward(projected, options));
    if (options.trace) options.trace->record(module_, out.y);
    return out;
  }

  std::vector<FeatureMap<T>> project(const std::vector<const FeatureMap<T>*>& maps) const {
    if (maps.size() != input_projections_.size())
      throw ShapeError(detail::concat("RTDETRDecoder: ", maps.size(),
                                      " feature maps given, expected ", input_projections_.size()));
    std::vector<FeatureMap<T>> projected;
    for (std::size_t l = 0; l < maps.size(); ++l)
      projected.push_back(input_projections_[l].forward(*maps[l]));
    return projected;
  }

 private:
  static UltralyticsDetectorOutput<T> finish(RTDetrHeadOutput<T> head) {
    UltralyticsDetectorOutput<T> out;
    const Matrix<T>& boxes = head.pred_boxes();
    const Matrix<T>& logits = head.logits();
    out.y.resize(boxes.rows(), 4 + logits.cols());
    out.y.leftCols(4) = boxes;
    out.y.rightCols(logits.cols()) = logits.unaryExpr([](T x) { return sigmoid(x); });
    out.head = std::move(head);
    return out;
  }

  RTDetrConfig config_;
  std::string module_;  // "model.<i>", the layer's name in the checkpoint
  std::vector<Conv2d<T>> input_projections_;
  RTDetrHead<T> head_;
};

}  // namespace eigenformer
