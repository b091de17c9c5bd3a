#pragma once
// Text in, sentence embeddings out: a HF model folder's tokenizer and BertModel, plus the
// pooling and normalisation that a sentence-transformers folder declares (modules.json,
// 1_Pooling/config.json, a Normalize module, sentence_bert_config.json's max_seq_length).
// A folder whose sentence embeddings this cannot reproduce (other modules such as Dense,
// pooling modes other than one of cls / mean / max, a default prompt) gives a FormatError
// when sentence embeddings are asked for, rather than silently different ones; token
// embeddings, and sentence embeddings with a pooling the caller chooses, still work.
// A plain HF folder gets sentence-transformers' default for such models: mean pooling,
// no normalisation.
//
// Texts are encoded without padding: each batch's sequences are stacked (SequenceBatch),
// so no work is spent on pad tokens.

#include <eigenformer/io/json_config.hpp>
#include <eigenformer/io/model_files.hpp>
#include <eigenformer/models/bert/model.hpp>
#include <eigenformer/models/bert/pooling.hpp>
#include <eigenformer/models/config_reader.hpp>
#include <eigenformer/text/bert_tokenizer.hpp>
#include <eigenformer/text/tokenizer_loader.hpp>

#include <algorithm>
#include <cctype>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace eigenformer {

struct SentenceEncoderOptions {
  // Unset: what the folder declares. Set: replaces the folder's pipeline after the
  // Transformer (its Pooling config and modules such as Dense are not used).
  std::optional<Pooling> pooling;
  std::optional<bool> normalize;    // unset: what the folder declares
  std::optional<Index> max_length;  // unset: the folder's max_seq_length, else the model's limit
  bool truncate = true;             // false: an over-long text is an InvalidArgument
  Utf8Errors utf8_errors = Utf8Errors::Throw;
  Index batch_size = 32;  // texts per forward pass
};

namespace detail {

// A pooling mode of sentence-transformers' Pooling module: its config.json flag, the name
// its "pooling_mode" string uses for it and the matching Pooling (unset: not supported here).
struct PoolingFlag {
  const char* key;
  const char* mode;
  std::optional<Pooling> pooling;
};

inline const PoolingFlag kPoolingFlags[] = {
    {"pooling_mode_cls_token", "cls", Pooling::CLS},
    {"pooling_mode_mean_tokens", "mean", Pooling::Mean},
    {"pooling_mode_max_tokens", "max", Pooling::Max},
    {"pooling_mode_mean_sqrt_len_tokens", "mean_sqrt_len_tokens", std::nullopt},
    {"pooling_mode_weightedmean_tokens", "weightedmean", std::nullopt},
    {"pooling_mode_lasttoken", "lasttoken", std::nullopt},
};

// Pooling's mode names as a list for messages: "cls, mean, max, ...".
inline std::string pooling_mode_names() {
  std::string names;
  for (const auto& flag : kPoolingFlags) names += concat(names.empty() ? "" : ", ", flag.mode);
  return names;
}

// A sentence-transformers Pooling module's config.json. sentence-transformers concatenates the
// outputs of every mode set; only a single cls, mean or max mode is supported.
// (include_prompt matters only with a prompt, and folders with a default prompt are not
// supported.)
class PoolingConfigReader : public ConfigReader {
 public:
  using ConfigReader::ConfigReader;

  Pooling read() const {
    const auto mode = mode_string();
    std::vector<const PoolingFlag*> set;
    for (const auto& flag : kPoolingFlags)
      if (flag_set(flag, mode)) set.push_back(&flag);
    if (set.size() == 1 && set[0]->pooling) return *set[0]->pooling;
    std::string names;
    for (const auto* flag : set) names += concat(names.empty() ? "" : ", ", flag->key);
    throw FormatError(concat(json_.source(), ": pooling modes set: ", set.empty() ? "none" : names,
                             "; supported: exactly one of pooling_mode_cls_token, "
                             "pooling_mode_mean_tokens or pooling_mode_max_tokens"));
  }

