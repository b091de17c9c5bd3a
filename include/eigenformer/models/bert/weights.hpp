#pragma once
// Finding and normalising a BERT checkpoint's tensors: HF task models save the encoder
// under a "bert." prefix, and old checkpoints name LayerNorm parameters gamma / beta.

#include <eigenformer/core/error.hpp>
#include <eigenformer/core/state_dict.hpp>
#include <eigenformer/io/safetensors.hpp>

#include <filesystem>
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

// The tensors of `directory`/model.safetensors under BertModel's own names. Task heads
// (cls.*, classifier.*) are kept but unused.
template <typename T>
StateDict<T> load_bert_weights(const std::string& directory) {
  namespace fs = std::filesystem;
  const fs::path folder(directory);
  if (!fs::is_directory(folder))
    throw FormatError(
        directory +
        ": not a directory (expected a model folder with config.json and model.safetensors)");
  const fs::path file = folder / "model.safetensors";
  if (!fs::exists(file)) {
    if (fs::exists(folder / "pytorch_model.bin"))
      throw FormatError(file.string() +
                        " not found: the folder only has pytorch_model.bin, which eigenformer does "
                        "not read (it is a pickle). Download the model's model.safetensors, or "
                        "convert with safetensors.torch.save_file(torch.load(path), "
                        "\"model.safetensors\")");
    throw FormatError(file.string() + " not found");
  }
  auto source = SafeTensorsFile::open(file.string());
  StateDict<T> weights(file.string());
  for (const auto& info : source->tensors())
    insert_weight(weights, *source, info.name, detail::canonical_bert_name(info.name));
  return weights;
}

}  // namespace eigenformer
