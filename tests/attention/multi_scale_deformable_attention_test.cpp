#include <eigenformer/attention/multi_scale_deformable_attention.hpp>
#include <eigenformer/nn/activations.hpp>

#include "fixture.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

namespace eigenformer {
namespace {

using testing::all_close;
using testing::fixture;

// Both orders of value projection and sampling must reproduce HF.
const DeformableSamplingOrder kOrders[] = {DeformableSamplingOrder::ProjectThenSample,
                                           DeformableSamplingOrder::SampleThenProject};
std::string order_name(DeformableSamplingOrder order) {
  return order == DeformableSamplingOrder::ProjectThenSample ? "project then sample"
                                                             : "sample then project";
}

// The first RT-DETR decoder layer's cross-attention, against the hooks recorded by
// tests/data/rtdetr (2 images, 30 queries, d_model 64, 4 heads, 3 levels, 4 points).
template <typename T>
class DeformableAttentionFixtureTest : public ::testing::Test {
 protected:
  static constexpr Index kImages = 2, kQueries = 30, kModel = 64;
  static constexpr Index kHeads = 4, kLevels = 3, kPoints = 4;
  static constexpr Index kSamples = kHeads * kLevels * kPoints;
  const std::string hook = "hook.model.decoder.layers.0.encoder_attn.";

  const StateDict<T>& io() const { return fixture<T>("rtdetr/io.safetensors"); }

  MultiScaleDeformableAttention<T> attention() const {
    return MultiScaleDeformableAttention<T>::load(fixture<T>("rtdetr/model.safetensors"),
                                                  "model.decoder.layers.0.encoder_attn.", kModel,
                                                  kHeads, kLevels, kPoints);
  }
  FeatureLevels levels() const {
    return FeatureLevels::from_tensor(io().at("hook.model.decoder.kw.spatial_shapes"),
                                      io().at("hook.model.decoder.kw.level_start_index"));
  }
  // HF adds the query position before the sampling_offsets Linear, so that Linear's input
  // is the positioned query of every image, stacked.
  Matrix<T> positioned_queries() const {
    return io().at(hook + "sampling_offsets.in.0", {kImages, kQueries, kModel}).matrix();
  }
  // The decoder applies the sigmoid to init_reference_points before its first layer.
  Matrix<T> reference_boxes() const {
    return io().at("out.init_reference_points", {kImages, kQueries, 4}).matrix().unaryExpr([](T x) {
      return sigmoid(x);
    });
  }
  ConstMatrixMap<T> memory() const {
    return io().at("hook.model.decoder.kw.encoder_hidden_states").matrix();
  }
  ConstMatrixMap<T> expected(const std::string& name, Index cols) const {
    return io().at(hook + name).matrix(kImages * kQueries, cols);
  }

