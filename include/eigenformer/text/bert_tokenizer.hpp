#pragma once
// The BERT WordPiece tokenizer, giving the ids HF's BertTokenizerFast gives (the Rust
// tokenizers pipeline). For each input text:
//   1. added tokens ([CLS], [SEP], [MASK], ... and tokenizer.json's added_tokens) are cut
//      out of the raw text (added_vocabulary.hpp);
//   2. the rest is normalized (bert_normalizer.hpp), split into words
//      (bert_pre_tokenizer.hpp) and each word into word pieces (wordpiece.hpp);
//   3. the sequences are truncated (truncation.hpp) and wrapped in special tokens with
//      token type ids (template_processing.hpp): [CLS] A [SEP] or [CLS] A [SEP] B [SEP].
//
// Input is UTF-8; invalid UTF-8 throws InvalidArgument unless EncodeOptions::utf8_errors is
// Utf8Errors::Replace (see utf8.hpp). Truncation is on by default, to the model's maximum
// length (model_max_length, 512 for BERT); with truncation off, an input that does not fit
// is an InvalidArgument instead of a silently over-long sequence.
//
// A BertTokenizer is immutable after construction; all methods are const and may be called
// from several threads at once.

#include <eigenformer/core/error.hpp>
#include <eigenformer/core/types.hpp>
#include <eigenformer/text/added_vocabulary.hpp>
#include <eigenformer/text/bert_normalizer.hpp>
#include <eigenformer/text/bert_pre_tokenizer.hpp>
#include <eigenformer/text/encoding.hpp>
#include <eigenformer/text/template_processing.hpp>
#include <eigenformer/text/truncation.hpp>
#include <eigenformer/text/utf8.hpp>
#include <eigenformer/text/vocabulary.hpp>
#include <eigenformer/text/wordpiece.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace eigenformer {

struct BertTokenizerConfig {
  // std::nullopt: no normalization (a tokenizer.json whose "normalizer" is null).
  std::optional<BertNormalizerOptions> normalizer = BertNormalizerOptions{};
  // false: no pre-tokenizer, WordPiece sees the text whole ("pre_tokenizer": null).
  bool split_words = true;
  WordPieceOptions wordpiece;
  std::string cls_token = "[CLS]";
  std::string sep_token = "[SEP]";
  std::string pad_token = "[PAD]";
  std::string mask_token = "[MASK]";
  // std::nullopt: BERT's template, [CLS] A [SEP] / [CLS] A [SEP] B [SEP].
  std::optional<TemplateProcessing> post_processor;
  // std::nullopt: the unk, sep, cls, pad and mask tokens, matched in the raw text (what
  // BertTokenizerFast registers). The tokens' ids are ignored: each gets the id HF gives it
  // (assign_added_token_ids), so a mask token missing from the vocabulary gets the next id.
  std::optional<std::vector<AddedToken>> added_tokens;
  // Default truncation length, special tokens included.
  Index model_max_length = 512;
};

struct EncodeOptions {
  Truncation truncation;
  bool add_special_tokens = true;
  Utf8Errors utf8_errors = Utf8Errors::Throw;
};

class BertTokenizer {
 public:
  // Throws FormatError when the vocabulary lacks the unknown, padding or (for the default
  // template) [CLS] / [SEP] token, or when a template's special token disagrees with it.
  explicit BertTokenizer(Vocabulary vocabulary, BertTokenizerConfig config = {})
      : config_(std::move(config)),
        wordpiece_(std::move(vocabulary), config_.wordpiece),
        post_processor_(TemplateProcessing::none()) {
    if (config_.normalizer) normalizer_.emplace(*config_.normalizer);
    added_ = AddedVocabulary(added_tokens_with_ids(),
                             [this](std::u32string_view text) { return normalize(text); });
    pad_id_ = require_token(config_.pad_token, "padding token (pad_token)");
    if (config_.post_processor) {
      post_processor_ = *config_.post_processor;
      check_template_tokens();
    } else {
      post_processor_ = TemplateProcessing::bert(
          config_.cls_token, require_token(config_.cls_token, "classifier token (cls_token)"),
          config_.sep_token, require_token(config_.sep_token, "separator token (sep_token)"));
    }
    if (config_.model_max_length < 0)
      throw InvalidArgument(
          detail::concat("model_max_length must be >= 0, got ", config_.model_max_length));
  }

