#pragma once
// UTF-8 decoding (with validation) and encoding for the tokenizer.
//
// Well-formed UTF-8 is Table 3-7 of the Unicode Standard: no overlong forms, no surrogates
// (U+D800..U+DFFF), nothing above U+10FFFF. What happens to anything else is the caller's
// choice, an explicit Utf8Errors:
//   - Throw (the default): eigenformer::InvalidArgument naming the byte offset of the first
//     bad byte ("invalid UTF-8 at byte 17 of the text ...").
//   - Replace: each maximal invalid subsequence becomes one U+FFFD ("substitution of maximal
//     subparts", Unicode §3.9, the behaviour of Python's errors="replace" and Rust's
//     String::from_utf8_lossy). BertNormalizer's clean_text then drops U+FFFD, so invalid
//     bytes vanish from the tokens, as they would after a lossy decode in Python.

#include <eigenformer/core/error.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace eigenformer {

enum class Utf8Errors { Throw, Replace };

inline constexpr char32_t kReplacementCharacter = 0xFFFD;

namespace detail {

// One step of decoding at `pos`: the code point and the bytes it used, or, for an invalid
// sequence, the length of its maximal invalid subpart (at least 1).
struct Utf8Step {
  char32_t code_point;
  std::size_t length;
  bool valid;
};

inline Utf8Step decode_utf8_step(std::string_view text, std::size_t pos) {
  const auto byte_at = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte_at(pos);
  if (lead < 0x80) return {lead, 1, true};

  // Table 3-7: the lead byte fixes the sequence length and the range of the second byte;
  // every later byte is 80..BF.
  std::size_t continuation_bytes = 0;
  char32_t code_point = 0;
  unsigned char second_min = 0x80, second_max = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    continuation_bytes = 1;
    code_point = lead & 0x1Fu;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    continuation_bytes = 2;
    code_point = lead & 0x0Fu;
    if (lead == 0xE0) second_min = 0xA0;  // overlong
    if (lead == 0xED) second_max = 0x9F;  // surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    continuation_bytes = 3;
    code_point = lead & 0x07u;
    if (lead == 0xF0) second_min = 0x90;  // overlong
    if (lead == 0xF4) second_max = 0x8F;  // above U+10FFFF
  } else {
    return {kReplacementCharacter, 1, false};
  }

  for (std::size_t i = 1; i <= continuation_bytes; ++i) {
    const unsigned char low = i == 1 ? second_min : 0x80;
    const unsigned char high = i == 1 ? second_max : 0xBF;
    if (pos + i >= text.size() || byte_at(pos + i) < low || byte_at(pos + i) > high)
      return {kReplacementCharacter, i, false};
    code_point = (code_point << 6) | (byte_at(pos + i) & 0x3Fu);
  }
  return {code_point, continuation_bytes + 1, true};
}

inline std::string hex_byte(unsigned char byte) {
  static constexpr char kDigits[] = "0123456789abcdef";
  return {'0', 'x', kDigits[byte >> 4], kDigits[byte & 0xF]};
}

}  // namespace detail

// Appends `text` decoded to code points. `what` names the input in error messages.
inline void decode_utf8(std::string_view text, std::u32string& out,
                        Utf8Errors errors = Utf8Errors::Throw, std::string_view what = "the text") {
  out.reserve(out.size() + text.size());
  for (std::size_t pos = 0; pos < text.size();) {
    const auto step = detail::decode_utf8_step(text, pos);
    if (!step.valid && errors == Utf8Errors::Throw)
      throw InvalidArgument(detail::concat(
          "invalid UTF-8 at byte ", pos, " of ", what, " (",
          detail::hex_byte(static_cast<unsigned char>(text[pos])),
          " starts no well-formed sequence); pass Utf8Errors::Replace to substitute U+FFFD"));
    out.push_back(step.code_point);
    pos += step.length;
  }
}

inline std::u32string decode_utf8(std::string_view text, Utf8Errors errors = Utf8Errors::Throw,
                                  std::string_view what = "the text") {
  std::u32string out;
  decode_utf8(text, out, errors, what);
  return out;
}

// Byte offset of the first invalid sequence, or npos when `text` is well-formed.
inline std::size_t find_invalid_utf8(std::string_view text) {
  for (std::size_t pos = 0; pos < text.size();) {
    const auto step = detail::decode_utf8_step(text, pos);
    if (!step.valid) return pos;
    pos += step.length;
  }
  return std::string_view::npos;
}

// `code_point` must be a Unicode scalar value (what decode_utf8 produces).
inline void append_utf8(char32_t code_point, std::string& out) {
  if (code_point < 0x80) {
    out.push_back(static_cast<char>(code_point));
  } else if (code_point < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (code_point >> 6)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else if (code_point < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (code_point >> 12)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (code_point >> 18)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  }
}

inline void append_utf8(std::u32string_view text, std::string& out) {
  for (char32_t code_point : text) append_utf8(code_point, out);
}

inline std::string encode_utf8(std::u32string_view text) {
  std::string out;
  out.reserve(text.size());
  append_utf8(text, out);
  return out;
}

}  // namespace eigenformer
