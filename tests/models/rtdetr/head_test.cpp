#include <eigenformer/models/rtdetr/head.hpp>

#include "fixture.hpp"
#include "models/rtdetr/reference.hpp"

#include <string>
#include <vector>

namespace eigenformer {
namespace {

using testing::all_close;
using testing::data_path;
using testing::image_rows;
using testing::replay_selection;

constexpr Index kTokens = 252, kQueries = 30, kLabels = 12, kDim = 64, kLayers = 3;

template <typename T>
class RTDetrHeadTest : public ::testing::Test {
 protected:
  const StateDict<T>& io = testing::fixture<T>("rtdetr/io.safetensors");
  const StateDict<T>& weights = testing::fixture<T>("rtdetr/model.safetensors");
  const RTDetrConfig config = RTDetrConfig::load(data_path("rtdetr/config.json"));

  // The three decoder input projections of `image`.
  std::vector<FeatureMap<T>> maps(Index image) const {
    std::vector<FeatureMap<T>> levels;
    for (int level = 0; level < 3; ++level)
      levels.push_back(FeatureMap<T>::from_nchw(
          io.at("hook.model.decoder_input_proj." + std::to_string(level) + ".out"), image));
    return levels;
  }
  auto expected(const std::string& name, Index rows, Index cols, Index image) const {
    return image_rows(io, name, rows, cols, image);
  }
  // Layer `layer` of image `image` in a (batch, layers, rows, cols) tensor.
  auto expected_layer(const std::string& name, Index rows, Index cols, Index image,
                      Index layer) const {
    return image_rows(io, name, rows, cols, image * kLayers + layer);
  }
};
using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(RTDetrHeadTest, Scalars);

// With HF's choice among tied top-k scores replayed, every output matches the reference run.
TYPED_TEST(RTDetrHeadTest, MatchesHuggingFaceFromTheDecoderInputProjections) {
  using T = TypeParam;
  const auto head = RTDetrHead<T>::load(this->weights, this->config);
  for (Index image = 0; image < 2; ++image) {
    SCOPED_TRACE(image);
    const RTDetrHeadOutput<T> out =
        head.forward(this->maps(image), replay_selection(this->io, image));
    ASSERT_EQ(out.levels.total_tokens(), kTokens);
    EXPECT_EQ(out.levels.starts(), (std::vector<Index>{0, 192, 240}));
    EXPECT_TRUE(all_close(
        out.memory,
        this->expected("hook.model.decoder.kw.encoder_hidden_states", kTokens, kDim, image), 0.0));
    EXPECT_TRUE(
        all_close(out.logits(), this->expected("out.logits", kQueries, kLabels, image), 1e-4));
    EXPECT_TRUE(
        all_close(out.pred_boxes(), this->expected("out.pred_boxes", kQueries, 4, image), 1e-4));
    EXPECT_TRUE(all_close(out.decoder.last_hidden_state(),
                          this->expected("out.last_hidden_state", kQueries, kDim, image), 1e-4));
    ASSERT_EQ(out.decoder.intermediate_logits.size(), static_cast<std::size_t>(kLayers));
    for (Index layer = 0; layer < kLayers; ++layer) {
      SCOPED_TRACE(layer);
      EXPECT_TRUE(all_close(
          out.decoder.intermediate_hidden_states[layer],
          this->expected_layer("out.intermediate_hidden_states", kQueries, kDim, image, layer),
          1e-4));
      EXPECT_TRUE(all_close(
          out.decoder.intermediate_logits[layer],
          this->expected_layer("out.intermediate_logits", kQueries, kLabels, image, layer), 1e-4));
      EXPECT_TRUE(all_close(
          out.decoder.intermediate_reference_points[layer],
          this->expected_layer("out.intermediate_reference_points", kQueries, 4, image, layer),
          1e-4));
    }
    EXPECT_TRUE(all_close(out.queries.class_logits,
                          this->expected("out.enc_outputs_class", kTokens, kLabels, image), 1e-4));
    EXPECT_TRUE(all_close(out.queries.coord_logits,
                          this->expected("out.enc_outputs_coord_logits", kTokens, 4, image), 1e-4));
    EXPECT_TRUE(all_close(out.queries.topk_logits,
                          this->expected("out.enc_topk_logits", kQueries, kLabels, image), 1e-4));
    EXPECT_TRUE(all_close(out.queries.topk_boxes,
                          this->expected("out.enc_topk_bboxes", kQueries, 4, image), 1e-4));
    EXPECT_TRUE(all_close(out.queries.reference_logits,
                          this->expected("out.init_reference_points", kQueries, 4, image), 1e-4));
  }
}

// With its own top-k the head picks the same scores (tokens may differ among exact ties) and
// gives well-formed detections.
TYPED_TEST(RTDetrHeadTest, OwnTopKGivesTheReferenceScoresAndValidBoxes) {
  using T = TypeParam;
  const auto head = RTDetrHead<T>::load(data_path("rtdetr"));
  for (Index image = 0; image < 2; ++image) {
    SCOPED_TRACE(image);
    const RTDetrHeadOutput<T> out = head.forward(this->maps(image));
    EXPECT_TRUE(all_close(out.queries.topk_logits,
                          this->expected("out.enc_topk_logits", kQueries, kLabels, image), 1e-4));
    ASSERT_EQ(out.logits().rows(), kQueries);
    ASSERT_EQ(out.logits().cols(), kLabels);
    ASSERT_EQ(out.pred_boxes().rows(), kQueries);
    EXPECT_TRUE(out.logits().allFinite());
    EXPECT_TRUE((out.pred_boxes().array() >= T(0)).all() &&
                (out.pred_boxes().array() <= T(1)).all());
  }
}

TYPED_TEST(RTDetrHeadTest, RejectsBadInput) {
  using T = TypeParam;
  const auto head = RTDetrHead<T>::load(this->weights, this->config);
  std::vector<FeatureMap<T>> maps = this->maps(0);
  std::vector<FeatureMap<T>> two_levels(maps.begin(), maps.begin() + 2);
  EXPECT_THROW(head.forward(two_levels), ShapeError);
  std::vector<FeatureMap<T>> narrow = maps;
  narrow[1] = FeatureMap<T>(Matrix<T>::Zero(32, 48), 6, 8);
  EXPECT_THROW(head.forward(narrow), ShapeError);
  std::vector<FeatureMap<T>> inconsistent = maps;
  inconsistent[2].width = 5;  // 12 values per channel are not 3 x 5
  EXPECT_THROW(head.forward(inconsistent), ShapeError);
  std::vector<FeatureMap<T>> empty = maps;
  empty[2] = FeatureMap<T>(Matrix<T>::Zero(kDim, 0), 0, 4);
  EXPECT_THROW(head.forward(empty), InvalidArgument);
}

TYPED_TEST(RTDetrHeadTest, MissingWeightsAreNamed) {
  using T = TypeParam;
  for (const std::string missing :
       {"model.enc_score_head.bias", "model.decoder.layers.2.fc1.weight"}) {
    StateDict<T> partial("partial.safetensors");
    for (const auto& name : this->weights.names())
      if (name != missing) partial.insert(name, this->weights.at(name));
    try {
      RTDetrHead<T>::load(partial, this->config);
      ADD_FAILURE() << "loaded without " << missing;
    } catch (const FormatError& e) {
      EXPECT_NE(std::string(e.what()).find(missing), std::string::npos) << e.what();
    }
  }
  RTDetrConfig wrong_labels = this->config;
  wrong_labels.id2label.push_back("extra");
  EXPECT_THROW(RTDetrHead<T>::load(this->weights, wrong_labels), ShapeError);
}

}  // namespace
}  // namespace eigenformer
