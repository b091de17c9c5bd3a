#include <eigenformer/text/utf8.hpp>

#include <gtest/gtest.h>

#include <string>

#include "io/test_files.hpp"

namespace eigenformer {
namespace {

using testing::throws_with;

constexpr char32_t R = kReplacementCharacter;

std::u32string replaced(const std::string& bytes) {
  return decode_utf8(bytes, Utf8Errors::Replace);
}

TEST(Utf8, DecodesAndEncodesEverySequenceLength) {
  const std::string text = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";  // a, U+00E9, U+20AC, U+1F600
  const std::u32string expected = {U'a', 0xE9, 0x20AC, 0x1F600};
  EXPECT_EQ(decode_utf8(text), expected);
  EXPECT_EQ(encode_utf8(expected), text);
  EXPECT_EQ(find_invalid_utf8(text), std::string::npos);
  EXPECT_EQ(decode_utf8(""), std::u32string());
  EXPECT_EQ(encode_utf8(std::u32string{0x7F, 0x80, 0x7FF, 0x800, 0xFFFF, 0x10000, 0x10FFFF}),
            "\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf");
}

// The example of Unicode §3.9, Table 3-8 (U+FFFD for maximal subparts).
TEST(Utf8, ReplacesEachMaximalSubpartWithOneReplacementCharacter) {
  EXPECT_EQ(replaced("\x61\xf1\x80\x80\xe1\x80\xc2\x62\x80\x63\x80\xbf\x64"),
            (std::u32string{U'a', R, R, R, U'b', R, U'c', R, R, U'd'}));
}

TEST(Utf8, RejectsOverlongSurrogateAndOutOfRangeForms) {
  EXPECT_EQ(replaced("\xc0\xaf"), (std::u32string{R, R}));                // overlong '/'
  EXPECT_EQ(replaced("\xe0\x80\xaf"), (std::u32string{R, R, R}));         // overlong, 3 bytes
  EXPECT_EQ(replaced("\xed\xa0\x80"), (std::u32string{R, R, R}));         // U+D800
  EXPECT_EQ(replaced("\xf4\x90\x80\x80"), (std::u32string{R, R, R, R}));  // above U+10FFFF
  EXPECT_EQ(replaced("\xf5\xff"), (std::u32string{R, R}));
  EXPECT_EQ(replaced("x\xe2\x82"), (std::u32string{U'x', R}));  // cut short
}

TEST(Utf8, ThrowPolicyNamesTheOffsetOfTheFirstBadByte) {
  EXPECT_EQ(find_invalid_utf8("ab\xc3("), 2u);
  EXPECT_TRUE(throws_with<InvalidArgument>([] { decode_utf8("ab\xc3("); },
                                           {"invalid UTF-8 at byte 2 of the text", "0xc3"}));
  EXPECT_TRUE(throws_with<InvalidArgument>(
      [] { decode_utf8("0123456789abcdefg\x80", Utf8Errors::Throw, "the query"); },
      {"invalid UTF-8 at byte 17 of the query", "0x80"}));
}

}  // namespace
}  // namespace eigenformer
