#pragma once
// Text in, sentence embeddings out: a HF model folder's tokenizer and BertModel, plus the
// pooling and normalisation that a sentence-transformers folder declares (modules.json,
// 1_Pooling/config.json, a Normalize module, sentence_bert_config.json's max_seq_length).
// A plain HF folder gets sentence-transformers' default for such models: mean pooling,
// no normalisation.
//
// Texts are encoded without padding: each batch's sequences are stacked (SequenceBatch),
// so no work is spent on pad tokens.

#include <eigenformer/io/json_config.hpp>
#include <eigenformer/models/bert/model.hpp>
#include <eigenformer/models/bert/pooling.hpp>
#include <eigenformer/text/bert_tokenizer.hpp>
#include <eigenformer/text/tokenizer_loader.hpp>

#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace eigenformer {

struct SentenceEncoderOptions {
  std::optional<Pooling> pooling;   // unset: what the folder declares
  std::optional<bool> normalize;    // unset: what the folder declares
  std::optional<Index> max_length;  // unset: the folder's max_seq_length, else the model's limit
  bool truncate = true;             // false: an over-long text is an InvalidArgument
  Utf8Errors utf8_errors = Utf8Errors::Throw;
  Index batch_size = 32;  // texts per forward pass
};

// What a sentence-transformers folder declares, or the defaults for a plain HF folder.
struct SentenceTransformersSettings {
  Pooling pooling = Pooling::Mean;
  bool normalize = false;
  std::optional<Index> max_seq_length;

  static SentenceTransformersSettings read(const std::string& directory) {
    namespace fs = std::filesystem;
    SentenceTransformersSettings settings;
    const fs::path dir(directory);
    if (fs::exists(dir / "modules.json")) {
      std::ifstream in(dir / "modules.json");
      nlohmann::json modules;
      try {
        modules = nlohmann::json::parse(in);
      } catch (const nlohmann::json::exception& e) {
        throw FormatError((dir / "modules.json").string() + ": invalid JSON: " + e.what());
      }
      if (!modules.is_array())
        throw FormatError((dir / "modules.json").string() + ": expected an array of modules");
      for (const auto& module : modules) {
        const JsonConfig entry(module, (dir / "modules.json").string());
        const auto type = entry.get_or<std::string>("type", "");
        if (type == "sentence_transformers.models.Normalize") settings.normalize = true;
        if (type == "sentence_transformers.models.Pooling")
          settings.pooling =
              read_pooling((dir / entry.get<std::string>("path") / "config.json").string());
      }
    }
    if (fs::exists(dir / "sentence_bert_config.json")) {
      const auto config = JsonConfig::load((dir / "sentence_bert_config.json").string());
      if (config.has("max_seq_length"))
        settings.max_seq_length = config.get_positive("max_seq_length");
    }
    return settings;
  }

 private:
  static Pooling read_pooling(const std::string& path) {
    const auto config = JsonConfig::load(path);
    if (config.get_or<bool>("pooling_mode_cls_token", false)) return Pooling::CLS;
    if (config.get_or<bool>("pooling_mode_max_tokens", false)) return Pooling::Max;
    if (config.get_or<bool>("pooling_mode_mean_tokens", false)) return Pooling::Mean;
    throw FormatError(path +
                      ": no supported pooling mode set (expected pooling_mode_cls_token, "
                      "pooling_mode_mean_tokens or pooling_mode_max_tokens)");
  }
};

template <typename T>
class SentenceEncoder {
 public:
  static SentenceEncoder load(const std::string& directory,
                              const SentenceEncoderOptions& options = {}) {
    return SentenceEncoder(load_bert_tokenizer(directory), BertModel<T>::load(directory),
                           SentenceTransformersSettings::read(directory), options);
  }

  SentenceEncoder(BertTokenizer tokenizer, BertModel<T> model,
                  const SentenceTransformersSettings& settings,
                  const SentenceEncoderOptions& options)
      : tokenizer_(std::move(tokenizer)),
        model_(std::move(model)),
        pooling_(options.pooling.value_or(settings.pooling)),
        normalize_(options.normalize.value_or(settings.normalize)),
        options_(options) {
    max_length_ = options.max_length.value_or(settings.max_seq_length.value_or(
        std::min(tokenizer_.model_max_length(), model_.config().max_position_embeddings)));
    if (max_length_ > model_.config().max_position_embeddings)
      throw InvalidArgument(detail::concat("max length ", max_length_, " exceeds the model's ",
                                           model_.config().max_position_embeddings, " positions"));
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
  SentenceEncoderOptions options_;
  Index max_length_ = 512;
};

}  // namespace eigenformer
