#include <eigenformer/text/unicode.hpp>

#include <gtest/gtest.h>

#include <string>

namespace eigenformer {
namespace {

using namespace unicode;

std::u32string lowercase(std::u32string_view text) {
  std::u32string out;
  for (char32_t c : text) append_lowercase(c, out);
  return out;
}

// White_Space as PropList.txt lists it (Rust's char::is_whitespace).
TEST(Unicode, WhiteSpaceIsTheWhiteSpaceProperty) {
  for (char32_t c : {0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2000, 0x200A, 0x2028,
                     0x2029, 0x202F, 0x205F, 0x3000})
    EXPECT_TRUE(is_white_space(c)) << std::hex << c;
  for (char32_t c : {0x00, 0x1C, 0x1F, 0x61, 0x180E, 0x200B, 0xFEFF})
    EXPECT_FALSE(is_white_space(c)) << std::hex << c;
}

// unicode_categories' is_other: Cc, Cf, Co; not Cn.
TEST(Unicode, OtherIsControlFormatOrPrivateUse) {
  for (char32_t c : {0x00, 0x07, 0x7F, 0x9F, 0xAD, 0x200B, 0x200D, 0xFEFF, 0xE000, 0x10FFFD})
    EXPECT_TRUE(is_other(c)) << std::hex << c;
  for (char32_t c : {0x61, 0x301, 0x378 /* unassigned */, 0x4E00})
    EXPECT_FALSE(is_other(c)) << std::hex << c;
}

TEST(Unicode, PunctuationCategoriesAndAsciiPunctuation) {
  for (char32_t c : std::u32string_view(U"!,_\u00BF\u00AB\u2014\u2026\u3002"))
    EXPECT_TRUE(is_punctuation(c)) << std::hex << c;
  for (char32_t c : std::u32string_view(U"$+^`|~a\u00A9"))
    EXPECT_FALSE(is_punctuation(c)) << std::hex << c;
  for (char32_t c : std::u32string_view(U"!/:@[`{~$+")) EXPECT_TRUE(is_ascii_punctuation(c)) << c;
  for (char32_t c : std::u32string_view(U" 0Az\u007F\u00BF"))
    EXPECT_FALSE(is_ascii_punctuation(c)) << c;
}

// The ASCII shortcuts agree with utf8proc's tables.
TEST(Unicode, AsciiShortcutsAgreeWithUtf8proc) {
  for (char32_t c = 0; c < 0x80; ++c) {
    EXPECT_EQ(lowercase(std::u32string(1, c)),
              std::u32string(
                  1, static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c)))));
    utf8proc_int32_t decomposed[4];
    EXPECT_EQ(utf8proc_decompose_char(static_cast<utf8proc_int32_t>(c), decomposed, 4,
                                      UTF8PROC_DECOMPOSE, nullptr),
              1);
    EXPECT_EQ(is_other(c), category(c) == UTF8PROC_CATEGORY_CC) << c;
    if (is_punctuation(c)) {
      EXPECT_TRUE(is_ascii_punctuation(c)) << c;
    }
  }
  for (char32_t c = 0; c < 0x300; ++c) {
    EXPECT_EQ(combining_class(c), 0) << std::hex << c;
    EXPECT_NE(category(c), UTF8PROC_CATEGORY_MN) << std::hex << c;
  }
}

// Rust's char::to_lowercase: full mapping, not case folding.
TEST(Unicode, LowercaseIsRustsToLowercase) {
  EXPECT_EQ(lowercase(U"ABC\u00C9\u03A3"), U"abc\u00E9\u03C3");
  EXPECT_EQ(lowercase(U"\u0130"), U"i\u0307");             // the example in Rust's documentation
  EXPECT_EQ(lowercase(U"\u00DF\u1E9E"), U"\u00DF\u00DF");  // sharp s is not folded to "ss"
  EXPECT_EQ(lowercase(U"\u01C5"), U"\u01C6");              // titlecase digraph
}

TEST(Unicode, NfdDecomposesAndOrdersMarks) {
  EXPECT_EQ(nfd(U"\u00E9"), U"e\u0301");
  EXPECT_EQ(nfd(U"a\u0301\u0323"), U"a\u0323\u0301");  // ccc 220 before 230
  EXPECT_EQ(nfd(U"\u1E69"), U"s\u0323\u0307");
  EXPECT_EQ(nfd(U"\uAC00"), U"\u1100\u1161");  // Hangul syllable
  EXPECT_EQ(nfd(U"\uF900"), U"\u8C48");        // compatibility ideograph (singleton)
  EXPECT_EQ(nfd(U"\u212B"), U"A\u030A");       // Angstrom sign
  EXPECT_EQ(nfd(U"\uFB01"), U"\uFB01");        // ligature: compatibility only
}

}  // namespace
}  // namespace eigenformer
