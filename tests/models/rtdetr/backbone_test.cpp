// RTDetrResNetBackbone: the basic-block fixture against HF's feature maps, the bottleneck
// variant against a step-by-step evaluation of HF's module structure (unfolded BatchNorm),
// and config parsing.
#include <eigenformer/models/rtdetr/backbone.hpp>

#include "fixture.hpp"
#include "io/test_files.hpp"

#include <nlohmann/json.hpp>

#include <fstream>
#include <random>

namespace eigenformer {
namespace {

using testing::all_close;
using testing::data_path;
using testing::throws_with;

nlohmann::json fixture_backbone_json() {
  std::ifstream in(data_path("rtdetr/config.json"));
  return nlohmann::json::parse(in).at("backbone_config");
}

RTDetrResNetConfig parse(const nlohmann::json& json) {
  return RTDetrResNetConfig::from_json(JsonConfig(json, "test-config.json"));
}

TEST(RTDetrResNetConfigTest, ReadsTheFixtureBackboneConfig) {
  const auto c = parse(fixture_backbone_json());
  EXPECT_EQ(c.num_channels, 3);
  EXPECT_EQ(c.embedding_size, 32);
  EXPECT_EQ(c.hidden_sizes, (std::vector<Index>{32, 64, 128, 256}));
  EXPECT_EQ(c.depths, (std::vector<Index>{1, 1, 1, 1}));
  EXPECT_EQ(c.layer_type, RTDetrResNetConfig::LayerType::Basic);
  EXPECT_EQ(c.hidden_act, Activation::ReLU);
  EXPECT_FALSE(c.downsample_in_first_stage);
  EXPECT_FALSE(c.downsample_in_bottleneck);
  EXPECT_EQ(c.out_indices, (std::vector<Index>{2, 3, 4}));
  EXPECT_EQ(c.out_channels(), (std::vector<Index>{64, 128, 256}));
}

TEST(RTDetrResNetConfigTest, DefaultsAreHFResNet50vd) {
  // PekingU/rtdetr_r50vd's backbone_config lists only these.
  const auto c =
      parse({{"model_type", "rt_detr_resnet"}, {"out_features", {"stage2", "stage3", "stage4"}}});
  EXPECT_EQ(c.embedding_size, 64);
  EXPECT_EQ(c.hidden_sizes, (std::vector<Index>{256, 512, 1024, 2048}));
  EXPECT_EQ(c.depths, (std::vector<Index>{3, 4, 6, 3}));
  EXPECT_EQ(c.layer_type, RTDetrResNetConfig::LayerType::Bottleneck);
  EXPECT_EQ(c.out_indices, (std::vector<Index>{2, 3, 4}));
  EXPECT_EQ(parse({{"out_indices", {-1}}}).out_indices, (std::vector<Index>{4}));
}

TEST(RTDetrResNetConfigTest, RejectsInconsistentFields) {
  auto rejects = [](auto edit, std::vector<std::string> parts) {
    nlohmann::json json = fixture_backbone_json();
    edit(json);
    parts.push_back("test-config.json");
    return throws_with<FormatError>([&] { parse(json); }, parts);
  };
  EXPECT_TRUE(rejects([](auto& j) { j["layer_type"] = "preact"; }, {"layer_type", "preact"}));
  EXPECT_TRUE(rejects([](auto& j) { j["depths"] = {1, 1}; }, {"depths", "hidden_sizes"}));
  EXPECT_TRUE(rejects([](auto& j) { j["hidden_act"] = "mish"; }, {"hidden_act", "mish"}));
  EXPECT_TRUE(rejects([](auto& j) { j["out_indices"] = {2, 5}; }, {"out_indices[1]", "5"}));
  EXPECT_TRUE(rejects(
      [](auto& j) {
        j["out_features"] = {"stage2", "stage9"};
      },
      {"out_features[1]", "stage9"}));
  EXPECT_TRUE(rejects([](auto& j) { j["out_indices"] = {1, 3, 4}; }, {"out_features"}));
  EXPECT_TRUE(rejects(
      [](auto& j) {
        j.erase("out_features");
        j["out_indices"] = {3, 2};
      },
      {"increasing"}));
  EXPECT_TRUE(rejects([](auto& j) { j["hidden_sizes"] = {32, 0, 128, 256}; }, {"hidden_sizes[1]"}));
  EXPECT_TRUE(rejects([](auto& j) { j["model_type"] = "resnet"; }, {"model_type"}));
}

template <typename T>
class RTDetrBackboneTest : public ::testing::Test {};
using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(RTDetrBackboneTest, Scalars);

TYPED_TEST(RTDetrBackboneTest, MatchesHFFeatureMaps) {
  using T = TypeParam;
  const auto& weights = testing::fixture<T>("rtdetr/model.safetensors");
  const auto& io = testing::fixture<T>("rtdetr/io.safetensors");
  const auto backbone = RTDetrResNetBackbone<T>::load(weights, parse(fixture_backbone_json()));
  for (Index n = 0; n < 2; ++n) {
    const auto features = backbone.forward(FeatureMap<T>::from_nchw(io.at("pixel_values"), n));
    ASSERT_EQ(features.size(), 3u);
    for (Index level = 0; level < 3; ++level) {
      const auto expected = FeatureMap<T>::from_nchw(
          io.at(detail::concat("hook.model.backbone.out.", level, ".0")), n);
      const auto& actual = features[static_cast<std::size_t>(level)];
      ASSERT_EQ(actual.height, expected.height);
      ASSERT_EQ(actual.width, expected.width);
      EXPECT_TRUE(all_close(actual.data, expected.data, 1e-4))
          << "image " << n << " level " << level;
    }
  }
}

TYPED_TEST(RTDetrBackboneTest, RejectsWrongChannelCountAndMissingWeights) {
  using T = TypeParam;
  const auto& weights = testing::fixture<T>("rtdetr/model.safetensors");
  const auto config = parse(fixture_backbone_json());
  const auto backbone = RTDetrResNetBackbone<T>::load(weights, config);
  EXPECT_THROW(backbone.forward(FeatureMap<T>(4, 32, 32)), ShapeError);
  // Public fields that disagree with the data: refused before any convolution reads them.
  FeatureMap<T> inconsistent(3, 64, 64);
  inconsistent.height = inconsistent.width = 640;
  EXPECT_TRUE(throws_with<ShapeError>([&] { backbone.forward(inconsistent); },
                                      {"RT-DETR backbone pixels", "640 x 640"}));
  EXPECT_TRUE(throws_with<FormatError>(
      [&] { RTDetrResNetBackbone<T>::load(weights, config, "model.backbone."); },
      {"model.backbone.embedder.embedder.0.convolution.weight"}));
}

// A bottleneck backbone with random weights, checked against HF's module structure
// evaluated one operation at a time with BatchNorm applied explicitly.
class BottleneckReference {
 public:
  BottleneckReference(const RTDetrResNetConfig& config, unsigned seed)
      : config_(config), rng_(seed), weights_("random") {
    const Index half = config.embedding_size / 2;
    conv_norm("embedder.embedder.0.", config.num_channels, half, 3);
    conv_norm("embedder.embedder.1.", half, half, 3);
    conv_norm("embedder.embedder.2.", half, config.embedding_size, 3);
    Index in = config.embedding_size;
    for (Index s = 0; s < config.num_stages(); ++s) {
      const Index out = config.hidden_sizes[static_cast<std::size_t>(s)];
      for (Index l = 0; l < config.depths[static_cast<std::size_t>(s)]; ++l) {
        const Index block_in = l == 0 ? in : out, stride = l == 0 && s > 0 ? 2 : 1;
        const std::string at = block(s, l);
        conv_norm(at + "layer.0.", block_in, out / 4, 1);
        conv_norm(at + "layer.1.", out / 4, out / 4, 3);
        conv_norm(at + "layer.2.", out / 4, out, 1);
        if (block_in != out || stride != 1)
          conv_norm(at + (stride == 2 ? "shortcut.1." : "shortcut."), block_in, out, 1);
      }
      in = out;
    }
  }

