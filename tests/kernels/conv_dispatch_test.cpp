// Run-time kernel variants in the convolutions (cnn/conv2d.hpp): under every variant this CPU
// supports, Conv2d gives the baseline's results within rounding on both groups-1 paths (the
// channel-major product on the GEMM micro-kernel of kernels/gemm_x86.hpp, and the packed
// pixel-major one), on the depthwise tap sums, and with each activation; and the element-wise
// activation kernels of kernels/rows_x86.hpp match the Eigen expressions.
#include <eigenformer/cnn/conv2d.hpp>
#include <eigenformer/core/threading.hpp>
#include <eigenformer/kernels/cpu_features.hpp>
#include <eigenformer/kernels/rows_x86.hpp>
#include <eigenformer/kernels/transpose_x86.hpp>
#include <eigenformer/nn/activations.hpp>

#include "fixture.hpp"

#include <random>
#include <string>
#include <vector>

namespace eigenformer {
namespace {

using testing::all_close;
using testing::random_matrix;

constexpr KernelVariant kAllVariants[] = {KernelVariant::Baseline, KernelVariant::AVX2,
                                          KernelVariant::AVX512};
constexpr Activation kActivations[] = {Activation::Identity, Activation::ReLU, Activation::GELU,
                                       Activation::GELUTanh, Activation::SiLU, Activation::Sigmoid};

std::vector<KernelVariant> supported_variants() {
  std::vector<KernelVariant> variants;
  for (KernelVariant variant : kAllVariants)
    if (kernel_variant_supported(variant)) variants.push_back(variant);
  return variants;
}

const char* activation_name(Activation activation) {
  switch (activation) {
    case Activation::Identity:
      return "identity";
    case Activation::ReLU:
      return "relu";
    case Activation::GELU:
      return "gelu";
    case Activation::GELUTanh:
      return "gelu_tanh";
    case Activation::SiLU:
      return "silu";
    case Activation::Sigmoid:
      return "sigmoid";
  }
  return "?";
}

struct ConvCase {
  Index in, out, kernel, stride, padding, height, width;
  bool depthwise, bias;
};

std::string describe(const ConvCase& c, Activation activation, bool residual) {
  return "in " + std::to_string(c.in) + " out " + std::to_string(c.out) + " kernel " +
         std::to_string(c.kernel) + " stride " + std::to_string(c.stride) + " padding " +
         std::to_string(c.padding) + " " + std::to_string(c.height) + "x" +
         std::to_string(c.width) + (c.depthwise ? " depthwise" : "") + (c.bias ? " bias" : "") +
         " " + activation_name(activation) + (residual ? " residual" : "");
}

// A layer of random weights in [-0.5, 0.5) x (0.3 / sqrt(fan in)) scale, built under the
// current variant (the channel-major product's layout is chosen at construction).
Conv2d<float> make_conv(const ConvCase& c, Activation activation, unsigned seed) {
  const Index per_group = c.depthwise ? 1 : c.in;
  const Matrix<float> w =
      random_matrix<float>(c.out, per_group * c.kernel * c.kernel, seed,
                           1.0 / std::sqrt(static_cast<double>(per_group * c.kernel * c.kernel)));
  Tensor<float> weight({c.out, per_group, c.kernel, c.kernel},
                       std::vector<float>(w.data(), w.data() + w.size()));
  Tensor<float> bias;
  if (c.bias) {
    const Matrix<float> b = random_matrix<float>(1, c.out, seed + 1, 0.5);
    bias = Tensor<float>({c.out}, std::vector<float>(b.data(), b.data() + b.size()));
  }
  return Conv2d<float>(std::move(weight), std::move(bias), c.stride, c.padding, activation,
                       c.depthwise ? c.out : 1);
}

class ConvDispatchTest : public ::testing::Test {
 protected:
  void TearDown() override {
    set_kernel_variant(saved_);
    set_num_threads(saved_threads_);
  }

  // The layer built and run under each supported variant against the baseline's.
  static void expect_variants_match_baseline(const ConvCase& c, Activation activation,
                                             bool residual, unsigned seed) {
    const FeatureMap<float> input(random_matrix<float>(c.in, c.height * c.width, seed + 2),
                                  c.height, c.width);
    set_kernel_variant(KernelVariant::Baseline);
    const Conv2d<float> baseline_conv = make_conv(c, activation, seed);
    const Index out_h = baseline_conv.output_height(c.height),
                out_w = baseline_conv.output_width(c.width);
    const FeatureMap<float> skip(random_matrix<float>(c.out, out_h * out_w, seed + 3), out_h,
                                 out_w);
    const FeatureMap<float>* residual_map = residual ? &skip : nullptr;
    const FeatureMap<float> expected = baseline_conv.forward(input, residual_map);
    for (KernelVariant variant : supported_variants()) {
      set_kernel_variant(variant);
      const FeatureMap<float> actual = make_conv(c, activation, seed).forward(input, residual_map);
      EXPECT_TRUE(all_close(actual.data, expected.data, 2e-5))
          << kernel_variant_name(variant) << ": " << describe(c, activation, residual);
    }
  }

