#include <eigenformer/text/wordpiece.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "io/test_files.hpp"

namespace eigenformer {
namespace {

using testing::throws_with;

WordPiece model(std::vector<std::string> tokens, WordPieceOptions options = {}) {
  return WordPiece(Vocabulary::from_tokens(std::move(tokens), "test vocab"), std::move(options));
}

// The examples of models/wordpiece/mod.rs's own tests.
TEST(WordPiece, GreedyPiecesWithContinuationPrefix) {
  const auto wordpiece = model({"##na", "ba", "[UNK]"});
  EXPECT_EQ(wordpiece.tokenize("banana"), (std::vector<TokenId>{1, 0, 0}));
  EXPECT_EQ(wordpiece.tokenize("nanana"), (std::vector<TokenId>{2}));  // cannot start with "na"
}

TEST(WordPiece, LongestMatchFirst) {
  const auto wordpiece = model({"[UNK]", "un", "unaff", "##a", "##able", "##ble", "##aff"});
  EXPECT_EQ(wordpiece.tokenize("unaffable"), (std::vector<TokenId>{2, 4}));
  EXPECT_EQ(wordpiece.tokenize("unable"), (std::vector<TokenId>{1, 4}));
  EXPECT_EQ(wordpiece.tokenize("unx"), (std::vector<TokenId>{0}));  // whole word unknown
  EXPECT_TRUE(wordpiece.tokenize("").empty());
}

TEST(WordPiece, WordsOverMaxInputCharsAreUnknown) {
  const auto wordpiece = model({"[UNK]", "a", "##a", "\xc3\xa9", "##\xc3\xa9"});
  EXPECT_EQ(wordpiece.tokenize(std::string(100, 'a')).size(), 100u);
  EXPECT_EQ(wordpiece.tokenize(std::string(101, 'a')), (std::vector<TokenId>{0}));
  std::string accents;  // 100 characters, 200 bytes: the limit counts characters
  for (int i = 0; i < 100; ++i) accents += "\xc3\xa9";
  EXPECT_EQ(wordpiece.tokenize(accents).size(), 100u);
}

TEST(WordPiece, MultiByteCharactersAndCustomPrefix) {
  WordPieceOptions options;
  options.continuing_subword_prefix = "@@";
  options.unk_token = "<unk>";
  options.max_input_chars_per_word = 4;
  const auto wordpiece = model({"<unk>", "\xc3\xbc", "@@ber", "##ber"}, options);
  EXPECT_EQ(wordpiece.tokenize("\xc3\xbc"
                               "ber"),
            (std::vector<TokenId>{1, 2}));
  EXPECT_EQ(wordpiece.tokenize("\xc3\xbc"
                               "bers"),
            (std::vector<TokenId>{0}));
  EXPECT_EQ(wordpiece.tokenize("\xc3\xbc"
                               "x"),
            (std::vector<TokenId>{0}));
  EXPECT_EQ(wordpiece.unk_id(), 0);
}

TEST(WordPiece, MissingUnknownTokenIsAFormatError) {
  EXPECT_TRUE(throws_with<FormatError>([] { model({"a", "##b"}); }, {"test vocab", "'[UNK]'"}));
}

}  // namespace
}  // namespace eigenformer
