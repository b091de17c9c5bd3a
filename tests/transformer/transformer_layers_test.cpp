#include <eigenformer/transformer/decoder_layer.hpp>
#include <eigenformer/transformer/encoder_layer.hpp>

#include "fixture.hpp"
#include "io/test_files.hpp"

namespace eigenformer {
namespace {

using testing::all_close;
using testing::identity_layer_norm;
using testing::random_linear;
using testing::throws_with;

template <typename T>
class TransformerLayerTest : public ::testing::Test {
 protected:
  const StateDict<T>& cases = testing::fixture<T>("attention/cases.safetensors");

  Matrix<T> encode(const std::string& name, const TransformerLayerConfig& config) const {
    const auto layer = TransformerEncoderLayer<T>::load(cases, name + ".", config);
    const BoolVector padded = cases.at(name + ".key_padding_mask").vector().array() != T(0);
    AttentionMask<T> mask;
    mask.key_padding.emplace(padded);
    return layer.forward(cases.at(name + ".x").matrix(), SequenceBatch::uniform(2, 7), mask);
  }
};
using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(TransformerLayerTest, Scalars);

TYPED_TEST(TransformerLayerTest, PostNormReluEncoderMatchesPyTorch) {
  TransformerLayerConfig config{16, 4, 40, Activation::ReLU, false, 1e-5};
  EXPECT_TRUE(all_close(this->encode("enc_post_relu", config),
                        this->cases.at("enc_post_relu.out").matrix(), 1e-5));
}

TYPED_TEST(TransformerLayerTest, PreNormGeluEncoderMatchesPyTorch) {
  TransformerLayerConfig config{16, 4, 40, Activation::GELU, true, 1e-5};
  EXPECT_TRUE(all_close(this->encode("enc_pre_gelu", config),
                        this->cases.at("enc_pre_gelu.out").matrix(), 1e-5));
}

TYPED_TEST(TransformerLayerTest, PostNormDecoderWithCausalSelfAttentionAndPaddedMemory) {
  using T = TypeParam;
  const auto& c = this->cases;
  TransformerLayerConfig config{16, 2, 24, Activation::ReLU, false, 1e-5};
  const auto layer = TransformerDecoderLayer<T>::load(c, "dec_post_relu.", config);
  const BoolVector padded = c.at("dec_post_relu.memory_key_padding_mask").vector().array() != T(0);
  AttentionMask<T> memory_mask;
  memory_mask.key_padding.emplace(padded);
  const Matrix<T> out =
      layer.forward(c.at("dec_post_relu.tgt").matrix(), c.at("dec_post_relu.memory").matrix(),
                    SequenceBatch::uniform(2, 5), SequenceBatch::uniform(2, 8),
                    AttentionMask<T>::causal_mask(), memory_mask);
  EXPECT_TRUE(all_close(out, c.at("dec_post_relu.out").matrix(), 1e-5));
}

// Parts of given widths with random weights, for the constructor checks.
template <typename T>
MultiHeadAttention<T> attention(Index d, Index query_in) {
  return MultiHeadAttention<T>(random_linear<T>(query_in, d), random_linear<T>(d, d),
                               random_linear<T>(d, d), random_linear<T>(d, d), 2);
}
template <typename T>
FeedForward<T> feed_forward(Index in, Index out) {
  return FeedForward<T>(random_linear<T>(in, 12), random_linear<T>(12, out), Activation::ReLU);
}

TYPED_TEST(TransformerLayerTest, EncoderLayerRejectsPartsOfOtherWidths) {
  using T = TypeParam;
  auto make = [](Index query_in, Index ff_out, Index norm1, Index norm2) {
    return TransformerEncoderLayer<T>(attention<T>(8, query_in), feed_forward<T>(8, ff_out),
                                      identity_layer_norm<T>(norm1), identity_layer_norm<T>(norm2),
                                      false);
  };
  EXPECT_NO_THROW(make(8, 8, 8, 8));
  EXPECT_TRUE(throws_with<ShapeError>([&] { make(6, 8, 8, 8); }, {"self-attention query input"}));
  EXPECT_TRUE(throws_with<ShapeError>([&] { make(8, 6, 8, 8); }, {"feed-forward output"}));
  EXPECT_TRUE(throws_with<ShapeError>([&] { make(8, 8, 6, 8); }, {"attention norm"}));
  EXPECT_TRUE(throws_with<ShapeError>([&] { make(8, 8, 8, 6); }, {"feed-forward norm"}));
}

TYPED_TEST(TransformerLayerTest, DecoderLayerRejectsPartsOfOtherWidths) {
  using T = TypeParam;
  auto make = [](Index cross_query_in, Index ff_in, Index norm2) {
    return TransformerDecoderLayer<T>(
        attention<T>(8, 8), attention<T>(8, cross_query_in), feed_forward<T>(ff_in, 8),
        identity_layer_norm<T>(8), identity_layer_norm<T>(norm2), identity_layer_norm<T>(8), true);
  };
  EXPECT_NO_THROW(make(8, 8, 8));
  EXPECT_TRUE(throws_with<ShapeError>([&] { make(6, 8, 8); }, {"cross-attention query input"}));
  EXPECT_TRUE(throws_with<ShapeError>([&] { make(8, 6, 8); }, {"feed-forward input"}));
  EXPECT_TRUE(throws_with<ShapeError>([&] { make(8, 8, 6); }, {"cross-attention norm"}));
}

TYPED_TEST(TransformerLayerTest, MissingTensorIsNamed) {
  using T = TypeParam;
  TransformerLayerConfig config{16, 4, 40, Activation::ReLU, false, 1e-5};
  try {
    TransformerEncoderLayer<T>::load(this->cases, "layers.0.", config);
    FAIL() << "expected an error";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("missing tensor 'layers.0."), std::string::npos)
        << e.what();
  }
  config.dim_feedforward = 41;
  EXPECT_THROW(TransformerEncoderLayer<T>::load(this->cases, "enc_post_relu.", config), ShapeError);
}

}  // namespace
}  // namespace eigenformer
