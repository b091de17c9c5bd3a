#pragma once
// The fields of a HuggingFace BERT `config.json` that inference needs, validated.

#include <eigenformer/core/error.hpp>
#include <eigenformer/io/json_config.hpp>
#include <eigenformer/models/config_reader.hpp>
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

  // A config.json file.
  static BertConfig load(const std::string& path) { return from_json(JsonConfig::load(path)); }

  static BertConfig from_json(const JsonConfig& json);
};

namespace detail {

class BertConfigReader : public ConfigReader {
 public:
  using ConfigReader::ConfigReader;

  BertConfig read() const {
    const auto model_type = json_.get_or<std::string>("model_type", "bert");
    if (model_type != "bert")
      fail("model_type", concat("is \"", model_type,
                                "\", which is not supported; eigenformer's text encoder runs "
                                "BERT-family models (model_type \"bert\": BERT, MiniLM, "
                                "sentence-transformers BERT models)"));
    const auto position_type = json_.get_or<std::string>("position_embedding_type", "absolute");
    if (position_type != "absolute")
      fail("position_embedding_type",
           concat("is \"", position_type,
                  "\"; only \"absolute\" position embeddings are supported"));
    for (const char* decoder_flag : {"is_decoder", "add_cross_attention"})
      if (json_.get_or<bool>(decoder_flag, false))
        fail(decoder_flag, "is true: decoder BERT models are not supported");
    BertConfig c;
    c.vocab_size = json_.get_positive("vocab_size");
    c.hidden_size = json_.get_positive("hidden_size");
    c.num_hidden_layers = json_.get_positive("num_hidden_layers");
    c.num_attention_heads = json_.get_positive("num_attention_heads");
    c.intermediate_size = json_.get_positive("intermediate_size");
    c.max_position_embeddings = json_.get_positive("max_position_embeddings");
    c.type_vocab_size = json_.get_positive_or("type_vocab_size", c.type_vocab_size);
    c.layer_norm_eps = json_.get_positive_number_or("layer_norm_eps", c.layer_norm_eps);
    c.hidden_act = activation("hidden_act", c.hidden_act);
    if (c.hidden_size % c.num_attention_heads != 0)
      fail("hidden_size", concat("is ", c.hidden_size, ", not divisible by num_attention_heads = ",
                                 c.num_attention_heads));
    return c;
  }
};

}  // namespace detail

inline BertConfig BertConfig::from_json(const JsonConfig& json) {
  return detail::BertConfigReader(json).read();
}

}  // namespace eigenformer
