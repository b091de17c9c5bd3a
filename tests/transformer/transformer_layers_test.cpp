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

// The same parameters under another checkpoint family's names (separate query / key / value
// projections, as BERT stores them) give the same layer.
TYPED_TEST(TransformerLayerTest, NameSchemaBindsTheSameParameters) {
  using T = TypeParam;
  const std::string from = "enc_post_relu.", to = "encoder.layer.3.";
  const auto names =
      EncoderLayerNames::separate("q.", "k.", "v.", "o.", "ln_1.", "up.", "down.", "ln_2.");
  StateDict<T> renamed;
  const Tensor<T>& in_weight = this->cases.at(from + "self_attn.in_proj_weight");
  const Tensor<T>& in_bias = this->cases.at(from + "self_attn.in_proj_bias");
  const char* parts[] = {"q.", "k.", "v."};
  for (Index part = 0; part < 3; ++part) {
    renamed.insert(to + parts[part] + "weight", in_weight.slice_rows(part * 16, 16));
    renamed.insert(to + parts[part] + "bias", in_bias.slice_rows(part * 16, 16));
  }
  const std::pair<const char*, const char*> modules[] = {{"self_attn.out_proj.", "o."},
                                                         {"norm1.", "ln_1."},
                                                         {"linear1.", "up."},
                                                         {"linear2.", "down."},
                                                         {"norm2.", "ln_2."}};
  for (const auto& [torch_name, schema_name] : modules)
    for (const char* parameter : {"weight", "bias"})
      renamed.insert(to + schema_name + parameter, this->cases.at(from + torch_name + parameter));
  TransformerLayerConfig config{16, 4, 40, Activation::ReLU, false, 1e-5};
  const auto layer = TransformerEncoderLayer<T>::load(renamed, to, config, names);
  const BoolVector padded =
      this->cases.at("enc_post_relu.key_padding_mask").vector().array() != T(0);
  AttentionMask<T> mask;
  mask.key_padding.emplace(padded);
  EXPECT_TRUE(all_close(
      layer.forward(this->cases.at("enc_post_relu.x").matrix(), SequenceBatch::uniform(2, 7), mask),
      this->cases.at("enc_post_relu.out").matrix(), 1e-5));
}

// A kept workspace is resized per call: reusing it across inputs of other sizes changes nothing.
TYPED_TEST(TransformerLayerTest, KeptWorkspaceGivesTheSameResultsAcrossSizes) {
  using T = TypeParam;
  for (const bool norm_first : {false, true}) {
    const std::string name = norm_first ? "enc_pre_gelu" : "enc_post_relu";
    TransformerLayerConfig config{
        16, 4, 40, norm_first ? Activation::GELU : Activation::ReLU, norm_first, 1e-5};
    const auto layer = TransformerEncoderLayer<T>::load(this->cases, name + ".", config);
    const Matrix<T> x = this->cases.at(name + ".x").matrix();
    LayerWorkspace<T> workspace;
    Matrix<T> first_sequence = x.topRows(7);
    layer.apply(first_sequence, SequenceBatch::single(7), {}, std::nullopt, &workspace);
    EXPECT_TRUE(all_close(first_sequence, layer.forward(x.topRows(7), SequenceBatch::single(7)), 0))
        << name;
    const BoolVector padded = this->cases.at(name + ".key_padding_mask").vector().array() != T(0);
    AttentionMask<T> mask;
    mask.key_padding.emplace(padded);
    Matrix<T> both = x;
    layer.apply(both, SequenceBatch::uniform(2, 7), mask, std::nullopt, &workspace);
    EXPECT_TRUE(all_close(both, this->cases.at(name + ".out").matrix(), 1e-5)) << name;
  }
}

TYPED_TEST(TransformerLayerTest, FeedForwardBlockNeedsTwoLayers) {
  using T = TypeParam;
  Mlp<T> three({random_linear<T>(16, 8), random_linear<T>(8, 8), random_linear<T>(8, 16)},
               Activation::ReLU);
  EXPECT_THROW(FeedForwardBlock<T>(three, identity_layer_norm<T>(16), false), InvalidArgument);
}

}  // namespace
}  // namespace eigenformer
