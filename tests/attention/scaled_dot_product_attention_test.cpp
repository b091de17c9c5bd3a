#include <eigenformer/attention/scaled_dot_product_attention.hpp>

#include "fixture.hpp"

#include <algorithm>
#include <numeric>
#include <random>

namespace eigenformer {
namespace {

using testing::all_close;
using testing::fixture;
using testing::random_matrix;

template <typename T>
class SdpaTest : public ::testing::Test {};
using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(SdpaTest, Scalars);

template <typename T>
const StateDict<T>& cases() {
  return fixture<T>("attention/cases.safetensors");
}

// The fixture stores (B, H, L, E); head (b, h) is a block of rows of the flattened matrix.
template <typename T>
auto head(const Tensor<T>& tensor, Index b, Index h) {
  const Index heads = tensor.dim(1), rows = tensor.dim(2);
  return tensor.matrix().middleRows((b * heads + h) * rows, rows);
}

template <typename T>
void check_case(const std::string& name,
                const std::function<AttentionMask<T>(Index, Index)>& mask_for,
                std::optional<T> scale, double tolerance) {
  const auto& q = cases<T>().at(name + ".q");
  const auto& k = cases<T>().at(name + ".k");
  const auto& v = cases<T>().at(name + ".v");
  const auto& expected = cases<T>().at(name + ".out");
  for (Index b = 0; b < q.dim(0); ++b)
    for (Index h = 0; h < q.dim(1); ++h) {
      const Matrix<T> out = scaled_dot_product_attention<T>(head(q, b, h), head(k, b, h),
                                                            head(v, b, h), mask_for(b, h), scale);
      EXPECT_TRUE(all_close(out, head(expected, b, h), tolerance))
          << name << " b=" << b << " h=" << h;
    }
}

TYPED_TEST(SdpaTest, MatchesPyTorchWithoutMask) {
  using T = TypeParam;
  check_case<T>(
      "sdpa_basic", [](Index, Index) { return AttentionMask<T>(); }, std::nullopt, 1e-5);
}

TYPED_TEST(SdpaTest, MatchesPyTorchCausal) {
  using T = TypeParam;
  check_case<T>(
      "sdpa_causal", [](Index, Index) { return AttentionMask<T>::causal_mask(); }, std::nullopt,
      1e-5);
}

TYPED_TEST(SdpaTest, MatchesPyTorchBooleanMask) {
  using T = TypeParam;
  const BoolMatrix allowed = cases<T>().at("sdpa_boolmask.allowed").matrix().array() != T(0);
  check_case<T>(
      "sdpa_boolmask",
      [&](Index, Index) {
        AttentionMask<T> mask;
        mask.allowed.emplace(allowed);
        return mask;
      },
      std::nullopt, 1e-5);
}

TYPED_TEST(SdpaTest, MatchesPyTorchAdditiveMask) {
  using T = TypeParam;
  const auto& bias = cases<T>().at("sdpa_floatmask.bias");  // (B, 1, L, S)
  check_case<T>(
      "sdpa_floatmask",
      [&](Index b, Index) {
        AttentionMask<T> mask;
        mask.additive.emplace(head(bias, b, 0));
        return mask;
      },
      std::nullopt, 1e-5);
}

TYPED_TEST(SdpaTest, MatchesPyTorchExplicitScale) {
  using T = TypeParam;
  check_case<T>(
      "sdpa_scale", [](Index, Index) { return AttentionMask<T>(); }, T(0.5), 1e-5);
}

TYPED_TEST(SdpaTest, StableForLogitsInTheHundreds) {
  using T = TypeParam;
  check_case<T>(
      "sdpa_long", [](Index, Index) { return AttentionMask<T>(); }, std::nullopt, 1e-5);
}

TYPED_TEST(SdpaTest, PermutingKeysAndValuesTogetherLeavesOutputUnchanged) {
  using T = TypeParam;
  const Matrix<T> q = random_matrix<T>(5, 8, 1), k = random_matrix<T>(9, 8, 2),
                  v = random_matrix<T>(9, 3, 3);
  std::vector<int> order(9);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), std::mt19937(4));
  Matrix<T> k_perm(9, 8), v_perm(9, 3);
  for (Index i = 0; i < 9; ++i) {
    k_perm.row(i) = k.row(order[i]);
    v_perm.row(i) = v.row(order[i]);
  }
  EXPECT_TRUE(all_close(scaled_dot_product_attention<T>(q, k_perm, v_perm),
                        scaled_dot_product_attention<T>(q, k, v), 1e-5));
}

TYPED_TEST(SdpaTest, CausalOutputIgnoresLaterTokens) {
  using T = TypeParam;
  Matrix<T> x = random_matrix<T>(7, 4, 5);
  const Matrix<T> before =
      scaled_dot_product_attention<T>(x, x, x, AttentionMask<T>::causal_mask());
  x.bottomRows(3) = random_matrix<T>(3, 4, 6);
  const Matrix<T> after = scaled_dot_product_attention<T>(x, x, x, AttentionMask<T>::causal_mask());
  EXPECT_TRUE(all_close(after.topRows(4), before.topRows(4), 0));
  EXPECT_FALSE(all_close(after.bottomRows(3), before.bottomRows(3), 1e-3));
}

