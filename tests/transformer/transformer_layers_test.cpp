#include <eigenformer/transformer/decoder_layer.hpp>
#include <eigenformer/transformer/encoder_layer.hpp>

#include "fixture.hpp"

namespace eigenformer {
namespace {

using testing::all_close;

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
Linear<T> linear(Index in, Index out) {
  return Linear<T>(testing::random_matrix<T>(out, in, 1), Vector<T>::Zero(out));
}
template <typename T>
MultiHeadAttention<T> attention(Index d, Index query_in) {
  return MultiHeadAttention<T>(linear<T>(query_in, d), linear<T>(d, d), linear<T>(d, d),
                               linear<T>(d, d), 2);
}
template <typename T>
FeedForward<T> feed_forward(Index in, Index out) {
  return FeedForward<T>(linear<T>(in, 12), linear<T>(12, out), Activation::ReLU);
}
template <typename T>
LayerNorm<T> norm(Index d) {
  return LayerNorm<T>(Tensor<T>({d}, std::vector<T>(static_cast<std::size_t>(d), T(1))),
                      Tensor<T>({d}, std::vector<T>(static_cast<std::size_t>(d), T(0))), T(1e-5));
}

// Runs `make` and expects a ShapeError whose message contains `part`.
template <typename Make>
void expect_width_error(Make&& make, const std::string& part) {
  try {
    make();
    ADD_FAILURE() << "expected a ShapeError naming '" << part << "'";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

TYPED_TEST(TransformerLayerTest, EncoderLayerRejectsPartsOfOtherWidths) {
  using T = TypeParam;
  auto make = [](Index query_in, Index ff_out, Index norm1, Index norm2) {
    return TransformerEncoderLayer<T>(attention<T>(8, query_in), feed_forward<T>(8, ff_out),
                                      norm<T>(norm1), norm<T>(norm2), false);
  };
  EXPECT_NO_THROW(make(8, 8, 8, 8));
  expect_width_error([&] { make(6, 8, 8, 8); }, "self-attention query input");
  expect_width_error([&] { make(8, 6, 8, 8); }, "feed-forward output");
  expect_width_error([&] { make(8, 8, 6, 8); }, "attention norm");
  expect_width_error([&] { make(8, 8, 8, 6); }, "feed-forward norm");
}

TYPED_TEST(TransformerLayerTest, DecoderLayerRejectsPartsOfOtherWidths) {
  using T = TypeParam;
  auto make = [](Index cross_query_in, Index ff_in, Index norm2) {
    return TransformerDecoderLayer<T>(attention<T>(8, 8), attention<T>(8, cross_query_in),
                                      feed_forward<T>(ff_in, 8), norm<T>(8), norm<T>(norm2),
                                      norm<T>(8), true);
  };
  EXPECT_NO_THROW(make(8, 8, 8));
  expect_width_error([&] { make(6, 8, 8); }, "cross-attention query input");
  expect_width_error([&] { make(8, 6, 8); }, "feed-forward input");
  expect_width_error([&] { make(8, 8, 6); }, "cross-attention norm");
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
