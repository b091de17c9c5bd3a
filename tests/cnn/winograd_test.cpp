// The Winograd F(2x2, 3x3) and F(4x4, 3x3) paths of Conv2d (cnn/winograd.hpp) against the
// direct path of the same layer (detail::winograd_enabled off), in every run-time kernel
// variant this CPU supports: odd and even output sizes (ragged tiles), padding 0, 1 and 2,
// ragged tile blocks, with and without bias, residual and activations, on one and two threads.
#include <eigenformer/cnn/conv2d.hpp>
#include <eigenformer/cnn/winograd.hpp>
#include <eigenformer/core/threading.hpp>
#include <eigenformer/kernels/cpu_features.hpp>

#include "fixture.hpp"

#include <algorithm>
#include <cmath>
#include <iostream>
#include <string>
#include <vector>

namespace eigenformer {
namespace {

using testing::all_close;
using testing::random_matrix;

struct Case {
  Index in, out, padding, height, width;
  bool bias;
};

constexpr int kTiles[] = {2, 4};  // F(2x2, 3x3) and F(4x4, 3x3)

std::string describe(const Case& c, Activation activation, bool residual, KernelVariant variant,
                     int threads) {
  return "F(" + std::to_string(detail::winograd_tile.load()) + ") " +
         std::string(kernel_variant_name(variant)) + " in " + std::to_string(c.in) + " out " +
         std::to_string(c.out) + " padding " + std::to_string(c.padding) + " " +
         std::to_string(c.height) + "x" + std::to_string(c.width) + (c.bias ? " bias" : "") +
         " activation " + std::to_string(static_cast<int>(activation)) +
         (residual ? " residual" : "") + " threads " + std::to_string(threads);
}

Conv2d<float> make_conv(const Case& c, Activation activation, unsigned seed) {
  const Matrix<float> w =
      random_matrix<float>(c.out, c.in * 9, seed, 1.0 / std::sqrt(static_cast<double>(c.in * 9)));
  Tensor<float> weight({c.out, c.in, 3, 3}, std::vector<float>(w.data(), w.data() + w.size()));
  Tensor<float> bias;
  if (c.bias) {
    const Matrix<float> b = random_matrix<float>(1, c.out, seed + 1, 0.5);
    bias = Tensor<float>({c.out}, std::vector<float>(b.data(), b.data() + b.size()));
  }
  return Conv2d<float>(std::move(weight), std::move(bias), 1, c.padding, activation);
}

std::vector<KernelVariant> wide_variants() {
  std::vector<KernelVariant> variants;
  for (KernelVariant variant : {KernelVariant::AVX2, KernelVariant::AVX512})
    if (kernel_variant_supported(variant)) variants.push_back(variant);
  return variants;
}

class WinogradTest : public ::testing::Test {
 protected:
  void TearDown() override {
    detail::winograd_enabled = true;
    detail::winograd_tile = saved_tile_;
    set_kernel_variant(saved_);
    set_num_threads(saved_threads_);
  }

  // Winograd with output tile `tile` against direct, both under `variant`, within 1e-5 of the
  // output's largest value; returns the largest difference relative to that value.
  static double expect_matches_direct(const Case& c, Activation activation, bool residual,
                                      KernelVariant variant, int threads, unsigned seed, int tile) {
    detail::winograd_tile = tile;
    set_kernel_variant(variant);
    set_num_threads(threads);
    const FeatureMap<float> input(random_matrix<float>(c.in, c.height * c.width, seed + 2),
                                  c.height, c.width);
    const Conv2d<float> conv = make_conv(c, activation, seed);
    const Index out_h = conv.output_height(c.height), out_w = conv.output_width(c.width);
    const FeatureMap<float> skip(random_matrix<float>(c.out, out_h * out_w, seed + 3), out_h,
                                 out_w);
    const FeatureMap<float>* residual_map = residual ? &skip : nullptr;
    detail::winograd_enabled = false;
    const FeatureMap<float> expected = conv.forward(input, residual_map);
    detail::winograd_enabled = true;
    const FeatureMap<float> actual = conv.forward(input, residual_map);
    const double scale = std::max(1.0, static_cast<double>(expected.data.cwiseAbs().maxCoeff()));
    EXPECT_EQ(actual.height, expected.height);
    EXPECT_EQ(actual.width, expected.width);
    EXPECT_TRUE(all_close(actual.data, expected.data, 1e-5 * scale))
        << describe(c, activation, residual, variant, threads);
    // Rounded differently from the direct product: the Winograd path did run.
    EXPECT_FALSE(actual.data == expected.data)
        << describe(c, activation, residual, variant, threads);
    return static_cast<double>((actual.data - expected.data).cwiseAbs().maxCoeff()) / scale;
  }

