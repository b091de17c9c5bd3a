#pragma once
// HF tokenizers' WordPiece model (src/models/wordpiece/mod.rs): greedy longest-match-first
// over one pre-tokenized word. The first piece is looked up as is, every later piece with
// the continuing-subword prefix ("##"). If some position has no matching piece, or the word
// has more than max_input_chars_per_word code points, the whole word becomes the unknown
// token.

#include <eigenformer/text/vocabulary.hpp>

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace eigenformer {

struct WordPieceOptions {
  std::string unk_token = "[UNK]";
  std::string continuing_subword_prefix = "##";
  std::size_t max_input_chars_per_word = 100;
};

class WordPiece {
 public:
  // Throws FormatError when the vocabulary lacks the unknown token.
  explicit WordPiece(Vocabulary vocabulary, WordPieceOptions options = {})
      : vocabulary_(std::move(vocabulary)),
        options_(std::move(options)),
        unk_id_(vocabulary_.require(options_.unk_token, "unknown token (unk_token)")) {
    const std::string_view prefix = options_.continuing_subword_prefix;
    vocabulary_.for_each([&](std::string_view token, TokenId id) {
      longest_piece_ = std::max(longest_piece_, token.size());
      // Continuations are keyed without the prefix, so a lookup needs no string building;
      // the views point into the vocabulary's shared storage, which this object keeps alive.
      if (token.substr(0, prefix.size()) == prefix) {
        const std::string_view rest = token.substr(prefix.size());
        continuations_.insert_or_assign(rest, id);
        longest_piece_ = std::max(longest_piece_, rest.size());
      }
    });
  }

  const Vocabulary& vocabulary() const { return vocabulary_; }
  const WordPieceOptions& options() const { return options_; }
  TokenId unk_id() const { return unk_id_; }

  // Appends the ids of one word (UTF-8) holding `char_count` code points.
  void tokenize(std::string_view word, std::size_t char_count, std::vector<TokenId>& ids) const {
    if (char_count > options_.max_input_chars_per_word) {
      ids.push_back(unk_id_);
      return;
    }
    const std::size_t first_piece = ids.size();
    for (std::size_t start = 0; start < word.size();) {
      // No piece is longer than the longest vocabulary entry, so longer candidates are
      // skipped rather than looked up; the first hit is the same as HF's.
      std::size_t end =
          char_boundary_at_or_before(word, std::min(word.size(), start + longest_piece_));
      std::optional<TokenId> id;
      while (end > start && !(id = lookup(word.substr(start, end - start), start > 0)))
        end = char_boundary_at_or_before(word, end - 1);
      if (!id) {
        ids.resize(first_piece);
        ids.push_back(unk_id_);
        return;
      }
      ids.push_back(*id);
      start = end;
    }
  }

  std::vector<TokenId> tokenize(std::string_view word) const {
    const auto char_count =
        static_cast<std::size_t>(std::count_if(word.begin(), word.end(), [](char byte) {
          return (static_cast<unsigned char>(byte) & 0xC0) != 0x80;
        }));
    std::vector<TokenId> ids;
    tokenize(word, char_count, ids);
    return ids;
  }

 private:
  std::optional<TokenId> lookup(std::string_view piece, bool continuation) const {
    return continuation ? continuations_.find(piece) : vocabulary_.find(piece);
  }

  static std::size_t char_boundary_at_or_before(std::string_view word, std::size_t pos) {
    while (pos > 0 && pos < word.size() && (static_cast<unsigned char>(word[pos]) & 0xC0) == 0x80)
      --pos;
    return pos;
  }

  Vocabulary vocabulary_;
  WordPieceOptions options_;
  TokenId unk_id_;
  detail::StringIdMap continuations_;
  std::size_t longest_piece_ = 0;
};

}  // namespace eigenformer
