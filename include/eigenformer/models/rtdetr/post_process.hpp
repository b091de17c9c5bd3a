#pragma once
// Detections from RT-DETR's outputs for one image, as HF transformers'
// RTDetrImageProcessor.post_process_object_detection computes them:
//   - boxes (cx, cy, w, h), normalised, become corners (cx - w/2, cy - h/2, cx + w/2, cy + h/2)
//     scaled by (width, height, width, height) of the target image;
//   - use_focal_loss (RT-DETR's default): scores = sigmoid(logits), and the num_queries
//     best (query, class) pairs over all queries x classes are kept, best first (a query may
//     appear with several classes, another not at all); exact ties keep the lower
//     query * num_classes + class first;
//   - otherwise the last class is "no object": scores = softmax over each query's classes
//     without it, one detection per query (its best class), in query order. (HF calls
//     softmax without `dim` there, which normalises its batched 3-D input over the batch; we
//     follow the evident intent, DETR's per-query softmax.)
//   - only detections with score > threshold are returned.
// Boxes are not clipped to the image, as in HF.

#include <eigenformer/core/error.hpp>
#include <eigenformer/core/types.hpp>
#include <eigenformer/models/rtdetr/query_selection.hpp>
#include <eigenformer/nn/activations.hpp>
#include <eigenformer/nn/softmax.hpp>

#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace eigenformer {

template <typename T>
struct Detection {
  std::int64_t label_id = 0;
  std::string label;
  T score = T(0);
  std::array<T, 4> box{};   // x0, y0, x1, y1 (top-left, bottom-right) in target-image units
  std::int64_t query = -1;  // the model output row it came from, where one query gives one box
};

// The target image's size; the default keeps boxes normalised to [0, 1].
struct TargetSize {
  double width = 1.0;
  double height = 1.0;
};

template <typename T>
std::vector<Detection<T>> post_process_object_detection(const MatrixView<T>& logits,
                                                        const MatrixView<T>& pred_boxes,
                                                        const std::vector<std::string>& id2label,
                                                        TargetSize target_size = {},
                                                        T threshold = T(0.5),
                                                        bool use_focal_loss = true) {
  const Index queries = logits.rows();
  const Index classes = use_focal_loss ? logits.cols() : logits.cols() - 1;
  if (pred_boxes.rows() != queries || pred_boxes.cols() != 4)
    throw ShapeError(detail::concat("post_process_object_detection: pred_boxes are ",
                                    pred_boxes.rows(), " x ", pred_boxes.cols(), ", expected ",
                                    queries, " x 4 (one cx, cy, w, h box per query)"));
  if (classes <= 0 || static_cast<Index>(id2label.size()) != classes)
    throw InvalidArgument(
        detail::concat("post_process_object_detection: ", logits.cols(), " logit columns",
                       use_focal_loss ? "" : " (the last one 'no object')", " but ",
                       id2label.size(), " label names; expected one name per class"));
  if (!(target_size.width > 0 && target_size.height > 0 && std::isfinite(target_size.width) &&
        std::isfinite(target_size.height)))
    throw InvalidArgument(detail::concat("post_process_object_detection: target size ",
                                         target_size.width, " x ", target_size.height,
                                         " (width x height) must be positive"));

  auto detection = [&](Index query, Index label_id, T score) {
    const auto b = pred_boxes.row(query);
    const T width = static_cast<T>(target_size.width), height = static_cast<T>(target_size.height);
    return Detection<T>{label_id,
                        id2label[static_cast<std::size_t>(label_id)],
                        score,
                        {(b(0) - T(0.5) * b(2)) * width, (b(1) - T(0.5) * b(3)) * height,
                         (b(0) + T(0.5) * b(2)) * width, (b(1) + T(0.5) * b(3)) * height}};
  };

  std::vector<Detection<T>> detections;
  if (use_focal_loss) {
    const Matrix<T> scores = logits.unaryExpr([](T x) { return sigmoid(x); });
    const Eigen::Map<const Vector<T>> flat(scores.data(), scores.size());
    for (Index index : detail::top_k_indices<T>(flat, queries))
      if (flat(index) > threshold)
        detections.push_back(detection(index / classes, index % classes, flat(index)));
  } else {
    Matrix<T> probabilities = logits;
    softmax_rows<T>(probabilities);
    for (Index query = 0; query < queries; ++query) {
      Index label_id = 0;
      const T score = probabilities.row(query).head(classes).maxCoeff(&label_id);
      if (score > threshold) detections.push_back(detection(query, label_id, score));
    }
  }
  return detections;
}

}  // namespace eigenformer
