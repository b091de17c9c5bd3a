// BatchNorm folding against the fixture's PyTorch conv + BatchNorm2d, and the load-time
// merges (RepVGG branches, stacked outputs) against evaluating the parts separately.
#include <eigenformer/cnn/conv_norm.hpp>

#include "fixture.hpp"

#include <random>

namespace eigenformer {
namespace {

using testing::all_close;

template <typename T>
Tensor<T> random_tensor(Shape shape, std::mt19937& rng, double low = -1.0, double high = 1.0) {
  std::uniform_real_distribution<double> uniform(low, high);
  std::vector<T> values(static_cast<std::size_t>(shape_numel(shape)));
  for (T& v : values) v = static_cast<T>(uniform(rng));
  return Tensor<T>(std::move(shape), std::move(values));
}

template <typename T>
FeatureMap<T> random_map(Index channels, Index height, Index width, std::mt19937& rng) {
  return FeatureMap<T>(random_tensor<T>({channels, height * width}, rng).matrix(), height, width);
}

template <typename T>
class ConvNormTest : public ::testing::Test {};
using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(ConvNormTest, Scalars);

TYPED_TEST(ConvNormTest, FoldedConvolutionEqualsConvolutionThenBatchNorm) {
  using T = TypeParam;
  std::mt19937 rng(5);
  StateDict<T> weights;
  weights.insert("conv.weight", random_tensor<T>({4, 3, 3, 3}, rng));
  weights.insert("conv.bias", random_tensor<T>({4}, rng));
  weights.insert("bn.weight", random_tensor<T>({4}, rng, 0.5, 2.0));
  weights.insert("bn.bias", random_tensor<T>({4}, rng));
  weights.insert("bn.running_mean", random_tensor<T>({4}, rng));
  weights.insert("bn.running_var", random_tensor<T>({4}, rng, 0.1, 3.0));
  const double eps = 1e-3;
  const FeatureMap<T> input = random_map<T>(3, 6, 5, rng);

  const auto folded = load_conv_norm(weights, "conv.", "bn.", 3, 4, 3, 2, eps, Activation::ReLU);
  EXPECT_EQ(folded.padding(), 1);
  Matrix<T> expected = Conv2d<T>::load(weights, "conv.", 3, 4, 3, 2, 1, true).forward(input).data;
  for (Index c = 0; c < 4; ++c) {
    const T scale = weights.at("bn.weight")[c] /
                    std::sqrt(weights.at("bn.running_var")[c] + static_cast<T>(eps));
    expected.row(c) = ((expected.row(c).array() - weights.at("bn.running_mean")[c]) * scale +
                       weights.at("bn.bias")[c])
                          .cwiseMax(T(0));
  }
  EXPECT_TRUE(all_close(folded.forward(input).data, expected, 1e-5));
}

TYPED_TEST(ConvNormTest, RejectsANonPositiveVariance) {
  using T = TypeParam;
  StateDict<T> weights("bad.safetensors");
  weights.insert("conv.weight", Tensor<T>({1, 1, 1, 1}, {T(1)}));
  for (const char* name : {"bn.weight", "bn.bias", "bn.running_mean"})
    weights.insert(name, Tensor<T>({1}, {T(1)}));
  weights.insert("bn.running_var", Tensor<T>({1}, {T(-1)}));
  EXPECT_THROW(load_conv_norm(weights, "conv.", "bn.", 1, 1, 1, 1, 1e-5), FormatError);
}

// model.encoder_input_proj.0 is nn.Sequential(Conv2d 1x1 without bias, BatchNorm2d).
TYPED_TEST(ConvNormTest, MatchesPyTorchEncoderInputProjection) {
  using T = TypeParam;
  const auto& weights = testing::fixture<T>("rtdetr/model.safetensors");
  const auto& io = testing::fixture<T>("rtdetr/io.safetensors");
  const auto projection = load_conv_norm(weights, "model.encoder_input_proj.0.0.",
                                         "model.encoder_input_proj.0.1.", 64, 64, 1, 1, 1e-5);
  for (Index n = 0; n < 2; ++n) {
    const auto input = FeatureMap<T>::from_nchw(io.at("hook.model.backbone.out.0.0"), n);
    const auto expected = FeatureMap<T>::from_nchw(io.at("hook.model.encoder_input_proj.0.out"), n);
    EXPECT_TRUE(all_close(projection.forward(input).data, expected.data, 1e-5)) << "image " << n;
  }
}

TYPED_TEST(ConvNormTest, MergedParallelBranchesEqualTheirSum) {
  using T = TypeParam;
  std::mt19937 rng(9);
  for (Index stride : {1, 2}) {
    const Conv2d<T> main(random_tensor<T>({5, 3, 3, 3}, rng), random_tensor<T>({5}, rng), stride, 1,
                         Activation::SiLU);
    const Conv2d<T> pointwise(random_tensor<T>({5, 3, 1, 1}, rng), random_tensor<T>({5}, rng),
                              stride, 0);
    const FeatureMap<T> input = random_map<T>(3, 7, 6, rng);
    const FeatureMap<T> branch = pointwise.forward(input);
    const FeatureMap<T> merged = merge_parallel(main, pointwise).forward(input);
    const FeatureMap<T> expected = main.forward(input, &branch);
    EXPECT_TRUE(all_close(merged.data, expected.data, 1e-5)) << "stride " << stride;
  }
  const Conv2d<T> three(random_tensor<T>({2, 2, 3, 3}, rng), Tensor<T>(), 1, 1);
  EXPECT_THROW(merge_parallel(three, three), ShapeError);
}

TYPED_TEST(ConvNormTest, StackedOutputsAreThePartsInOrder) {
  using T = TypeParam;
  std::mt19937 rng(13);
  const Conv2d<T> a(random_tensor<T>({2, 4, 1, 1}, rng), random_tensor<T>({2}, rng), 1, 0);
  const Conv2d<T> b(random_tensor<T>({3, 4, 1, 1}, rng), Tensor<T>(), 1, 0);
  const FeatureMap<T> input = random_map<T>(4, 3, 5, rng);
  const FeatureMap<T> stacked = stack_outputs<T>({a, b}).forward(input);
  ASSERT_EQ(stacked.channels(), 5);
  EXPECT_TRUE(all_close(stacked.data.topRows(2), a.forward(input).data, 1e-6));
  EXPECT_TRUE(all_close(stacked.data.bottomRows(3), b.forward(input).data, 1e-6));
  const Conv2d<T> other_stride(random_tensor<T>({2, 4, 1, 1}, rng), Tensor<T>(), 2, 0);
  EXPECT_THROW(stack_outputs<T>({a, other_stride}), ShapeError);
}

}  // namespace
}  // namespace eigenformer
