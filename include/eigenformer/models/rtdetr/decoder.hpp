#pragma once
// RT-DETR's decoder as HF transformers computes it in eval mode: RTDetrDecoder with the
// per-layer heads that RTDetrForObjectDetection attaches to it (class_embed, bbox_embed:
// iterative box refinement).
//
// Per layer i, with boxes = sigmoid(initial reference logits) before the first layer:
//   position = query_pos_head(boxes)                       MLP 4 -> 2d -> d, ReLU between
//   hidden   = RTDetrDecoderLayer(hidden, position, boxes, memory)
//   boxes    = sigmoid(bbox_embed[i](hidden) + inverse_sigmoid(boxes))
//   logits   = class_embed[i](hidden)
// The layer is post-norm:
//   h = self_attn_layer_norm(h + SelfAttention(q = k = h + position, v = h))
//   h = encoder_attn_layer_norm(h + DeformableAttention(h + position, boxes, memory))
//   h = final_layer_norm(h + fc2(act(fc1(h))))

#include <eigenformer/attention/multi_head_attention.hpp>
#include <eigenformer/attention/multi_scale_deformable_attention.hpp>
#include <eigenformer/core/error.hpp>
#include <eigenformer/core/sequence_batch.hpp>
#include <eigenformer/core/state_dict.hpp>
#include <eigenformer/core/trace.hpp>
#include <eigenformer/nn/activations.hpp>
#include <eigenformer/nn/layer_norm.hpp>
#include <eigenformer/nn/linear.hpp>
#include <eigenformer/nn/mlp.hpp>
#include <eigenformer/transformer/feed_forward.hpp>
#include <eigenformer/transformer/layer_widths.hpp>
#include <eigenformer/transformer/residual_blocks.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

namespace eigenformer {

// The decoder's part of RTDetrConfig: d_model, decoder_attention_heads, decoder_ffn_dim,
// decoder_layers, decoder_n_points, num_feature_levels, num_labels (len(id2label)),
// decoder_activation_function, layer_norm_eps. Defaults are RTDetrConfig's, with COCO's 80
// labels (the released rtdetr_r50vd).
struct RTDetrDecoderConfig {
  Index d_model = 256;
  Index num_heads = 8;
  Index ffn_dim = 1024;
  Index num_layers = 6;
  Index num_points = 4;
  Index num_levels = 3;
  Index num_labels = 80;
  Activation activation = Activation::ReLU;
  double layer_norm_eps = 1e-5;

  void validate() const {
    auto positive = [](const char* field, Index value) {
      if (value <= 0)
        throw InvalidArgument(detail::concat("RTDetrDecoderConfig: ", field, " is ", value,
                                             ", expected a positive value"));
    };
    positive("d_model", d_model);
    positive("num_heads", num_heads);
    positive("ffn_dim", ffn_dim);
    positive("num_layers", num_layers);
    positive("num_points", num_points);
    positive("num_levels", num_levels);
    positive("num_labels", num_labels);
    if (d_model % num_heads != 0)
      throw InvalidArgument(detail::concat("RTDetrDecoderConfig: d_model ", d_model,
                                           " is not divisible by num_heads ", num_heads));
    if (!(layer_norm_eps > 0))
      throw InvalidArgument(detail::concat("RTDetrDecoderConfig: layer_norm_eps is ",
                                           layer_norm_eps, ", expected a positive value"));
  }
};

namespace detail {

// HF's inverse_sigmoid (conditional_detr): x clamped to [0, 1], then log(x / (1 - x)) with
// numerator and denominator clamped to at least eps, so boxes at 0 or 1 stay finite.
template <typename T>
T inverse_sigmoid(T x, T eps = T(1e-5)) {
  x = std::min(std::max(x, T(0)), T(1));
  return std::log(std::max(x, eps) / std::max(T(1) - x, eps));
}

}  // namespace detail

template <typename T>
class RTDetrDecoderLayer {
 public:
  RTDetrDecoderLayer() = default;
  // `module`: the layer's upstream name ("model.decoder.layers.0"), which the trace records
  // its output under, and its self_attn's under module + ".self_attn".
  RTDetrDecoderLayer(MultiHeadAttention<T> self_attention, LayerNorm<T> self_attention_norm,
                     MultiScaleDeformableAttention<T> cross_attention,
                     LayerNorm<T> cross_attention_norm, FeedForward<T> feed_forward,
                     LayerNorm<T> feed_forward_norm, std::string module = "")
      : cross_attention_(std::move(cross_attention)),
        cross_attention_norm_(std::move(cross_attention_norm)),
        module_(std::move(module)) {
    const char* layer = "RTDetrDecoderLayer";
    const Index d = self_attention.embed_dim();
    detail::check_attention_widths(layer, "self-attention", self_attention, d, true);
    detail::check_part_width(layer, "cross-attention (deformable) embed_dim",
                             cross_attention_.embed_dim(), d);
    detail::check_feed_forward_widths(layer, feed_forward, d);
    detail::check_norm_width(layer, "self_attn_layer_norm", self_attention_norm, d);
    detail::check_norm_width(layer, "encoder_attn_layer_norm", cross_attention_norm_, d);
    detail::check_norm_width(layer, "final_layer_norm", feed_forward_norm, d);
    // RT-DETR's decoder layer is post-norm (HF and ultralytics alike).
    self_attention_ =
        SelfAttentionBlock<T>(std::move(self_attention), std::move(self_attention_norm), false,
                              detail::module_path(module_, "self_attn"));
    feed_forward_ =
        FeedForwardBlock<T>(std::move(feed_forward), std::move(feed_forward_norm), false);
  }

