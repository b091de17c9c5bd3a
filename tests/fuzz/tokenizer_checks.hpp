#pragma once
// Checks shared by the tokenizer fuzz targets: what every Encoding guarantees.

#include <eigenformer/text/bert_tokenizer.hpp>

#include "fuzz_support.hpp"

#include <optional>
#include <string_view>

namespace eigenformer::fuzz {

inline void check_encoding(const BertTokenizer& tokenizer, const Encoding& encoding,
                           const EncodeOptions& options) {
  const std::size_t n = encoding.ids.size();
  require(encoding.type_ids.size() == n && encoding.attention_mask.size() == n &&
              encoding.tokens.size() == n,
          "ids, type_ids, attention_mask and tokens have one entry per token");
  if (options.truncation.enabled)
    require(encoding.size() <= options.truncation.max_length.value_or(tokenizer.model_max_length()),
            "truncation respects max_length");
  for (std::size_t i = 0; i < n; ++i) {
    const auto token = tokenizer.id_to_token(encoding.ids[i]);
    require(token && *token == encoding.tokens[i], "every id names its token");
    require(encoding.attention_mask[i] == 1, "an unpadded encoding attends to every token");
  }
}

// Encodes `first` (and `second` when given) and checks the result; returns nullopt when the
// tokenizer refused with an eigenformer::Error, which only `may_throw` allows.
inline std::optional<Encoding> checked_encode(const BertTokenizer& tokenizer,
                                              std::string_view first,
                                              const std::optional<std::string_view>& second,
                                              const EncodeOptions& options, bool may_throw) {
  try {
    Encoding encoding =
        second ? tokenizer.encode_pair(first, *second, options) : tokenizer.encode(first, options);
    check_encoding(tokenizer, encoding, options);
    return encoding;
  } catch (const Error&) {
    require(may_throw, "this encode call does not throw");
    return std::nullopt;
  }
}

// A freshly loaded tokenizer on a few fixed texts and on `text`, invalid UTF-8 replaced.
// Loaded settings (a tiny model_max_length, say) may make encoding an error, never a crash.
inline void exercise_loaded_tokenizer(const BertTokenizer& tokenizer, std::string_view text) {
  EncodeOptions options;
  options.utf8_errors = Utf8Errors::Replace;
  for (std::string_view sample : {std::string_view("Hello, World! [MASK] caf\xc3\xa9 \xe4\xbd\xa0"),
                                  std::string_view(""), text})
    checked_encode(tokenizer, sample, std::nullopt, options, true);
  checked_encode(tokenizer, "first text", text, options, true);
  options.truncation.max_length = 5;
  checked_encode(tokenizer, text, text, options, true);
}

}  // namespace eigenformer::fuzz