  const StateDict<double>& weights() const { return weights_; }

  std::vector<FeatureMap<double>> forward(const FeatureMap<double>& pixels) const {
    std::vector<FeatureMap<double>> hidden_states;
    FeatureMap<double> x = pixels;
    for (Index i = 0; i < 3; ++i)
      x = conv_bn(detail::concat("embedder.embedder.", i, "."), x, i == 0 ? 2 : 1, true);
    x = max_pool2d(x, {3, 2, 1});
    hidden_states.push_back(x);
    Index in = config_.embedding_size;
    for (Index s = 0; s < config_.num_stages(); ++s) {
      const Index out = config_.hidden_sizes[static_cast<std::size_t>(s)];
      for (Index l = 0; l < config_.depths[static_cast<std::size_t>(s)]; ++l) {
        const Index block_in = l == 0 ? in : out, stride = l == 0 && s > 0 ? 2 : 1;
        const std::string at = block(s, l);
        const bool early = config_.downsample_in_bottleneck;
        FeatureMap<double> h = conv_bn(at + "layer.0.", x, early ? stride : 1, true);
        h = conv_bn(at + "layer.1.", h, early ? 1 : stride, true);
        h = conv_bn(at + "layer.2.", h, 1, false);
        FeatureMap<double> shortcut = x;
        if (stride == 2) shortcut = avg_pool2d(shortcut, {2, 2, 0, true});
        if (block_in != out || stride != 1)
          shortcut = conv_bn(at + (stride == 2 ? "shortcut.1." : "shortcut."), shortcut, 1, false);
        h.data = (h.data + shortcut.data).cwiseMax(0.0);
        x = h;
      }
      hidden_states.push_back(x);
      in = out;
    }
    std::vector<FeatureMap<double>> out;
    for (Index index : config_.out_indices)
      out.push_back(hidden_states[static_cast<std::size_t>(index)]);
    return out;
  }

