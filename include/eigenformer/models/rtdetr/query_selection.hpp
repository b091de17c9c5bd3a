#pragma once
// RT-DETR's encoder-side query selection, as HF transformers' RTDetrModel.forward computes it
// in eval mode between the decoder input projections and the decoder. For one image, with
// `memory` the projected feature maps flattened to tokens and concatenated level by level:
//
//   anchors        = per token: centre ((x + 0.5) / W, (y + 0.5) / H), size 0.05 * 2^level,
//                    valid when all four values lie in (0.01, 0.99), stored as logits
//                    log(a / (1 - a)); invalid anchors hold the largest finite T
//   output_memory  = LayerNorm(Linear(valid * memory))            (enc_output)
//   class_logits   = enc_score_head(output_memory)                (enc_outputs_class)
//   coord_logits   = enc_bbox_head(output_memory) + anchors       (enc_outputs_coord_logits)
//   top-k          = the num_queries tokens with the largest max class logit, best first;
//                    exact ties keep the lower token index first
//   target         = output_memory at top-k (or the learned weight_embedding)
//   reference      = coord_logits at top-k                        (init_reference_points)

#include <eigenformer/attention/multi_scale_deformable_attention.hpp>
#include <eigenformer/core/error.hpp>
#include <eigenformer/core/state_dict.hpp>
#include <eigenformer/core/trace.hpp>
#include <eigenformer/core/types.hpp>
#include <eigenformer/models/rtdetr/config.hpp>
#include <eigenformer/nn/activations.hpp>
#include <eigenformer/nn/embedding.hpp>
#include <eigenformer/nn/layer_norm.hpp>
#include <eigenformer/nn/linear.hpp>
#include <eigenformer/nn/mlp.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <numeric>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace eigenformer {

// Helpers of RTDetrQuerySelection (and top_k_indices of the post-processing).
namespace detail {

template <typename T>
struct RTDetrAnchors {
  Matrix<T> logits;  // tokens x 4: inverse sigmoid of (cx, cy, w, h); max of T where invalid
  BoolVector valid;  // tokens
};

// HF RTDetrModel.generate_anchors, computed in T as HF computes it in the model's dtype so
// the validity decisions at the (0.01, 0.99) borders agree.
template <typename T>
RTDetrAnchors<T> generate_rtdetr_anchors(const FeatureLevels& levels, T grid_size = T(0.05)) {
  const T low = T(0.01), high = T(1.0 - 0.01);
  RTDetrAnchors<T> anchors{Matrix<T>(levels.total_tokens(), 4), BoolVector(levels.total_tokens())};
  for (Index level = 0; level < levels.size(); ++level) {
    const SpatialShape& shape = levels.shape(level);
    const T size = grid_size * static_cast<T>(std::ldexp(1.0, static_cast<int>(level)));
    for (Index y = 0; y < shape.height; ++y) {
      for (Index x = 0; x < shape.width; ++x) {
        const Index token = levels.start(level) + y * shape.width + x;
        const std::array<T, 4> box{(static_cast<T>(x) + T(0.5)) / static_cast<T>(shape.width),
                                   (static_cast<T>(y) + T(0.5)) / static_cast<T>(shape.height),
                                   size, size};
        const bool valid =
            std::all_of(box.begin(), box.end(), [&](T v) { return v > low && v < high; });
        anchors.valid(token) = valid;
        for (int c = 0; c < 4; ++c)
          anchors.logits(token, c) =
              valid ? std::log(box[c] / (T(1) - box[c])) : std::numeric_limits<T>::max();
      }
    }
  }
  return anchors;
}

// The level shapes HF derives from a fixed anchor_image_size (height, width): int(size / stride).
inline std::vector<SpatialShape> rtdetr_anchor_shapes(const std::array<Index, 2>& image_size,
                                                      const std::vector<Index>& strides) {
  std::vector<SpatialShape> shapes;
  for (Index stride : strides) shapes.push_back({image_size[0] / stride, image_size[1] / stride});
  return shapes;
}

// Indices of the `k` largest `scores`, largest first. NaN ranks above every number, as in
// torch.topk; exact ties keep the lower index first (torch.topk leaves their order to its
// unstable nth_element / sort, so it may pick and order tied tokens differently).
template <typename T>
std::vector<Index> top_k_indices(const Eigen::Ref<const Vector<T>>& scores, Index k) {
  if (k < 0 || k > scores.size())
    throw ShapeError(
        detail::concat("top-k: k = ", k, " but there are only ", scores.size(), " candidates"));
  std::vector<Index> order(static_cast<std::size_t>(scores.size()));
  std::iota(order.begin(), order.end(), Index{0});
  auto ranks_before = [&](Index a, Index b) {
    const T sa = scores(a), sb = scores(b);
    const bool nan_a = std::isnan(sa), nan_b = std::isnan(sb);
    if (nan_a != nan_b) return nan_a;
    if (!nan_a && sa != sb) return sa > sb;
    return a < b;
  };
  std::partial_sort(order.begin(), order.begin() + k, order.end(), ranks_before);
  order.resize(static_cast<std::size_t>(k));
  return order;
}

}  // namespace detail

