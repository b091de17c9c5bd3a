// RTDetrHybridEncoder against every stage HF's fixture hooked, and the CSPRepLayer with a
// conv3 (hidden_expansion != 1, as r18vd/r34vd use) against a step-by-step evaluation.
#include <eigenformer/models/rtdetr/backbone.hpp>
#include <eigenformer/models/rtdetr/hybrid_encoder.hpp>

#include "fixture.hpp"

#include <limits>

#include <map>
#include <random>

namespace eigenformer {
namespace {

using testing::all_close;
using testing::data_path;

// Image n of an NCHW hook tensor.
template <typename T>
FeatureMap<T> hook_map(const std::string& name, Index n) {
  return FeatureMap<T>::from_nchw(testing::fixture<T>("rtdetr/io.safetensors").at(name), n);
}

// Image n of a (N, height * width, C) token hook tensor, as a C x (height * width) map.
template <typename T>
FeatureMap<T> hook_tokens(const std::string& name, Index n, Index height, Index width) {
  const Tensor<T>& tokens = testing::fixture<T>("rtdetr/io.safetensors").at(name);
  return FeatureMap<T>(tokens.matrix().middleRows(n * height * width, height * width).transpose(),
                       height, width);
}

template <typename T>
class RTDetrHybridEncoderTest : public ::testing::Test {
 protected:
  const RTDetrConfig config = RTDetrConfig::load(data_path("rtdetr"));
  const StateDict<T>& weights = testing::fixture<T>("rtdetr/model.safetensors");
  const RTDetrHybridEncoder<T> encoder =
      RTDetrHybridEncoder<T>::load(weights, config, {64, 128, 256});

  std::vector<FeatureMap<T>> backbone_features(Index n) const {
    std::vector<FeatureMap<T>> maps;
    for (Index level = 0; level < 3; ++level)
      maps.push_back(hook_map<T>(detail::concat("hook.model.backbone.out.", level, ".0"), n));
    return maps;
  }