  // HF RTDetrDecoderLayer's state_dict under `prefix` ("model.decoder.layers.0."): self_attn.
  // {q,k,v,out}_proj, self_attn_layer_norm, encoder_attn.*, encoder_attn_layer_norm, fc1, fc2,
  // final_layer_norm.
  static RTDetrDecoderLayer load(const StateDict<T>& weights, const std::string& prefix,
                                 const RTDetrDecoderConfig& config) {
    config.validate();
    const Index d = config.d_model;
    const T eps = static_cast<T>(config.layer_norm_eps);
    auto linear = [&](const std::string& name, Index in, Index out) {
      return Linear<T>::load(weights, prefix + name, in, out);
    };
    return RTDetrDecoderLayer(
        MultiHeadAttention<T>(linear("self_attn.q_proj.", d, d), linear("self_attn.k_proj.", d, d),
                              linear("self_attn.v_proj.", d, d),
                              linear("self_attn.out_proj.", d, d), config.num_heads),
        LayerNorm<T>::load(weights, prefix + "self_attn_layer_norm.", d, eps),
        MultiScaleDeformableAttention<T>::load(weights, prefix + "encoder_attn.", d,
                                               config.num_heads, config.num_levels,
                                               config.num_points),
        LayerNorm<T>::load(weights, prefix + "encoder_attn_layer_norm.", d, eps),
        FeedForward<T>(linear("fc1.", d, config.ffn_dim), linear("fc2.", config.ffn_dim, d),
                       config.activation),
        LayerNorm<T>::load(weights, prefix + "final_layer_norm.", d, eps),
        detail::module_of_prefix(prefix));
  }

  Index d_model() const { return self_attention_.attention().embed_dim(); }
  const std::string& module_name() const { return module_; }
  const MultiHeadAttention<T>& self_attention() const { return self_attention_.attention(); }
  const MultiScaleDeformableAttention<T>& cross_attention() const { return cross_attention_; }

  // `hidden`, `query_position` (Q x d) and `reference_boxes` (Q x 4, sigmoid-ed cx, cy, w, h)
  // rows follow `query_batch`; `memory` stacks one levels.total_tokens() block per image.
  Matrix<T> forward(const MatrixView<T>& hidden, const MatrixView<T>& query_position,
                    const MatrixView<T>& reference_boxes, const MatrixView<T>& memory,
                    const SequenceBatch& query_batch, const FeatureLevels& levels,
                    Trace<T>* trace = nullptr) const {
    if (query_position.rows() != hidden.rows() || query_position.cols() != hidden.cols())
      throw ShapeError(detail::concat("RTDetrDecoderLayer: query position is ",
                                      query_position.rows(), " x ", query_position.cols(),
                                      ", expected ", hidden.rows(), " x ", hidden.cols()));
    Matrix<T> h = hidden;
    self_attention_.apply(h, query_batch, {}, query_position, trace);

    DeformableAttentionOptions<T> options;
    options.query_position.emplace(query_position);
    options.trace = trace;
    detail::add_and_norm(h, cross_attention_norm_, false, [&](const MatrixView<T>& x) {
      return cross_attention_.forward(x, reference_boxes, memory, query_batch, levels, options);
    });

    feed_forward_.apply(h);
    if (trace) trace->record(module_, h);
    return h;
  }