  // A vocab.txt with BERT's defaults (uncased: lowercase and strip accents); pass a config
  // for a cased model (normalizer->lowercase = false) or other special tokens.
  static BertTokenizer from_vocab_file(const std::string& path, BertTokenizerConfig config = {}) {
    return BertTokenizer(Vocabulary::read_vocab_txt(path), std::move(config));
  }

  Encoding encode(std::string_view text, const EncodeOptions& options = {}) const {
    return finish(sequence_ids(text, options.utf8_errors, "the text"), nullptr, options, true);
  }

  // [CLS] first [SEP] second [SEP], token type ids 0 up to the first [SEP], then 1.
  Encoding encode_pair(std::string_view first, std::string_view second,
                       const EncodeOptions& options = {}) const {
    auto first_ids = sequence_ids(first, options.utf8_errors, "the first text");
    auto second_ids = sequence_ids(second, options.utf8_errors, "the second text");
    return finish(std::move(first_ids), &second_ids, options, true);
  }

  // All texts encoded and padded on the right to the longest (pad_id(), attention 0).
  BatchEncoding encode_batch(const std::vector<std::string>& texts,
                             const EncodeOptions& options = {}) const {
    std::vector<Encoding> encodings;
    encodings.reserve(texts.size());
    for (std::size_t i = 0; i < texts.size(); ++i)
      encodings.push_back(finish(sequence_ids(texts[i], options.utf8_errors, batch_item("text", i)),
                                 nullptr, options, false));
    return pad_to_longest(encodings, pad_id_);
  }

  // Row i encodes the pair (firsts[i], seconds[i]).
  BatchEncoding encode_pair_batch(const std::vector<std::string>& firsts,
                                  const std::vector<std::string>& seconds,
                                  const EncodeOptions& options = {}) const {
    if (firsts.size() != seconds.size())
      throw InvalidArgument(detail::concat("encode_pair_batch: ", firsts.size(),
                                           " first texts but ", seconds.size(), " second texts"));
    std::vector<Encoding> encodings;
    encodings.reserve(firsts.size());
    for (std::size_t i = 0; i < firsts.size(); ++i) {
      auto first_ids = sequence_ids(firsts[i], options.utf8_errors, batch_item("first text", i));
      auto second_ids = sequence_ids(seconds[i], options.utf8_errors, batch_item("second text", i));
      encodings.push_back(finish(std::move(first_ids), &second_ids, options, false));
    }
    return pad_to_longest(encodings, pad_id_);
  }

  // The tokens of `text` without special tokens or truncation (HF's tokenizer.tokenize).
  std::vector<std::string> tokenize(std::string_view text,
                                    Utf8Errors utf8_errors = Utf8Errors::Throw) const {
    std::vector<std::string> tokens;
    for (TokenId id : sequence_ids(text, utf8_errors, "the text")) tokens.push_back(token_of(id));
    return tokens;
  }

  // Added tokens first, then the vocabulary, as HF looks them up.
  std::optional<TokenId> token_to_id(std::string_view token) const {
    if (auto id = added_.find(token)) return id;
    return vocabulary().find(token);
  }
  std::optional<std::string> id_to_token(TokenId id) const {
    if (auto token = added_.find_token(id)) return std::string(*token);
    if (auto token = vocabulary().find_token(id)) return std::string(*token);
    return std::nullopt;
  }

  const Vocabulary& vocabulary() const { return wordpiece_.vocabulary(); }
  const BertTokenizerConfig& config() const { return config_; }
  TokenId pad_id() const { return pad_id_; }
  TokenId unk_id() const { return wordpiece_.unk_id(); }
  Index model_max_length() const { return config_.model_max_length; }

 private:
  static std::string batch_item(const char* what, std::size_t i) {
    return detail::concat(what, " ", i, " of the batch");
  }

  // The added tokens with the ids HF gives them. Without a list, those BertTokenizerFast
  // registers: its special tokens (one the vocabulary lacks, only [MASK] may as the others
  // are required, gets the next free id).
  std::vector<AddedToken> added_tokens_with_ids() const {
    std::vector<AddedToken> tokens;
    if (config_.added_tokens)
      tokens = *config_.added_tokens;
    else
      for (const auto* token : {&config_.wordpiece.unk_token, &config_.sep_token,
                                &config_.cls_token, &config_.pad_token, &config_.mask_token})
        tokens.push_back({*token, 0, false, false, false});
    assign_added_token_ids(tokens, vocabulary());
    return tokens;
  }