 private:
  // The "pooling_mode" string, lower-cased, checked against Pooling's list of modes.
  std::optional<std::string> mode_string() const {
    if (!json_.has("pooling_mode")) return std::nullopt;
    std::string mode = json_.get<std::string>("pooling_mode");
    std::transform(mode.begin(), mode.end(), mode.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    for (const auto& flag : kPoolingFlags)
      if (mode == flag.mode) return mode;
    fail("pooling_mode", concat("is '", mode, "', expected one of ", pooling_mode_names()));
  }

  // Whether Pooling(**config) turns `flag` on: a "pooling_mode" string sets every flag, and
  // a flag left out takes the constructor's default (mean on, the others off).
  bool flag_set(const PoolingFlag& flag, const std::optional<std::string>& mode) const {
    if (mode) return *mode == flag.mode;
    return json_.get_or<bool>(flag.key, flag.pooling == Pooling::Mean);
  }
};

// sentence_bert_config.json and config_sentence_transformers.json.
class SentenceTransformersConfigReader : public ConfigReader {
 public:
  using ConfigReader::ConfigReader;

  std::optional<Index> max_seq_length() const {
    if (!json_.has("max_seq_length")) return std::nullopt;
    return json_.get_positive("max_seq_length");
  }

  // sentence-transformers prepends this prompt to every text it encodes.
  std::optional<std::string> default_prompt_name() const {
    if (!json_.has("default_prompt_name")) return std::nullopt;
    return json_.get<std::string>("default_prompt_name");
  }
};

}  // namespace detail

// What a sentence-transformers folder declares, or the defaults for a plain HF folder.
struct SentenceTransformersSettings {
  Pooling pooling = Pooling::Mean;
  bool normalize = false;
  std::optional<Index> max_seq_length;
  std::string max_seq_length_source = "max_seq_length";  // the file that sets it, for messages
  // Why the folder's sentence embeddings cannot be reproduced here, when they cannot.
  std::optional<std::string> unsupported;

  static SentenceTransformersSettings read(const std::string& path) {
    return read(ModelFiles::find(path));
  }

  static SentenceTransformersSettings read(const ModelFiles& files) {
    SentenceTransformersSettings settings;
    if (auto modules = files.optional_file("modules.json")) settings.read_modules(files, *modules);
    if (auto path = files.optional_file("sentence_bert_config.json")) {
      const auto json = JsonConfig::load(*path);
      if (auto length = detail::SentenceTransformersConfigReader(json).max_seq_length()) {
        settings.max_seq_length = *length;
        settings.max_seq_length_source = *path;
      }
    }
    if (auto path = files.optional_file("config_sentence_transformers.json")) {
      const auto json = JsonConfig::load(*path);
      if (auto prompt = detail::SentenceTransformersConfigReader(json).default_prompt_name())
        settings.refuse(detail::concat(*path, ": default_prompt_name '", *prompt,
                                       "' (a prompt prepended to every text) is not supported"));
    }
    return settings;
  }

 private:
  void refuse(std::string reason) {
    if (!unsupported) unsupported = std::move(reason);
  }

  // Any other module (Dense in LaBSE, a second Transformer, ...) changes the embeddings.
  void read_modules(const ModelFiles& files, const std::string& file) {
    const std::string prefix = "sentence_transformers.models.";
    for (const JsonConfig& module : JsonConfig::load_objects(file)) {
      const auto type = module.get<std::string>("type");
      if (type == prefix + "Normalize") {
        normalize = true;
      } else if (type == prefix + "Pooling") {
        try {
          const auto json =
              JsonConfig::load(files.inside(module.get<std::string>("path") + "/config.json"));
          pooling = detail::PoolingConfigReader(json).read();
        } catch (const FormatError& e) {
          refuse(e.what());
        }
      } else if (type != prefix + "Transformer") {
        refuse(detail::concat(file, ": field '", module.path(), "type' is '", type,
                              "', which is not supported; supported: ", prefix,
                              "Transformer, Pooling and Normalize"));
      }
    }
  }
};

template <typename T>
class SentenceEncoder {
 public:
  // A HF or sentence-transformers folder: the model, its tokenizer and its pipeline.
  static SentenceEncoder load(const std::string& path, const SentenceEncoderOptions& options = {}) {
    const ModelFiles files = ModelFiles::find(path);
    BertModel<T> model = BertModel<T>::load(files);
    return SentenceEncoder(load_bert_tokenizer(files), std::move(model),
                           SentenceTransformersSettings::read(files), options);
  }