template <typename T>
struct RTDetrSelectedQueries {
  Matrix<T> output_memory;          // tokens x d_model (HF hook enc_output)
  Matrix<T> class_logits;           // tokens x num_labels (enc_outputs_class)
  Matrix<T> coord_logits;           // tokens x 4 (enc_outputs_coord_logits)
  std::vector<Index> topk_indices;  // num_queries token indices, best first
  Matrix<T> topk_logits;            // num_queries x num_labels (enc_topk_logits)
  Matrix<T> reference_logits;       // num_queries x 4 (init_reference_points)
  Matrix<T> topk_boxes;             // sigmoid(reference_logits) (enc_topk_bboxes)
  Matrix<T> target;                 // num_queries x d_model: the decoder's input queries
};

// What an RT-DETR forward may do besides computing the detections (query selection, head,
// RTDetrModel, ultralytics' RTDETRDecoder and model).
template <typename T>
struct RTDetrForwardOptions {
  // Receives intermediate values under the upstream module names (core/trace.hpp).
  Trace<T>* trace = nullptr;
  // The decoder's queries come from these num_queries token indices instead of the top-k.
  // Exactly tied scores are common (identical feature-map pixels score identically) and
  // torch.topk orders ties in no documented way; this replays a reference run's choice.
  std::optional<std::vector<Index>> selected_tokens;
};

template <typename T>
class RTDetrQuerySelection {
 public:
  RTDetrQuerySelection() = default;
  // `anchor_shapes`: the level shapes of a fixed anchor_image_size, if any; `learned_target`:
  // the learned initial queries (learn_initial_query), if any; `module`: the upstream module
  // holding enc_output etc. ("model"), under which the trace records them.
  RTDetrQuerySelection(Linear<T> output_projection, LayerNorm<T> output_norm, Linear<T> score_head,
                       Mlp<T> box_head, Index num_queries,
                       std::optional<std::vector<SpatialShape>> anchor_shapes = std::nullopt,
                       std::optional<Embedding<T>> learned_target = std::nullopt,
                       std::string module = "")
      : output_projection_(std::move(output_projection)),
        output_norm_(std::move(output_norm)),
        score_head_(std::move(score_head)),
        box_head_(std::move(box_head)),
        num_queries_(num_queries),
        anchor_shapes_(std::move(anchor_shapes)),
        learned_target_(std::move(learned_target)),
        module_(std::move(module)) {
    const Index d = output_projection_.out_features();
    if (output_norm_.features() != d || score_head_.in_features() != d ||
        box_head_.in_features() != d || box_head_.out_features() != 4)
      throw ShapeError(detail::concat("RT-DETR query selection: enc_output has ", d,
                                      " outputs, its norm ", output_norm_.features(),
                                      " features, enc_score_head takes ", score_head_.in_features(),
                                      ", enc_bbox_head maps ", box_head_.in_features(), " -> ",
                                      box_head_.out_features(), " (expected d -> 4)"));
    if (learned_target_ &&
        (learned_target_->count() != num_queries_ || learned_target_->dim() != d))
      throw ShapeError(detail::concat("RT-DETR query selection: learned queries are ",
                                      learned_target_->count(), " x ", learned_target_->dim(),
                                      ", expected ", num_queries_, " x ", d));
  }