 private:
  SelfAttentionBlock<T> self_attention_;
  MultiScaleDeformableAttention<T> cross_attention_;
  LayerNorm<T> cross_attention_norm_;
  FeedForwardBlock<T> feed_forward_;
  std::string module_;
};

// Per decoder layer, in HF's order (out.intermediate_*): rows follow the query batch.
template <typename T>
struct RTDetrDecoderOutput {
  std::vector<Matrix<T>> intermediate_hidden_states;     // Q x d
  std::vector<Matrix<T>> intermediate_logits;            // Q x num_labels, class logits
  std::vector<Matrix<T>> intermediate_reference_points;  // Q x 4, refined boxes (cx, cy, w, h)

  // The last layer's: HF's last_hidden_state, logits and pred_boxes.
  const Matrix<T>& last_hidden_state() const { return intermediate_hidden_states.back(); }
  const Matrix<T>& logits() const { return intermediate_logits.back(); }
  const Matrix<T>& pred_boxes() const { return intermediate_reference_points.back(); }
};

template <typename T>
class RTDetrDecoder {
 public:
  RTDetrDecoder() = default;
  RTDetrDecoder(RTDetrDecoderConfig config, Mlp<T> query_position_head,
                std::vector<RTDetrDecoderLayer<T>> layers, std::vector<Linear<T>> class_heads,
                std::vector<Mlp<T>> box_heads)
      : config_(config),
        query_position_head_(std::move(query_position_head)),
        layers_(std::move(layers)),
        class_heads_(std::move(class_heads)),
        box_heads_(std::move(box_heads)) {
    config_.validate();
    const auto layer_count = static_cast<std::size_t>(config_.num_layers);
    if (layers_.size() != layer_count || class_heads_.size() != layer_count ||
        box_heads_.size() != layer_count)
      throw ShapeError(detail::concat("RTDetrDecoder: ", layers_.size(), " layers, ",
                                      class_heads_.size(), " class heads and ", box_heads_.size(),
                                      " box heads, expected ", layer_count, " of each"));
    check_part_widths();
  }

  // `prefix` is the decoder's ("model.decoder."): query_pos_head.layers.{0,1},
  // layers.<i>.*, class_embed.<i>, bbox_embed.<i>.layers.{0,1,2}.
  static RTDetrDecoder load(const StateDict<T>& weights, const std::string& prefix,
                            const RTDetrDecoderConfig& config) {
    config.validate();
    const Index d = config.d_model;
    std::vector<RTDetrDecoderLayer<T>> layers;
    std::vector<Linear<T>> class_heads;
    std::vector<Mlp<T>> box_heads;
    for (Index i = 0; i < config.num_layers; ++i) {
      const std::string index = std::to_string(i) + ".";
      layers.push_back(RTDetrDecoderLayer<T>::load(weights, prefix + "layers." + index, config));
      class_heads.push_back(
          Linear<T>::load(weights, prefix + "class_embed." + index, d, config.num_labels));
      box_heads.push_back(Mlp<T>::load(weights, prefix + "bbox_embed." + index, {d, d, d, 4}));
    }
    return RTDetrDecoder(config, Mlp<T>::load(weights, prefix + "query_pos_head.", {4, 2 * d, d}),
                         std::move(layers), std::move(class_heads), std::move(box_heads));
  }

  const RTDetrDecoderConfig& config() const { return config_; }
  const Mlp<T>& query_position_head() const { return query_position_head_; }
  const RTDetrDecoderLayer<T>& layer(Index i) const {
    return layers_.at(static_cast<std::size_t>(i));
  }

  // One image: `target` (Q x d) the selected query embeddings, `reference_logits` (Q x 4) the
  // initial boxes before the sigmoid (HF init_reference_points), `memory` the flattened
  // encoder features (levels.total_tokens() x d).
  RTDetrDecoderOutput<T> forward(const MatrixView<T>& target, const MatrixView<T>& reference_logits,
                                 const MatrixView<T>& memory, const FeatureLevels& levels,
                                 Trace<T>* trace = nullptr) const {
    return forward(target, reference_logits, memory, SequenceBatch::single(target.rows()), levels,
                   trace);
  }

