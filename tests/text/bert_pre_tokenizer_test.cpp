#include <eigenformer/text/bert_pre_tokenizer.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace eigenformer {
namespace {

std::vector<std::u32string> words(std::u32string_view text) {
  std::vector<std::u32string> out;
  for (auto word : bert_pre_tokenize(text)) out.emplace_back(word);
  return out;
}

// The example of pre_tokenizers/bert.rs's own test.
TEST(BertPreTokenizer, SplitsOnWhitespaceAndIsolatesPunctuation) {
  EXPECT_EQ(words(U"Hey friend!     How are you?!?"),
            (std::vector<std::u32string>{U"Hey", U"friend", U"!", U"How", U"are", U"you", U"?",
                                         U"!", U"?"}));
}

TEST(BertPreTokenizer, AsciiSymbolsCountAsPunctuation) {
  EXPECT_EQ(words(U"$5+3=8^2|x~y`z"),
            (std::vector<std::u32string>{U"$", U"5", U"+", U"3", U"=", U"8", U"^", U"2", U"|", U"x",
                                         U"~", U"y", U"`", U"z"}));
}

TEST(BertPreTokenizer, UnicodePunctuationAndWhitespace) {
  EXPECT_EQ(words(U"\u00ABoui\u00BB\u2014non\u2026 a\u3000b\u00A0c\u2028d"),
            (std::vector<std::u32string>{U"\u00AB", U"oui", U"\u00BB", U"\u2014", U"non", U"\u2026",
                                         U"a", U"b", U"c", U"d"}));
  EXPECT_EQ(words(U"\u00A9\u00AE"),
            (std::vector<std::u32string>{U"\u00A9\u00AE"}));  // symbols (So) stay
}

TEST(BertPreTokenizer, NoEmptyWords) {
  EXPECT_TRUE(words(U"").empty());
  EXPECT_TRUE(words(U" \t \u3000 ").empty());
  EXPECT_EQ(words(U"  ..  "), (std::vector<std::u32string>{U".", U"."}));
}

}  // namespace
}  // namespace eigenformer
