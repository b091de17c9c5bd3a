#include <eigenformer/core/sequence_batch.hpp>

#include "io/test_files.hpp"

#include <gtest/gtest.h>

#include <limits>

namespace eigenformer {
namespace {

using testing::throws_with;

TEST(SequenceBatch, StacksSequencesInOrder) {
  const SequenceBatch batch{3, 0, 2};
  EXPECT_EQ(batch.size(), 3);
  EXPECT_EQ(batch.offset(0), 0);
  EXPECT_EQ(batch.offset(1), 3);
  EXPECT_EQ(batch.offset(2), 3);
  EXPECT_EQ(batch.length(2), 2);
  EXPECT_EQ(batch.total_rows(), 5);
  EXPECT_EQ(batch.max_length(), 3);
  EXPECT_NO_THROW(batch.check_rows(5, "x"));
  EXPECT_TRUE(throws_with<ShapeError>([&] { batch.check_rows(4, "queries"); },
                                      {"queries has 4 rows", "add up to 5"}));
  EXPECT_EQ(SequenceBatch::uniform(2, 4).offset(1), 4);
  EXPECT_EQ(SequenceBatch().total_rows(), 0);
}

TEST(SequenceBatch, NegativeOrOverflowingLengthsAreErrors) {
  constexpr Index kMax = std::numeric_limits<Index>::max();
  EXPECT_TRUE(throws_with<InvalidArgument>([] { SequenceBatch{2, -1}; }, {"-1 is negative"}));
  EXPECT_TRUE(throws_with<InvalidArgument>([] { SequenceBatch::uniform(-2, 3); },
                                           {"sequence count -2 is negative"}));
  EXPECT_TRUE(throws_with<InvalidArgument>(
      [] {
        SequenceBatch{kMax, 1};
      },
      {"add up to more than"}));
  EXPECT_EQ(SequenceBatch({kMax - 1, 1}).total_rows(), kMax);
}

}  // namespace
}  // namespace eigenformer
