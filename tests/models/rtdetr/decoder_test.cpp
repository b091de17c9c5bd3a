#include <eigenformer/io/json_config.hpp>
#include <eigenformer/models/rtdetr/decoder.hpp>

#include "fixture.hpp"
#include "io/test_files.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace eigenformer {
namespace {

using testing::all_close;
using testing::data_path;
using testing::fixture;
using testing::identity_layer_norm;
using testing::random_linear;
using testing::throws_with;

// The decoder fields of tests/data/rtdetr/config.json.
RTDetrDecoderConfig fixture_config() {
  const JsonConfig json = JsonConfig::load(data_path("rtdetr/config.json"));
  RTDetrDecoderConfig config;
  config.d_model = json.get_positive("d_model");
  config.num_heads = json.get_positive("decoder_attention_heads");
  config.ffn_dim = json.get_positive("decoder_ffn_dim");
  config.num_layers = json.get_positive("decoder_layers");
  config.num_points = json.get_positive("decoder_n_points");
  config.num_levels = json.get_positive("num_feature_levels");
  config.num_labels = static_cast<Index>(json.get_id_map("id2label").size());
  config.activation = parse_activation(json.get<std::string>("decoder_activation_function"));
  config.layer_norm_eps = json.get<double>("layer_norm_eps");
  return config;
}

// Decoder inputs as RTDetrModel passes them (the README: the input query embeddings equal
// out.decoder_hidden_states.0, the reference points out.init_reference_points) and every
// decoder output, for 2 images of 30 queries.
template <typename T>
class RTDetrDecoderTest : public ::testing::Test {
 protected:
  static constexpr Index kImages = 2;

  const StateDict<T>& io() const { return fixture<T>("rtdetr/io.safetensors"); }
  RTDetrDecoder<T> decoder() const {
    return RTDetrDecoder<T>::load(fixture<T>("rtdetr/model.safetensors"), "model.decoder.",
                                  config_);
  }
  Index queries() const { return io().at("out.decoder_hidden_states.0").dim(1); }
  FeatureLevels levels() const {
    return FeatureLevels::from_tensor(io().at("hook.model.decoder.kw.spatial_shapes"));
  }
  ConstMatrixMap<T> target() const { return io().at("out.decoder_hidden_states.0").matrix(); }
  ConstMatrixMap<T> reference_logits() const {
    return io().at("out.init_reference_points").matrix();
  }
  ConstMatrixMap<T> memory() const {
    return io().at("hook.model.decoder.kw.encoder_hidden_states").matrix();
  }

  // Rows of `image` (or all images when `image` < 0) of layer `layer` of an
  // (images, layers, queries, cols) output.
  Matrix<T> per_layer(const std::string& name, Index layer, Index image) const {
    const Tensor<T>& tensor = io().at(name);
    const Index layers = tensor.dim(1), n = tensor.dim(2), cols = tensor.dim(3);
    const auto all = tensor.matrix(kImages * layers * n, cols);
    Matrix<T> out(image < 0 ? kImages * n : n, cols);
    for (Index b = 0, row = 0; b < kImages; ++b) {
      if (image >= 0 && b != image) continue;
      out.middleRows(row, n) = all.middleRows((b * layers + layer) * n, n);
      row += n;
    }
    return out;
  }
  Matrix<T> per_image(const std::string& name, Index image) const {
    const ConstMatrixMap<T> all = io().at(name).matrix();
    const Index n = all.rows() / kImages;
    return image < 0 ? Matrix<T>(all) : Matrix<T>(all.middleRows(image * n, n));
  }

  void expect_outputs_match(const RTDetrDecoderOutput<T>& out, Index image) const {
    const double tol = 1e-4;
    ASSERT_EQ(static_cast<Index>(out.intermediate_hidden_states.size()), config_.num_layers);
    for (Index layer = 0; layer < config_.num_layers; ++layer) {
      SCOPED_TRACE("layer " + std::to_string(layer));
      const auto i = static_cast<std::size_t>(layer);
      EXPECT_TRUE(all_close(out.intermediate_hidden_states[i],
                            per_layer("out.intermediate_hidden_states", layer, image), tol));
      EXPECT_TRUE(all_close(out.intermediate_logits[i],
                            per_layer("out.intermediate_logits", layer, image), tol));
      EXPECT_TRUE(all_close(out.intermediate_reference_points[i],
                            per_layer("out.intermediate_reference_points", layer, image), tol));
    }
    EXPECT_TRUE(all_close(out.last_hidden_state(), per_image("out.last_hidden_state", image), tol));
    EXPECT_TRUE(all_close(out.logits(), per_image("out.logits", image), tol));
    EXPECT_TRUE(all_close(out.pred_boxes(), per_image("out.pred_boxes", image), tol));
  }