TYPED_TEST(SdpaTest, FullyMaskedRowIsZero) {
  using T = TypeParam;
  const Matrix<T> q = random_matrix<T>(3, 4, 7), k = random_matrix<T>(5, 4, 8),
                  v = random_matrix<T>(5, 2, 9);
  BoolMatrix allowed = BoolMatrix::Constant(3, 5, true);
  allowed.row(1).setConstant(false);
  AttentionMask<T> mask;
  mask.allowed.emplace(allowed);
  const Matrix<T> out = scaled_dot_product_attention<T>(q, k, v, mask);
  EXPECT_TRUE(out.row(1).isZero(0));
  EXPECT_TRUE(out.allFinite());
  EXPECT_FALSE(out.row(0).isZero(1e-6));
}

// F.scaled_dot_product_attention(q (L x E), k (0 x E), v (0 x Ev)) returns zeros(L, Ev):
// an empty sum of weighted values. Both kernels (the blocked one is used for long key
// sequences, use_blocked_attention(); here called directly) must agree.
TYPED_TEST(SdpaTest, NoKeysGiveZeros) {
  using T = TypeParam;
  const Matrix<T> q = random_matrix<T>(3, 4, 7), k(0, 4), v(0, 2);
  const Matrix<T> out = scaled_dot_product_attention<T>(q, k, v);
  ASSERT_EQ(out.rows(), 3);
  ASSERT_EQ(out.cols(), 2);
  EXPECT_TRUE(out.isZero(0));
  const Matrix<T> causal =
      scaled_dot_product_attention<T>(q, k, v, AttentionMask<T>::causal_mask());
  EXPECT_TRUE(causal.isZero(0));
  Matrix<T> blocked = Matrix<T>::Constant(3, 2, T(7));
  BlockedAttentionWorkspace<T> workspace;
  blocked_attention<T>(q, k, v, AttentionMask<T>(), T(0.5), blocked, workspace);
  EXPECT_TRUE(blocked.isZero(0));
}

TYPED_TEST(SdpaTest, CausalWithMoreKeysThanQueriesUsesTopLeftTriangle) {
  using T = TypeParam;
  const Matrix<T> q = random_matrix<T>(2, 4, 10), k = random_matrix<T>(4, 4, 11),
                  v = random_matrix<T>(4, 3, 12);
  BoolMatrix allowed(2, 4);
  allowed << 1, 0, 0, 0, 1, 1, 0, 0;  // tril(ones(L, S)), as PyTorch's is_causal builds it
  AttentionMask<T> explicit_mask;
  explicit_mask.allowed.emplace(allowed);
  EXPECT_TRUE(all_close(scaled_dot_product_attention<T>(q, k, v, AttentionMask<T>::causal_mask()),
                        scaled_dot_product_attention<T>(q, k, v, explicit_mask), 0));
}

TYPED_TEST(SdpaTest, RejectsMismatchedShapes) {
  using T = TypeParam;
  const Matrix<T> q = random_matrix<T>(3, 4, 1), k = random_matrix<T>(5, 3, 2),
                  v = random_matrix<T>(5, 2, 3);
  EXPECT_THROW(scaled_dot_product_attention<T>(q, k, v), ShapeError);
  const Matrix<T> k_ok = random_matrix<T>(5, 4, 2);
  BoolMatrix wrong = BoolMatrix::Constant(3, 4, true);
  AttentionMask<T> mask;
  mask.allowed.emplace(wrong);
  EXPECT_THROW(scaled_dot_product_attention<T>(q, k_ok, v, mask), ShapeError);
}

// The path rule: the float kernels (AVX2 / AVX-512) from kBlockedKernelMinKeys keys, the Eigen
// blocked code (double, baseline variant) past kMaterializedKeyLimit.
TEST(SdpaDispatch, BlockedPathRule) {
  const KernelVariant saved = kernel_variant();
  EXPECT_FALSE(use_blocked_attention<double>(kMaterializedKeyLimit));
  EXPECT_TRUE(use_blocked_attention<double>(kMaterializedKeyLimit + 1));
  set_kernel_variant(KernelVariant::Baseline);
  EXPECT_FALSE(use_blocked_attention<float>(kMaterializedKeyLimit));
  EXPECT_TRUE(use_blocked_attention<float>(kMaterializedKeyLimit + 1));
  for (KernelVariant variant : {KernelVariant::AVX2, KernelVariant::AVX512}) {
    if (!kernel_variant_supported(variant)) continue;
    set_kernel_variant(variant);
    EXPECT_FALSE(use_blocked_attention<float>(kBlockedKernelMinKeys - 1));
    EXPECT_TRUE(use_blocked_attention<float>(kBlockedKernelMinKeys));
  }
  set_kernel_variant(saved);
}

}  // namespace
}  // namespace eigenformer