  // HF RTDetrModel's enc_output.{0,1}, enc_score_head, enc_bbox_head.layers.{0,1,2} and, with
  // learn_initial_query, weight_embedding under `prefix` ("model.").
  static RTDetrQuerySelection load(const StateDict<T>& weights, const RTDetrConfig& config,
                                   const std::string& prefix = "model.") {
    const Index d = config.d_model;
    std::optional<std::vector<SpatialShape>> anchor_shapes;
    if (config.anchor_image_size)
      anchor_shapes = detail::rtdetr_anchor_shapes(*config.anchor_image_size, config.feat_strides);
    std::optional<Embedding<T>> learned_target;
    if (config.learn_initial_query)
      learned_target =
          Embedding<T>::load(weights, prefix + "weight_embedding.weight", config.num_queries, d);
    return RTDetrQuerySelection(
        Linear<T>::load(weights, prefix + "enc_output.0.", d, d),
        LayerNorm<T>::load(weights, prefix + "enc_output.1.", d,
                           static_cast<T>(config.layer_norm_eps)),
        Linear<T>::load(weights, prefix + "enc_score_head.", d, config.num_labels()),
        Mlp<T>::load(weights, prefix + "enc_bbox_head.", {d, d, d, 4}), config.num_queries,
        std::move(anchor_shapes), std::move(learned_target), detail::module_of_prefix(prefix));
  }

  Index d_model() const { return output_projection_.out_features(); }
  Index num_queries() const { return num_queries_; }
  Index num_labels() const { return score_head_.out_features(); }
  const Mlp<T>& box_head() const { return box_head_; }

  // `memory`: one image's levels.total_tokens() x d_model flattened projected feature maps.
  // The trace gets "<module>.enc_output" (output_memory), "<module>.enc_score_head" and
  // "<module>.enc_bbox_head" (before the anchors are added).
  RTDetrSelectedQueries<T> forward(const MatrixView<T>& memory, const FeatureLevels& levels,
                                   const RTDetrForwardOptions<T>& options = {}) const {
    if (options.selected_tokens) check_selection(*options.selected_tokens, levels);
    RTDetrSelectedQueries<T> out = score(memory, levels, options.trace);
    if (options.selected_tokens) {
      select(out, *options.selected_tokens);
    } else {
      const Vector<T> best_logit = out.class_logits.rowwise().maxCoeff();
      select(out, detail::top_k_indices<T>(best_logit, num_queries_));
    }
    return out;
  }

 private:
  // The per-token fields: output_memory, class_logits, coord_logits.
  RTDetrSelectedQueries<T> score(const MatrixView<T>& memory, const FeatureLevels& levels,
                                 Trace<T>* trace) const {
    check_memory(memory, levels);
    check_anchor_image_size(levels);
    const detail::RTDetrAnchors<T> anchors = detail::generate_rtdetr_anchors<T>(levels);
    RTDetrSelectedQueries<T> out;
    out.output_memory = memory;
    for (Index token = 0; token < memory.rows(); ++token)
      if (!anchors.valid(token)) out.output_memory.row(token).setZero();
    out.output_memory = output_projection_.forward(out.output_memory);
    output_norm_.apply(out.output_memory);
    out.class_logits = score_head_.forward(out.output_memory);
    out.coord_logits = box_head_.forward(out.output_memory);
    if (trace) {
      trace->record(detail::module_path(module_, "enc_output"), out.output_memory);
      trace->record(detail::module_path(module_, "enc_score_head"), out.class_logits);
      trace->record(detail::module_path(module_, "enc_bbox_head"), out.coord_logits);
    }
    out.coord_logits += anchors.logits;
    return out;
  }

