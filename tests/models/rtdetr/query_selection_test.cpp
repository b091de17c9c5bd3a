#include <eigenformer/models/rtdetr/query_selection.hpp>

#include "fixture.hpp"
#include "models/rtdetr/reference.hpp"

#include <cmath>
#include <limits>

namespace eigenformer {
namespace {

using testing::all_close;
using testing::data_path;
using testing::reference_selection;
using testing::replay_selection;

constexpr Index kTokens = 252, kQueries = 30, kLabels = 12, kDim = 64;

template <typename T>
class RTDetrQuerySelectionTest : public ::testing::Test {
 protected:
  const StateDict<T>& io = testing::fixture<T>("rtdetr/io.safetensors");
  const StateDict<T>& weights = testing::fixture<T>("rtdetr/model.safetensors");
  const RTDetrConfig config = RTDetrConfig::load(data_path("rtdetr/config.json"));
  const FeatureLevels levels =
      FeatureLevels::from_tensor(io.at("hook.model.decoder.kw.spatial_shapes"),
                                 io.at("hook.model.decoder.kw.level_start_index"));

  auto expected(const std::string& name, Index rows, Index cols, Index image) const {
    return testing::image_rows(io, name, rows, cols, image);
  }
  Matrix<T> memory(Index image) const {
    return expected("hook.model.decoder.kw.encoder_hidden_states", kTokens, kDim, image);
  }
};
using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(RTDetrQuerySelectionTest, Scalars);

TYPED_TEST(RTDetrQuerySelectionTest, ScoresMatchHuggingFace) {
  using T = TypeParam;
  const auto selection = RTDetrQuerySelection<T>::load(this->weights, this->config);
  ASSERT_EQ(this->levels.total_tokens(), kTokens);
  for (Index image = 0; image < 2; ++image) {
    SCOPED_TRACE(image);
    const RTDetrSelectedQueries<T> out = selection.forward(this->memory(image), this->levels);
    EXPECT_TRUE(all_close(out.output_memory,
                          this->expected("hook.model.enc_output.out", kTokens, kDim, image), 1e-4));
    EXPECT_TRUE(all_close(selection.box_head().forward(out.output_memory),
                          this->expected("hook.model.enc_bbox_head.out", kTokens, 4, image), 1e-4));
    EXPECT_TRUE(all_close(out.class_logits,
                          this->expected("out.enc_outputs_class", kTokens, kLabels, image), 1e-4));
    EXPECT_TRUE(all_close(out.coord_logits,
                          this->expected("out.enc_outputs_coord_logits", kTokens, 4, image), 1e-4));
    // The selected scores agree; the tokens may not, see the next tests.
    EXPECT_TRUE(all_close(out.topk_logits,
                          this->expected("out.enc_topk_logits", kQueries, kLabels, image), 1e-4));
    const Vector<T> best = out.topk_logits.rowwise().maxCoeff();
    for (Index q = 1; q < kQueries; ++q) EXPECT_GE(best(q - 1), best(q)) << q;
  }
}

// On HF's own scores our top-k ranks the same score at every position: the orders differ only
// among exactly tied tokens (this fixture's untrained score head gives many).
TYPED_TEST(RTDetrQuerySelectionTest, TopKAgreesWithTorchUpToExactTies) {
  using T = TypeParam;
  for (Index image = 0; image < 2; ++image) {
    const Vector<T> scores =
        this->expected("out.enc_outputs_class", kTokens, kLabels, image).rowwise().maxCoeff();
    const std::vector<Index> ours = detail::top_k_indices<T>(scores, kQueries);
    const std::vector<Index> torch = reference_selection(this->io, image);
    for (Index q = 0; q < kQueries; ++q)
      EXPECT_EQ(scores(ours[q]), scores(torch[q])) << "image " << image << " rank " << q;
  }
}

TYPED_TEST(RTDetrQuerySelectionTest, GathersTheSelectedQueriesLikeHuggingFace) {
  using T = TypeParam;
  const auto selection = RTDetrQuerySelection<T>::load(this->weights, this->config);
  for (Index image = 0; image < 2; ++image) {
    SCOPED_TRACE(image);
    const RTDetrSelectedQueries<T> out =
        selection.forward(this->memory(image), this->levels, replay_selection(this->io, image));
    EXPECT_TRUE(all_close(out.topk_logits,
                          this->expected("out.enc_topk_logits", kQueries, kLabels, image), 1e-4));
    EXPECT_TRUE(all_close(out.reference_logits,
                          this->expected("out.init_reference_points", kQueries, 4, image), 1e-4));
    EXPECT_TRUE(
        all_close(out.topk_boxes, this->expected("out.enc_topk_bboxes", kQueries, 4, image), 1e-4));
    EXPECT_TRUE(all_close(
        out.target, this->expected("out.decoder_hidden_states.0", kQueries, kDim, image), 1e-4));
  }
}

TYPED_TEST(RTDetrQuerySelectionTest, AnchorImageSizeMatchingTheMapsMatchesHuggingFace) {
  using T = TypeParam;
  RTDetrConfig config = this->config;
  config.anchor_image_size = std::array<Index, 2>{96, 128};  // (height, width) of the fixture
  const auto fixed = RTDetrQuerySelection<T>::load(this->weights, config);
  const Matrix<T> memory = this->memory(0);
  // HF made the fixture's anchors from the feature maps; anchors from the fixed image size
  // are the same ones, so the box logits (anchor + box head) still match HF's.
  EXPECT_TRUE(all_close(fixed.forward(memory, this->levels).coord_logits,
                        this->expected("out.enc_outputs_coord_logits", kTokens, 4, 0), 1e-4));
  config.anchor_image_size = std::array<Index, 2>{128, 96};
  const auto transposed = RTDetrQuerySelection<T>::load(this->weights, config);
  EXPECT_THROW(transposed.forward(memory, this->levels), ShapeError);
}

TYPED_TEST(RTDetrQuerySelectionTest, LearnedInitialQueriesReplaceTheGatheredTarget) {
  using T = TypeParam;
  StateDict<T> weights = this->weights;
  std::vector<T> table(kQueries * kDim);
  for (std::size_t i = 0; i < table.size(); ++i) table[i] = static_cast<T>(i % 7) - T(3);
  weights.insert("model.weight_embedding.weight", Tensor<T>({kQueries, kDim}, table));
  RTDetrConfig config = this->config;
  config.learn_initial_query = true;
  const auto learned = RTDetrQuerySelection<T>::load(weights, config);
  const auto out = learned.forward(this->memory(1), this->levels);
  const auto gathered = RTDetrQuerySelection<T>::load(this->weights, this->config)
                            .forward(this->memory(1), this->levels);
  EXPECT_EQ(out.target, weights.at("model.weight_embedding.weight").matrix());
  EXPECT_EQ(out.reference_logits, gathered.reference_logits);
  EXPECT_THROW(RTDetrQuerySelection<T>::load(this->weights, config), FormatError);
}

TYPED_TEST(RTDetrQuerySelectionTest, RejectsBadInput) {
  using T = TypeParam;
  const auto selection = RTDetrQuerySelection<T>::load(this->weights, this->config);
  const Matrix<T> memory = this->memory(0);
  EXPECT_THROW(selection.forward(memory.topRows(kTokens - 1), this->levels), ShapeError);
  EXPECT_THROW(selection.forward(memory.leftCols(kDim - 1), this->levels), ShapeError);
  const FeatureLevels tiny({{2, 3}, {1, 2}});  // 8 tokens < 30 queries
  EXPECT_THROW(selection.forward(memory.topRows(8), tiny), ShapeError);
  RTDetrForwardOptions<T> options;
  options.selected_tokens = std::vector<Index>(kQueries - 1, 0);
  EXPECT_THROW(selection.forward(memory, this->levels, options), InvalidArgument);
  options.selected_tokens = std::vector<Index>(kQueries, kTokens);
  EXPECT_THROW(selection.forward(memory, this->levels, options), InvalidArgument);
  EXPECT_THROW(RTDetrQuerySelection<T>::load(this->weights, this->config, "model.decoder."),
               FormatError);
}

TYPED_TEST(RTDetrQuerySelectionTest, InvalidAnchorsAndMaskedMemory) {
  using T = TypeParam;
  // Level 0 is 1 x 60: x-centres (x + 0.5) / 60 fall below 0.01 at x = 0 and above 0.99 at
  // x = 59. Levels 1..5 have sizes 0.1 ... 1.6: level 5 (1.6) is invalid everywhere.
  const FeatureLevels levels({{1, 60}, {2, 2}, {2, 2}, {2, 2}, {2, 2}, {2, 2}});
  const detail::RTDetrAnchors<T> anchors = detail::generate_rtdetr_anchors<T>(levels);
  const T max = std::numeric_limits<T>::max();
  EXPECT_FALSE(anchors.valid(0));
  EXPECT_FALSE(anchors.valid(59));
  EXPECT_TRUE(anchors.valid(1));
  EXPECT_EQ(anchors.logits(0, 0), max);
  EXPECT_NEAR(anchors.logits(1, 0), std::log((1.5 / 60) / (1 - 1.5 / 60)), 1e-5);
  EXPECT_NEAR(anchors.logits(1, 1), 0.0, 1e-6);  // y-centre 0.5
  EXPECT_NEAR(anchors.logits(1, 2), std::log(0.05 / 0.95), 1e-5);
  // Level 1 token 0 (row 60): centre (0.25, 0.25), size 0.1.
  EXPECT_NEAR(anchors.logits(60, 0), std::log(0.25 / 0.75), 1e-5);
  EXPECT_NEAR(anchors.logits(60, 3), std::log(0.1 / 0.9), 1e-5);
  for (Index token = levels.start(5); token < levels.total_tokens(); ++token)
    EXPECT_FALSE(anchors.valid(token)) << token;
  EXPECT_EQ(anchors.valid.count(), 58 + 4 * 4);

  const auto selection = RTDetrQuerySelection<T>::load(this->weights, this->config);
  Matrix<T> memory = this->memory(0).topRows(levels.total_tokens());
  const auto out = selection.forward(memory, levels);
  memory.row(0).setConstant(T(5));  // an invalid token: masked before enc_output
  memory.row(1).setConstant(T(5));  // a valid one
  const auto changed = selection.forward(memory, levels);
  EXPECT_EQ(changed.output_memory.row(0), out.output_memory.row(0));
  EXPECT_NE(changed.output_memory.row(1), out.output_memory.row(1));
  EXPECT_EQ(out.coord_logits(0, 0), max);
}

TEST(TopKIndicesTest, NaNFirstThenDescendingThenLowerIndex) {
  Vector<double> scores(6);
  scores << 1.0, 3.0, std::nan(""), 3.0, -1.0, 2.0;
  EXPECT_EQ(detail::top_k_indices<double>(scores, 4), (std::vector<Index>{2, 1, 3, 5}));
  EXPECT_EQ(detail::top_k_indices<double>(scores, 0), std::vector<Index>{});
  EXPECT_THROW(detail::top_k_indices<double>(scores, 7), ShapeError);
}

}  // namespace
}  // namespace eigenformer