  SentenceEncoder(BertTokenizer tokenizer, BertModel<T> model,
                  const SentenceTransformersSettings& settings,
                  const SentenceEncoderOptions& options)
      : tokenizer_(std::move(tokenizer)),
        model_(std::move(model)),
        pooling_(options.pooling.value_or(settings.pooling)),
        normalize_(options.normalize.value_or(settings.normalize)),
        unsupported_(options.pooling ? std::nullopt : settings.unsupported),
        options_(options) {
    max_length_ = options.max_length.value_or(settings.max_seq_length.value_or(
        std::min(tokenizer_.model_max_length(), model_.config().max_position_embeddings)));
    const Index positions = model_.config().max_position_embeddings;
    // A folder's own max_seq_length beyond the model is a broken folder, not a bad argument.
    if (!options.max_length && settings.max_seq_length && *settings.max_seq_length > positions)
      throw FormatError(detail::concat(
          settings.max_seq_length_source, ": field 'max_seq_length' is ", *settings.max_seq_length,
          ", more than the model's ", positions, " positions (max_position_embeddings)"));
    if (max_length_ > positions)
      throw InvalidArgument(detail::concat("max length ", max_length_, " exceeds the model's ",
                                           positions, " positions"));
  }

  const BertTokenizer& tokenizer() const { return tokenizer_; }
  const BertModel<T>& model() const { return model_; }
  Pooling pooling() const { return pooling_; }
  bool normalizes() const { return normalize_; }
  Index max_length() const { return max_length_; }

  Encoding tokenize(std::string_view text) const {
    EncodeOptions encode;
    encode.truncation.enabled = options_.truncate;
    encode.truncation.max_length = max_length_;
    encode.utf8_errors = options_.utf8_errors;
    return tokenizer_.encode(text, encode);
  }

  // One embedding row per text, in input order. `progress`, when given, is called after
  // each batch with the number of texts done.
  Matrix<T> encode(const std::vector<std::string>& texts,
                   const std::function<void(std::size_t)>& progress = nullptr) const {
    if (unsupported_)
      throw FormatError(*unsupported_ +
                        "; sentence embeddings would differ from sentence-transformers' (choose "
                        "a pooling explicitly to use the model anyway)");
    Matrix<T> out(static_cast<Index>(texts.size()), model_.config().hidden_size);
    for_each_batch(texts, progress, [&](std::size_t first, const BertOutput<T>& batch) {
      out.middleRows(static_cast<Index>(first), batch.batch.size()) =
          pool<T>(batch.last_hidden_state, batch.batch, pooling_);
    });
    if (normalize_) l2_normalize_rows(out);
    return out;
  }

  // Token embeddings (no pooling): one (tokens x hidden) matrix per text.
  std::vector<Matrix<T>> encode_tokens(
      const std::vector<std::string>& texts,
      const std::function<void(std::size_t)>& progress = nullptr) const {
    std::vector<Matrix<T>> out;
    for_each_batch(texts, progress, [&](std::size_t, const BertOutput<T>& batch) {
      for (Index b = 0; b < batch.batch.size(); ++b)
        out.push_back(
            batch.last_hidden_state.middleRows(batch.batch.offset(b), batch.batch.length(b)));
    });
    return out;
  }

 private:
  template <typename Consume>
  void for_each_batch(const std::vector<std::string>& texts,
                      const std::function<void(std::size_t)>& progress, Consume&& consume) const {
    BertWorkspace<T> workspace;
    const auto step = static_cast<std::size_t>(std::max<Index>(1, options_.batch_size));
    for (std::size_t first = 0; first < texts.size(); first += step) {
      const std::size_t last = std::min(texts.size(), first + step);
      std::vector<Index> lengths;
      std::vector<std::int64_t> ids, types;
      for (std::size_t i = first; i < last; ++i) {
        const Encoding encoding = tokenize(texts[i]);
        lengths.push_back(encoding.size());
        ids.insert(ids.end(), encoding.ids.begin(), encoding.ids.end());
        types.insert(types.end(), encoding.type_ids.begin(), encoding.type_ids.end());
      }
      const auto output = model_.forward_packed(
          Eigen::Map<const TokenIdVector>(ids.data(), static_cast<Index>(ids.size())),
          Eigen::Map<const TokenIdVector>(types.data(), static_cast<Index>(types.size())),
          SequenceBatch(lengths), false, &workspace);
      consume(first, output);
      if (progress) progress(last);
    }
  }

  BertTokenizer tokenizer_;
  BertModel<T> model_;
  Pooling pooling_;
  bool normalize_;
  std::optional<std::string> unsupported_;  // the folder's pipeline, when it cannot be followed
  SentenceEncoderOptions options_;
  Index max_length_ = 512;
};

}  // namespace eigenformer
