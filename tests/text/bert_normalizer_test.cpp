#include <eigenformer/text/bert_normalizer.hpp>

#include <gtest/gtest.h>

#include <string>

namespace eigenformer {
namespace {

BertNormalizerOptions only_cleaning() {
  BertNormalizerOptions options;
  options.handle_chinese_chars = false;
  options.lowercase = false;
  return options;
}

std::u32string normalize(const BertNormalizerOptions& options, std::u32string_view text) {
  return BertNormalizer(options).normalize(text);
}

// bert.rs do_clean_text: filter NUL, U+FFFD and is_control (Cc, Cf, Co but not \t \n \r),
// then map is_whitespace (\t \n \r and White_Space) to a space.
TEST(BertNormalizer, CleanTextDropsControlsAndFormatCharacters) {
  const auto options = only_cleaning();
  EXPECT_EQ(
      normalize(options, std::u32string(U"a\0b\uFFFDc\u0007d\u200Be\u00ADf\uE000g\u200Dh", 15)),
      U"abcdefgh");
  EXPECT_EQ(normalize(options, U"\u0378"), U"\u0378");  // unassigned (Cn) is kept
}

TEST(BertNormalizer, CleanTextMapsWhitespaceToSpace) {
  const auto options = only_cleaning();
  EXPECT_EQ(normalize(options, U"a\tb\nc\rd\u3000e\u2028f\u00A0g"), U"a b c d e f g");
  // Vertical tab, form feed and NEL are White_Space but Cc: the filter removes them first.
  EXPECT_EQ(normalize(options, U"a\u000Bb\u000Cc\u0085d"), U"abcd");
  BertNormalizerOptions off = options;
  off.clean_text = false;
  EXPECT_EQ(normalize(off, U"a\tb\u200Bc"), U"a\tb\u200Bc");
}

TEST(BertNormalizer, ChineseCharactersGetSpacesAround) {
  BertNormalizerOptions options = only_cleaning();
  options.handle_chinese_chars = true;
  EXPECT_EQ(normalize(options, U"\u6570\u5B66abc"), U" \u6570  \u5B66 abc");
  EXPECT_EQ(normalize(options, U"\u3072\u3089\uD55C"), U"\u3072\u3089\uD55C");  // kana, Hangul
  EXPECT_EQ(normalize(options, U"\U00020000\u200B\u4E00"), U" \U00020000  \u4E00 ");
}

TEST(BertNormalizer, StripAccentsRemovesNonspacingMarksAfterNfd) {
  BertNormalizerOptions options = only_cleaning();
  options.strip_accents = true;
  EXPECT_EQ(normalize(options, U"Caf\u00E9 e\u0301 \u00C5ngstr\u00F6m"), U"Cafe e Angstrom");
  EXPECT_EQ(normalize(options, U"\uAC00"), U"\u1100\u1161");  // Hangul decomposes to jamo
  options.handle_chinese_chars = true;
  EXPECT_EQ(normalize(options, U"\uF900"), U" \u8C48 ");  // spaced first, then NFD
}

// strip_accents unset (tokenizer.json null) follows lowercase.
TEST(BertNormalizer, StripAccentsFollowsLowercaseWhenUnset) {
  BertNormalizerOptions options = only_cleaning();
  options.lowercase = true;
  EXPECT_EQ(normalize(options, U"\u00C9COLE"), U"ecole");
  options.lowercase = false;
  EXPECT_EQ(normalize(options, U"\u00C9COLE"), U"\u00C9COLE");
  options.lowercase = true;
  options.strip_accents = false;
  EXPECT_EQ(normalize(options, U"\u00C9COLE"), U"\u00E9cole");
}

// Accents are stripped before lowercasing, so the dotted capital I loses its dot either way
// it is written; lowercasing alone gives Rust's "i" + combining dot.
TEST(BertNormalizer, LowercaseIsRustsCharToLowercase) {
  BertNormalizerOptions options = only_cleaning();
  options.lowercase = true;
  EXPECT_EQ(normalize(options, U"\u0130STANBUL \u00DF"), U"istanbul \u00DF");
  options.strip_accents = false;
  EXPECT_EQ(normalize(options, U"\u0130STANBUL \u00DF"), U"i\u0307stanbul \u00DF");
}

TEST(BertNormalizer, DefaultIsUncasedBert) {
  EXPECT_EQ(BertNormalizer().normalize(U"H\u00C9llo,\t\u4E16\u754C!\u200B"),
            U"hello,  \u4E16  \u754C !");
}

}  // namespace
}  // namespace eigenformer
