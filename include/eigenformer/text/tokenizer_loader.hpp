#pragma once
// Loading a BertTokenizer from the files HF writes.
//
//   load_tokenizer_json(path): a tokenizer.json (HF tokenizers' serialization) whose model is
//     WordPiece. Supported pieces: model WordPiece; normalizer BertNormalizer or null;
//     pre_tokenizer BertPreTokenizer or null; post_processor TemplateProcessing,
//     BertProcessing or null; added_tokens without single_word. Anything else (a BPE or
//     Unigram model, a Sequence normalizer, ...) is a FormatError saying what is supported.
//   load_bert_tokenizer(directory): a save_pretrained directory. tokenizer.json when present
//     and WordPiece, else vocab.txt with BERT's defaults. tokenizer_config.json, when present,
//     supplies model_max_length, pad_token, and, as BertTokenizerFast applies them,
//     do_lower_case / strip_accents / tokenize_chinese_chars (HF's defaults True / null /
//     True for the ones it lacks; they replace a tokenizer.json BertNormalizer's, since
//     BertTokenizerFast rebuilds the normalizer whenever they differ) and, for vocab.txt, the
//     other special tokens' names.
// added_tokens' "id" fields are not used: as in HF, each token gets its vocabulary id, else
// the next free one (assign_added_token_ids).
// The default truncation length is model_max_length, else tokenizer.json's truncation
// max_length, else 512.

#include <eigenformer/core/error.hpp>
#include <eigenformer/io/json_config.hpp>
#include <eigenformer/io/model_files.hpp>
#include <eigenformer/text/bert_tokenizer.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace eigenformer {

namespace detail {

inline constexpr Index kDefaultModelMaxLength = 512;

// The normalizer settings tokenizer_config.json can impose, with HF's defaults.
struct TokenizerConfigFile {
  std::optional<JsonConfig> json;

  static TokenizerConfigFile load_if_present(const std::optional<std::string>& path) {
    if (!path) return {};
    return {JsonConfig::load(*path)};
  }

  void apply_normalizer(BertNormalizerOptions& options) const {
    options.lowercase = json->get_or<bool>("do_lower_case", true);
    options.handle_chinese_chars = json->get_or<bool>("tokenize_chinese_chars", true);
    options.strip_accents = json->has("strip_accents")
                                ? std::optional<bool>(json->get<bool>("strip_accents"))
                                : std::nullopt;
  }

  // model_max_length may be a huge float (1e30 means "no limit" in transformers).
  std::optional<Index> model_max_length() const {
    if (!json || !json->has("model_max_length")) return std::nullopt;
    const auto& value = json->json().at("model_max_length");
    if (!value.is_number() || value.get<double>() < 0)
      JsonLocation{json->source(), "model_max_length"}.fail("a non-negative number", value);
    const double length = value.get<double>();
    if (length >= static_cast<double>(std::numeric_limits<Index>::max()))
      return std::numeric_limits<Index>::max();
    return static_cast<Index>(length);
  }