  void check_selection(const std::vector<Index>& tokens, const FeatureLevels& levels) const {
    if (static_cast<Index>(tokens.size()) != num_queries_)
      throw InvalidArgument(
          detail::concat("RT-DETR query selection: ", tokens.size(),
                         " selected tokens given, expected num_queries = ", num_queries_));
    for (Index token : tokens)
      if (token < 0 || token >= levels.total_tokens())
        throw InvalidArgument(detail::concat("RT-DETR query selection: selected token ", token,
                                             " out of range [0, ", levels.total_tokens(), ")"));
  }

  // The per-query fields, gathered at `tokens`.
  void select(RTDetrSelectedQueries<T>& out, std::vector<Index> tokens) const {
    out.topk_indices = std::move(tokens);
    out.topk_logits = gather(out.class_logits, out.topk_indices);
    out.reference_logits = gather(out.coord_logits, out.topk_indices);
    out.topk_boxes = out.reference_logits.unaryExpr([](T x) { return sigmoid(x); });
    out.target = learned_target_ ? Matrix<T>(learned_target_->table())
                                 : gather(out.output_memory, out.topk_indices);
  }

  void check_memory(const MatrixView<T>& memory, const FeatureLevels& levels) const {
    if (memory.rows() != levels.total_tokens() || memory.cols() != d_model())
      throw ShapeError(detail::concat("RT-DETR query selection: memory is ", memory.rows(), " x ",
                                      memory.cols(), ", expected ", levels.total_tokens(),
                                      " tokens (the spatial shapes' total) x ", d_model()));
    if (num_queries_ > memory.rows())
      throw ShapeError(detail::concat("RT-DETR query selection: num_queries ", num_queries_,
                                      " exceeds the ", memory.rows(),
                                      " tokens of the feature maps"));
  }

  // With a fixed anchor_image_size HF uses the anchors precomputed for it; they fit (and then
  // equal the ones generated from the maps) only feature maps of exactly those shapes.
  void check_anchor_image_size(const FeatureLevels& levels) const {
    if (!anchor_shapes_) return;
    bool same = anchor_shapes_->size() == levels.shapes().size();
    for (std::size_t i = 0; same && i < anchor_shapes_->size(); ++i)
      same = (*anchor_shapes_)[i].height == levels.shapes()[i].height &&
             (*anchor_shapes_)[i].width == levels.shapes()[i].width;
    if (!same)
      throw ShapeError(detail::concat(
          "RT-DETR query selection: anchor_image_size fixes the level shapes (height x width) to ",
          describe(*anchor_shapes_), " but the feature maps are ", describe(levels.shapes()),
          "; use images of that size or a config with anchor_image_size null"));
  }

  static std::string describe(const std::vector<SpatialShape>& shapes) {
    std::string text;
    for (const auto& shape : shapes)
      text += detail::concat(text.empty() ? "" : ", ", shape.height, "x", shape.width);
    return text;
  }

  static Matrix<T> gather(const Matrix<T>& rows, const std::vector<Index>& indices) {
    Matrix<T> out(static_cast<Index>(indices.size()), rows.cols());
    for (std::size_t i = 0; i < indices.size(); ++i)
      out.row(static_cast<Index>(i)) = rows.row(indices[i]);
    return out;
  }

  Linear<T> output_projection_;
  LayerNorm<T> output_norm_;
  Linear<T> score_head_;
  Mlp<T> box_head_;
  Index num_queries_ = 0;
  std::optional<std::vector<SpatialShape>> anchor_shapes_;
  std::optional<Embedding<T>> learned_target_;
  std::string module_;
};

}  // namespace eigenformer