  const KernelVariant saved_ = kernel_variant();
  const int saved_threads_ = num_threads();
};

// Groups 1 with fewer than 128 outputs: the channel-major product, with the panels' ragged
// edge (odd pixel counts), several depth blocks (in * k * k > 256) and partial output groups.
TEST_F(ConvDispatchTest, ChannelMajorProductMatchesBaseline) {
  const ConvCase cases[] = {
      {3, 5, 3, 1, 1, 7, 9, false, true},     {3, 13, 3, 2, 1, 17, 23, false, true},
      {16, 64, 1, 1, 0, 11, 13, false, true}, {16, 7, 1, 1, 0, 5, 3, false, false},
      {32, 48, 3, 2, 1, 20, 21, false, true}, {8, 11, 5, 1, 2, 9, 14, false, false},
      {40, 6, 3, 1, 1, 15, 15, false, true},  {33, 127, 3, 1, 0, 10, 37, false, true},
      {5, 1, 1, 2, 0, 9, 9, false, true},
  };
  unsigned seed = 10;
  for (const ConvCase& c : cases)
    expect_variants_match_baseline(c, Activation::Identity, false, seed++);
}

// Groups 1 with at least 128 outputs: the packed pixel-major product; the variants activate the
// band's result after the product instead of each tile inside it.
TEST_F(ConvDispatchTest, PixelMajorProductMatchesBaseline) {
  const ConvCase cases[] = {
      {7, 130, 3, 2, 1, 13, 17, false, true},
      {24, 128, 1, 1, 0, 9, 11, false, false},
      {5, 160, 5, 1, 2, 8, 7, false, true},
  };
  unsigned seed = 40;
  for (const ConvCase& c : cases)
    for (Activation activation : {Activation::Identity, Activation::SiLU, Activation::ReLU})
      for (bool residual : {false, true})
        expect_variants_match_baseline(c, activation, residual, seed++);
}

// Depthwise: stride 1 (one tap sum over the flat padded plane) and stride 2 (row by row from
// the phase-split copy), kernels 3 and 5, with and without padding, widths around the vector
// widths and long enough for the four-vector loop.
TEST_F(ConvDispatchTest, DepthwiseMatchesBaseline) {
  const ConvCase cases[] = {
      {9, 9, 3, 1, 1, 13, 19, true, true},  {9, 9, 3, 2, 1, 13, 19, true, true},
      {4, 4, 5, 1, 2, 40, 41, true, false}, {4, 4, 5, 2, 2, 40, 41, true, true},
      {3, 3, 3, 2, 0, 7, 8, true, true},    {6, 6, 3, 1, 0, 3, 3, true, false},
      {5, 5, 3, 2, 1, 66, 67, true, true},  {2, 2, 1, 1, 0, 5, 33, true, true},
  };
  unsigned seed = 70;
  for (const ConvCase& c : cases)
    for (bool residual : {false, true})
      expect_variants_match_baseline(c, Activation::Identity, residual, seed++);
}

// Every activation on every path, and a residual before it.
TEST_F(ConvDispatchTest, ActivationsMatchBaselineOnEveryPath) {
  const ConvCase cases[] = {
      {6, 10, 3, 1, 1, 9, 11, false, true},   // channel-major
      {6, 130, 3, 2, 1, 9, 11, false, true},  // pixel-major
      {10, 10, 3, 2, 1, 9, 11, true, true},   // depthwise
  };
  unsigned seed = 100;
  for (const ConvCase& c : cases)
    for (Activation activation : kActivations)
      for (bool residual : {false, true})
        expect_variants_match_baseline(c, activation, residual, seed++);
}

// Bands split between threads give the same results as one thread under each variant (exactly
// for the run-time variants).
TEST_F(ConvDispatchTest, ThreadsMatchOneThread) {
  const ConvCase cases[] = {
      {16, 24, 3, 1, 1, 40, 37, false, true},
      {16, 144, 3, 1, 1, 40, 37, false, true},
      {24, 24, 5, 2, 2, 41, 40, true, true},
  };
  for (KernelVariant variant : supported_variants()) {
    set_kernel_variant(variant);
    unsigned seed = 130;
    for (const ConvCase& c : cases) {
      const Conv2d<float> conv = make_conv(c, Activation::SiLU, seed);
      const FeatureMap<float> input(random_matrix<float>(c.in, c.height * c.width, seed + 2),
                                    c.height, c.width);
      set_num_threads(1);
      const FeatureMap<float> one = conv.forward(input);
      set_num_threads(2);
      const FeatureMap<float> two = conv.forward(input);
      // The variants' kernels compute every element alike wherever a band or panel starts, so
      // the split between threads changes nothing; the baseline's Eigen activation treats a
      // segment's unaligned first elements with scalar code, a last-bit difference.
      EXPECT_TRUE(all_close(two.data, one.data, variant == KernelVariant::Baseline ? 1e-6 : 0.0))
          << kernel_variant_name(variant) << ": " << describe(c, Activation::SiLU, false);
      ++seed;
    }
  }
}

// A layer keeps the product layout of the variant it was built under when the variant changes
// later (as a packed weight does); its depthwise and activation kernels follow the change.
TEST_F(ConvDispatchTest, LayersBuiltUnderOneVariantRunUnderAnother) {
  const ConvCase c = {12, 20, 3, 2, 1, 15, 14, false, true};
  const FeatureMap<float> input(random_matrix<float>(c.in, c.height * c.width, 7), c.height,
                                c.width);
  set_kernel_variant(KernelVariant::Baseline);
  const FeatureMap<float> expected = make_conv(c, Activation::SiLU, 5).forward(input);
  for (KernelVariant built : supported_variants()) {
    set_kernel_variant(built);
    const Conv2d<float> conv = make_conv(c, Activation::SiLU, 5);
    for (KernelVariant run : supported_variants()) {
      set_kernel_variant(run);
      EXPECT_TRUE(all_close(conv.forward(input).data, expected.data, 2e-5))
          << "built " << kernel_variant_name(built) << ", run " << kernel_variant_name(run);
    }
  }
}

// The element-wise kernels on rows of odd lengths (masked tails), with row strides, against
// Eigen's expressions; inputs span the saturated ranges of exp and tanh, and the tiny range
// where tanh returns its argument.
TEST_F(ConvDispatchTest, ActivationRowsMatchEigen) {
  const Index rows = 5, cols = 37, stride = 41;
  Matrix<float> input = random_matrix<float>(rows, stride, 3, 4.0);
  input(0, 0) = 100.0f;
  input(0, 1) = -100.0f;
  input(0, 2) = 0.0f;
  input(0, 3) = 1e-5f;
  input(0, 4) = -3e-4f;
  input(1, 5) = 9.0f;
  input(1, 6) = -9.0f;
  input(2, 7) = 89.0f;
  input(2, 8) = -89.0f;
  const std::pair<Activation, kernels::RowActivation> kinds[] = {
      {Activation::ReLU, kernels::RowActivation::ReLU},
      {Activation::SiLU, kernels::RowActivation::SiLU},
      {Activation::Sigmoid, kernels::RowActivation::Sigmoid},
      {Activation::GELUTanh, kernels::RowActivation::GELUTanh},
  };
  for (const auto& [activation, kind] : kinds) {
    Matrix<float> expected = input;
    auto block = expected.leftCols(cols);
    apply_activation(activation, block);
    for (KernelVariant variant : supported_variants()) {
      Matrix<float> actual = input;
      const bool ran = kernels::activation_rows(variant, kind, actual.data(), rows, cols, stride);
      EXPECT_EQ(ran, variant != KernelVariant::Baseline) << kernel_variant_name(variant);
      if (!ran) continue;
      EXPECT_TRUE(all_close(actual.leftCols(cols), expected.leftCols(cols), 2e-6))
          << kernel_variant_name(variant) << ": " << activation_name(activation);
      // Columns past `cols` are untouched.
      EXPECT_TRUE(
          (actual.rightCols(stride - cols).array() == input.rightCols(stride - cols).array()).all())
          << kernel_variant_name(variant) << ": " << activation_name(activation);
    }
  }
}

// The transpose kernel moves every element exactly, for shapes below, at and around its 8 x 8
// tile, with strides wider than the rows; nothing outside the destination block is written.
TEST_F(ConvDispatchTest, TransposeIsExact) {
  const std::pair<Index, Index> shapes[] = {{1, 1},   {3, 5},   {8, 8},   {9, 17},
                                            {16, 24}, {37, 13}, {64, 129}};
  for (const auto& [rows, cols] : shapes) {
    const Matrix<float> source = random_matrix<float>(rows, cols + 3, 9);
    const Matrix<float> expected = source.leftCols(cols).transpose();
    for (KernelVariant variant : supported_variants()) {
      Matrix<float> actual = Matrix<float>::Constant(cols, rows + 2, -7.0f);
      const bool ran =
          kernels::transpose(variant, source.data(), cols + 3, rows, cols, actual.data(), rows + 2);
      EXPECT_EQ(ran, variant != KernelVariant::Baseline) << kernel_variant_name(variant);
      if (!ran) continue;
      EXPECT_TRUE((actual.leftCols(rows).array() == expected.array()).all())
          << kernel_variant_name(variant) << ": " << rows << " x " << cols;
      EXPECT_TRUE((actual.rightCols(2).array() == -7.0f).all())
          << kernel_variant_name(variant) << ": " << rows << " x " << cols;
    }
  }
}

}  // namespace
}  // namespace eigenformer