  // A special token's name: a string, or an AddedToken object {"content": ...}.
  void apply_token(const char* key, std::string& token) const {
    if (!json || !json->has(key)) return;
    const auto& value = json->json().at(key);
    if (value.is_object() && value.contains("content"))
      token = JsonReader<std::string>::read(value["content"],
                                            JsonLocation{json->source(), concat(key, ".content")});
    else
      token = json->get<std::string>(key);
  }
};

inline std::string model_type(const JsonConfig& root) {
  const JsonConfig model = root.child("model");
  if (model.has("type")) return model.get<std::string>("type");
  // Files written before the "type" tag: tokenizers tells models apart by their fields.
  return model.has("max_input_chars_per_word") ? "WordPiece" : "unknown (no model.type)";
}

// `field`.type must be one of `supported` (a null field is handled by the caller).
inline void require_type(const JsonConfig& object, const std::string& field,
                         std::initializer_list<const char*> supported) {
  const auto type = object.get<std::string>("type");
  std::string names;
  for (const char* name : supported) {
    if (type == name) return;
    names += concat(name, ", ");
  }
  throw FormatError(concat(object.source(), ": ", field, ".type is '", type,
                           "'; supported: ", names, "or null (BERT-style WordPiece tokenizers)"));
}

inline TemplatePiece parse_template_piece(const nlohmann::json& value, const JsonConfig& processor,
                                          const std::string& field) {
  const JsonLocation where{processor.source(), field};
  const char* expected = "{\"Sequence\": {...}} or {\"SpecialToken\": {...}}";
  if (!value.is_object() || value.size() != 1) where.fail(expected, value);
  const std::string kind = value.begin().key();
  const nlohmann::json& body = value.begin().value();
  if ((kind != "Sequence" && kind != "SpecialToken") || !body.is_object() || !body.contains("id") ||
      !body.contains("type_id"))
    where.fail(expected, value);
  // HF stores type ids as u32: a negative one is a broken file.
  const TokenId type_id =
      JsonReader<std::uint32_t>::read(body["type_id"], {where.file, field + ".type_id"});
  const auto id = JsonReader<std::string>::read(body["id"], {where.file, field + ".id"});
  if (kind == "Sequence") {
    if (id != "A" && id != "B") where.fail("a Sequence with id \"A\" or \"B\"", value);
    return TemplatePiece::sequence(
        id == "A" ? TemplatePiece::Kind::SequenceA : TemplatePiece::Kind::SequenceB, type_id);
  }
  const JsonConfig special = processor.child("special_tokens").child(id);
  return {TemplatePiece::Kind::SpecialToken, type_id, id, special.get<std::vector<TokenId>>("ids"),
          special.get<std::vector<std::string>>("tokens")};
}

inline std::vector<TemplatePiece> parse_template(const JsonConfig& processor,
                                                 const std::string& key) {
  if (!processor.has(key))
    throw FormatError(
        concat(processor.source(), ": missing required field 'post_processor.", key, "'"));
  const auto& pieces = processor.json().at(key);
  if (!pieces.is_array())
    JsonLocation{processor.source(), "post_processor." + key}.fail("an array", pieces);
  std::vector<TemplatePiece> out;
  for (std::size_t i = 0; i < pieces.size(); ++i)
    out.push_back(
        parse_template_piece(pieces[i], processor, concat("post_processor.", key, "[", i, "]")));
  return out;
}

// BertProcessing stores each special token as a [token, id] pair.
inline std::pair<std::string, TokenId> parse_bert_processing_token(const JsonConfig& processor,
                                                                   const std::string& key) {
  const JsonLocation where{processor.source(), "post_processor." + key};
  if (!processor.has(key)) where.fail("a [token, id] pair", nullptr);
  const auto& value = processor.json().at(key);
  if (!value.is_array() || value.size() != 2) where.fail("a [token, id] pair", value);
  return {JsonReader<std::string>::read(value[0], where),
          JsonReader<TokenId>::read(value[1], where)};
}

inline TemplateProcessing parse_post_processor(const JsonConfig& root) {
  if (!root.has("post_processor")) return TemplateProcessing::none();
  const JsonConfig processor = root.child("post_processor");
  require_type(processor, "post_processor", {"TemplateProcessing", "BertProcessing"});
  if (processor.get<std::string>("type") == "BertProcessing") {
    const auto [cls, cls_id] = parse_bert_processing_token(processor, "cls");
    const auto [sep, sep_id] = parse_bert_processing_token(processor, "sep");
    return TemplateProcessing::bert(cls, cls_id, sep, sep_id);
  }
  return TemplateProcessing(parse_template(processor, "single"), parse_template(processor, "pair"));
}

// The ids are left for BertTokenizer to assign, as HF ignores the file's.
inline std::vector<AddedToken> parse_added_tokens(const JsonConfig& root) {
  std::vector<AddedToken> tokens;
  if (!root.has("added_tokens")) return tokens;
  for (const JsonConfig& token : root.objects("added_tokens")) {
    const auto content = token.get<std::string>("content");
    if (token.get_or<bool>("single_word", false))
      throw FormatError(concat(root.source(), ": ", token.path(), "single_word of '", content,
                               "' is true, which is not supported"));
    tokens.push_back({content, 0, token.get_or<bool>("lstrip", false),
                      token.get_or<bool>("rstrip", false),
                      token.get_or<bool>("normalized", false)});
  }
  return tokens;
}

inline BertNormalizerOptions parse_normalizer(const JsonConfig& root,
                                              const TokenizerConfigFile& overrides) {
  const JsonConfig normalizer = root.child("normalizer");
  require_type(normalizer, "normalizer", {"BertNormalizer"});
  BertNormalizerOptions options;
  options.clean_text = normalizer.get_or<bool>("clean_text", true);
  options.handle_chinese_chars = normalizer.get_or<bool>("handle_chinese_chars", true);
  if (normalizer.has("strip_accents"))
    options.strip_accents = normalizer.get<bool>("strip_accents");
  options.lowercase = normalizer.get_or<bool>("lowercase", true);
  if (overrides.json) overrides.apply_normalizer(options);
  return options;
}

inline BertTokenizer tokenizer_from_json(const JsonConfig& root,
                                         const TokenizerConfigFile& overrides) {
  const std::string type = model_type(root);
  if (type != "WordPiece")
    throw FormatError(concat(root.source(), ": model.type is '", type,
                             "'; only WordPiece models (BERT-style tokenizers) are supported"));
  const JsonConfig model = root.child("model");
  BertTokenizerConfig config;
  config.wordpiece.unk_token = model.get<std::string>("unk_token");
  config.wordpiece.continuing_subword_prefix = model.get<std::string>("continuing_subword_prefix");
  config.wordpiece.max_input_chars_per_word = model.get<std::size_t>("max_input_chars_per_word");

  config.normalizer.reset();
  if (root.has("normalizer")) config.normalizer = parse_normalizer(root, overrides);
  config.split_words = root.has("pre_tokenizer");
  if (config.split_words) {
    const JsonConfig pre_tokenizer = root.child("pre_tokenizer");
    require_type(pre_tokenizer, "pre_tokenizer", {"BertPreTokenizer"});
  }
  config.post_processor = parse_post_processor(root);
  config.added_tokens = parse_added_tokens(root);
  // BertTokenizerFast pads with tokenizer_config.json's pad_token, else its own default
  // "[PAD]" (an explicit argument, so tokenizer.json's "padding" never applies); the
  // tokenizers library alone, without tokenizer_config.json, pads with "padding"'s.
  if (!overrides.json && root.has("padding"))
    config.pad_token = root.child("padding").get_or<std::string>("pad_token", "[PAD]");
  overrides.apply_token("pad_token", config.pad_token);
  config.model_max_length = overrides.model_max_length().value_or(
      root.has("truncation") ? root.child("truncation").get<Index>("max_length")
                             : kDefaultModelMaxLength);
  return BertTokenizer(Vocabulary::from_json(model.child("vocab").json(), root.source()),
                       std::move(config));
}

inline BertTokenizer tokenizer_from_vocab_txt(const std::string& path,
                                              const TokenizerConfigFile& overrides) {
  BertTokenizerConfig config;
  config.normalizer = BertNormalizerOptions{};
  if (overrides.json) overrides.apply_normalizer(*config.normalizer);
  overrides.apply_token("unk_token", config.wordpiece.unk_token);
  overrides.apply_token("sep_token", config.sep_token);
  overrides.apply_token("pad_token", config.pad_token);
  overrides.apply_token("cls_token", config.cls_token);
  overrides.apply_token("mask_token", config.mask_token);
  config.model_max_length = overrides.model_max_length().value_or(kDefaultModelMaxLength);
  return BertTokenizer::from_vocab_file(path, std::move(config));
}

}  // namespace detail

inline BertTokenizer load_tokenizer_json(const std::string& path) {
  return detail::tokenizer_from_json(JsonConfig::load(path), {});
}

// `files`: a HF folder (see ModelFiles).
inline BertTokenizer load_bert_tokenizer(const ModelFiles& files) {
  files.require_folder("a tokenizer");
  const auto config =
      detail::TokenizerConfigFile::load_if_present(files.optional_file("tokenizer_config.json"));
  const std::optional<std::string> vocab_txt = files.optional_file("vocab.txt");
  if (const auto tokenizer_json = files.optional_file("tokenizer.json")) {
    const JsonConfig root = JsonConfig::load(*tokenizer_json);
    if (detail::model_type(root) == "WordPiece" || !vocab_txt)
      return detail::tokenizer_from_json(root, config);
  }
  if (vocab_txt) return detail::tokenizer_from_vocab_txt(*vocab_txt, config);
  throw FormatError(detail::concat(files.path(),
                                   ": has neither tokenizer.json nor vocab.txt "
                                   "(expected a BERT WordPiece tokenizer)"));
}

inline BertTokenizer load_bert_tokenizer(const std::string& path) {
  return load_bert_tokenizer(ModelFiles::find(path));
}

}  // namespace eigenformer
