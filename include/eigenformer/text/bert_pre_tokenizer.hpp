#pragma once
// HF tokenizers' BertPreTokenizer (src/pre_tokenizers/bert.rs): split on White_Space
// (removed), then isolate every punctuation character as a word of its own. Punctuation is
// Rust's is_ascii_punctuation (ASCII 33-47, 58-64, 91-96, 123-126, so also $ + < = > ^ ` | ~)
// or a Unicode P* category. Empty words never occur.

#include <eigenformer/text/unicode.hpp>

#include <string_view>
#include <vector>

namespace eigenformer {

inline bool is_bert_punctuation(char32_t c) {
  return unicode::is_ascii_punctuation(c) || (c >= 0x80 && unicode::is_punctuation(c));
}

// Calls visit(word) for each word of `text`, in order; words are views into `text`.
template <typename Visit>
void bert_pre_tokenize(std::u32string_view text, Visit&& visit) {
  std::size_t word_begin = 0;
  const auto flush = [&](std::size_t end) {
    if (end > word_begin) visit(text.substr(word_begin, end - word_begin));
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char32_t c = text[i];
    if (unicode::is_white_space(c)) {
      flush(i);
      word_begin = i + 1;
    } else if (is_bert_punctuation(c)) {
      flush(i);
      visit(text.substr(i, 1));
      word_begin = i + 1;
    }
  }
  flush(text.size());
}

inline std::vector<std::u32string_view> bert_pre_tokenize(std::u32string_view text) {
  std::vector<std::u32string_view> words;
  bert_pre_tokenize(text, [&](std::u32string_view word) { words.push_back(word); });
  return words;
}

}  // namespace eigenformer
