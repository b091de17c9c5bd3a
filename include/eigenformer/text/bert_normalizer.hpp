#pragma once
// HF tokenizers' BertNormalizer (src/normalizers/bert.rs), step for step and in its order:
//   1. clean_text: drop U+0000, U+FFFD and "control" characters (categories Cc, Cf, Co,
//      except \t \n \r), then map whitespace (\t \n \r and White_Space) to ' ';
//   2. handle_chinese_chars: put a space on each side of every CJK ideograph;
//   3. strip_accents (when unset, it follows lowercase): NFD, then drop nonspacing marks (Mn);
//   4. lowercase: Rust's char::to_lowercase on every character.
// Text is handled as code points (see utf8.hpp for decoding).

#include <eigenformer/text/unicode.hpp>
#include <eigenformer/text/utf8.hpp>

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>

namespace eigenformer {

struct BertNormalizerOptions {
  bool clean_text = true;
  bool handle_chinese_chars = true;
  // std::nullopt (tokenizer.json's null) means "strip accents iff lowercasing", as in HF.
  std::optional<bool> strip_accents;
  bool lowercase = true;

  bool strips_accents() const { return strip_accents.value_or(lowercase); }
};

class BertNormalizer {
 public:
  explicit BertNormalizer(BertNormalizerOptions options = {}) : options_(options) {}

  const BertNormalizerOptions& options() const { return options_; }

  // The "CJK Unified Ideographs" blocks and their extensions A-E plus the compatibility
  // ideographs, as bert.rs lists them (Hangul, Hiragana and Katakana are not among them).
  static bool is_chinese_char(char32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
           (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
  }

  // clean_text removes these: NUL, U+FFFD and bert.rs's is_control.
  static bool is_removed_by_cleaning(char32_t c) {
    if (c == '\t' || c == '\n' || c == '\r') return false;
    return c == 0 || c == kReplacementCharacter || unicode::is_other(c);
  }

  // clean_text maps these to ' ' (bert.rs's is_whitespace).
  static bool is_whitespace(char32_t c) { return unicode::is_white_space(c); }

  // Replaces `out` with the normalized `text`.
  void normalize(std::u32string_view text, std::u32string& out) const {
    out.clear();
    out.reserve(text.size() + text.size() / 4);
    const bool strip = options_.strips_accents();
    // Steps 1 and 2 and the decomposition of step 3 act on one character at a time, so they
    // share one pass; the reordering half of NFD and the mark removal need the whole text.
    for (char32_t c : text) {
      if (options_.clean_text) {
        if (is_removed_by_cleaning(c)) continue;
        if (is_whitespace(c)) c = ' ';
      }
      const bool spaced = options_.handle_chinese_chars && is_chinese_char(c);
      if (spaced) out.push_back(' ');
      if (strip)
        unicode::append_canonical_decomposition(c, out);
      else
        out.push_back(c);
      if (spaced) out.push_back(' ');
    }
    if (strip) {
      unicode::canonical_order(out);
      out.erase(std::remove_if(out.begin(), out.end(), unicode::is_nonspacing_mark), out.end());
    }
    if (options_.lowercase) lowercase(out);
  }

  std::u32string normalize(std::u32string_view text) const {
    std::u32string out;
    normalize(text, out);
    return out;
  }

 private:
  // In place unless some character lowercases to two.
  static void lowercase(std::u32string& text) {
    if (std::find(text.begin(), text.end(), unicode::kCapitalIWithDotAbove) == text.end()) {
      for (char32_t& c : text) c = unicode::simple_lowercase(c);
      return;
    }
    std::u32string lowered;
    lowered.reserve(text.size() + 1);
    for (char32_t c : text) unicode::append_lowercase(c, lowered);
    text.swap(lowered);
  }

  BertNormalizerOptions options_;
};

}  // namespace eigenformer
