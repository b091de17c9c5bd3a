#pragma once
// Detections from ultralytics' RT-DETR output y, as RTDETRPredictor.postprocess (8.3) makes
// them: per query the best class (first on exact ties) and its score; kept when
// score > conf (strict) and, when `classes` is given, its class is listed; the box
// cx, cy, w, h (fractions of the network input) becomes x0 = cx - w / 2, ... scaled by the
// original image's width and height. No NMS, no sorting, no clipping: query order.

#include <eigenformer/core/error.hpp>
#include <eigenformer/core/types.hpp>
#include <eigenformer/models/rtdetr/post_process.hpp>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

namespace eigenformer {

struct UltralyticsPostProcessOptions {
  double conf = 0.25;
  std::optional<std::vector<std::int64_t>> classes;  // keep only these class ids
};

template <typename T>
std::vector<Detection<T>> ultralytics_post_process(
    const MatrixView<T>& y, Index image_width, Index image_height,
    const std::vector<std::string>& names, const UltralyticsPostProcessOptions& options = {}) {
  const Index classes = y.cols() - 4;
  if (classes < 1 || static_cast<Index>(names.size()) != classes)
    throw ShapeError(detail::concat("ultralytics post-processing: y has ", y.cols(),
                                    " columns, expected 4 + ", names.size(), " (the class names)"));
  if (image_width <= 0 || image_height <= 0)
    throw InvalidArgument(detail::concat("ultralytics post-processing: image size ", image_width,
                                         " x ", image_height, " is not positive"));
  // ultralytics computes in the model's float32: the same operations in T.
  const T width = static_cast<T>(image_width), height = static_cast<T>(image_height);
  const T conf = static_cast<T>(options.conf);
  std::vector<Detection<T>> out;
  for (Index q = 0; q < y.rows(); ++q) {
    Index best = 0;
    for (Index c = 1; c < classes; ++c)
      if (y(q, 4 + c) > y(q, 4 + best)) best = c;
    const T score = y(q, 4 + best);
    if (!(score > conf)) continue;
    if (options.classes &&
        std::find(options.classes->begin(), options.classes->end(), best) == options.classes->end())
      continue;
    const T half_w = y(q, 2) / T(2), half_h = y(q, 3) / T(2);
    Detection<T> d;
    d.label_id = best;
    d.label = names[static_cast<std::size_t>(best)];
    d.score = score;
    d.query = q;
    d.box = {(y(q, 0) - half_w) * width, (y(q, 1) - half_h) * height, (y(q, 0) + half_w) * width,
             (y(q, 1) + half_h) * height};
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace eigenformer