  // Every hooked intermediate of the layer, recorded under the module's names: value_proj.out
  // and attn.in.0 (the value handed to the kernel, split into heads), the two projections'
  // raw outputs, attn.in.4 (sampling locations, (images, queries, heads, levels, points, 2)),
  // attn.in.5 (softmaxed weights) and attn.out (the kernel's result, before output_proj).
  void expect_trace_matches(const TraceRecorder<T>& trace, Index image0, Index images) {
    const double tol = 1e-5;
    const Index q0 = image0 * kQueries, rows = images * kQueries;
    const Index tokens = levels().total_tokens();
    const std::string module = "model.decoder.layers.0.encoder_attn.";
    auto value_rows = [&](const std::string& name) -> Matrix<T> {
      return io()
          .at(hook + name)
          .matrix(kImages * tokens, kModel)
          .middleRows(image0 * tokens, images * tokens);
    };
    auto traced = [&](const std::string& name) { return trace.matrix(module + name); };
    EXPECT_TRUE(all_close(traced("value_proj"), value_rows("value_proj.out"), tol));
    EXPECT_TRUE(all_close(traced("value_proj"), value_rows("attn.in.0"), tol));
    EXPECT_TRUE(all_close(traced("sampling_offsets"),
                          expected("sampling_offsets.out", 2 * kSamples).middleRows(q0, rows),
                          tol));
    EXPECT_TRUE(all_close(traced("attention_weights"),
                          expected("attention_weights.out", kSamples).middleRows(q0, rows), tol));
    EXPECT_TRUE(all_close(traced("attn:sampling_locations"),
                          expected("attn.in.4", 2 * kSamples).middleRows(q0, rows), tol));
    EXPECT_TRUE(all_close(traced("attn:attention_weights"),
                          expected("attn.in.5", kSamples).middleRows(q0, rows), tol));
    EXPECT_TRUE(all_close(traced("attn"), expected("attn.out", kModel).middleRows(q0, rows), tol));
  }
};

using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(DeformableAttentionFixtureTest, Scalars);

TYPED_TEST(DeformableAttentionFixtureTest, BatchMatchesHuggingFaceHooks) {
  using T = TypeParam;
  const auto attention = this->attention();
  const Matrix<T> queries = this->positioned_queries();
  const Matrix<T> boxes = this->reference_boxes();
  // No hook holds the module's output; it is output_proj of the hooked kernel result.
  const Matrix<T> projected = Linear<T>::load(fixture<T>("rtdetr/model.safetensors"),
                                              "model.decoder.layers.0.encoder_attn.output_proj.",
                                              this->kModel, this->kModel)
                                  .forward(this->expected("attn.out", this->kModel));
  for (const DeformableSamplingOrder order : kOrders) {
    SCOPED_TRACE(order_name(order));
    TraceRecorder<T> trace;
    DeformableAttentionOptions<T> options;
    options.order = order;
    options.trace = &trace;
    const Matrix<T> out = attention.forward(queries, boxes, this->memory(),
                                            SequenceBatch::uniform(this->kImages, this->kQueries),
                                            this->levels(), options);
    this->expect_trace_matches(trace, 0, this->kImages);
    EXPECT_TRUE(all_close(out, projected, 1e-5));
    // The module's own output, last, under its name.
    EXPECT_EQ(trace.names().back(), "model.decoder.layers.0.encoder_attn");
    EXPECT_EQ(trace.matrix("model.decoder.layers.0.encoder_attn"), out);
  }
}

TYPED_TEST(DeformableAttentionFixtureTest, SingleImageWithSeparatePositionMatchesHooks) {
  using T = TypeParam;
  const auto attention = this->attention();
  const Index n = this->kQueries, tokens = this->levels().total_tokens();
  // The layer-0 query position is the first query_pos_head output; split the positioned
  // query back into content + position to exercise the query_position argument.
  const Matrix<T> position =
      this->io().at("hook.model.decoder.query_pos_head.out").matrix().middleRows(n, n);
  const Matrix<T> content = this->positioned_queries().middleRows(n, n) - position;
  for (const DeformableSamplingOrder order : kOrders) {
    SCOPED_TRACE(order_name(order));
    TraceRecorder<T> trace;
    DeformableAttentionOptions<T> options;
    options.query_position.emplace(position);
    options.order = order;
    options.trace = &trace;
    attention.forward(content, this->reference_boxes().middleRows(n, n),
                      this->memory().middleRows(tokens, tokens), this->levels(), options);
    this->expect_trace_matches(trace, 1, 1);
  }
}

TYPED_TEST(DeformableAttentionFixtureTest, RejectsInputsThatDisagreeWithTheLevels) {
  using T = TypeParam;
  const auto attention = this->attention();
  const Index n = this->kQueries;
  const Matrix<T> queries = this->positioned_queries().topRows(n);
  const Matrix<T> boxes = this->reference_boxes().topRows(n);
  const FeatureLevels levels = this->levels();
  const Matrix<T> memory = this->memory().topRows(levels.total_tokens());

  const FeatureLevels two_levels({{12, 16}, {6, 8}});
  EXPECT_THROW(attention.forward(queries, boxes, memory, two_levels), ShapeError);
  const FeatureLevels wrong_total({{12, 16}, {6, 8}, {3, 3}});
  EXPECT_THROW(attention.forward(queries, boxes, memory, wrong_total), ShapeError);
  EXPECT_THROW(attention.forward(queries, boxes.leftCols(3), memory, levels), ShapeError);
  EXPECT_THROW(attention.forward(queries.leftCols(32), boxes, memory, levels), ShapeError);
  DeformableAttentionOptions<T> bad_padding;
  const BoolVector padding = BoolVector::Zero(5);
  bad_padding.value_padding.emplace(padding);
  EXPECT_THROW(attention.forward(queries, boxes, memory, levels, bad_padding), ShapeError);
  try {
    attention.forward(queries, boxes, memory, wrong_total);
    FAIL() << "expected a ShapeError";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("spatial shapes must add up"), std::string::npos)
        << e.what();
  }
}

TYPED_TEST(DeformableAttentionFixtureTest, MissingWeightIsNamed) {
  using T = TypeParam;
  try {
    MultiScaleDeformableAttention<T>::load(fixture<T>("rtdetr/model.safetensors"),
                                           "model.decoder.layers.7.encoder_attn.", 64, 4, 3, 4);
    FAIL() << "expected a FormatError";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("missing tensor 'model.decoder.layers.7.encoder_attn."),
              std::string::npos)
        << e.what();
  }
  // Weights of another geometry: 96 offset outputs do not fit 8 heads.
  EXPECT_THROW(
      MultiScaleDeformableAttention<T>::load(fixture<T>("rtdetr/model.safetensors"),
                                             "model.decoder.layers.0.encoder_attn.", 64, 8, 3, 4),
      ShapeError);
}

