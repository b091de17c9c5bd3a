#pragma once
// RT-DETR's detection head, everything of HF transformers' RTDetrForObjectDetection after the
// decoder input projections, for one image:
//   memory  = the projected feature maps flattened to raster-order tokens, level after level
//   queries = query selection (anchors, enc_output, enc_score_head, enc_bbox_head, top-k)
//   decoder = RTDetrDecoder over memory from the selected queries and reference boxes
// logits (num_queries x num_labels) and pred_boxes (num_queries x 4: cx, cy, w, h normalised
// to [0, 1]) are the last decoder layer's.

#include <eigenformer/attention/multi_scale_deformable_attention.hpp>
#include <eigenformer/cnn/feature_map.hpp>
#include <eigenformer/core/error.hpp>
#include <eigenformer/core/state_dict.hpp>
#include <eigenformer/io/model_files.hpp>
#include <eigenformer/models/rtdetr/config.hpp>
#include <eigenformer/models/rtdetr/decoder.hpp>
#include <eigenformer/models/rtdetr/query_selection.hpp>

#include <string>
#include <utility>
#include <vector>

namespace eigenformer {

template <typename T>
struct RTDetrHeadOutput {
  FeatureLevels levels;  // the maps' spatial shapes (HF spatial_shapes)
  Matrix<T> memory;      // levels.total_tokens() x d_model (decoder's encoder_hidden_states)
  RTDetrSelectedQueries<T> queries;  // encoder-stage outputs (enc_outputs_*, enc_topk_*, ...)
  RTDetrDecoderOutput<T> decoder;    // per decoder layer (intermediate_*)

  const Matrix<T>& logits() const { return decoder.logits(); }
  const Matrix<T>& pred_boxes() const { return decoder.pred_boxes(); }
};

template <typename T>
class RTDetrHead {
 public:
  RTDetrHead() = default;
  RTDetrHead(RTDetrConfig config, RTDetrQuerySelection<T> query_selection, RTDetrDecoder<T> decoder)
      : config_(std::move(config)),
        query_selection_(std::move(query_selection)),
        decoder_(std::move(decoder)) {}

  // A model folder as save_pretrained writes it: config.json and model.safetensors.
  static RTDetrHead load(const std::string& path) {
    const ModelFiles files = ModelFiles::find(path);
    files.require_folder("a HF RT-DETR model");
    StateDict<T> weights = load_model_weights<T>(files);
    return load(weights, RTDetrConfig::load(files.config()));
  }

  // `prefix` is RTDetrModel's ("model."). The head keeps its own references to the tensors:
  // `weights` need not outlive it.
  static RTDetrHead load(const StateDict<T>& weights, const RTDetrConfig& config,
                         const std::string& prefix = "model.") {
    return RTDetrHead(
        config, RTDetrQuerySelection<T>::load(weights, config, prefix),
        RTDetrDecoder<T>::load(weights, prefix + "decoder.", config.decoder_config()));
  }

  const RTDetrConfig& config() const { return config_; }
  const RTDetrQuerySelection<T>& query_selection() const { return query_selection_; }
  const RTDetrDecoder<T>& decoder() const { return decoder_; }

  // `maps`: one image's decoder input projections (HF decoder_input_proj.<level> outputs),
  // num_feature_levels maps of d_model channels, finest first. `options.trace` receives the
  // query selection's and the decoder layers' intermediates.
  RTDetrHeadOutput<T> forward(const std::vector<FeatureMap<T>>& maps,
                              const RTDetrForwardOptions<T>& options = {}) const {
    RTDetrHeadOutput<T> out = flatten(maps);
    out.queries = query_selection_.forward(out.memory, out.levels, options);
    out.decoder = decoder_.forward(out.queries.target, out.queries.reference_logits, out.memory,
                                   out.levels, options.trace);
    return out;
  }

 private:
  // The levels' tokens stacked in level order (HF's source_flatten).
  RTDetrHeadOutput<T> flatten(const std::vector<FeatureMap<T>>& maps) const {
    if (static_cast<Index>(maps.size()) != config_.num_feature_levels)
      throw ShapeError(detail::concat("RT-DETR head: ", maps.size(),
                                      " feature maps given, expected ", config_.num_feature_levels,
                                      " (num_feature_levels)"));
    std::vector<SpatialShape> shapes;
    for (std::size_t level = 0; level < maps.size(); ++level) {
      const FeatureMap<T>& map = maps[level];
      if (map.channels() != config_.d_model)
        throw ShapeError(detail::concat("RT-DETR head: feature map ", level, " has ",
                                        map.channels(),
                                        " channels, expected d_model = ", config_.d_model));
      map.check(detail::concat("RT-DETR head: feature map ", level));
      shapes.push_back({map.height, map.width});
    }
    RTDetrHeadOutput<T> out;
    out.levels = FeatureLevels(std::move(shapes));
    out.memory.resize(out.levels.total_tokens(), config_.d_model);
    for (std::size_t level = 0; level < maps.size(); ++level) {
      const Index start = out.levels.start(static_cast<Index>(level));
      out.memory.middleRows(start, maps[level].data.cols()) = maps[level].data.transpose();
    }
    return out;
  }

  RTDetrConfig config_;
  RTDetrQuerySelection<T> query_selection_;
  RTDetrDecoder<T> decoder_;
};

}  // namespace eigenformer
