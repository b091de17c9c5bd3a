// Arbitrary bytes as text for BertTokenizer, under both Utf8Errors policies. The first two
// bytes choose the tokenizer (fixture or bert-base-uncased vocabulary, cased or uncased, with
// or without the pre-tokenizer), the truncation options and whether the rest is one text or
// a pair; the checks are the tokenizer's documented guarantees:
//   - Replace with LongestFirst truncation never throws, Throw fails exactly on invalid UTF-8
//     and otherwise agrees with Replace;
//   - an encoding's ids, type ids, mask and tokens have one entry per token, every id names a
//     vocabulary token, and truncation keeps the length within max_length;
//   - tokenize() gives the tokens encode() gives without special tokens or truncation.
#include <eigenformer/text/bert_tokenizer.hpp>
#include <eigenformer/text/utf8.hpp>

#include "tokenizer_checks.hpp"

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace {

using eigenformer::BertTokenizer;
using eigenformer::BertTokenizerConfig;
using eigenformer::EncodeOptions;
using eigenformer::Encoding;
using eigenformer::Index;
using eigenformer::TruncationSide;
using eigenformer::TruncationStrategy;
using eigenformer::Utf8Errors;
using eigenformer::fuzz::checked_encode;
using eigenformer::fuzz::require;

const std::vector<BertTokenizer>& tokenizers() {
  static const std::vector<BertTokenizer> all = [] {
    const std::string data = EIGENFORMER_TEST_DATA;
    BertTokenizerConfig cased;
    cased.normalizer->lowercase = false;
    BertTokenizerConfig whole_text;  // tokenizer.json with "pre_tokenizer": null
    whole_text.split_words = false;
    BertTokenizerConfig raw;  // "normalizer": null
    raw.normalizer.reset();
    return std::vector<BertTokenizer>{
        BertTokenizer::from_vocab_file(data + "/bert/vocab.txt"),
        BertTokenizer::from_vocab_file(data + "/bert/bert-base-uncased-vocab.txt"),
        BertTokenizer::from_vocab_file(data + "/bert/vocab.txt", cased),
        BertTokenizer::from_vocab_file(data + "/bert/vocab.txt", whole_text),
        BertTokenizer::from_vocab_file(data + "/bert/bert-base-uncased-vocab.txt", raw)};
  }();
  return all;
}

bool is_valid_utf8(std::string_view text) {
  return eigenformer::find_invalid_utf8(text) == std::string_view::npos;
}

EncodeOptions options_from(std::uint8_t bits) {
  static const TruncationStrategy kStrategies[] = {TruncationStrategy::LongestFirst,
                                                   TruncationStrategy::OnlyFirst,
                                                   TruncationStrategy::OnlySecond};
  EncodeOptions options;
  options.truncation.enabled = (bits & 1) == 0;
  options.truncation.side = bits & 2 ? TruncationSide::Left : TruncationSide::Right;
  options.truncation.strategy = kStrategies[(bits >> 2) % 3];
  options.add_special_tokens = (bits & 16) == 0;
  const Index lengths[] = {0, 3, 8, 64};  // 0 cannot hold the special tokens
  if (bits & 32) options.truncation.max_length = lengths[(bits >> 6) & 3];
  return options;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const auto& all = tokenizers();
  const BertTokenizer& tokenizer = all[data[0] % all.size()];
  const bool pair = data[0] & 0x80;
  const EncodeOptions options = options_from(data[1]);
  const std::string_view input(reinterpret_cast<const char*>(data + 2), size - 2);
  std::string_view first = input;
  std::optional<std::string_view> second;
  if (pair) {  // split at the first NUL byte, or in the middle; that byte belongs to neither
    const std::size_t cut = std::min(input.find('\0'), input.size() / 2);
    first = input.substr(0, cut);
    second = input.substr(std::min(input.size(), cut + 1));
  }
  if (is_valid_utf8(input))
    require(eigenformer::encode_utf8(eigenformer::decode_utf8(input)) == input,
            "UTF-8 decoding then encoding gives the input back");
  const bool valid_utf8 = is_valid_utf8(first) && (!second || is_valid_utf8(*second));

  // Only truncation settings can make Replace fail: no room for the special tokens, or an
  // OnlyFirst / OnlySecond budget the chosen sequence cannot absorb, or truncation off.
  const bool replace_may_throw =
      !options.truncation.enabled ||
      options.truncation.strategy != TruncationStrategy::LongestFirst ||
      (options.add_special_tokens && options.truncation.max_length == Index{0});
  EncodeOptions replace = options, strict_utf8 = options;
  replace.utf8_errors = Utf8Errors::Replace;
  strict_utf8.utf8_errors = Utf8Errors::Throw;
  const auto replaced = checked_encode(tokenizer, first, second, replace, replace_may_throw);
  const auto strict = checked_encode(tokenizer, first, second, strict_utf8, true);
  if (!valid_utf8)
    require(!strict, "invalid UTF-8 is an error under Utf8Errors::Throw");
  else
    require(strict.has_value() == replaced.has_value() && (!strict || strict->ids == replaced->ids),
            "on valid UTF-8 both policies agree");

  EncodeOptions plain;
  plain.add_special_tokens = false;
  plain.truncation.enabled = false;
  plain.truncation.max_length = std::numeric_limits<Index>::max();
  plain.utf8_errors = Utf8Errors::Replace;
  const auto untruncated = checked_encode(tokenizer, first, std::nullopt, plain, false);
  require(tokenizer.tokenize(first, Utf8Errors::Replace) == untruncated->tokens,
          "tokenize() matches encode() without special tokens");
  return 0;
}
