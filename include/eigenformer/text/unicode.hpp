#pragma once
// Unicode character properties for the tokenizer, every one taken from utf8proc's tables
// (no hand-written Unicode data here), in the exact forms HF tokenizers (Rust) uses them:
// Rust std's char methods and the unicode_categories crate.
//
// Version note: utf8proc 2.8 implements Unicode 15; HF's unicode_categories tables and
// NFD crate follow older Unicode versions, so a character assigned, or re-categorised,
// after those versions may be classified differently. Such characters are rare in text.

#include <utf8proc.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

namespace eigenformer::unicode {

inline utf8proc_category_t category(char32_t c) {
  return utf8proc_category(static_cast<utf8proc_int32_t>(c));
}

// Rust's char::is_whitespace, i.e. the White_Space property. White_Space is exactly
// U+0009..U+000D, U+0085 and the separator categories Zs, Zl and Zp (PropList.txt), so it is
// derived from utf8proc's categories rather than listed.
inline bool is_white_space(char32_t c) {
  if (c == ' ' || (c >= 0x09 && c <= 0x0D) || c == 0x85) return true;
  if (c < 0x80) return false;
  const auto cat = category(c);
  return cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL || cat == UTF8PROC_CATEGORY_ZP;
}

// unicode_categories' is_other(): Cc, Cf or Co. Its definition leaves out Cn (unassigned)
// and Cs, so an unassigned code point is NOT "other" and survives BERT's clean_text.
inline bool is_other(char32_t c) {
  if (c >= 0x20 && c < 0x7F) return false;  // printable ASCII, the common case
  const auto cat = category(c);
  return cat == UTF8PROC_CATEGORY_CC || cat == UTF8PROC_CATEGORY_CF || cat == UTF8PROC_CATEGORY_CO;
}

// unicode_categories' is_punctuation(): any of Pc, Pd, Ps, Pe, Pi, Pf, Po.
inline bool is_punctuation(char32_t c) {
  const auto cat = category(c);
  return cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO;
}

// Rust's char::is_ascii_punctuation: ! to /, : to @, [ to `, { to ~ (33-47, 58-64, 91-96,
// 123-126). It adds the ASCII symbols ($ + < = > ^ ` | ~) to the P* categories.
inline bool is_ascii_punctuation(char32_t c) {
  return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
         (c >= 123 && c <= 126);
}

// The first nonspacing mark is U+0300.
inline bool is_nonspacing_mark(char32_t c) {
  return c >= 0x300 && category(c) == UTF8PROC_CATEGORY_MN;
}

inline int combining_class(char32_t c) {
  return utf8proc_get_property(static_cast<utf8proc_int32_t>(c))->combining_class;
}

// Rust's char::to_lowercase is the full lowercase mapping: UnicodeData's simple mapping
// (utf8proc_tolower) overridden by the unconditional entries of SpecialCasing.txt. The only
// such entry whose lowercase differs from the simple one is U+0130 (capital I with dot
// above) -> U+0069 U+0307. Case folding would be wrong here: it maps U+00DF (sharp s) to
// "ss", which to_lowercase leaves alone.
inline constexpr char32_t kCapitalIWithDotAbove = 0x130;

// The one-character lowercase; exact for everything but kCapitalIWithDotAbove.
inline char32_t simple_lowercase(char32_t c) {
  if (c < 0x80) return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
  return static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c)));
}

inline void append_lowercase(char32_t c, std::u32string& out) {
  if (c == kCapitalIWithDotAbove) {
    out.push_back(0x69);
    out.push_back(0x307);
  } else {
    out.push_back(simple_lowercase(c));
  }
}

// Canonical (NFD) decomposition of one code point, appended without reordering.
inline void append_canonical_decomposition(char32_t c, std::u32string& out) {
  if (c < 0x80) {  // ASCII has no decompositions
    out.push_back(c);
    return;
  }
  constexpr utf8proc_ssize_t kInline = 8;  // canonical decompositions have at most 4
  utf8proc_int32_t buffer[kInline];
  const auto code_point = static_cast<utf8proc_int32_t>(c);
  auto count = utf8proc_decompose_char(code_point, buffer, kInline, UTF8PROC_DECOMPOSE, nullptr);
  if (count < 0) {  // not a scalar value: cannot come out of decode_utf8, keep it unchanged
    out.push_back(c);
  } else if (count <= kInline) {
    for (utf8proc_ssize_t i = 0; i < count; ++i) out.push_back(static_cast<char32_t>(buffer[i]));
  } else {
    std::vector<utf8proc_int32_t> large(static_cast<std::size_t>(count));
    count = utf8proc_decompose_char(code_point, large.data(), count, UTF8PROC_DECOMPOSE, nullptr);
    for (utf8proc_ssize_t i = 0; i < count; ++i) out.push_back(static_cast<char32_t>(large[i]));
  }
}

// The Canonical Ordering Algorithm (Unicode §3.11): every run of non-starters (combining
// class != 0) is stably sorted by combining class. Decomposition followed by this is NFD.
inline void canonical_order(std::u32string& text) {
  for (std::size_t begin = 0; begin < text.size();) {
    if (text[begin] < 0x300 || combining_class(text[begin]) == 0) {  // no mark below U+0300
      ++begin;
      continue;
    }
    std::size_t end = begin + 1;
    while (end < text.size() && combining_class(text[end]) != 0) ++end;
    if (end - begin > 1)
      std::stable_sort(text.begin() + static_cast<std::ptrdiff_t>(begin),
                       text.begin() + static_cast<std::ptrdiff_t>(end), [](char32_t a, char32_t b) {
                         return combining_class(a) < combining_class(b);
                       });
    begin = end;
  }
}

inline std::u32string nfd(std::u32string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (char32_t c : text) append_canonical_decomposition(c, out);
  canonical_order(out);
  return out;
}

}  // namespace eigenformer::unicode