  // A required token is looked up in the vocabulary unless the caller listed the added
  // tokens: the default ones would make every special token resolve, and a BERT vocabulary
  // without [CLS], [SEP] or [PAD] is the wrong file.
  TokenId require_token(const std::string& token, std::string_view role) const {
    if (config_.added_tokens)
      if (auto id = added_.find(token)) return *id;
    return vocabulary().require(token, role);
  }

  void check_template_tokens() const {
    for (const auto* pieces : {&post_processor_.single(), &post_processor_.pair()})
      for (const auto& piece : *pieces) {
        if (piece.ids.size() != piece.tokens.size())
          throw FormatError(detail::concat("post-processor special token '", piece.name, "' has ",
                                           piece.ids.size(), " ids but ", piece.tokens.size(),
                                           " tokens"));
        for (std::size_t i = 0; i < piece.ids.size(); ++i) {
          const auto known = id_to_token(piece.ids[i]);
          if (!known || *known != piece.tokens[i])
            throw FormatError(detail::concat(
                vocabulary().source(), ": post-processor special token '", piece.name, "' uses id ",
                piece.ids[i], " for '", piece.tokens[i], "', but the vocabulary ",
                known ? "gives that id to '" + *known + "'" : std::string("has no such id")));
        }
      }
  }

  std::u32string normalize(std::u32string_view text) const {
    if (!normalizer_) return std::u32string(text);
    return normalizer_->normalize(text);
  }

  // Every id of an id sequence has a token: WordPiece and added tokens only produce known
  // ids, and check_template_tokens verified the template's.
  std::string token_of(TokenId id) const { return id_to_token(id).value_or(std::string()); }

  // The ids of one text, before truncation and special tokens.
  std::vector<TokenId> sequence_ids(std::string_view text, Utf8Errors utf8_errors,
                                    std::string_view what) const {
    std::u32string decoded;
    decode_utf8(text, decoded, utf8_errors, what);
    std::vector<TokenId> ids;
    std::u32string normalized;
    std::string word;
    const auto push_id = [&](TokenId id) { ids.push_back(id); };
    const auto add_word = [&](std::u32string_view piece) {
      word.clear();
      append_utf8(piece, word);
      wordpiece_.tokenize(word, piece.size(), ids);
    };
    const auto add_normalized = [&](std::u32string_view piece) {
      if (config_.split_words)
        bert_pre_tokenize(piece, add_word);
      else
        add_word(piece);
    };
    added_.split(
        decoded, false,
        [&](std::u32string_view piece) {
          if (normalizer_) {
            normalizer_->normalize(piece, normalized);
            piece = normalized;
          }
          added_.split(piece, true, add_normalized, push_id);
        },
        push_id);
    return ids;
  }

  Encoding finish(std::vector<TokenId> first, std::vector<TokenId>* second,
                  const EncodeOptions& options, bool with_tokens) const {
    const Truncation& truncation = options.truncation;
    const Index max_length = truncation.max_length.value_or(config_.model_max_length);
    const std::size_t added =
        options.add_special_tokens ? post_processor_.added_tokens(second != nullptr) : 0;
    if (max_length < 0)
      throw InvalidArgument(detail::concat("max_length must be >= 0, got ", max_length));
    const auto limit = static_cast<std::size_t>(max_length);
    if (truncation.enabled) {
      if (added > limit)
        throw InvalidArgument(detail::concat("max_length ", max_length, " cannot hold the ", added,
                                             " special tokens added around the text"));
      truncate_sequences(first, second, limit - added, truncation.strategy, truncation.side);
    } else if (const std::size_t total = first.size() + (second ? second->size() : 0) + added;
               total > limit) {
      throw InvalidArgument(detail::concat(
          "the input is ", total, " tokens long (special tokens included), more than max_length ",
          max_length, "; enable truncation or shorten the text"));
    }
    Encoding out;
    post_processor_.apply(first, second, options.add_special_tokens, out.ids, out.type_ids);
    out.attention_mask.assign(out.ids.size(), 1);
    if (with_tokens) {
      out.tokens.reserve(out.ids.size());
      for (TokenId id : out.ids) out.tokens.push_back(token_of(id));
    }
    return out;
  }

  BertTokenizerConfig config_;
  WordPiece wordpiece_;
  std::optional<BertNormalizer> normalizer_;
  AddedVocabulary added_;
  TemplateProcessing post_processor_;
  TokenId pad_id_ = 0;
};

}  // namespace eigenformer
