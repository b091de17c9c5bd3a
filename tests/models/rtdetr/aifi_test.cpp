#include <eigenformer/models/rtdetr/aifi.hpp>

#include "fixture.hpp"

namespace eigenformer {
namespace {

using testing::all_close;
using testing::data_path;

template <typename T>
class RTDetrAIFITest : public ::testing::Test {
 protected:
  const StateDict<T>& io = testing::fixture<T>("rtdetr/io.safetensors");
  const StateDict<T>& weights = testing::fixture<T>("rtdetr/model.safetensors");
  const RTDetrConfig config = RTDetrConfig::load(data_path("rtdetr/config.json"));
};
using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(RTDetrAIFITest, Scalars);

// The fixture's AIFI map is 3 x 4 (height x width): 12 tokens per image, 2 images.
constexpr Index kHeight = 3, kWidth = 4, kTokens = 12;

TYPED_TEST(RTDetrAIFITest, EncoderLayerMatchesHookWithPositionEmbedding) {
  using T = TypeParam;
  const auto layer = TransformerEncoderLayer<T>::load(
      this->weights, "model.encoder.encoder.0.layers.0.", this->config.encoder_layer_config(),
      rtdetr_encoder_layer_names());
  const auto in = this->io.at("hook.model.encoder.aifi.0.layers.0.in.0", {2, kTokens, 64}).matrix();
  const auto out = this->io.at("hook.model.encoder.aifi.0.layers.0.out", {2, kTokens, 64}).matrix();
  const Matrix<T> position = sincos_position_embedding_2d<T>(kWidth, kHeight, 64);
  for (Index image = 0; image < 2; ++image) {
    const Matrix<T> actual =
        layer.forward(in.middleRows(image * kTokens, kTokens), SequenceBatch::single(kTokens), {},
                      MatrixView<T>(position));
    EXPECT_TRUE(all_close(actual, out.middleRows(image * kTokens, kTokens), 1e-5)) << image;
  }
}

TYPED_TEST(RTDetrAIFITest, TokensAndFeatureMapForward) {
  using T = TypeParam;
  const auto aifi =
      RTDetrAIFILayer<T>::load(this->weights, "model.encoder.encoder.0.", this->config);
  EXPECT_EQ(aifi.num_layers(), 1);
  const auto in = this->io.at("hook.model.encoder.aifi.0.layers.0.in.0").matrix();
  const auto out = this->io.at("hook.model.encoder.aifi.0.layers.0.out").matrix();
  for (Index image = 0; image < 2; ++image) {
    const Matrix<T> tokens = in.middleRows(image * kTokens, kTokens);
    EXPECT_TRUE(all_close(aifi.forward_tokens(tokens, kHeight, kWidth),
                          out.middleRows(image * kTokens, kTokens), 1e-5));
    // As a channels x (height * width) map, the layout the convolutional parts use.
    const FeatureMap<T> map(tokens.transpose(), kHeight, kWidth);
    const FeatureMap<T> result = aifi.forward(map);
    EXPECT_EQ(result.height, kHeight);
    EXPECT_EQ(result.width, kWidth);
    EXPECT_TRUE(all_close(result.tokens(), out.middleRows(image * kTokens, kTokens), 1e-5));
  }
}

TYPED_TEST(RTDetrAIFITest, AppliesToTheConfiguredLevelOnly) {
  using T = TypeParam;
  const auto aifi = RTDetrAIFI<T>::load(this->weights, this->config);
  ASSERT_EQ(aifi.levels(), (std::vector<Index>{2}));
  const auto& io = this->io;
  // The encoder's recorded hidden states: the AIFI input map and its output map.
  const auto before = io.at("out.encoder_hidden_states.0", {2, 64, kHeight, kWidth});
  const auto after = io.at("out.encoder_hidden_states.1", {2, 64, kHeight, kWidth});
  for (Index image = 0; image < 2; ++image) {
    std::vector<FeatureMap<T>> maps{
        FeatureMap<T>::from_nchw(io.at("hook.model.encoder_input_proj.0.out"), image),
        FeatureMap<T>::from_nchw(io.at("hook.model.encoder_input_proj.1.out"), image),
        FeatureMap<T>::from_nchw(before, image)};
    const Matrix<T> level0 = maps[0].data;
    aifi.apply(maps);
    EXPECT_EQ(maps[0].data, level0);
    EXPECT_TRUE(all_close(maps[2].data, FeatureMap<T>::from_nchw(after, image).data, 1e-5));
  }
}

// The original RT-DETR (lyuwenyu/RT-DETR, HybridEncoder) precomputes, when eval_size is set,
// the same 2-D sin-cos embedding for the map size eval_size / stride and adds it at
// inference; HF passes none and then fails. So eval_size must not change the output: it
// still matches the fixture's reference run (made without eval_size).
TYPED_TEST(RTDetrAIFITest, EvalSizeKeepsThePositionEmbedding) {
  using T = TypeParam;
  RTDetrConfig config = this->config;
  config.eval_size = std::array<Index, 2>{96, 128};
  const auto with_eval_size =
      RTDetrAIFILayer<T>::load(this->weights, "model.encoder.encoder.0.", config);
  const auto in = this->io.at("hook.model.encoder.aifi.0.layers.0.in.0").matrix();
  const auto out = this->io.at("hook.model.encoder.aifi.0.layers.0.out").matrix();
  for (Index image = 0; image < 2; ++image)
    EXPECT_TRUE(all_close(
        with_eval_size.forward_tokens(in.middleRows(image * kTokens, kTokens), kHeight, kWidth),
        out.middleRows(image * kTokens, kTokens), 1e-5))
        << image;
}

TYPED_TEST(RTDetrAIFITest, RejectsBadInput) {
  using T = TypeParam;
  const auto aifi = RTDetrAIFI<T>::load(this->weights, this->config);
  std::vector<FeatureMap<T>> two_levels(2, FeatureMap<T>(Matrix<T>::Zero(64, 12), 3, 4));
  EXPECT_THROW(aifi.apply(two_levels), ShapeError);
  std::vector<FeatureMap<T>> wrong_channels(3, FeatureMap<T>(Matrix<T>::Zero(32, 12), 3, 4));
  EXPECT_THROW(aifi.apply(wrong_channels), ShapeError);
  EXPECT_THROW(aifi.layer(0).forward_tokens(Matrix<T>::Zero(12, 64), 4, 4), ShapeError);
  EXPECT_THROW(RTDetrAIFI<T>::load(this->weights, this->config, "model.wrong."), FormatError);
}

}  // namespace
}  // namespace eigenformer
