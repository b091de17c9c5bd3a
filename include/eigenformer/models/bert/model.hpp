#pragma once
// HuggingFace BertModel (BERT, MiniLM and sentence-transformers BERT checkpoints) from a
// `config.json` + `model.safetensors` folder, with HF parameter names.
//
// The layers are the shared post-norm TransformerEncoderLayer under BERT's names.

#include <eigenformer/core/sequence_batch.hpp>
#include <eigenformer/core/state_dict.hpp>
#include <eigenformer/io/safetensors.hpp>
#include <eigenformer/models/bert/config.hpp>
#include <eigenformer/models/bert/weights.hpp>
#include <eigenformer/nn/activations.hpp>
#include <eigenformer/nn/embedding.hpp>
#include <eigenformer/nn/layer_norm.hpp>
#include <eigenformer/nn/linear.hpp>
#include <eigenformer/transformer/encoder_layer.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace eigenformer {

using TokenIdMatrix = Eigen::Matrix<std::int64_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using TokenIdVector = Eigen::Matrix<std::int64_t, Eigen::Dynamic, 1>;

template <typename T>
struct BertOutput {
  SequenceBatch batch;                   // which rows belong to which sequence
  Matrix<T> last_hidden_state;           // batch.total_rows() x hidden_size
  Matrix<T> pooler_output;               // sequences x hidden_size: tanh(dense(first token))
  std::vector<Matrix<T>> hidden_states;  // on request: the embeddings, then every layer
};

// Buffers BertModel::forward reuses between calls when the caller keeps them.
template <typename T>
using BertWorkspace = LayerWorkspace<T>;

// HF BertLayer's parameter names (under "encoder.layer.<i>."), bound onto the shared encoder
// layer: BERT is a post-norm TransformerEncoderLayer.
inline EncoderLayerNames bert_layer_names() {
  return EncoderLayerNames::separate("attention.self.query.", "attention.self.key.",
                                     "attention.self.value.", "attention.output.dense.",
                                     "attention.output.LayerNorm.", "intermediate.dense.",
                                     "output.dense.", "output.LayerNorm.");
}

inline TransformerLayerConfig bert_layer_config(const BertConfig& config) {
  TransformerLayerConfig layer;
  layer.d_model = config.hidden_size;
  layer.num_heads = config.num_attention_heads;
  layer.dim_feedforward = config.intermediate_size;
  layer.activation = config.hidden_act;
  layer.norm_first = false;
  layer.layer_norm_eps = config.layer_norm_eps;
  return layer;
}

template <typename T>
class BertModel {
 public:
  // A folder with config.json and model.safetensors, as `save_pretrained` writes it.
  static BertModel load(const std::string& path) { return load(ModelFiles::find(path)); }

  static BertModel load(const ModelFiles& files) {
    files.require_folder("a BERT model");
    // The weights first: a folder with only pytorch_model.bin gets that file's explanation.
    StateDict<T> weights = load_bert_weights<T>(files);
    return load(weights, BertConfig::load(files.config()));
  }

  // As every model: built from its weights and its parsed config.
  static BertModel load(const StateDict<T>& weights, const BertConfig& config) {
    return BertModel(config, weights);
  }

  const BertConfig& config() const { return config_; }
  bool has_pooler() const { return pooler_.has_value(); }

  // HF's calling convention: `ids`, `attention_mask` (1 = real token, 0 = padding) and
  // `token_type_ids` (empty = all 0) are batch x length. Every position is computed, padded
  // ones included, exactly as HF does; padded keys are ignored.
  BertOutput<T> forward(const TokenIdMatrix& ids, const TokenIdMatrix& attention_mask,
                        const TokenIdMatrix& token_type_ids = TokenIdMatrix(),
                        bool output_hidden_states = false,
                        BertWorkspace<T>* workspace = nullptr) const {
    check_same_shape(ids, attention_mask, "attention_mask");
    if (token_type_ids.size()) check_same_shape(ids, token_type_ids, "token_type_ids");
    check_attention_mask(attention_mask);
    const SequenceBatch batch = SequenceBatch::uniform(ids.rows(), ids.cols());
    const BoolVector padded =
        Eigen::Map<const TokenIdVector>(attention_mask.data(), attention_mask.size()).array() == 0;
    AttentionMask<T> mask;
    if (padded.any()) mask.key_padding.emplace(padded);
    return run(Eigen::Map<const TokenIdVector>(ids.data(), ids.size()),
               token_type_ids.size()
                   ? Eigen::Map<const TokenIdVector>(token_type_ids.data(), token_type_ids.size())
                   : Eigen::Map<const TokenIdVector>(nullptr, 0),
               batch, mask, output_hidden_states, workspace);
  }

  // Sequences without padding, stacked: `ids` holds batch.total_rows() ids (sequence i at
  // rows [batch.offset(i), ...)), `token_type_ids` the same number or none (all 0). Faster
  // than the padded form for batches of mixed lengths: no work is spent on padding.
  BertOutput<T> forward_packed(const Eigen::Ref<const TokenIdVector>& ids,
                               const Eigen::Ref<const TokenIdVector>& token_type_ids,
                               const SequenceBatch& batch, bool output_hidden_states = false,
                               BertWorkspace<T>* workspace = nullptr) const {
    return run(ids, token_type_ids, batch, AttentionMask<T>(), output_hidden_states, workspace);
  }