  // HF's output for one observed module of image n.
  static FeatureMap<T> expected(const std::string& module, Index n) {
    static const std::map<std::string, std::string> renamed = {
        {"encoder.fpn_blocks.1", "out.encoder_last_hidden_state.0"},
        {"encoder.pan_blocks.0", "out.encoder_last_hidden_state.1"},
        {"encoder.pan_blocks.1", "out.encoder_last_hidden_state.2"}};
    if (module == "encoder_input_proj.2")  // dropped from the hooks: it is AIFI's input
      return hook_tokens<T>("hook.model.encoder.aifi.0.layers.0.in.0", n, 3, 4);
    if (module == "encoder.aifi.0")
      return hook_tokens<T>("hook.model.encoder.aifi.0.layers.0.out", n, 3, 4);
    auto found = renamed.find(module);
    return hook_map<T>(found != renamed.end() ? found->second : "hook.model." + module + ".out", n);
  }
};
using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(RTDetrHybridEncoderTest, Scalars);

TYPED_TEST(RTDetrHybridEncoderTest, EveryStageMatchesHF) {
  using T = TypeParam;
  for (Index n = 0; n < 2; ++n) {
    TraceRecorder<T> trace;
    const auto output = this->encoder.forward(this->backbone_features(n), &trace);
    EXPECT_EQ(trace.names().size(), 15u);  // 3 + 1 + 2 * 4 + 3 modules
    for (const std::string& name : trace.names()) {
      // Named as in HF's RTDetrForObjectDetection, under the load prefix "model.".
      ASSERT_EQ(name.rfind("model.", 0), 0u) << name;
      const std::string module = name.substr(6);
      const FeatureMap<T>& actual = trace.map(name);
      const FeatureMap<T> expected = this->expected(module, n);
      ASSERT_EQ(actual.height, expected.height) << module;
      ASSERT_EQ(actual.width, expected.width) << module;
      EXPECT_TRUE(all_close(actual.data, expected.data, 1e-4)) << module << ", image " << n;
    }
    ASSERT_EQ(output.encoder_last_hidden_state.size(), 3u);
    ASSERT_EQ(output.decoder_inputs.size(), 3u);
    for (Index level = 0; level < 3; ++level) {
      const auto i = static_cast<std::size_t>(level);
      EXPECT_TRUE(all_close(
          output.encoder_last_hidden_state[i].data,
          hook_map<T>(detail::concat("out.encoder_last_hidden_state.", level), n).data, 1e-4));
      EXPECT_TRUE(all_close(
          output.decoder_inputs[i].data,
          hook_map<T>(detail::concat("hook.model.decoder_input_proj.", level, ".out"), n).data,
          1e-4));
    }
  }
}

// The convolutional part alone, fed HF's AIFI output, so an AIFI difference cannot hide here.
TYPED_TEST(RTDetrHybridEncoderTest, FusionFromHFInputsMatchesHF) {
  using T = TypeParam;
  for (Index n = 0; n < 2; ++n) {
    std::vector<FeatureMap<T>> maps{hook_map<T>("hook.model.encoder_input_proj.0.out", n),
                                    hook_map<T>("hook.model.encoder_input_proj.1.out", n),
                                    this->expected("encoder.aifi.0", n)};
    const auto encoded = this->encoder.fuse(maps);
    for (Index level = 0; level < 3; ++level)
      EXPECT_TRUE(all_close(
          encoded[static_cast<std::size_t>(level)].data,
          hook_map<T>(detail::concat("out.encoder_last_hidden_state.", level), n).data, 1e-5))
          << "level " << level << ", image " << n;
  }
}

TYPED_TEST(RTDetrHybridEncoderTest, RejectsWrongLevelCountsAndUnfusableSizes) {
  using T = TypeParam;
  auto maps = this->backbone_features(0);
  maps.pop_back();
  EXPECT_THROW(this->encoder.forward(maps), ShapeError);
  // 5 x 5 then 3 x 3 then 2 x 2: upsampling 2 x 2 gives 4 x 4, which cannot join 3 x 3.
  std::vector<FeatureMap<T>> odd{FeatureMap<T>(Matrix<T>::Zero(64, 25), 5, 5),
                                 FeatureMap<T>(Matrix<T>::Zero(64, 9), 3, 3),
                                 FeatureMap<T>(Matrix<T>::Zero(64, 4), 2, 2)};
  EXPECT_THROW(this->encoder.fuse(odd), ShapeError);
  EXPECT_THROW(RTDetrHybridEncoder<T>::load(this->weights, this->config, {64, 128}), FormatError);
}

// int(encoder_hidden_dim * hidden_expansion) must be a usable channel count; beyond Index's
// range the conversion would be undefined, so the field is rejected before it.
TYPED_TEST(RTDetrHybridEncoderTest, RejectsHiddenExpansionOutOfRange) {
  using T = TypeParam;
  for (double expansion : {1e30, 1e-6, std::numeric_limits<double>::infinity()}) {
    RTDetrConfig config = this->config;
    config.hidden_expansion = expansion;
    try {
      RTDetrHybridEncoder<T>::load(this->weights, config, {64, 128, 256});
      ADD_FAILURE() << "hidden_expansion " << expansion << " accepted";
    } catch (const FormatError& e) {
      EXPECT_NE(std::string(e.what()).find("hidden_expansion"), std::string::npos) << e.what();
    }
  }
}

// Random ConvNorm weights under HF's names, and HF's CSPRepLayer evaluated module by module.
class CspReference {
 public:
  CspReference(Index in, Index hidden, Index out, unsigned seed) : rng_(seed), weights_("random") {
    conv_norm("conv1.", in, hidden, 1);
    conv_norm("conv2.", in, hidden, 1);
    for (int i = 0; i < 3; ++i) {
      conv_norm(detail::concat("bottlenecks.", i, ".conv1."), hidden, hidden, 3);
      conv_norm(detail::concat("bottlenecks.", i, ".conv2."), hidden, hidden, 1);
    }
    if (hidden != out) conv_norm("conv3.", hidden, out, 1);
    has_conv3_ = hidden != out;
  }

