// Run-time kernel variants (kernels/cpu_features.hpp): every variant this CPU supports gives
// the baseline's results within rounding (packed products of odd shapes with bias and each
// activation, attention, softmax, GELU, LayerNorm), and the override API and environment
// variable choose, or refuse, a variant.
#include <eigenformer/attention/scaled_dot_product_attention.hpp>
#include <eigenformer/core/build_info.hpp>
#include <eigenformer/kernels/cpu_features.hpp>
#include <eigenformer/nn/activations.hpp>
#include <eigenformer/nn/layer_norm.hpp>
#include <eigenformer/nn/packed_weight.hpp>
#include <eigenformer/nn/softmax.hpp>

#include "fixture.hpp"

#include <cstdlib>
#include <string>
#include <vector>

namespace eigenformer {
namespace {

using testing::all_close;
using testing::random_matrix;

constexpr KernelVariant kAllVariants[] = {KernelVariant::Baseline, KernelVariant::AVX2,
                                          KernelVariant::AVX512};

std::vector<KernelVariant> supported_variants() {
  std::vector<KernelVariant> variants;
  for (KernelVariant variant : kAllVariants)
    if (kernel_variant_supported(variant)) variants.push_back(variant);
  return variants;
}

// Restores the variant and the support limit a test changed.
class KernelDispatchTest : public ::testing::Test {
 protected:
  void TearDown() override {
    detail::kernel_variant_limit = static_cast<int>(KernelVariant::AVX512);
    set_kernel_variant(saved_);
  }

  // `compute()` under the baseline and under every other supported variant.
  template <typename Compute>
  static void expect_variants_match_baseline(const Compute& compute, double tolerance,
                                             const std::string& what) {
    set_kernel_variant(KernelVariant::Baseline);
    const Matrix<float> expected = compute();
    for (KernelVariant variant : supported_variants()) {
      set_kernel_variant(variant);
      EXPECT_TRUE(all_close(compute(), expected, tolerance))
          << kernel_variant_name(variant) << ": " << what;
    }
  }

