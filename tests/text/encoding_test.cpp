#include <eigenformer/text/encoding.hpp>

#include <gtest/gtest.h>

#include <vector>

namespace eigenformer {
namespace {

Encoding encoding(std::vector<TokenId> ids, std::vector<TokenId> type_ids) {
  std::vector<TokenId> mask(ids.size(), 1);
  return {std::move(ids), std::move(type_ids), std::move(mask), {}};
}

TEST(Encoding, PadToLongestPadsOnTheRight) {
  const auto batch = pad_to_longest(
      {encoding({1, 5, 2}, {0, 0, 0}), encoding({1, 2, 6, 7, 2}, {0, 0, 1, 1, 1})}, 9);
  ASSERT_EQ(batch.batch(), 2);
  ASSERT_EQ(batch.length(), 5);
  Matrix<TokenId> ids(2, 5), type_ids(2, 5), mask(2, 5);
  ids << 1, 5, 2, 9, 9, 1, 2, 6, 7, 2;
  type_ids << 0, 0, 0, 0, 0, 0, 0, 1, 1, 1;
  mask << 1, 1, 1, 0, 0, 1, 1, 1, 1, 1;
  EXPECT_EQ(batch.ids, ids);
  EXPECT_EQ(batch.type_ids, type_ids);
  EXPECT_EQ(batch.attention_mask, mask);
}

TEST(Encoding, EmptyBatchIsZeroByZero) {
  const auto batch = pad_to_longest({}, 0);
  EXPECT_EQ(batch.batch(), 0);
  EXPECT_EQ(batch.length(), 0);
}

}  // namespace
}  // namespace eigenformer