  const StateDict<double>& weights() const { return weights_; }

  FeatureMap<double> forward(const FeatureMap<double>& x) const {
    FeatureMap<double> branch = conv_bn("conv1.", x, true);
    for (int i = 0; i < 3; ++i) {
      const std::string at = detail::concat("bottlenecks.", i, ".");
      FeatureMap<double> sum = conv_bn(at + "conv1.", branch, false);
      sum.data += conv_bn(at + "conv2.", branch, false).data;
      silu(sum);
      branch = sum;
    }
    branch.data += conv_bn("conv2.", x, true).data;
    return has_conv3_ ? conv_bn("conv3.", branch, true) : branch;
  }

 private:
  static void silu(FeatureMap<double>& map) { apply_activation(Activation::SiLU, map.data); }

  void conv_norm(const std::string& at, Index in, Index out, Index kernel) {
    auto random = [&](Shape shape, double low, double high) {
      std::uniform_real_distribution<double> uniform(low, high);
      std::vector<double> values(static_cast<std::size_t>(shape_numel(shape)));
      for (double& v : values) v = uniform(rng_);
      return Tensor<double>(std::move(shape), std::move(values));
    };
    weights_.insert(at + "conv.weight", random({out, in, kernel, kernel}, -0.5, 0.5));
    weights_.insert(at + "norm.weight", random({out}, 0.5, 1.5));
    weights_.insert(at + "norm.bias", random({out}, -0.5, 0.5));
    weights_.insert(at + "norm.running_mean", random({out}, -0.5, 0.5));
    weights_.insert(at + "norm.running_var", random({out}, 0.5, 2.0));
  }

  FeatureMap<double> conv_bn(const std::string& at, const FeatureMap<double>& x, bool act) const {
    const Tensor<double>& w = weights_.at(at + "conv.weight");
    FeatureMap<double> y = Conv2d<double>(w, Tensor<double>(), 1, w.dim(2) / 2).forward(x);
    for (Index c = 0; c < y.channels(); ++c)
      y.data.row(c) = ((y.data.row(c).array() - weights_.at(at + "norm.running_mean")[c]) /
                           std::sqrt(weights_.at(at + "norm.running_var")[c] + kEps) *
                           weights_.at(at + "norm.weight")[c] +
                       weights_.at(at + "norm.bias")[c])
                          .matrix();
    if (act) silu(y);
    return y;
  }

  static constexpr double kEps = 1e-3;
  std::mt19937 rng_;
  StateDict<double> weights_;
  bool has_conv3_ = false;
};

TEST(RTDetrCSPRepLayerTest, MatchesHFStructureWithAndWithoutConv3) {
  struct Case {
    Index in, hidden, out;
  };
  for (const Case& c : {Case{8, 2, 4}, Case{8, 4, 4}}) {
    const CspReference reference(c.in, c.hidden, c.out, 29);
    const auto layer = RTDetrCSPRepLayer<double>::load(reference.weights(), "", c.in, c.hidden,
                                                       c.out, Activation::SiLU, 1e-3);
    std::mt19937 rng(31);
    std::uniform_real_distribution<double> uniform(-1.0, 1.0);
    Matrix<double> values(c.in, 5 * 7);
    for (Index i = 0; i < values.size(); ++i) values.data()[i] = uniform(rng);
    const FeatureMap<double> input(values, 5, 7);
    const FeatureMap<double> actual = layer.forward(input);
    ASSERT_EQ(actual.channels(), c.out);
    EXPECT_TRUE(all_close(actual.data, reference.forward(input).data, 1e-10))
        << "hidden " << c.hidden;
  }
}

}  // namespace
}  // namespace eigenformer