 private:
  BertModel(const BertConfig& config, const StateDict<T>& weights) : config_(config) {
    const Index h = config.hidden_size;
    const T eps = static_cast<T>(config.layer_norm_eps);
    words_ = Embedding<T>::load(weights, "embeddings.word_embeddings.weight", config.vocab_size, h);
    positions_ = Embedding<T>::load(weights, "embeddings.position_embeddings.weight",
                                    config.max_position_embeddings, h);
    token_types_ = Embedding<T>::load(weights, "embeddings.token_type_embeddings.weight",
                                      config.type_vocab_size, h);
    embedding_norm_ = LayerNorm<T>::load(weights, "embeddings.LayerNorm.", h, eps);
    for (Index i = 0; i < config.num_hidden_layers; ++i)
      layers_.push_back(
          TransformerEncoderLayer<T>::load(weights, detail::concat("encoder.layer.", i, "."),
                                           bert_layer_config(config), bert_layer_names()));
    if (weights.contains("pooler.dense.weight"))
      pooler_ = Linear<T>::load(weights, "pooler.dense.", h, h);
  }

  static void check_same_shape(const TokenIdMatrix& ids, const TokenIdMatrix& other,
                               const char* name) {
    if (other.rows() != ids.rows() || other.cols() != ids.cols())
      throw ShapeError(detail::concat("BertModel: ", name, " is ", other.rows(), " x ",
                                      other.cols(), ", expected ", ids.rows(), " x ", ids.cols(),
                                      " like input_ids"));
  }

  // HF adds (1 - mask) * dtype.min to the scores, so values other than 0 and 1 would scale
  // that penalty, and a sequence with no real token gets uniform attention over its padding:
  // neither means anything, so both are errors here.
  static void check_attention_mask(const TokenIdMatrix& attention_mask) {
    for (Index b = 0; b < attention_mask.rows(); ++b) {
      for (Index p = 0; p < attention_mask.cols(); ++p)
        if (attention_mask(b, p) != 0 && attention_mask(b, p) != 1)
          throw InvalidArgument(detail::concat("BertModel: attention_mask(", b, ", ", p, ") is ",
                                               attention_mask(b, p), ", expected 0 or 1"));
      if (attention_mask.cols() > 0 && (attention_mask.row(b).array() == 0).all())
        throw InvalidArgument(detail::concat("BertModel: attention_mask row ", b,
                                             " is all 0: the sequence has no real token"));
    }
  }

  template <typename Ids>
  BertOutput<T> run(const Ids& ids, const Ids& token_type_ids, const SequenceBatch& batch,
                    const AttentionMask<T>& mask, bool output_hidden_states,
                    BertWorkspace<T>* workspace) const {
    batch.check_rows(ids.size(), "BertModel input_ids");
    if (token_type_ids.size() && token_type_ids.size() != ids.size())
      throw ShapeError(detail::concat("BertModel: ", token_type_ids.size(), " token_type_ids for ",
                                      ids.size(), " input_ids"));
    for (Index length : batch.lengths())
      if (length == 0)
        throw InvalidArgument("BertModel: empty sequence (every input needs at least one token)");
    if (batch.max_length() > config_.max_position_embeddings)
      throw InvalidArgument(detail::concat(
          "BertModel: sequence of ", batch.max_length(), " tokens exceeds max_position_embeddings ",
          config_.max_position_embeddings, "; truncate the input"));
    BertWorkspace<T> local;
    BertWorkspace<T>& ws = workspace ? *workspace : local;
    BertOutput<T> out;
    out.batch = batch;
    out.last_hidden_state = embed(ids, token_type_ids, batch);
    if (output_hidden_states) out.hidden_states.push_back(out.last_hidden_state);
    for (const auto& layer : layers_) {
      layer.apply(out.last_hidden_state, batch, mask, std::nullopt, &ws);
      if (output_hidden_states) out.hidden_states.push_back(out.last_hidden_state);
    }
    if (pooler_) out.pooler_output = pool_first_tokens(out.last_hidden_state, batch);
    return out;
  }

  template <typename Ids>
  Matrix<T> embed(const Ids& ids, const Ids& token_type_ids, const SequenceBatch& batch) const {
    for (Index i = 0; i < ids.size(); ++i) words_.check(ids[i]);
    for (Index i = 0; i < token_type_ids.size(); ++i) token_types_.check(token_type_ids[i]);
    Matrix<T> hidden(ids.size(), config_.hidden_size);
    for (Index b = 0; b < batch.size(); ++b)
      for (Index p = 0; p < batch.length(b); ++p) {
        const Index row = batch.offset(b) + p;
        hidden.row(row) = words_.row(ids[row]) + positions_.row(p) +
                          token_types_.row(token_type_ids.size() ? token_type_ids[row] : 0);
      }
    embedding_norm_.apply(hidden);
    return hidden;
  }

  Matrix<T> pool_first_tokens(const Matrix<T>& hidden, const SequenceBatch& batch) const {
    Matrix<T> first(batch.size(), hidden.cols());
    for (Index b = 0; b < batch.size(); ++b) first.row(b) = hidden.row(batch.offset(b));
    Matrix<T> pooled = pooler_->forward(first);
    pooled = pooled.array().tanh().matrix();
    return pooled;
  }

  BertConfig config_;
  Embedding<T> words_, positions_, token_types_;
  LayerNorm<T> embedding_norm_;
  std::vector<TransformerEncoderLayer<T>> layers_;
  std::optional<Linear<T>> pooler_;
};

}  // namespace eigenformer