  const KernelVariant saved_ = kernel_variant();
  const int saved_tile_ = detail::winograd_tile.load();
  const int saved_threads_ = num_threads();
};

TEST_F(WinogradTest, SuitsOnlyThreeByThreeStrideOneWithManyChannels) {
  EXPECT_TRUE(detail::Winograd3x3::suits(64, 64, 3, 3, 1, 1));
  EXPECT_TRUE(detail::Winograd3x3::suits(256, 512, 3, 3, 1, 1));
  EXPECT_FALSE(detail::Winograd3x3::suits(64, 64, 3, 3, 2, 1));   // stride 2
  EXPECT_FALSE(detail::Winograd3x3::suits(64, 64, 1, 1, 1, 1));   // 1x1
  EXPECT_FALSE(detail::Winograd3x3::suits(64, 64, 5, 5, 1, 1));   // 5x5
  EXPECT_FALSE(detail::Winograd3x3::suits(64, 64, 3, 3, 1, 64));  // depthwise
  EXPECT_TRUE(detail::Winograd3x3::suits(16, 16, 3, 3, 1, 1));
  EXPECT_FALSE(detail::Winograd3x3::suits(8, 64, 3, 3, 1, 1));  // few outputs
  EXPECT_FALSE(detail::Winograd3x3::suits(64, 3, 3, 3, 1, 1));  // few inputs
}

// Odd and even output sizes, padding 0 / 1 / 2, outputs below and above the pixel-major
// product's threshold (128), depths above the product's depth block (256), maps with fewer
// tiles than a block and with several blocks cutting tile rows.
TEST_F(WinogradTest, MatchesDirectPath) {
  const Case cases[] = {
      {64, 64, 1, 8, 8, true},    {64, 64, 1, 9, 7, false},   {64, 64, 0, 10, 11, true},
      {64, 96, 0, 7, 6, true},    {96, 64, 2, 5, 9, false},   {128, 128, 1, 20, 20, true},
      {72, 136, 1, 23, 17, true}, {300, 70, 1, 13, 21, true}, {64, 64, 1, 41, 39, false},
      {16, 16, 1, 3, 3, true},    {16, 40, 0, 4, 4, false},   {24, 17, 1, 1, 1, true},
      {32, 48, 1, 6, 6, true},    {48, 32, 0, 14, 15, false}, {64, 64, 2, 18, 19, true},
      {40, 24, 1, 5, 2, true},    {64, 64, 1, 80, 80, true},  {256, 256, 1, 20, 20, false},
  };
  for (int tile : kTiles) {
    double worst = 0.0;
    for (KernelVariant variant : wide_variants())
      for (const Case& c : cases)
        worst = std::max(
            worst, expect_matches_direct(c, Activation::Identity, false, variant, 1, 7, tile));
    std::cout << "F(" << tile << "x" << tile << ", 3x3): largest difference from direct " << worst
              << " of the output's magnitude\n";
  }
}

TEST_F(WinogradTest, FusesResidualAndActivations) {
  const Case c{64, 80, 1, 15, 14, true};
  for (KernelVariant variant : wide_variants())
    for (Activation activation : {Activation::Identity, Activation::ReLU, Activation::SiLU,
                                  Activation::GELU, Activation::Sigmoid})
      for (bool residual : {false, true})
        for (int tile : kTiles)
          expect_matches_direct(c, activation, residual, variant, 1, 11, tile);
}

TEST_F(WinogradTest, MatchesDirectPathOnTwoThreads) {
  const Case cases[] = {{64, 128, 1, 40, 40, true}, {256, 256, 1, 20, 20, true}};
  for (KernelVariant variant : wide_variants())
    for (const Case& c : cases)
      for (int tile : kTiles)
        expect_matches_direct(c, Activation::SiLU, true, variant, 2, 13, tile);
}

// Without a wide variant the layer runs its direct path: the baseline results are unchanged.
TEST_F(WinogradTest, BaselineStaysDirect) {
  set_kernel_variant(KernelVariant::Baseline);
  const Case c{64, 64, 1, 9, 9, true};
  const FeatureMap<float> input(random_matrix<float>(c.in, c.height * c.width, 3), c.height,
                                c.width);
  const Conv2d<float> conv = make_conv(c, Activation::ReLU, 5);
  detail::winograd_enabled = false;
  const FeatureMap<float> expected = conv.forward(input);
  detail::winograd_enabled = true;
  EXPECT_TRUE(all_close(conv.forward(input).data, expected.data, 0.0));
}

}  // namespace
}  // namespace eigenformer