 private:
  static std::string block(Index stage, Index layer) {
    return detail::concat("encoder.stages.", stage, ".layers.", layer, ".");
  }

  Tensor<double> random(Shape shape, double low, double high) {
    std::uniform_real_distribution<double> uniform(low, high);
    std::vector<double> values(static_cast<std::size_t>(shape_numel(shape)));
    for (double& v : values) v = uniform(rng_);
    return Tensor<double>(std::move(shape), std::move(values));
  }

  void conv_norm(const std::string& at, Index in, Index out, Index kernel) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(in * kernel * kernel));
    weights_.insert(at + "convolution.weight", random({out, in, kernel, kernel}, -bound, bound));
    weights_.insert(at + "normalization.weight", random({out}, 0.5, 1.5));
    weights_.insert(at + "normalization.bias", random({out}, -0.5, 0.5));
    weights_.insert(at + "normalization.running_mean", random({out}, -0.5, 0.5));
    weights_.insert(at + "normalization.running_var", random({out}, 0.5, 2.0));
  }

  // Conv2d (padding kernel / 2), then (x - mean) / sqrt(var + 1e-5) * weight + bias, then ReLU.
  FeatureMap<double> conv_bn(const std::string& at, const FeatureMap<double>& x, Index stride,
                             bool relu) const {
    const Tensor<double>& w = weights_.at(at + "convolution.weight");
    FeatureMap<double> y = Conv2d<double>(w, Tensor<double>(), stride, w.dim(2) / 2).forward(x);
    for (Index c = 0; c < y.channels(); ++c) {
      auto row = y.data.row(c).array();
      row = (row - weights_.at(at + "normalization.running_mean")[c]) /
                std::sqrt(weights_.at(at + "normalization.running_var")[c] + 1e-5) *
                weights_.at(at + "normalization.weight")[c] +
            weights_.at(at + "normalization.bias")[c];
      if (relu) row = row.cwiseMax(0.0);
    }
    return y;
  }

  RTDetrResNetConfig config_;
  std::mt19937 rng_;
  StateDict<double> weights_;
};

TEST(RTDetrBottleneckBackboneTest, MatchesHFStructureWithStrideInEitherConvolution) {
  for (bool downsample_in_bottleneck : {false, true}) {
    RTDetrResNetConfig config;
    config.embedding_size = 8;
    config.hidden_sizes = {16, 32, 64};
    config.depths = {2, 1, 2};
    config.out_indices = {0, 1, 3};
    config.downsample_in_bottleneck = downsample_in_bottleneck;
    const BottleneckReference reference(config, 17);
    const auto backbone = RTDetrResNetBackbone<double>::load(reference.weights(), config, "");
    std::mt19937 rng(23);
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    Matrix<double> pixels(3, 37 * 45);  // odd sizes: the ceil-mode shortcut pool sees edges
    for (Index i = 0; i < pixels.size(); ++i) pixels.data()[i] = uniform(rng);
    const FeatureMap<double> image(pixels, 37, 45);
    const auto actual = backbone.forward(image);
    const auto expected = reference.forward(image);
    ASSERT_EQ(actual.size(), expected.size());
    for (std::size_t i = 0; i < actual.size(); ++i) {
      ASSERT_EQ(actual[i].height, expected[i].height);
      ASSERT_EQ(actual[i].width, expected[i].width);
      EXPECT_TRUE(all_close(actual[i].data, expected[i].data, 1e-10))
          << "output " << i << ", downsample_in_bottleneck " << downsample_in_bottleneck;
    }
  }
}

}  // namespace
}  // namespace eigenformer