  RTDetrDecoderConfig config_ = fixture_config();
};

using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(RTDetrDecoderTest, Scalars);

TYPED_TEST(RTDetrDecoderTest, BatchMatchesHuggingFace) {
  const auto out = this->decoder().forward(this->target(), this->reference_logits(), this->memory(),
                                           SequenceBatch::uniform(this->kImages, this->queries()),
                                           this->levels());
  this->expect_outputs_match(out, -1);
}

TYPED_TEST(RTDetrDecoderTest, EachImageAloneMatchesHuggingFace) {
  const auto decoder = this->decoder();
  const Index n = this->queries(), tokens = this->levels().total_tokens();
  for (Index image = 0; image < this->kImages; ++image) {
    SCOPED_TRACE("image " + std::to_string(image));
    const auto out = decoder.forward(
        this->target().middleRows(image * n, n), this->reference_logits().middleRows(image * n, n),
        this->memory().middleRows(image * tokens, tokens), this->levels());
    this->expect_outputs_match(out, image);
  }
}

TYPED_TEST(RTDetrDecoderTest, QueryPositionHeadMatchesFirstCall) {
  using T = TypeParam;
  const Matrix<T> boxes = this->reference_logits().unaryExpr([](T x) { return sigmoid(x); });
  EXPECT_TRUE(all_close(this->decoder().query_position_head().forward(boxes),
                        this->io().at("hook.model.decoder.query_pos_head.out").matrix(), 1e-5));
}

TEST(InverseSigmoidTest, ClampsLikeHuggingFace) {
  EXPECT_NEAR(detail::inverse_sigmoid(0.5), 0.0, 1e-15);
  EXPECT_NEAR(detail::inverse_sigmoid(sigmoid(2.0)), 2.0, 1e-12);
  // Clamped to [0, 1], then both terms to at least 1e-5: log(1e-5 / 1) and log(1 / 1e-5).
  EXPECT_NEAR(detail::inverse_sigmoid(-3.0), std::log(1e-5), 1e-12);
  EXPECT_NEAR(detail::inverse_sigmoid(0.0), std::log(1e-5), 1e-12);
  EXPECT_NEAR(detail::inverse_sigmoid(1.0), -std::log(1e-5), 1e-12);
  EXPECT_NEAR(detail::inverse_sigmoid(7.0), -std::log(1e-5), 1e-12);
}

TYPED_TEST(RTDetrDecoderTest, RejectsInputsThatDisagree) {
  const auto decoder = this->decoder();
  const Index n = this->queries();
  const FeatureLevels levels = this->levels();
  using T = TypeParam;
  const Matrix<T> target = this->target().topRows(n);
  const Matrix<T> reference = this->reference_logits().topRows(n);
  const Matrix<T> memory = this->memory().topRows(levels.total_tokens());
  EXPECT_TRUE(throws_with<ShapeError>(
      [&] {
        decoder.forward(target, reference, memory, FeatureLevels({{12, 16}, {6, 8}}));
      },
      {"2 feature levels"}));
  EXPECT_TRUE(throws_with<ShapeError>(
      [&] {
        decoder.forward(target, reference, memory, FeatureLevels({{12, 16}, {6, 8}, {3, 3}}));
      },
      {"spatial shapes add up to 249 tokens"}));
  EXPECT_TRUE(throws_with<ShapeError>(
      [&] { decoder.forward(target, reference.leftCols(2), memory, levels); },
      {"reference points"}));
  EXPECT_TRUE(throws_with<ShapeError>(
      [&] { decoder.forward(target.leftCols(32), reference, memory, levels); },
      {"target has 32 features"}));
  EXPECT_TRUE(throws_with<ShapeError>(
      [&] {
        decoder.forward(this->target(), this->reference_logits(), this->memory(),
                        SequenceBatch::uniform(this->kImages, n - 1), levels);
      },
      {"rows"}));
}

TYPED_TEST(RTDetrDecoderTest, LayerRejectsPartsOfOtherWidths) {
  using T = TypeParam;
  const RTDetrDecoderConfig& c = this->config_;
  const Index d = c.d_model;
  const auto cross = MultiScaleDeformableAttention<T>::load(
      fixture<T>("rtdetr/model.safetensors"), "model.decoder.layers.0.encoder_attn.", d,
      c.num_heads, c.num_levels, c.num_points);
  auto make = [&](Index self_out, Index ff_out, Index final_norm) {
    const MultiHeadAttention<T> self(random_linear<T>(d, d), random_linear<T>(d, d),
                                     random_linear<T>(d, d), random_linear<T>(d, self_out),
                                     c.num_heads);
    const FeedForward<T> ff(random_linear<T>(d, c.ffn_dim), random_linear<T>(c.ffn_dim, ff_out),
                            c.activation);
    return RTDetrDecoderLayer<T>(self, identity_layer_norm<T>(d), cross, identity_layer_norm<T>(d),
                                 ff, identity_layer_norm<T>(final_norm));
  };
  EXPECT_NO_THROW(make(d, d, d));
  EXPECT_TRUE(throws_with<ShapeError>([&] { make(d + 1, d, d); }, {"self-attention output"}));
  EXPECT_TRUE(throws_with<ShapeError>([&] { make(d, d - 1, d); }, {"feed-forward output"}));
  EXPECT_TRUE(throws_with<ShapeError>([&] { make(d, d, d + 2); }, {"final_layer_norm"}));
}

TYPED_TEST(RTDetrDecoderTest, DecoderRejectsHeadsOfOtherWidths) {
  using T = TypeParam;
  const RTDetrDecoderConfig& c = this->config_;
  const Index d = c.d_model;
  const RTDetrDecoder<T> good = this->decoder();
  std::vector<RTDetrDecoderLayer<T>> layers;
  std::vector<Linear<T>> classes;
  std::vector<Mlp<T>> boxes;
  for (Index i = 0; i < c.num_layers; ++i) {
    layers.push_back(good.layer(i));
    classes.push_back(random_linear<T>(d, c.num_labels));
    boxes.push_back(Mlp<T>({random_linear<T>(d, d), random_linear<T>(d, 4)}));
  }
  const Mlp<T> position = good.query_position_head();
  auto make = [&](const Mlp<T>& query_pos, const std::vector<Linear<T>>& class_heads,
                  const std::vector<Mlp<T>>& box_heads) {
    return RTDetrDecoder<T>(c, query_pos, layers, class_heads, box_heads);
  };
  EXPECT_NO_THROW(make(position, classes, boxes));
  EXPECT_TRUE(throws_with<ShapeError>(
      [&] {
        make(Mlp<T>({random_linear<T>(2, 2 * d), random_linear<T>(2 * d, d)}), classes, boxes);
      },
      {"query_pos_head input"}));
  EXPECT_TRUE(throws_with<ShapeError>(
      [&] {
        make(Mlp<T>({random_linear<T>(4, 2 * d), random_linear<T>(2 * d, d / 2)}), classes, boxes);
      },
      {"query_pos_head output"}));
  auto wrong_classes = classes;
  wrong_classes.back() = random_linear<T>(d, c.num_labels + 1);
  EXPECT_TRUE(
      throws_with<ShapeError>([&] { make(position, wrong_classes, boxes); },
                              {"class_embed." + std::to_string(c.num_layers - 1) + " output"}));
  wrong_classes.back() = random_linear<T>(d + 4, c.num_labels);
  EXPECT_TRUE(throws_with<ShapeError>([&] { make(position, wrong_classes, boxes); }, {"input"}));
  auto wrong_boxes = boxes;
  wrong_boxes.front() = Mlp<T>({random_linear<T>(d, d), random_linear<T>(d, 3)});
  EXPECT_TRUE(throws_with<ShapeError>([&] { make(position, classes, wrong_boxes); },
                                      {"bbox_embed.0 output"}));
  wrong_boxes.front() = Mlp<T>({random_linear<T>(d - 1, d), random_linear<T>(d, 4)});
  EXPECT_TRUE(throws_with<ShapeError>([&] { make(position, classes, wrong_boxes); },
                                      {"bbox_embed.0 input"}));
}

TYPED_TEST(RTDetrDecoderTest, MissingTensorIsNamed) {
  using T = TypeParam;
  RTDetrDecoderConfig four_layers = this->config_;
  four_layers.num_layers = 4;
  try {
    RTDetrDecoder<T>::load(fixture<T>("rtdetr/model.safetensors"), "model.decoder.", four_layers);
    FAIL() << "expected a FormatError";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("missing tensor 'model.decoder.layers.3."),
              std::string::npos)
        << e.what();
  }
  // A wrong prefix names the tensor it looked for.
  EXPECT_THROW(
      RTDetrDecoder<T>::load(fixture<T>("rtdetr/model.safetensors"), "decoder.", this->config_),
      FormatError);
  RTDetrDecoderConfig bad = this->config_;
  bad.num_heads = 5;
  EXPECT_THROW(
      RTDetrDecoder<T>::load(fixture<T>("rtdetr/model.safetensors"), "model.decoder.", bad),
      InvalidArgument);
}

}  // namespace
}  // namespace eigenformer
