#pragma once
// The fields of a HuggingFace BERT `config.json` that inference needs, validated.

#include <eigenformer/core/error.hpp>
#include <eigenformer/io/json_config.hpp>
#include <eigenformer/nn/activations.hpp>

#include <string>

namespace eigenformer {

struct BertConfig {
  Index vocab_size = 30522;
  Index hidden_size = 768;
  Index num_hidden_layers = 12;
  Index num_attention_heads = 12;
  Index intermediate_size = 3072;
  Activation hidden_act = Activation::GELU;
  Index max_position_embeddings = 512;
  Index type_vocab_size = 2;
  double layer_norm_eps = 1e-12;

  Index head_dim() const { return hidden_size / num_attention_heads; }

  static BertConfig load(const std::string& path) { return from_json(JsonConfig::load(path)); }

  static BertConfig from_json(const JsonConfig& json) {
    const auto model_type = json.get_or<std::string>("model_type", "bert");
    if (model_type != "bert")
      throw FormatError(json.source() + ": model_type '" + model_type +
                        "' is not supported; eigenformer's text encoder runs BERT-family models "
                        "(model_type \"bert\": BERT, MiniLM, sentence-transformers BERT models)");
    const auto position_type = json.get_or<std::string>("position_embedding_type", "absolute");
    if (position_type != "absolute")
      throw FormatError(json.source() + ": position_embedding_type '" + position_type +
                        "' is not supported; only \"absolute\" position embeddings are");
    if (json.get_or<bool>("is_decoder", false) || json.get_or<bool>("add_cross_attention", false))
      throw FormatError(
          json.source() +
          ": decoder BERT models (is_decoder / add_cross_attention) are not supported");
    BertConfig config;
    config.vocab_size = json.get_positive("vocab_size");
    config.hidden_size = json.get_positive("hidden_size");
    config.num_hidden_layers = json.get_positive("num_hidden_layers");
    config.num_attention_heads = json.get_positive("num_attention_heads");
    config.intermediate_size = json.get_positive("intermediate_size");
    config.max_position_embeddings = json.get_positive("max_position_embeddings");
    config.type_vocab_size = json.get_positive_or("type_vocab_size", 2);
    config.layer_norm_eps = json.get_positive_number_or("layer_norm_eps", 1e-12);
    const auto act = json.get_or<std::string>("hidden_act", "gelu");
    try {
      config.hidden_act = parse_activation(act);
    } catch (const InvalidArgument& e) {
      throw FormatError(json.source() + ": hidden_act: " + e.what());
    }
    if (config.hidden_size % config.num_attention_heads != 0)
      throw FormatError(detail::concat(json.source(), ": hidden_size ", config.hidden_size,
                                       " is not divisible by num_attention_heads ",
                                       config.num_attention_heads));
    return config;
  }
};

}  // namespace eigenformer