TEST(FeatureLevelsTest, DerivesAndValidatesStarts) {
  const FeatureLevels levels({{80, 80}, {40, 40}, {20, 20}});
  EXPECT_EQ(levels.starts(), (std::vector<Index>{0, 6400, 8000}));
  EXPECT_EQ(levels.total_tokens(), 8400);
  EXPECT_NO_THROW(FeatureLevels({{2, 3}, {1, 2}}, {0, 6}));
  EXPECT_THROW(FeatureLevels({{2, 3}, {1, 2}}, {0, 5}), ShapeError);
  EXPECT_THROW(FeatureLevels({{2, 3}, {1, 2}}, {0}), ShapeError);
  EXPECT_THROW(FeatureLevels({{2, 0}}), InvalidArgument);
  EXPECT_THROW(FeatureLevels({{-1, 4}}), InvalidArgument);
  EXPECT_THROW(FeatureLevels::from_tensor(Tensor<float>({3}, {1, 2, 3})), ShapeError);
  EXPECT_THROW(FeatureLevels::from_tensor(Tensor<float>({1, 2}, {2.5f, 3})), InvalidArgument);
  EXPECT_THROW(FeatureLevels::from_tensor(Tensor<float>({1, 2}, {NAN, 3})), InvalidArgument);
  EXPECT_THROW(FeatureLevels::from_tensor(Tensor<float>({1, 2}, {2, 3}), Tensor<float>({1}, {1})),
               ShapeError);
}

// One head, one level, one point, identity value (bias (0, 1)) and output projections, zero
// offset and weight projections (offset = bias, the single weight softmaxes to 1). A reference box
// of zero size puts the sampling location exactly at its centre (loc = ref_xy + offset / points *
// wh / 2), so the output is grid_sample of the map at (x, y).
template <typename T>
class GridSampleTest : public ::testing::Test {
 protected:
  // A 2 x 3 (height x width) map with two channels: channel 0 is v(x, y) = 1 + x + 10 y,
  // channel 1 is 0, so after the value bias it is 1 everywhere and reports the summed weight
  // of the in-map, unpadded neighbours (the bias must count only for those).
  static constexpr Index kHeight = 2, kWidth = 3;
  // Locations like 1.2 are inexact in float; values reach 13.
  static constexpr double kTolerance = std::is_same_v<T, float> ? 1e-5 : 1e-12;

