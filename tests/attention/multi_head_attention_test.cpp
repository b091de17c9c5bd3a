#include <eigenformer/attention/multi_head_attention.hpp>

#include "fixture.hpp"

namespace eigenformer {
namespace {

using testing::all_close;

template <typename T>
class MultiHeadAttentionTest : public ::testing::Test {
 protected:
  const StateDict<T>& cases = testing::fixture<T>("attention/cases.safetensors");
};
using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(MultiHeadAttentionTest, Scalars);

// A (B, L) uint8 mask from the fixture as one flag per stacked row.
template <typename T>
BoolVector flags(const Tensor<T>& mask) {
  return mask.vector().array() != T(0);
}

TYPED_TEST(MultiHeadAttentionTest, PackedProjectionWithKeyPaddingAndAverageWeights) {
  using T = TypeParam;
  const auto& c = this->cases;
  const auto mha = MultiHeadAttention<T>::load(c, "mha_self.", 16, 4);
  const BoolVector padded = flags(c.at("mha_self.key_padding_mask"));
  AttentionMask<T> mask;
  mask.key_padding.emplace(padded);
  std::vector<Matrix<T>> weights;
  const Matrix<T> out =
      mha.forward(c.at("mha_self.x").matrix(), SequenceBatch::uniform(2, 5), mask, &weights);
  EXPECT_TRUE(all_close(out, c.at("mha_self.out").matrix(), 1e-5));
  const auto expected_weights = c.at("mha_self.avg_weights").matrix();
  ASSERT_EQ(weights.size(), 2u);
  for (Index b = 0; b < 2; ++b)
    EXPECT_TRUE(all_close(weights[b], expected_weights.middleRows(b * 5, 5), 1e-6))
        << "sequence " << b;
}

TYPED_TEST(MultiHeadAttentionTest, SeparateProjectionsWithKdimAndVdim) {
  using T = TypeParam;
  const auto& c = this->cases;
  const auto mha = MultiHeadAttention<T>::load(c, "mha_cross.", 12, 3, true, 10, 6);
  const Matrix<T> out = mha.forward(
      c.at("mha_cross.query").matrix(), c.at("mha_cross.key").matrix(),
      c.at("mha_cross.value").matrix(), SequenceBatch::uniform(2, 4), SequenceBatch::uniform(2, 6));
  EXPECT_TRUE(all_close(out, c.at("mha_cross.out").matrix(), 1e-5));
}

TYPED_TEST(MultiHeadAttentionTest, NoBiasWithCausalMask) {
  using T = TypeParam;
  const auto& c = this->cases;
  const auto mha = MultiHeadAttention<T>::load(c, "mha_causal.", 8, 2, false);
  const Matrix<T> out = mha.forward(c.at("mha_causal.x").matrix(), SequenceBatch::single(6),
                                    AttentionMask<T>::causal_mask());
  EXPECT_TRUE(all_close(out, c.at("mha_causal.out").matrix(), 1e-5));
}

TYPED_TEST(MultiHeadAttentionTest, VariableLengthBatchEqualsSeparateCalls) {
  using T = TypeParam;
  const auto& c = this->cases;
  const auto mha = MultiHeadAttention<T>::load(c, "mha_self.", 16, 4);
  const Matrix<T> x = c.at("mha_self.x").matrix();  // 10 rows
  const Matrix<T> together = mha.forward(x, SequenceBatch{3, 7});
  const Matrix<T> first = mha.forward(x.topRows(3), SequenceBatch::single(3));
  const Matrix<T> second = mha.forward(x.bottomRows(7), SequenceBatch::single(7));
  EXPECT_TRUE(all_close(together.topRows(3), first, 1e-6));
  EXPECT_TRUE(all_close(together.bottomRows(7), second, 1e-6));
}

// nn.MultiheadAttention over zero keys: every head's context is zeros(L, head_dim) (the
// softmax over an empty dimension is empty and bmm with an empty inner dimension is zero),
// so each output row is out_proj(0) = out_proj.bias, and the averaged weights are L x 0.
TYPED_TEST(MultiHeadAttentionTest, NoKeysGiveTheOutputBias) {
  using T = TypeParam;
  const auto& c = this->cases;
  const auto mha = MultiHeadAttention<T>::load(c, "mha_self.", 16, 4);
  const Matrix<T> query = c.at("mha_self.x").matrix().topRows(3), none(0, 16);
  const RowVector<T> bias = c.at("mha_self.out_proj.bias").vector().transpose();
  std::vector<Matrix<T>> weights;
  const Matrix<T> out = mha.forward(query, none, none, SequenceBatch::single(3),
                                    SequenceBatch::single(0), {}, &weights);
  ASSERT_EQ(out.rows(), 3);
  for (Index r = 0; r < 3; ++r) EXPECT_TRUE(all_close(out.row(r), bias, 0)) << "row " << r;
  ASSERT_EQ(weights.size(), 1u);
  EXPECT_EQ(weights[0].rows(), 3);
  EXPECT_EQ(weights[0].cols(), 0);
  // Without the weights the (parallel) SDPA path runs; same result.
  const Matrix<T> fast =
      mha.forward(query, none, none, SequenceBatch::single(3), SequenceBatch::single(0));
  EXPECT_TRUE(all_close(fast, out, 0));
}

TYPED_TEST(MultiHeadAttentionTest, RejectsInconsistentShapes) {
  using T = TypeParam;
  const auto& c = this->cases;
  const auto mha = MultiHeadAttention<T>::load(c, "mha_self.", 16, 4);
  EXPECT_THROW(mha.forward(c.at("mha_self.x").matrix(), SequenceBatch{4, 5}), ShapeError);
  EXPECT_THROW(MultiHeadAttention<T>::load(c, "mha_self.", 16, 5), ShapeError);
  EXPECT_THROW(MultiHeadAttention<T>::load(c, "mha_self.", 12, 4), ShapeError);
  EXPECT_THROW(MultiHeadAttention<T>::load(c, "mha_missing.", 16, 4), FormatError);
}

}  // namespace
}  // namespace eigenformer
