#include <eigenformer/text/vocabulary.hpp>

#include <gtest/gtest.h>

#include <string>

#include "fixture.hpp"
#include "io/test_files.hpp"

namespace eigenformer {
namespace {

using testing::TempDir;
using testing::throws_with;

Vocabulary vocab_txt(const std::string& text) {
  TempDir dir;
  return Vocabulary::read_vocab_txt(dir.write("vocab.txt", text));
}

TEST(Vocabulary, ReadsTheFixtureVocabTxtInLineOrder) {
  const auto vocab = Vocabulary::read_vocab_txt(testing::data_path("bert/vocab.txt"));
  EXPECT_EQ(vocab.size(), 3000u);
  EXPECT_EQ(vocab.find("[PAD]"), 0);
  EXPECT_EQ(vocab.find("[UNK]"), 1);
  EXPECT_EQ(vocab.find_token(4), "[MASK]");
  EXPECT_EQ(vocab.find_token(3000), std::nullopt);
  EXPECT_EQ(vocab.find("no such token"), std::nullopt);
  EXPECT_EQ(vocab.source(), testing::data_path("bert/vocab.txt"));
}

// WordPiece::read_file: the later line of a repeated token wins, the earlier id is orphaned.
TEST(Vocabulary, RepeatedTokenKeepsItsLastId) {
  const auto vocab = vocab_txt("a\nb\na\n");
  EXPECT_EQ(vocab.size(), 2u);
  EXPECT_EQ(vocab.find("a"), 2);
  EXPECT_EQ(vocab.find_token(0), std::nullopt);
  EXPECT_EQ(vocab.find_token(1), "b");
}

// Rust's lines() + trim_end(): trailing white space (and \r) goes, leading stays; a blank
// line is the empty token; the last line needs no newline.
TEST(Vocabulary, LinesAreTrimmedAtTheEndOnly) {
  const auto vocab = vocab_txt(
      "a \r\nb\t\n\xe3\x80\x80"
      "c\xe3\x80\x80\n\nd");
  EXPECT_EQ(vocab.find("a"), 0);
  EXPECT_EQ(vocab.find("b"), 1);
  EXPECT_EQ(vocab.find("\xe3\x80\x80"
                       "c"),
            2);  // U+3000 before c kept
  EXPECT_EQ(vocab.find(""), 3);
  EXPECT_EQ(vocab.find("d"), 4);
  EXPECT_EQ(vocab.size(), 5u);
}

TEST(Vocabulary, BadVocabTxtFilesAreFormatErrors) {
  TempDir dir;
  const auto empty = dir.write("empty.txt", "");
  EXPECT_TRUE(throws_with<FormatError>([&] { Vocabulary::read_vocab_txt(empty); },
                                       {empty, "empty vocabulary"}));
  const auto invalid = dir.write("invalid.txt", "ok\nbad\xff\n");
  EXPECT_TRUE(throws_with<FormatError>([&] { Vocabulary::read_vocab_txt(invalid); },
                                       {invalid, "line 2", "UTF-8"}));
  EXPECT_TRUE(throws_with<FormatError>([&] { Vocabulary::read_vocab_txt(dir.file("none.txt")); },
                                       {"none.txt", "cannot open"}));
}

TEST(Vocabulary, RequireNamesTheSourceAndTheToken) {
  const auto vocab = Vocabulary::from_tokens({"a", "b"}, "my-vocab.txt");
  EXPECT_EQ(vocab.require("b", "test token"), 1);
  EXPECT_TRUE(throws_with<FormatError>([&] { vocab.require("[UNK]", "unknown token"); },
                                       {"my-vocab.txt", "unknown token", "'[UNK]'"}));
}

TEST(Vocabulary, FromJsonTakesTheIdsGiven) {
  const auto vocab = Vocabulary::from_json(nlohmann::json{{"x", 5}, {"y", 0}}, "t.json");
  EXPECT_EQ(vocab.find("x"), 5);
  EXPECT_EQ(vocab.find_token(0), "y");
  EXPECT_EQ(vocab.find_token(1), std::nullopt);
  EXPECT_TRUE(throws_with<FormatError>(
      [] {
        Vocabulary::from_json(nlohmann::json{{"x", 1.5}}, "t.json");
      },
      {"t.json", "'x'", "1.5"}));
  EXPECT_TRUE(throws_with<FormatError>(
      [] {
        Vocabulary::from_json(nlohmann::json{{"x", 1}, {"y", 1}}, "t.json");
      },
      {"t.json", "id 1", "'x'", "'y'"}));
  EXPECT_TRUE(
      throws_with<FormatError>([] { Vocabulary::from_json(nlohmann::json::object(), "t.json"); },
                               {"t.json", "non-empty object"}));
}

// A deeply nested id is described, not dumped: dump() would recurse through it.
TEST(Vocabulary, FromJsonDescribesADeepIdWithoutRecursing) {
  nlohmann::json vocab = nlohmann::json::object();
  nlohmann::json* inner = &(vocab["x"] = nlohmann::json::array());
  for (int i = 0; i < 100000; ++i) inner = &inner->emplace_back(nlohmann::json::array());
  EXPECT_TRUE(throws_with<FormatError>([&] { Vocabulary::from_json(vocab, "t.json"); },
                                       {"t.json", "'x'", "an array of size 1"}));
}

TEST(Vocabulary, CopiesShareTheTokens) {
  std::optional<std::string_view> token;
  std::optional<Vocabulary> copy;
  {
    const auto original =
        Vocabulary::from_tokens({"alpha", "a-token-longer-than-the-sso-buffer"}, "v");
    copy = original;
  }
  token = copy->find_token(1);
  EXPECT_EQ(token, "a-token-longer-than-the-sso-buffer");
  EXPECT_EQ(copy->find("alpha"), 0);
}

}  // namespace
}  // namespace eigenformer