  // Several images of equal feature-level shapes: `target` and `reference_logits` rows follow
  // `query_batch`, `memory` stacks query_batch.size() blocks of levels.total_tokens() rows.
  // `trace` receives each layer's output and its self- and cross-attention's intermediates
  // under the names the layers were loaded with.
  RTDetrDecoderOutput<T> forward(const MatrixView<T>& target, const MatrixView<T>& reference_logits,
                                 const MatrixView<T>& memory, const SequenceBatch& query_batch,
                                 const FeatureLevels& levels, Trace<T>* trace = nullptr) const {
    check_inputs(target, reference_logits, memory, query_batch, levels);
    Matrix<T> boxes = reference_logits.unaryExpr([](T x) { return sigmoid(x); });
    Matrix<T> hidden = target;
    RTDetrDecoderOutput<T> out;
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      const Matrix<T> position = query_position_head_.forward(boxes);
      hidden = layers_[i].forward(hidden, position, boxes, memory, query_batch, levels, trace);
      // HF detaches the refined boxes before the next layer; that matters for training only.
      Matrix<T> refined = box_heads_[i].forward(hidden).binaryExpr(
          boxes, [](T delta, T box) { return sigmoid(delta + detail::inverse_sigmoid(box)); });
      out.intermediate_logits.push_back(class_heads_[i].forward(hidden));
      out.intermediate_hidden_states.push_back(hidden);
      out.intermediate_reference_points.push_back(refined);
      boxes = std::move(refined);
    }
    return out;
  }

 private:
  // Every part against the config: a head of another width would make the box refinement
  // and the query positions read out of bounds.
  void check_part_widths() const {
    const char* decoder = "RTDetrDecoder";
    const Index d = config_.d_model;
    detail::check_part_width(decoder, "query_pos_head input", query_position_head_.in_features(),
                             4);
    detail::check_part_width(decoder, "query_pos_head output", query_position_head_.out_features(),
                             d);
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      const std::string index = std::to_string(i);
      detail::check_part_width(decoder, "layer " + index + " d_model", layers_[i].d_model(), d);
      detail::check_part_width(decoder, "layer " + index + " cross-attention levels",
                               layers_[i].cross_attention().num_levels(), config_.num_levels);
      detail::check_part_width(decoder, "class_embed." + index + " input",
                               class_heads_[i].in_features(), d);
      detail::check_part_width(decoder, "class_embed." + index + " output",
                               class_heads_[i].out_features(), config_.num_labels);
      detail::check_part_width(decoder, "bbox_embed." + index + " input",
                               box_heads_[i].in_features(), d);
      detail::check_part_width(decoder, "bbox_embed." + index + " output",
                               box_heads_[i].out_features(), 4);
    }
  }

  void check_inputs(const MatrixView<T>& target, const MatrixView<T>& reference_logits,
                    const MatrixView<T>& memory, const SequenceBatch& query_batch,
                    const FeatureLevels& levels) const {
    const Index d = config_.d_model;
    auto fail = [](const auto&... parts) {
      throw ShapeError(detail::concat("RTDetrDecoder: ", parts...));
    };
    if (layers_.empty()) fail("forward on an empty (default-constructed) decoder");
    if (target.cols() != d) fail("target has ", target.cols(), " features, expected ", d);
    query_batch.check_rows(target.rows(), "RTDetrDecoder target");
    if (reference_logits.rows() != target.rows() || reference_logits.cols() != 4)
      fail("reference points are ", reference_logits.rows(), " x ", reference_logits.cols(),
           ", expected ", target.rows(), " x 4 (cx, cy, w, h logits)");
    if (levels.size() != config_.num_levels)
      fail(levels.size(), " feature levels (spatial shapes) given, the config has ",
           config_.num_levels);
    const Index memory_rows = query_batch.size() * levels.total_tokens();
    if (memory.rows() != memory_rows || memory.cols() != d)
      fail("memory is ", memory.rows(), " x ", memory.cols(), ", expected ", memory_rows, " x ", d,
           ": the spatial shapes add up to ", levels.total_tokens(), " tokens per image for ",
           query_batch.size(), " image(s)");
  }

  RTDetrDecoderConfig config_;
  Mlp<T> query_position_head_;
  std::vector<RTDetrDecoderLayer<T>> layers_;
  std::vector<Linear<T>> class_heads_;
  std::vector<Mlp<T>> box_heads_;
};

}  // namespace eigenformer
