// Conv2d against a direct evaluation of torch.nn.Conv2d's definition, hand-computed cases,
// and a real PyTorch 3x3 stride-2 convolution from the RT-DETR fixture.
#include <eigenformer/cnn/conv2d.hpp>
#include <eigenformer/cnn/conv_norm.hpp>
#include <eigenformer/core/threading.hpp>

#include "fixture.hpp"
#include "io/test_files.hpp"

#include <random>

namespace eigenformer {
namespace {

using testing::all_close;

template <typename T>
Tensor<T> random_tensor(Shape shape, std::mt19937& rng) {
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  std::vector<T> values(static_cast<std::size_t>(shape_numel(shape)));
  for (T& v : values) v = static_cast<T>(uniform(rng));
  return Tensor<T>(std::move(shape), std::move(values));
}

template <typename T>
FeatureMap<T> random_map(Index channels, Index height, Index width, std::mt19937& rng) {
  return FeatureMap<T>(random_tensor<T>({channels, height * width}, rng).matrix(), height, width);
}

// out(o, y, x) = act(bias(o) + sum_{c, ky, kx} w(o, c, ky, kx) in(c, y s - p + ky, x s - p + kx)
// [+ residual(o, y, x)]); depthwise, c runs over channel o alone (w(o, 0, ky, kx)).
template <typename T>
FeatureMap<T> direct_convolution(const Conv2d<T>& conv, const FeatureMap<T>& in,
                                 const FeatureMap<T>* residual = nullptr) {
  const Index kh = conv.kernel_height(), kw = conv.kernel_width();
  const Index s = conv.stride(), p = conv.padding();
  const Index per_group = conv.weight_tensor().dim(1);
  FeatureMap<T> out(conv.out_channels(), conv.output_height(in.height),
                    conv.output_width(in.width));
  const T* w = conv.weight_tensor().data();
  for (Index o = 0; o < out.channels(); ++o)
    for (Index y = 0; y < out.height; ++y)
      for (Index x = 0; x < out.width; ++x) {
        double sum = conv.has_bias() ? static_cast<double>(conv.bias()(o)) : 0.0;
        for (Index g = 0; g < per_group; ++g) {
          const Index c = conv.is_depthwise() ? o : g;
          for (Index ky = 0; ky < kh; ++ky)
            for (Index kx = 0; kx < kw; ++kx) {
              const Index iy = y * s - p + ky, ix = x * s - p + kx;
              if (iy < 0 || iy >= in.height || ix < 0 || ix >= in.width) continue;
              sum += static_cast<double>(w[((o * per_group + g) * kh + ky) * kw + kx]) *
                     static_cast<double>(in.at(c, iy, ix));
            }
        }
        if (residual) sum += static_cast<double>(residual->at(o, y, x));
        out.at(o, y, x) = static_cast<T>(sum);
      }
  apply_activation(conv.activation(), out.data);
  return out;
}

template <typename T>
class Conv2dTest : public ::testing::Test {};
using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(Conv2dTest, Scalars);

TYPED_TEST(Conv2dTest, HandComputedThreeByThreeWithPadding) {
  using T = TypeParam;
  // One channel 0..8 in raster order, an all-ones 3x3 kernel, padding 1: each output is the
  // sum of its in-bounds 3x3 neighbourhood.
  Matrix<T> pixels(1, 9);
  for (Index i = 0; i < 9; ++i) pixels(0, i) = T(i);
  const Conv2d<T> conv(Tensor<T>({1, 1, 3, 3}, std::vector<T>(9, T(1))), Tensor<T>({1}, {T(0.5)}),
                       1, 1);
  const FeatureMap<T> out = conv.forward(FeatureMap<T>(pixels, 3, 3));
  ASSERT_EQ(out.height, 3);
  ASSERT_EQ(out.width, 3);
  Matrix<T> expected(1, 9);
  expected << 8, 15, 12, 21, 36, 27, 20, 33, 24;
  expected.array() += T(0.5);
  EXPECT_TRUE(all_close(out.data, expected, 0));
}

TYPED_TEST(Conv2dTest, HandComputedStrideTwoOnRectangularInput) {
  using T = TypeParam;
  // 2x3 kernel of (ky * 3 + kx + 1) on a 3x5 input of ones, stride 2, no padding:
  // outputs at x = 0 and 2 of row 0 only, each the kernel's sum 21.
  std::vector<T> kernel(6);
  for (int i = 0; i < 6; ++i) kernel[static_cast<std::size_t>(i)] = T(i + 1);
  const Conv2d<T> conv(Tensor<T>({1, 1, 2, 3}, kernel), Tensor<T>(), 2, 0);
  const FeatureMap<T> out = conv.forward(FeatureMap<T>(Matrix<T>::Ones(1, 15), 3, 5));
  ASSERT_EQ(out.height, 1);
  ASSERT_EQ(out.width, 2);
  EXPECT_TRUE(all_close(out.data, Matrix<T>::Constant(1, 2, T(21)), 0));
}

TYPED_TEST(Conv2dTest, MatchesDirectEvaluationAcrossGeometries) {
  using T = TypeParam;
  const double tolerance = std::is_same_v<T, float> ? 1e-4 : 1e-12;
  std::mt19937 rng(7);
  struct Case {
    Index in, out, kh, kw, stride, padding, height, width;
    bool bias;
  };
  const Case cases[] = {
      {3, 4, 3, 3, 1, 1, 7, 9, true},  {3, 5, 3, 3, 2, 1, 8, 11, false},
      {2, 3, 1, 1, 1, 0, 5, 6, true},  {2, 3, 1, 1, 2, 0, 5, 7, false},
      {4, 2, 5, 3, 3, 2, 9, 10, true}, {1, 1, 3, 3, 1, 0, 3, 3, false},
      {2, 2, 3, 3, 2, 1, 1, 1, true},  {128, 4, 3, 3, 1, 1, 40, 40, true},  // several bands
  };
  for (const Case& c : cases) {
    const Conv2d<T> conv(random_tensor<T>({c.out, c.in, c.kh, c.kw}, rng),
                         c.bias ? random_tensor<T>({c.out}, rng) : Tensor<T>(), c.stride,
                         c.padding);
    const FeatureMap<T> input = random_map<T>(c.in, c.height, c.width, rng);
    const FeatureMap<T> actual = conv.forward(input);
    const FeatureMap<T> expected = direct_convolution(conv, input);
    ASSERT_EQ(actual.height, expected.height);
    ASSERT_EQ(actual.width, expected.width);
    EXPECT_TRUE(all_close(actual.data, expected.data, tolerance))
        << c.kh << "x" << c.kw << " stride " << c.stride << " padding " << c.padding;
  }
}

// Layers with at least 128 output channels take the packed pixel-major product: cover odd
// sizes, a last weight panel that is partly empty, padding wider than the kernel reaches,
// several bands of output rows, and residual + activation (which then leave the product).
TYPED_TEST(Conv2dTest, PackedProductMatchesDirectEvaluation) {
  using T = TypeParam;
  const double tolerance = std::is_same_v<T, float> ? 1e-4 : 1e-12;
  std::mt19937 rng(17);
  struct Case {
    Index in, out, kh, kw, stride, padding, height, width;
    bool bias, residual;
    Activation activation;
  };
  const Case cases[] = {
      {5, 130, 3, 3, 1, 1, 9, 11, true, false, Activation::SiLU},
      {5, 130, 3, 3, 1, 1, 9, 11, true, true, Activation::ReLU},
      {7, 128, 3, 3, 2, 1, 10, 7, false, true, Activation::Identity},
      {6, 129, 1, 1, 1, 0, 5, 13, true, false, Activation::ReLU},
      {6, 129, 1, 1, 1, 0, 5, 13, false, true, Activation::SiLU},
      {3, 128, 1, 1, 2, 0, 7, 6, true, false, Activation::Identity},
      {2, 128, 2, 2, 1, 2, 4, 5, true, false, Activation::Identity},  // rows of padding only
      {4, 131, 5, 3, 3, 2, 9, 10, true, true, Activation::SiLU},
      {32, 128, 3, 3, 1, 1, 37, 33, true, true, Activation::SiLU},  // several bands
  };
  for (const int threads : {1, 2}) {
    set_num_threads(threads);
    for (const Case& c : cases) {
      const Conv2d<T> conv(random_tensor<T>({c.out, c.in, c.kh, c.kw}, rng),
                           c.bias ? random_tensor<T>({c.out}, rng) : Tensor<T>(), c.stride,
                           c.padding, c.activation);
      const FeatureMap<T> input = random_map<T>(c.in, c.height, c.width, rng);
      const FeatureMap<T> residual =
          random_map<T>(c.out, conv.output_height(c.height), conv.output_width(c.width), rng);
      const FeatureMap<T>* added = c.residual ? &residual : nullptr;
      const FeatureMap<T> actual = conv.forward(input, added);
      const FeatureMap<T> expected = direct_convolution(conv, input, added);
      ASSERT_EQ(actual.height, expected.height);
      ASSERT_EQ(actual.width, expected.width);
      EXPECT_TRUE(all_close(actual.data, expected.data, tolerance))
          << c.in << " -> " << c.out << " " << c.kh << "x" << c.kw << " stride " << c.stride
          << " padding " << c.padding << " residual " << c.residual << " threads " << threads;
    }
  }
  set_num_threads(0);
}

TYPED_TEST(Conv2dTest, DepthwiseMatchesDirectEvaluation) {
  using T = TypeParam;
  const double tolerance = std::is_same_v<T, float> ? 1e-5 : 1e-12;
  std::mt19937 rng(23);
  struct Case {
    Index channels, kernel, stride, padding, height, width;
    bool bias, residual;
    Activation activation;
  };
  const Case cases[] = {
      {3, 3, 1, 1, 7, 9, true, false, Activation::Identity},
      {4, 5, 1, 2, 11, 6, false, false, Activation::ReLU},
      {3, 3, 2, 1, 9, 8, true, false, Activation::Identity},
      {2, 5, 2, 2, 10, 13, true, true, Activation::SiLU},
      {5, 3, 1, 0, 3, 4, true, true, Activation::Identity},
      {2, 3, 3, 2, 8, 7, false, false, Activation::Identity},  // stride 3
      {3, 1, 1, 0, 1, 1, true, false, Activation::Identity},   // 1x1 on one pixel
      {64, 3, 2, 1, 33, 31, true, false, Activation::ReLU},    // parallel
  };
  for (const int threads : {1, 2}) {
    set_num_threads(threads);
    for (const Case& c : cases) {
      const Conv2d<T> conv(random_tensor<T>({c.channels, 1, c.kernel, c.kernel}, rng),
                           c.bias ? random_tensor<T>({c.channels}, rng) : Tensor<T>(), c.stride,
                           c.padding, c.activation, c.channels);
      ASSERT_TRUE(conv.is_depthwise());
      const FeatureMap<T> input = random_map<T>(c.channels, c.height, c.width, rng);
      const FeatureMap<T> residual =
          random_map<T>(c.channels, conv.output_height(c.height), conv.output_width(c.width), rng);
      const FeatureMap<T>* added = c.residual ? &residual : nullptr;
      const FeatureMap<T> actual = conv.forward(input, added);
      const FeatureMap<T> expected = direct_convolution(conv, input, added);
      ASSERT_EQ(actual.height, expected.height);
      ASSERT_EQ(actual.width, expected.width);
      EXPECT_TRUE(all_close(actual.data, expected.data, tolerance))
          << c.kernel << "x" << c.kernel << " stride " << c.stride << " padding " << c.padding
          << " threads " << threads;
    }
  }
  set_num_threads(0);
}

TYPED_TEST(Conv2dTest, ResidualAndActivationAreAppliedAfterTheBias) {
  using T = TypeParam;
  std::mt19937 rng(11);
  const auto weight = random_tensor<T>({3, 2, 3, 3}, rng);
  const auto bias = random_tensor<T>({3}, rng);
  const FeatureMap<T> input = random_map<T>(2, 5, 4, rng);
  const FeatureMap<T> residual = random_map<T>(3, 5, 4, rng);
  const FeatureMap<T> fused =
      Conv2d<T>(weight, bias, 1, 1, Activation::SiLU).forward(input, &residual);
  Matrix<T> expected = Conv2d<T>(weight, bias, 1, 1).forward(input).data + residual.data;
  apply_activation(Activation::SiLU, expected);
  EXPECT_TRUE(all_close(fused.data, expected, 1e-6));
}

TYPED_TEST(Conv2dTest, RejectsMismatchedShapes) {
  using T = TypeParam;
  std::mt19937 rng(3);
  const Conv2d<T> conv(random_tensor<T>({2, 3, 3, 3}, rng), Tensor<T>(), 1, 0);
  EXPECT_THROW(conv.forward(random_map<T>(2, 4, 4, rng)), ShapeError);  // channels
  EXPECT_THROW(conv.forward(random_map<T>(3, 2, 4, rng)), ShapeError);  // smaller than kernel
  const FeatureMap<T> wrong_residual = random_map<T>(2, 3, 3, rng);
  EXPECT_THROW(conv.forward(random_map<T>(3, 4, 4, rng), &wrong_residual), ShapeError);
  EXPECT_THROW(Conv2d<T>(random_tensor<T>({2, 3, 3}, rng), Tensor<T>(), 1, 0), ShapeError);
  EXPECT_THROW(Conv2d<T>(random_tensor<T>({2, 3, 3, 3}, rng), random_tensor<T>({3}, rng), 1, 0),
               ShapeError);
  EXPECT_THROW(Conv2d<T>(random_tensor<T>({2, 3, 3, 3}, rng), Tensor<T>(), 0, 0), InvalidArgument);
}

// FeatureMap's fields are public: a map whose height x width disagrees with its data must be
// refused, not read out of bounds.
TYPED_TEST(Conv2dTest, RejectsMapWhoseSizeDisagreesWithItsData) {
  using T = TypeParam;
  std::mt19937 rng(4);
  const Conv2d<T> conv(random_tensor<T>({2, 3, 3, 3}, rng), Tensor<T>(), 1, 1);
  FeatureMap<T> map = random_map<T>(3, 8, 8, rng);
  map.height = map.width = 640;
  EXPECT_TRUE(testing::throws_with<ShapeError>([&] { conv.forward(map); },
                                               {"Conv2d input", "640 x 640", "64 values"}));
  map.height = -8;
  map.width = -8;  // the product matches the data, the sizes do not
  EXPECT_THROW(conv.forward(map), ShapeError);
  map.height = map.width = Index{1} << 32;  // the product overflows
  EXPECT_THROW(conv.forward(map), ShapeError);
  EXPECT_THROW(FeatureMap<T>(1, Index{1} << 32, Index{1} << 32), ShapeError);
}

TYPED_TEST(Conv2dTest, LoadViewsTheStoredWeightWithoutCopying) {
  using T = TypeParam;
  const auto& weights = testing::fixture<T>("rtdetr/model.safetensors");
  const std::string name = "model.encoder.downsample_convs.0.conv.";
  const auto conv = Conv2d<T>::load(weights, name, 64, 64, 3, 2, 1);
  EXPECT_EQ(conv.weight_tensor().data(), weights.at(name + "weight").data());
  EXPECT_THROW(Conv2d<T>::load(weights, name, 64, 64, 1, 1, 0), ShapeError);
}

// HF's RTDetrConvNormLayer downsample_convs.0 (Conv2d 3x3 stride 2 padding 1, BatchNorm2d,
// SiLU) applied by PyTorch to the first PAN map, which is encoder_last_hidden_state.0.
TYPED_TEST(Conv2dTest, MatchesPyTorchStrideTwoConvNormLayer) {
  using T = TypeParam;
  const auto& weights = testing::fixture<T>("rtdetr/model.safetensors");
  const auto& io = testing::fixture<T>("rtdetr/io.safetensors");
  const auto conv = load_conv_norm(weights, "model.encoder.downsample_convs.0.conv.",
                                   "model.encoder.downsample_convs.0.norm.", 64, 64, 3, 2, 1e-5,
                                   Activation::SiLU);
  for (Index n = 0; n < 2; ++n) {
    const auto input = FeatureMap<T>::from_nchw(io.at("out.encoder_last_hidden_state.0"), n);
    const auto expected =
        FeatureMap<T>::from_nchw(io.at("hook.model.encoder.downsample_convs.0.out"), n);
    const auto actual = conv.forward(input);
    ASSERT_EQ(actual.height, expected.height);
    ASSERT_EQ(actual.width, expected.width);
    EXPECT_TRUE(all_close(actual.data, expected.data, 1e-5)) << "image " << n;
  }
}

}  // namespace
}  // namespace eigenformer
