#include <eigenformer/text/truncation.hpp>

#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "io/test_files.hpp"

namespace eigenformer {
namespace {

using testing::throws_with;

std::vector<TokenId> sequence(std::size_t length, TokenId first = 0) {
  std::vector<TokenId> ids(length);
  std::iota(ids.begin(), ids.end(), first);
  return ids;
}

std::pair<std::size_t, std::size_t> truncated_pair(
    std::size_t n1, std::size_t n2, std::size_t budget,
    TruncationStrategy strategy = TruncationStrategy::LongestFirst) {
  auto first = sequence(n1), second = sequence(n2);
  truncate_sequences(first, &second, budget, strategy, TruncationSide::Right);
  return {first.size(), second.size()};
}

// The table of truncation.rs's truncate_encodings_longest_first test: max_length 7 and
// sequences of 0, 2, 4 and 8 tokens.
TEST(Truncation, LongestFirstMatchesTokenizersTable) {
  using P = std::pair<std::size_t, std::size_t>;
  const std::size_t lengths[] = {0, 2, 4, 8};
  const P expected[4][4] = {{{0, 0}, {0, 2}, {0, 4}, {0, 7}},
                            {{2, 0}, {2, 2}, {2, 4}, {2, 5}},
                            {{4, 0}, {4, 2}, {3, 4}, {3, 4}},
                            {{7, 0}, {5, 2}, {4, 3}, {3, 4}}};
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j)
      EXPECT_EQ(truncated_pair(lengths[i], lengths[j], 7), expected[i][j]) << i << ", " << j;
}

TEST(Truncation, ZeroBudgetEmptiesBoth) {
  EXPECT_EQ(truncated_pair(4, 4, 0), (std::pair<std::size_t, std::size_t>{0, 0}));
  EXPECT_EQ(truncated_pair(8, 0, 0, TruncationStrategy::OnlySecond),
            (std::pair<std::size_t, std::size_t>{0, 0}));
}

TEST(Truncation, SingleSequenceKeepsItsStartOrItsEnd) {
  auto ids = sequence(6);
  truncate_sequences(ids, nullptr, 4, TruncationStrategy::LongestFirst, TruncationSide::Right);
  EXPECT_EQ(ids, sequence(4));
  ids = sequence(6);
  truncate_sequences(ids, nullptr, 4, TruncationStrategy::OnlyFirst, TruncationSide::Left);
  EXPECT_EQ(ids, sequence(4, 2));
  ids = sequence(3);
  truncate_sequences(ids, nullptr, 4, TruncationStrategy::LongestFirst, TruncationSide::Right);
  EXPECT_EQ(ids, sequence(3));
}

TEST(Truncation, OnlyFirstAndOnlySecondCutOneSequence) {
  EXPECT_EQ(truncated_pair(5, 4, 7, TruncationStrategy::OnlyFirst),
            (std::pair<std::size_t, std::size_t>{3, 4}));
  EXPECT_EQ(truncated_pair(5, 4, 7, TruncationStrategy::OnlySecond),
            (std::pair<std::size_t, std::size_t>{5, 2}));
  EXPECT_TRUE(
      throws_with<InvalidArgument>([] { truncated_pair(2, 8, 7, TruncationStrategy::OnlyFirst); },
                                   {"first sequence has 2 tokens but 3 must go"}));
  auto ids = sequence(9);
  EXPECT_TRUE(throws_with<InvalidArgument>(
      [&] {
        truncate_sequences(ids, nullptr, 7, TruncationStrategy::OnlySecond, TruncationSide::Right);
      },
      {"OnlySecond", "pair"}));
}

}  // namespace
}  // namespace eigenformer
