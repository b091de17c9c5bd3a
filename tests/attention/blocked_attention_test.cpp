// The blocked online-softmax kernel against the materialised one, at several lengths and
// block sizes, with every kind of mask.
#include <eigenformer/attention/blocked_attention.hpp>
#include <eigenformer/attention/materialized_attention.hpp>
#include <eigenformer/attention/scaled_dot_product_attention.hpp>
#include <eigenformer/core/threading.hpp>
#include <eigenformer/kernels/cpu_features.hpp>

#include "fixture.hpp"

#include <cmath>
#include <random>

namespace eigenformer {
namespace {

using testing::all_close;
using testing::random_matrix;

template <typename T>
class BlockedAttentionTest : public ::testing::Test {
 protected:
  void expect_same(Index queries, Index keys, const AttentionMask<T>& mask,
                   AttentionBlocking blocking) {
    const Matrix<T> q = random_matrix<T>(queries, 16, 1, 2.0),
                    k = random_matrix<T>(keys, 16, 2, 2.0), v = random_matrix<T>(keys, 8, 3);
    Matrix<T> expected(queries, 8), actual(queries, 8), probabilities;
    BlockedAttentionWorkspace<T> workspace;
    materialized_attention<T>(q, k, v, mask, T(0.25), expected, probabilities);
    blocked_attention<T>(q, k, v, mask, T(0.25), actual, workspace, blocking);
    EXPECT_TRUE(all_close(actual, expected, 1e-5))
        << queries << " queries, " << keys << " keys, blocks " << blocking.query_block << "x"
        << blocking.key_block;
  }
};
using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(BlockedAttentionTest, Scalars);

const AttentionBlocking kBlockings[] = {{1, 1}, {7, 5}, {64, 256}, {16, 1000}};

TYPED_TEST(BlockedAttentionTest, MatchesMaterialisedWithoutMask) {
  for (auto blocking : kBlockings)
    for (auto [l, s] : {std::pair<Index, Index>{1, 1}, {33, 70}, {100, 9}, {300, 300}})
      this->expect_same(l, s, AttentionMask<TypeParam>(), blocking);
}

TYPED_TEST(BlockedAttentionTest, MatchesMaterialisedWithCausalMask) {
  for (auto blocking : kBlockings)
    for (auto [l, s] : {std::pair<Index, Index>{33, 70}, {100, 9}, {300, 300}})
      this->expect_same(l, s, AttentionMask<TypeParam>::causal_mask(), blocking);
}

TYPED_TEST(BlockedAttentionTest, MatchesMaterialisedWithPaddingBooleanAndAdditiveMasks) {
  using T = TypeParam;
  const Index l = 45, s = 130;
  BoolVector padded = BoolVector::Constant(s, false);
  padded.tail(40).setConstant(true);
  BoolMatrix allowed = random_matrix<T>(l, s, 4).array() > T(-1);
  allowed.row(3).setConstant(false);  // a fully masked query
  const Matrix<T> bias = random_matrix<T>(l, s, 5);
  AttentionMask<T> mask;
  mask.key_padding.emplace(padded);
  mask.allowed.emplace(allowed);
  mask.additive.emplace(bias);
  for (auto blocking : kBlockings) this->expect_same(l, s, mask, blocking);
}

TYPED_TEST(BlockedAttentionTest, FixtureWithLargeLogitsThroughBlocks) {
  using T = TypeParam;
  const auto& cases = testing::fixture<T>("attention/cases.safetensors");
  const auto q = cases.at("sdpa_long.q").matrix(), k = cases.at("sdpa_long.k").matrix(),
             v = cases.at("sdpa_long.v").matrix(), expected = cases.at("sdpa_long.out").matrix();
  for (Index h = 0; h < 2; ++h) {
    Matrix<T> out(333, 32);
    BlockedAttentionWorkspace<T> workspace;
    blocked_attention<T>(q.middleRows(h * 333, 333), k.middleRows(h * 333, 333),
                         v.middleRows(h * 333, 333), AttentionMask<T>(),
                         default_attention_scale<T>(32), out, workspace, {32, 50});
    EXPECT_TRUE(all_close(out, expected.middleRows(h * 333, 333), 1e-5)) << "head " << h;
  }
}

TEST(BlockedAttentionBlocking, RejectsBlocksOfZeroRows) {
  const Matrix<float> q = random_matrix<float>(4, 8, 1), k = random_matrix<float>(6, 8, 2),
                      v = random_matrix<float>(6, 3, 3);
  Matrix<float> out(4, 3);
  BlockedAttentionWorkspace<float> workspace;
  for (AttentionBlocking blocking : {AttentionBlocking{0, 4}, AttentionBlocking{4, 0},
                                     AttentionBlocking{-1, 4}, AttentionBlocking{4, -3}})
    EXPECT_THROW(
        blocked_attention<float>(q, k, v, AttentionMask<float>(), 0.5f, out, workspace, blocking),
        InvalidArgument)
        << blocking.query_block << " x " << blocking.key_block;
}

// The point of the blocked path: its workspace is bounded by the block sizes, not by the
// sequence length (the materialised path would need a 2048 x 2048 matrix here).
TEST(BlockedAttentionMemory, WorkspaceIsIndependentOfSequenceLength) {
  const Index length = 2048;
  const Matrix<float> q = random_matrix<float>(length, 64, 6),
                      k = random_matrix<float>(length, 64, 7),
                      v = random_matrix<float>(length, 64, 8);
  Matrix<float> out(length, 64);
  AttentionWorkspace<float> workspace;
  scaled_dot_product_attention<float>(q, k, v, AttentionMask<float>::causal_mask(), 0.125f, out,
                                      workspace);
  EXPECT_EQ(workspace.probabilities.size(), 0);
  // Per thread (the float kernel splits one head's query blocks between threads), plus the
  // float kernel's packed keys and values: linear in the length.
  const AttentionBlocking blocking;
  const Index threads = num_threads();
  EXPECT_LE(workspace.blocked.logits.size(), threads * blocking.query_block * blocking.key_block);
  EXPECT_LE(workspace.blocked.accumulator.size(), threads * blocking.query_block * 64);
  EXPECT_LE(workspace.blocked.packed_keys.size() + workspace.blocked.packed_values.size(),
            2 * (length + blocking.key_block) * 64);
  // Spot-check a few rows against the definition.
  for (Index row : {Index{0}, Index{1000}, length - 1}) {
    Matrix<float> expected(1, 64), probabilities;
    materialized_attention<float>(q.middleRows(row, 1), k.topRows(row + 1), v.topRows(row + 1),
                                  AttentionMask<float>(), 0.125f, expected, probabilities);
    EXPECT_TRUE(all_close(out.row(row), expected, 1e-5)) << "row " << row;
  }
}

// The float kernel of every variant this CPU runs (kernels/attention_x86.hpp for AVX2 and
// AVX-512, Eigen for the baseline) against the materialised path in double: tails of every
// size (blocks not multiples of the vector width, widths not multiples of it, one query),
// each kind of mask, L != S with a causal mask, and logits large enough for the double path.
class BlockedAttentionVariantTest : public ::testing::Test {
 protected:
  void TearDown() override { set_kernel_variant(saved_); }
  const KernelVariant saved_ = kernel_variant();
};

TEST_F(BlockedAttentionVariantTest, EveryVariantMatchesDoublePrecision) {
  struct Case {
    Index queries, keys, depth, dv;
    AttentionBlocking blocking;
    double logit_scale;
  };
  const Case cases[] = {{1, 1, 8, 8, {64, 256}, 1.0},       {1, 300, 64, 64, {64, 256}, 1.0},
                        {37, 70, 16, 8, {7, 5}, 2.0},       {100, 9, 24, 40, {16, 1000}, 1.0},
                        {300, 300, 64, 64, {64, 256}, 1.0}, {130, 257, 17, 33, {13, 33}, 1.0},
                        {90, 200, 32, 64, {48, 64}, 4.0}};
  for (KernelVariant variant :
       {KernelVariant::Baseline, KernelVariant::AVX2, KernelVariant::AVX512}) {
    if (!kernel_variant_supported(variant)) continue;
    set_kernel_variant(variant);
    for (const Case& c : cases) {
      const Matrix<float> q = random_matrix<float>(c.queries, c.depth, 1, c.logit_scale),
                          k = random_matrix<float>(c.keys, c.depth, 2, c.logit_scale),
                          v = random_matrix<float>(c.keys, c.dv, 3);
      BoolVector padded = BoolVector::Constant(c.keys, false);
      padded.tail(c.keys / 3).setConstant(true);
      BoolMatrix allowed = random_matrix<float>(c.queries, c.keys, 4).array() > -1.0f;
      allowed.row(0).setConstant(false);  // a fully masked query
      const Matrix<float> bias = random_matrix<float>(c.queries, c.keys, 5);
      const Matrix<double> bias_double = bias.cast<double>();
      for (int kind = 0; kind < 4; ++kind) {
        AttentionMask<float> mask;
        AttentionMask<double> mask_double;
        mask.causal = mask_double.causal = kind == 1 || kind == 3;
        if (kind >= 2) {
          mask.key_padding.emplace(padded);
          mask.allowed.emplace(allowed);
          mask.additive.emplace(bias);
          mask_double.key_padding.emplace(padded);
          mask_double.allowed.emplace(allowed);
          mask_double.additive.emplace(bias_double);
        }
        Matrix<float> actual(c.queries, c.dv);
        Matrix<double> expected(c.queries, c.dv), probabilities;
        BlockedAttentionWorkspace<float> workspace;
        const double scale = 1.0 / std::sqrt(static_cast<double>(c.depth));
        materialized_attention<double>(q.cast<double>(), k.cast<double>(), v.cast<double>(),
                                       mask_double, scale, expected, probabilities);
        blocked_attention<float>(q, k, v, mask, static_cast<float>(scale), actual, workspace,
                                 c.blocking);
        EXPECT_TRUE(all_close(actual, expected, 1e-5))
            << kernel_variant_name(variant) << ": " << c.queries << " x " << c.keys
            << " keys, depth " << c.depth << ", dv " << c.dv << ", blocks "
            << c.blocking.query_block << " x " << c.blocking.key_block << ", mask kind " << kind;
      }
    }
  }
}

}  // namespace
}  // namespace eigenformer