  const KernelVariant saved_ = kernel_variant();
};

TEST_F(KernelDispatchTest, NamesRoundTripAndUnknownNamesAreRefused) {
  for (KernelVariant variant : kAllVariants)
    EXPECT_EQ(parse_kernel_variant(kernel_variant_name(variant)), variant);
  EXPECT_THROW(parse_kernel_variant("sse2"), InvalidArgument);
  EXPECT_THROW(parse_kernel_variant("AVX2"), InvalidArgument);
}

TEST_F(KernelDispatchTest, TheBestSupportedVariantIsTheDefault) {
  EXPECT_TRUE(kernel_variant_supported(KernelVariant::Baseline));
  EXPECT_TRUE(kernel_variant_supported(best_kernel_variant()));
#if !EIGENFORMER_X86_DISPATCH
  EXPECT_EQ(best_kernel_variant(), KernelVariant::Baseline);
#endif
  const char* environment = std::getenv("EIGENFORMER_KERNELS");
  if (environment == nullptr || *environment == '\0') {
    EXPECT_EQ(detail::kernel_variant_from_environment(), best_kernel_variant());
  }
  std::printf("best kernel variant on this CPU: %s\n", kernel_variant_name(best_kernel_variant()));
}

TEST_F(KernelDispatchTest, SetKernelVariantChoosesAndRefuses) {
  for (KernelVariant variant : supported_variants()) {
    set_kernel_variant(variant);
    EXPECT_EQ(kernel_variant(), variant);
    EXPECT_NE(build_info_string().find(std::string("kernels: ") + kernel_variant_name(variant)),
              std::string::npos)
        << build_info_string();
  }
  for (KernelVariant variant : kAllVariants) {
    if (!kernel_variant_supported(variant)) {
      EXPECT_THROW(set_kernel_variant(variant), InvalidArgument) << kernel_variant_name(variant);
    }
  }
  // A CPU without AVX2: only the baseline remains, and it still runs.
  detail::kernel_variant_limit = static_cast<int>(KernelVariant::Baseline);
  EXPECT_EQ(best_kernel_variant(), KernelVariant::Baseline);
  EXPECT_THROW(set_kernel_variant(KernelVariant::AVX2), InvalidArgument);
  EXPECT_THROW(set_kernel_variant(KernelVariant::AVX512), InvalidArgument);
  try {
    set_kernel_variant(KernelVariant::AVX512);
  } catch (const InvalidArgument& error) {
    EXPECT_NE(std::string(error.what()).find("avx512"), std::string::npos) << error.what();
  }
  set_kernel_variant(KernelVariant::Baseline);
  EXPECT_EQ(kernel_variant(), KernelVariant::Baseline);
}

TEST_F(KernelDispatchTest, EnvironmentVariableChoosesAndRefuses) {
  const char* saved = std::getenv("EIGENFORMER_KERNELS");
  const std::string saved_value = saved ? saved : "";
  for (KernelVariant variant : supported_variants()) {
    setenv("EIGENFORMER_KERNELS", kernel_variant_name(variant), 1);
    EXPECT_EQ(detail::kernel_variant_from_environment(), variant);
  }
  setenv("EIGENFORMER_KERNELS", "", 1);
  EXPECT_EQ(detail::kernel_variant_from_environment(), best_kernel_variant());
  setenv("EIGENFORMER_KERNELS", "fast", 1);
  EXPECT_THROW(detail::kernel_variant_from_environment(), InvalidArgument);
  detail::kernel_variant_limit = static_cast<int>(KernelVariant::Baseline);
  setenv("EIGENFORMER_KERNELS", "avx2", 1);
  EXPECT_THROW(detail::kernel_variant_from_environment(), InvalidArgument);
  if (saved)
    setenv("EIGENFORMER_KERNELS", saved_value.c_str(), 1);
  else
    unsetenv("EIGENFORMER_KERNELS");
}

// Run by ctest with EIGENFORMER_KERNELS set (kernel_dispatch_environment_*): the variable
// decides the variant of a fresh process.
TEST(KernelEnvironmentTest, TheVariableSetsTheStartupVariant) {
  const char* environment = std::getenv("EIGENFORMER_KERNELS");
  if (environment == nullptr || *environment == '\0') GTEST_SKIP() << "EIGENFORMER_KERNELS unset";
  EXPECT_EQ(kernel_variant(), parse_kernel_variant(environment));
  EXPECT_EQ(PackedWeight<float>(Matrix<float>::Ones(3, 4)).variant(), kernel_variant());
}

TEST_F(KernelDispatchTest, WeightsArePackedForTheirVariant) {
  for (KernelVariant variant : supported_variants()) {
    set_kernel_variant(variant);
    const PackedWeight<float> packed(random_matrix<float>(37, 11, 3));
    EXPECT_EQ(packed.variant(), variant);
    const Index expected_width = variant == KernelVariant::AVX512 ? 32
                                 : variant == KernelVariant::AVX2
                                     ? 16
                                     : PackedWeight<float>::kBaselinePanelWidth;
    EXPECT_EQ(packed.panel_width(), expected_width);
    EXPECT_TRUE((packed.unpack().array() == random_matrix<float>(37, 11, 3).array()).all());
    // double keeps the Eigen kernels.
    EXPECT_EQ(PackedWeight<double>(Matrix<double>::Ones(3, 4)).variant(), KernelVariant::Baseline);
  }
}

TEST_F(KernelDispatchTest, ProductsOfOddShapesMatchTheBaseline) {
  unsigned seed = 1;
  for (Index rows : {1, 2, 5, 6, 7, 13, 150})
    for (Index depth : {1, 7, 37, 300, 601})
      for (Index outputs : {1, 15, 17, 33, 100}) {
        const Matrix<float> x = random_matrix<float>(rows, depth, seed++);
        const Matrix<float> w = random_matrix<float>(outputs, depth, seed++);
        expect_variants_match_baseline(
            [&] {
              Matrix<float> out(rows, outputs);
              PackedWeight<float>(w).multiply(x, out);
              return out;
            },
            2e-6 * static_cast<double>(depth),
            detail::concat(rows, " x ", depth, " times (", outputs, " x ", depth, ")^T"));
      }
}

TEST_F(KernelDispatchTest, BiasAndEveryActivationMatchTheBaseline) {
  unsigned seed = 1000;
  for (const Activation activation : {Activation::Identity, Activation::ReLU, Activation::GELU,
                                      Activation::GELUTanh, Activation::SiLU, Activation::Sigmoid})
    for (Index rows : {1, 7, 20})
      for (Index depth : {13, 300})
        for (Index outputs : {1, 31, 65}) {
          const Matrix<float> x = random_matrix<float>(rows, depth, seed++);
          const Matrix<float> w = random_matrix<float>(outputs, depth, seed++, 0.1);
          const Vector<float> bias = random_matrix<float>(outputs, 1, seed++);
          expect_variants_match_baseline(
              [&] {
                Matrix<float> out(rows, outputs);
                PackedWeight<float>(w, bias).multiply(x, out, activation);
                return out;
              },
              1e-5,
              detail::concat(rows, " x ", depth, " times (", outputs, " x ", depth,
                             ")^T, activation ", static_cast<int>(activation)));
        }
}

TEST_F(KernelDispatchTest, StridedViewsAndThreadsMatchTheBaseline) {
  const Matrix<float> x = random_matrix<float>(300, 70, 5);
  const Matrix<float> w = random_matrix<float>(530, 40, 6);
  const Vector<float> bias = random_matrix<float>(530, 1, 7);
  expect_variants_match_baseline(
      [&] {
        Matrix<float> out = Matrix<float>::Zero(300, 560);
        PackedWeight<float>(w, bias).multiply(x.middleCols(20, 40), out.middleCols(17, 530),
                                              Activation::GELU);
        return out;
      },
      1e-4, "column blocks of wider matrices");
}

TEST_F(KernelDispatchTest, AWeightKeepsItsVariantWhenTheGlobalOneChanges) {
  const Matrix<float> x = random_matrix<float>(9, 50, 11);
  const Matrix<float> w = random_matrix<float>(40, 50, 12);
  const Matrix<float> expected = x * w.transpose();
  for (KernelVariant packed_for : supported_variants()) {
    set_kernel_variant(packed_for);
    const PackedWeight<float> packed(w);
    for (KernelVariant later : supported_variants()) {
      set_kernel_variant(later);
      Matrix<float> out(9, 40);
      packed.multiply(x, out);
      EXPECT_TRUE(all_close(out, expected, 1e-4)) << kernel_variant_name(packed_for);
    }
  }
}

TEST_F(KernelDispatchTest, AttentionMatchesTheBaseline) {
  for (Index length : {1, 7, 33}) {
    const Matrix<float> q = random_matrix<float>(length, 24, 21);
    const Matrix<float> k = random_matrix<float>(length + 3, 24, 22);
    const Matrix<float> v = random_matrix<float>(length + 3, 20, 23);
    expect_variants_match_baseline([&] { return scaled_dot_product_attention<float>(q, k, v); },
                                   1e-5, detail::concat("attention, ", length, " queries"));
  }
}

TEST_F(KernelDispatchTest, SoftmaxMatchesTheBaseline) {
  for (Index width : {1, 7, 8, 15, 16, 17, 33, 128, 1000}) {
    Matrix<float> logits = random_matrix<float>(5, width, 31, 4.0);
    logits(1, 0) = -std::numeric_limits<float>::infinity();
    logits.row(2).setConstant(-std::numeric_limits<float>::infinity());  // every key masked
    logits(3, width - 1) = 80.0f;
    expect_variants_match_baseline(
        [&] {
          Matrix<float> p = logits;
          softmax_rows<float>(p);
          return p;
        },
        1e-6, detail::concat("softmax of width ", width));
  }
}

TEST_F(KernelDispatchTest, ActivationsMatchTheBaseline) {
  Matrix<float> x = random_matrix<float>(3, 1001, 41, 3.0);
  x(0, 0) = 0.0f;
  x(0, 1) = -12.0f;
  x(0, 2) = 12.0f;
  x(0, 3) = -5.5f;
  x(0, 4) = 1e-20f;
  for (const Activation activation : {Activation::ReLU, Activation::GELU, Activation::GELUTanh,
                                      Activation::SiLU, Activation::Sigmoid})
    for (Index width : {1, 7, 16, 17, 1001})
      expect_variants_match_baseline(
          [&] {
            Matrix<float> y = x.leftCols(width);
            apply_activation(activation, y);
            return y;
          },
          2e-6, detail::concat("activation ", static_cast<int>(activation), ", width ", width));
}

TEST_F(KernelDispatchTest, LayerNormMatchesTheBaseline) {
  for (Index features : {1, 7, 16, 33, 384, 1001}) {
    const Matrix<float> x = random_matrix<float>(4, features, 51, 2.0);
    const Matrix<float> residual = random_matrix<float>(4, features, 52);
    const Matrix<float> weight = random_matrix<float>(features, 1, 53);
    const Matrix<float> bias = random_matrix<float>(features, 1, 54);
    const LayerNorm<float> norm(
        Tensor<float>({features}, std::vector<float>(weight.data(), weight.data() + features)),
        Tensor<float>({features}, std::vector<float>(bias.data(), bias.data() + features)), 1e-5f);
    expect_variants_match_baseline([&] { return norm.forward(x); }, 1e-5,
                                   detail::concat("LayerNorm of width ", features));
    expect_variants_match_baseline(
        [&] {
          Matrix<float> hidden = residual;
          norm.apply_residual(x, hidden);
          return hidden;
        },
        1e-5, detail::concat("residual LayerNorm of width ", features));
  }
}

}  // namespace
}  // namespace eigenformer