  static MultiScaleDeformableAttention<T> attention(T offset_x, T offset_y) {
    const Matrix<T> identity = Matrix<T>::Identity(2, 2);
    Vector<T> offset_bias(2);
    offset_bias << offset_x, offset_y;
    const Vector<T> value_bias = Vector<T>::Unit(2, 1);
    return MultiScaleDeformableAttention<T>(Linear<T>(identity, value_bias),
                                            Linear<T>(Matrix<T>::Zero(2, 2), offset_bias),
                                            Linear<T>(Matrix<T>::Zero(1, 2), Vector<T>::Zero(1)),
                                            Linear<T>(identity, Vector<T>::Zero(2)), 1, 1, 1);
  }
  static Matrix<T> map() {
    Matrix<T> values(kHeight * kWidth, 2);
    for (Index y = 0; y < kHeight; ++y)
      for (Index x = 0; x < kWidth; ++x) values.row(y * kWidth + x) << T(1 + x + 10 * y), T(0);
    return values;
  }
  static FeatureLevels levels() { return FeatureLevels({{kHeight, kWidth}}); }

  // Output row for a sampling location (x, y).
  static Matrix<T> sample_at(T x, T y, const DeformableAttentionOptions<T>& options) {
    Matrix<T> reference(1, 4);
    reference << x, y, T(0), T(0);
    return attention(T(0), T(0))
        .forward(Matrix<T>::Zero(1, 2), reference, map(), levels(), options);
  }
  static Matrix<T> row(T value, T weight) {
    Matrix<T> out(1, 2);
    out << value, weight;
    return out;
  }
};

TYPED_TEST_SUITE(GridSampleTest, Scalars);

TYPED_TEST(GridSampleTest, BordersAndOutsideFollowZeroPadding) {
  using T = TypeParam;
  const double tol = TestFixture::kTolerance;
  auto row = [](double value, double weight) { return TestFixture::row(T(value), T(weight)); };
  for (const DeformableSamplingOrder order : kOrders) {
    SCOPED_TRACE(order_name(order));
    DeformableAttentionOptions<T> options;
    options.order = order;
    auto sample_at = [&](double x, double y) {
      return TestFixture::sample_at(T(x), T(y), options);
    };
    // Pixel coordinate = loc * size - 0.5: px = 3 x - 0.5, py = 2 y - 0.5.
    // Centre of pixel (0, 0): px = py = 0, exactly that pixel.
    EXPECT_TRUE(all_close(sample_at(0.5 / 3, 0.25), row(1, 1), tol));
    // Between pixel centres (1, 0) and (1, 1): px = 1, py = 0.5 -> (2 + 12) / 2.
    EXPECT_TRUE(all_close(sample_at(0.5, 0.5), row(7, 1), tol));
    // Interior bilinear: px = 0.7, py = 0.3 -> v = 1 + 0.7 + 10 * 0.3 (v is affine in x, y).
    EXPECT_TRUE(all_close(sample_at(1.2 / 3, 0.4), row(4.7, 1), tol));
    // Top-left corner of the map: px = py = -0.5, four neighbours of weight 1/4, only pixel
    // (0, 0) inside: 0.25 * 1.
    EXPECT_TRUE(all_close(sample_at(0, 0), row(0.25, 0.25), tol));
    // Bottom-right corner: px = 2.5, py = 1.5, only pixel (2, 1) inside: 0.25 * 13.
    EXPECT_TRUE(all_close(sample_at(1, 1), row(3.25, 0.25), tol));
    // Left border at a pixel-centre row: px = -0.5, py = 0 -> half of pixel (0, 0).
    EXPECT_TRUE(all_close(sample_at(0, 0.25), row(0.5, 0.5), tol));
    // Past the right border: px = 2.8, py = 0 -> 0.2 of pixel (2, 0) (v = 3), 0.8 outside.
    EXPECT_TRUE(all_close(sample_at(1.1, 0.25), row(0.6, 0.2), tol));
    // Below the bottom: px = 1, py = 1.9 -> 0.1 of pixel (1, 1) (v = 12).
    EXPECT_TRUE(all_close(sample_at(0.5, 1.2), row(1.2, 0.1), tol));
    // A full pixel or more outside: px = -1.1 or 3.1, py = -1.5: nothing inside.
    EXPECT_TRUE(all_close(sample_at(-0.2, 0.5), row(0, 0), tol));
    EXPECT_TRUE(all_close(sample_at(1.2, 0.5), row(0, 0), tol));
    EXPECT_TRUE(all_close(sample_at(0.5, -0.5), row(0, 0), tol));
    EXPECT_TRUE(all_close(sample_at(1e30, -1e30), row(0, 0), tol));
  }
}

