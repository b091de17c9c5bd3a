#include <eigenformer/text/added_vocabulary.hpp>

#include <gtest/gtest.h>

#include <string>
#include <variant>
#include <vector>

namespace eigenformer {
namespace {

// A split as a list of text stretches and token ids, in order.
using Part = std::variant<std::u32string, TokenId>;

std::vector<Part> split(const AddedVocabulary& added, std::u32string_view text, bool normalized) {
  std::vector<Part> parts;
  added.split(
      text, normalized,
      [&](std::u32string_view piece) { parts.emplace_back(std::u32string(piece)); },
      [&](TokenId id) { parts.emplace_back(id); });
  return parts;
}

std::u32string identity(std::u32string_view text) { return std::u32string(text); }

TEST(AddedVocabulary, LeftmostLongestMatchesInTheRawText) {
  const AddedVocabulary added({{"[CLS]", 1}, {"[CLS]X", 2}, {"[SEP]", 3}}, identity);
  EXPECT_EQ(split(added, U"a[CLS]Xb[CLS][SEP]", false),
            (std::vector<Part>{U"a", TokenId{2}, U"b", TokenId{1}, TokenId{3}}));
  EXPECT_EQ(split(added, U"[cls] [CLS", false), (std::vector<Part>{U"[cls] [CLS"}));
  EXPECT_TRUE(split(added, U"", false).empty());
  EXPECT_EQ(added.find("[SEP]"), 3);
  EXPECT_EQ(added.find_token(2), "[CLS]X");
  EXPECT_EQ(added.find("[MASK]"), std::nullopt);
}

TEST(AddedVocabulary, StripOptionsAbsorbNeighbouringWhitespace) {
  const AddedVocabulary added({{"<m>", 7, true, true}, {"<n>", 8}}, identity);
  EXPECT_EQ(split(added, U"a \u3000<m>\t b", false), (std::vector<Part>{U"a", TokenId{7}, U"b"}));
  EXPECT_EQ(split(added, U"a <n> b", false), (std::vector<Part>{U"a ", TokenId{8}, U" b"}));
  // lstrip never reaches back into an earlier match.
  EXPECT_EQ(split(added, U"<n> <m>", false), (std::vector<Part>{TokenId{8}, TokenId{7}}));
}

// A normalized token is matched, in its normalized form, only in normalized text.
TEST(AddedVocabulary, NormalizedTokensMatchTheNormalizedText) {
  const auto lower = [](std::u32string_view text) {
    std::u32string out(text);
    for (auto& c : out)
      if (c >= U'A' && c <= U'Z') c += U'a' - U'A';
    return out;
  };
  const AddedVocabulary added({{"Hello", 5, false, false, true}, {"", 6}}, lower);
  EXPECT_EQ(split(added, U"say hello", true), (std::vector<Part>{U"say ", TokenId{5}}));
  EXPECT_EQ(split(added, U"say hello", false), (std::vector<Part>{U"say hello"}));
  EXPECT_EQ(added.find_token(6), std::nullopt);  // empty content is ignored
}

}  // namespace
}  // namespace eigenformer
