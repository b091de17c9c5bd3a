#include <eigenformer/models/rtdetr/post_process.hpp>

#include "fixture.hpp"
#include "models/rtdetr/reference.hpp"

#include <cmath>
#include <set>
#include <utility>

namespace eigenformer {
namespace {

using testing::image_rows;

template <typename T>
class RTDetrPostProcessTest : public ::testing::Test {};
using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(RTDetrPostProcessTest, Scalars);

template <typename T>
T logit(double p) {
  return static_cast<T>(std::log(p / (1 - p)));
}

// Three queries, two classes ("cat", "dog"). Sigmoid scores by construction:
//   query 0: [0.9, 0.8]   query 1: [0.1, 0.25]   query 2: [0.75, 0.5]
// Top-k runs over all 6 (query, class) pairs with k = 3 queries: 0.9 (q0 cat), 0.8 (q0 dog),
// 0.75 (q2 cat). Query 0 is reported twice, query 1 not at all.
// Boxes (cx, cy, w, h): q0 (0.5, 0.5, 0.2, 0.4) has corners (0.4, 0.3, 0.6, 0.7), scaled by
// width 200 and height 100: (80, 30, 120, 70). q2 (0.25, 0.75, 0.5, 0.5) has corners
// (0, 0.5, 0.5, 1), scaled: (0, 50, 100, 100).
template <typename T>
struct TinyCase {
  Matrix<T> logits{3, 2};
  Matrix<T> boxes{3, 4};
  std::vector<std::string> labels{"cat", "dog"};
  TinyCase() {
    logits << logit<T>(0.9), logit<T>(0.8), logit<T>(0.1), logit<T>(0.25), logit<T>(0.75),
        logit<T>(0.5);
    boxes << 0.5, 0.5, 0.2, 0.4, 0.9, 0.9, 0.1, 0.1, 0.25, 0.75, 0.5, 0.5;
  }
};

template <typename T>
void expect_detection(const Detection<T>& d, std::int64_t label_id, const std::string& label,
                      double score, std::array<double, 4> box) {
  EXPECT_EQ(d.label_id, label_id);
  EXPECT_EQ(d.label, label);
  EXPECT_NEAR(d.score, score, 1e-6);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(d.box[i], box[i], 1e-4) << "box coordinate " << i;
}

TYPED_TEST(RTDetrPostProcessTest, TinyFocalCaseFollowsTheDefinition) {
  using T = TypeParam;
  const TinyCase<T> c;
  const auto detections =
      post_process_object_detection<T>(c.logits, c.boxes, c.labels, {200, 100}, T(0.5));
  ASSERT_EQ(detections.size(), 3u);
  expect_detection(detections[0], 0, "cat", 0.9, {80, 30, 120, 70});
  expect_detection(detections[1], 1, "dog", 0.8, {80, 30, 120, 70});
  expect_detection(detections[2], 0, "cat", 0.75, {0, 50, 100, 100});
  // A higher threshold drops the 0.75 one; without a target size boxes stay normalised.
  const auto strict = post_process_object_detection<T>(c.logits, c.boxes, c.labels, {}, T(0.78));
  ASSERT_EQ(strict.size(), 2u);
  expect_detection(strict[1], 1, "dog", 0.8, {0.4, 0.3, 0.6, 0.7});
}

// Softmax variant: the last column is "no object". Query 0: probabilities [0.6, 0.3, 0.1]
// (logits are their logs) -> "cat" 0.6. Query 1: [0.2, 0.1, 0.7] -> "cat" 0.2, below the
// threshold. Query 2: [0.1, 0.55, 0.35] -> "dog" 0.55.
TYPED_TEST(RTDetrPostProcessTest, TinySoftmaxCaseFollowsTheDefinition) {
  using T = TypeParam;
  Matrix<T> logits(3, 3);
  logits << std::log(0.6), std::log(0.3), std::log(0.1), std::log(0.2), std::log(0.1),
      std::log(0.7), std::log(0.1), std::log(0.55), std::log(0.35);
  const TinyCase<T> c;
  const auto detections =
      post_process_object_detection<T>(logits, c.boxes, c.labels, {200, 100}, T(0.5), false);
  ASSERT_EQ(detections.size(), 2u);
  expect_detection(detections[0], 0, "cat", 0.6, {80, 30, 120, 70});
  expect_detection(detections[1], 1, "dog", 0.55, {0, 50, 100, 100});
}

TYPED_TEST(RTDetrPostProcessTest, FixtureOutputsGiveConsistentDetections) {
  using T = TypeParam;
  const auto& io = testing::fixture<T>("rtdetr/io.safetensors");
  const double width = 128, height = 96;  // the fixture's pixel_values are 96 x 128
  std::vector<std::string> labels;
  for (int i = 0; i < 12; ++i) labels.push_back("LABEL_" + std::to_string(i));
  for (Index image = 0; image < 2; ++image) {
    SCOPED_TRACE(image);
    const Matrix<T> logits = image_rows(io, "out.logits", 30, 12, image);
    const Matrix<T> boxes = image_rows(io, "out.pred_boxes", 30, 4, image);
    const Matrix<T> scores = logits.unaryExpr([](T x) { return sigmoid(x); });
    const auto all = post_process_object_detection<T>(logits, boxes, labels, {width, height}, T(0));
    ASSERT_EQ(all.size(), 30u);
    std::set<std::pair<Index, std::int64_t>> reported;
    for (std::size_t i = 0; i < all.size(); ++i) {
      const Detection<T>& d = all[i];
      if (i > 0) {
        EXPECT_GE(all[i - 1].score, d.score) << i;
      }
      EXPECT_EQ(d.label, labels[static_cast<std::size_t>(d.label_id)]);
      EXPECT_LE(d.box[0], d.box[2]);
      EXPECT_LE(d.box[1], d.box[3]);
      EXPECT_GE(d.box[0], T(0));
      EXPECT_GE(d.box[1], T(0));
      EXPECT_LE(d.box[2], T(width));
      EXPECT_LE(d.box[3], T(height));
      // The detection is some query's score and box for that class.
      Index query = -1;
      for (Index q = 0; q < 30; ++q)
        if (scores(q, d.label_id) == d.score && !reported.count({q, d.label_id})) {
          const T cx = (d.box[0] + d.box[2]) / T(2 * width);
          if (std::abs(cx - boxes(q, 0)) < 1e-5) query = q;
        }
      ASSERT_GE(query, 0) << "detection " << i << " matches no query";
      reported.insert({query, d.label_id});
    }
    // Top-k: no unreported (query, class) pair scores above the lowest reported one.
    for (Index q = 0; q < 30; ++q)
      for (std::int64_t c = 0; c < 12; ++c)
        if (!reported.count({q, c})) {
          EXPECT_LE(scores(q, c), all.back().score);
        }
    // The threshold keeps exactly the detections scoring above it.
    const T threshold = all[10].score;
    const auto kept =
        post_process_object_detection<T>(logits, boxes, labels, {width, height}, threshold);
    for (const auto& d : kept) EXPECT_GT(d.score, threshold);
    std::size_t above = 0;
    for (const auto& d : all) above += d.score > threshold;
    EXPECT_EQ(kept.size(), above);
  }
}

TYPED_TEST(RTDetrPostProcessTest, RejectsInconsistentInput) {
  using T = TypeParam;
  const TinyCase<T> c;
  EXPECT_THROW(post_process_object_detection<T>(c.logits, c.boxes.topRows(2), c.labels),
               ShapeError);
  EXPECT_THROW(post_process_object_detection<T>(c.logits, c.boxes.leftCols(3), c.labels),
               ShapeError);
  EXPECT_THROW(post_process_object_detection<T>(c.logits, c.boxes, {"cat"}), InvalidArgument);
  EXPECT_THROW(post_process_object_detection<T>(c.logits, c.boxes, c.labels, {0, 100}),
               InvalidArgument);
  // Softmax: 2 logit columns are one class plus "no object".
  EXPECT_THROW(post_process_object_detection<T>(c.logits, c.boxes, c.labels, {}, T(0.5), false),
               InvalidArgument);
}

}  // namespace
}  // namespace eigenformer
