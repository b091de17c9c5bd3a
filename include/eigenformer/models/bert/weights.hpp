#pragma once
// Finding and normalising a BERT checkpoint's tensors: HF task models save the encoder
// under a "bert." prefix, and old checkpoints name LayerNorm parameters gamma / beta.

#include <eigenformer/core/error.hpp>
#include <eigenformer/core/state_dict.hpp>
#include <eigenformer/io/model_files.hpp>

#include <string>

namespace eigenformer {

namespace detail {

inline std::string canonical_bert_name(std::string name) {
  static const std::string prefix = "bert.";
  if (name.compare(0, prefix.size(), prefix) == 0) name.erase(0, prefix.size());
  auto replace_suffix = [&name](const std::string& from, const std::string& to) {
    if (name.size() > from.size() &&
        name.compare(name.size() - from.size(), from.size(), from) == 0)
      name.replace(name.size() - from.size(), from.size(), to);
  };
  replace_suffix("LayerNorm.gamma", "LayerNorm.weight");
  replace_suffix("LayerNorm.beta", "LayerNorm.bias");
  return name;
}

}  // namespace detail

// The tensors of a model's safetensors files (see ModelFiles) under BertModel's own names.
// Task heads (cls.*, classifier.*) are kept but unused.
template <typename T>
StateDict<T> load_bert_weights(const ModelFiles& files) {
  return load_model_weights<T>(files, detail::canonical_bert_name);
}

// `path`: a HF folder or a .safetensors file.
template <typename T>
StateDict<T> load_bert_weights(const std::string& path) {
  return load_bert_weights<T>(ModelFiles::find(path));
}

}  // namespace eigenformer