TYPED_TEST(GridSampleTest, NonFiniteLocationsContributeNothing) {
  using T = TypeParam;
  const T nan = std::numeric_limits<T>::quiet_NaN(), inf = std::numeric_limits<T>::infinity();
  for (const DeformableSamplingOrder order : kOrders) {
    SCOPED_TRACE(order_name(order));
    DeformableAttentionOptions<T> options;
    options.order = order;
    EXPECT_TRUE(all_close(TestFixture::sample_at(nan, T(0.5), options), TestFixture::row(0, 0), 0));
    EXPECT_TRUE(all_close(TestFixture::sample_at(T(0.5), inf, options), TestFixture::row(0, 0), 0));
  }
}

TYPED_TEST(GridSampleTest, PaddedTokensAreZeroed) {
  using T = TypeParam;
  BoolVector padding = BoolVector::Zero(TestFixture::kHeight * TestFixture::kWidth);
  padding(1) = true;  // pixel (1, 0)
  for (const DeformableSamplingOrder order : kOrders) {
    SCOPED_TRACE(order_name(order));
    DeformableAttentionOptions<T> options;
    options.value_padding.emplace(padding);
    options.order = order;
    // px = 1, py = 0.5: pixels (1, 0) and (1, 1) at 1/2 each; (1, 0) is padded.
    EXPECT_TRUE(all_close(TestFixture::sample_at(T(0.5), T(0.5), options), TestFixture::row(6, 0.5),
                          TestFixture::kTolerance));
  }
}

// HF's two location formulas, from a zero query (offset = the sampling_offsets bias).
TYPED_TEST(GridSampleTest, LocationsFromPointsAndBoxes) {
  using T = TypeParam;
  const auto attention = TestFixture::attention(T(0.3), T(-0.2));
  const Matrix<T> query = Matrix<T>::Zero(1, 2);
  // An unnamed module's intermediates are named relative to it.
  TraceRecorder<T> trace;
  DeformableAttentionOptions<T> options;
  options.trace = &trace;
  // 2-d: ref + offset / (W, H) = (0.5 + 0.3 / 3, 0.5 - 0.2 / 2).
  Matrix<T> point(1, 2);
  point << T(0.5), T(0.5);
  attention.forward(query, point, TestFixture::map(), TestFixture::levels(), options);
  EXPECT_TRUE(all_close(trace.matrix("attn:sampling_locations"), TestFixture::row(0.6, 0.4),
                        TestFixture::kTolerance));
  // 4-d: ref_xy + offset / points * wh / 2 = (0.5 + 0.3 * 0.4 / 2, 0.5 - 0.2 * 0.2 / 2).
  Matrix<T> box(1, 4);
  box << T(0.5), T(0.5), T(0.4), T(0.2);
  attention.forward(query, box, TestFixture::map(), TestFixture::levels(), options);
  EXPECT_TRUE(all_close(trace.matrix("attn:sampling_locations", 1), TestFixture::row(0.56, 0.48),
                        TestFixture::kTolerance));
  EXPECT_TRUE(all_close(trace.matrix("attn:attention_weights", 1), Matrix<T>::Ones(1, 1), 0));
}

}  // namespace
}  // namespace eigenformer
