#pragma once
// Added tokens, as HF tokenizers' AddedVocabulary matches them: the special tokens ([CLS],
// [SEP], [MASK], ...) and any token a tokenizer.json lists in "added_tokens" are cut out of
// the text before WordPiece sees it, so "a [MASK] b" gives the id of [MASK], not of "[", ...
//
// Matching is leftmost-longest over the text. A token with normalized = false (every special
// token) is matched in the raw input, one with normalized = true in the normalized text,
// against its normalized content. lstrip / rstrip make a match absorb the white space on its
// left / right. (HF's single_word option is not supported; loaders refuse it.)

#include <eigenformer/text/unicode.hpp>
#include <eigenformer/text/utf8.hpp>
#include <eigenformer/text/vocabulary.hpp>

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace eigenformer {

struct AddedToken {
  std::string content;
  TokenId id = 0;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = false;
};

// Gives each token the id HF tokenizers gives it (AddedVocabulary::add_tokens): a token whose
// content was added before keeps that id, one in the vocabulary takes its vocabulary id, any
// other the next id past the vocabulary and the ids assigned so far. An id a tokenizer.json
// stores is overwritten: tokenizers ignores it too (it only warns when it differs).
inline void assign_added_token_ids(std::vector<AddedToken>& tokens, const Vocabulary& vocabulary) {
  const auto vocab_size = static_cast<TokenId>(vocabulary.size());
  std::unordered_map<std::string, TokenId> assigned;
  std::optional<TokenId> highest;
  for (auto& token : tokens) {
    if (token.content.empty()) continue;  // ignored, as in HF
    if (const auto earlier = assigned.find(token.content); earlier != assigned.end())
      token.id = earlier->second;
    else if (const auto id = vocabulary.find(token.content))
      token.id = *id;
    else
      token.id = highest && (*highest >= vocab_size || vocab_size == 0) ? *highest + 1 : vocab_size;
    assigned[token.content] = token.id;
    highest = std::max(highest.value_or(token.id), token.id);
  }
}

class AddedVocabulary {
 public:
  AddedVocabulary() = default;

  // `normalize(std::u32string_view) -> std::u32string` gives the matched form of the
  // normalized tokens. Tokens with empty content are ignored, as in HF.
  template <typename Normalize>
  AddedVocabulary(const std::vector<AddedToken>& tokens, Normalize&& normalize) {
    for (const auto& token : tokens) {
      if (token.content.empty()) continue;
      ids_.insert_or_assign(token.content, token.id);
      contents_.insert_or_assign(token.id, token.content);
      const std::u32string content = decode_utf8(token.content);
      Pattern pattern{token.normalized ? normalize(content) : content, token.id, token.lstrip,
                      token.rstrip};
      if (!pattern.text.empty())
        (token.normalized ? normalized_ : raw_).push_back(std::move(pattern));
    }
  }

  bool empty() const { return ids_.empty(); }

  std::optional<TokenId> find(std::string_view content) const {
    const auto found = ids_.find(std::string(content));
    if (found == ids_.end()) return std::nullopt;
    return found->second;
  }
  std::optional<std::string_view> find_token(TokenId id) const {
    const auto found = contents_.find(id);
    if (found == contents_.end()) return std::nullopt;
    return std::string_view(found->second);
  }

  // Cuts the tokens matched in `text` out of it: on_text(view) for each non-empty stretch
  // between matches, on_token(id) for each match, in order. `normalized_text` selects which
  // tokens to match: the raw-input ones, or the normalized ones.
  template <typename OnText, typename OnToken>
  void split(std::u32string_view text, bool normalized_text, OnText&& on_text,
             OnToken&& on_token) const {
    const auto& patterns = normalized_text ? normalized_ : raw_;
    std::size_t emitted = 0;  // text before this has been handed out
    for (std::size_t pos = 0; pos < text.size();) {
      const Pattern* match = longest_match_at(patterns, text, pos);
      if (!match) {
        ++pos;
        continue;
      }
      std::size_t begin = pos, end = pos + match->text.size();
      if (match->lstrip)
        while (begin > emitted && unicode::is_white_space(text[begin - 1])) --begin;
      if (match->rstrip)
        while (end < text.size() && unicode::is_white_space(text[end])) ++end;
      if (begin > emitted) on_text(text.substr(emitted, begin - emitted));
      on_token(match->id);
      emitted = pos = end;
    }
    if (text.size() > emitted) on_text(text.substr(emitted));
  }

 private:
  struct Pattern {
    std::u32string text;
    TokenId id;
    bool lstrip;
    bool rstrip;
  };

  static const Pattern* longest_match_at(const std::vector<Pattern>& patterns,
                                         std::u32string_view text, std::size_t pos) {
    const Pattern* best = nullptr;
    for (const auto& pattern : patterns)
      if (pattern.text[0] == text[pos] &&
          text.compare(pos, pattern.text.size(), pattern.text) == 0 &&
          (!best || pattern.text.size() > best->text.size()))
        best = &pattern;
    return best;
  }

  std::unordered_map<std::string, TokenId> ids_;
  std::unordered_map<TokenId, std::string> contents_;
  std::vector<Pattern> raw_, normalized_;
};

}  // namespace eigenformer
