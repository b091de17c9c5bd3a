#pragma once
// Where a model's files are: the one place a user's model path is resolved and checked. A
// path is a HF folder (config.json, model.safetensors or its sharded index, and the optional
// preprocessor, tokenizer and sentence-transformers files), or a single .safetensors or .pt
// file. Every model's loader starts here, so a missing or incomplete model gives the same
// message whichever model was asked for.

#include <eigenformer/core/error.hpp>
#include <eigenformer/core/state_dict.hpp>
#include <eigenformer/io/json_config.hpp>
#include <eigenformer/io/safetensors.hpp>

#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace eigenformer {

enum class ModelFormat {
  HFFolder,        // save_pretrained's folder
  SafeTensors,     // one .safetensors file: weights only, no config
  TorchCheckpoint  // one torch.save .pt / .pth file (ultralytics checkpoints)
};

class ModelFiles {
 public:
  // What every "not a model" message says a model path may be.
  static constexpr const char* kExpected =
      "expected a folder with config.json and model.safetensors, or a .pt/.safetensors file";

  // Resolves `path`; a path that is neither a folder nor a model file is a FormatError.
  static ModelFiles find(const std::string& path) {
    namespace fs = std::filesystem;
    std::error_code error;
    const fs::file_status status = fs::status(path, error);
    if (fs::is_directory(status)) return ModelFiles(path, ModelFormat::HFFolder);
    if (!fs::is_regular_file(status))
      throw FormatError(detail::concat(path, ": no model there (", kExpected, ")"));
    const std::string extension = fs::path(path).extension().string();
    if (extension == ".safetensors") return ModelFiles(path, ModelFormat::SafeTensors);
    if (extension == ".pt" || extension == ".pth")
      return ModelFiles(path, ModelFormat::TorchCheckpoint);
    if (extension == ".bin") throw FormatError(detail::concat(path, ": ", kPickleBin));
    throw FormatError(
        detail::concat(path, ": not a model file eigenformer reads (", kExpected, ")"));
  }

  // `path` itself when it is not a folder (a config.json given directly), else the folder's
  // config.json.
  static std::string config_of(const std::string& path) {
    std::error_code error;
    return std::filesystem::is_directory(path, error) ? find(path).config() : path;
  }

  const std::string& path() const { return path_; }
  ModelFormat format() const { return format_; }
  bool is_folder() const { return format_ == ModelFormat::HFFolder; }

  // For a model that loads only from some formats: "<path>: <model> loads from <accepted>,
  // not from a <format>".
  [[noreturn]] void unsupported(const std::string& model, const std::string& accepted) const {
    throw FormatError(
        detail::concat(path_, ": ", model, " loads from ", accepted, ", not from ", format_name()));
  }

  // `model` (for messages) loads only from a HF folder.
  void require_folder(const std::string& model) const {
    if (!is_folder()) unsupported(model, "a HF folder (config.json and model.safetensors)");
  }

  // The folder's config.json; its absence is a FormatError.
  std::string config() const {
    require_folder("this model");
    const std::optional<std::string> file = optional_file("config.json");
    if (!file)
      throw FormatError(detail::concat(path_, ": no config.json in the folder (", kExpected, ")"));
    return *file;
  }

  // The safetensors files holding the weights: model.safetensors, the shards that
  // model.safetensors.index.json lists, or the single file given.
  std::vector<std::string> safetensors() const {
    if (format_ == ModelFormat::SafeTensors) return {path_};
    if (format_ == ModelFormat::TorchCheckpoint)
      unsupported("this model", "safetensors weights (a HF folder or a .safetensors file)");
    if (auto single = optional_file("model.safetensors")) return {*single};
    if (auto index = optional_file("model.safetensors.index.json")) return shards(*index);
    if (optional_file("pytorch_model.bin"))
      throw FormatError(detail::concat(path_, ": no model.safetensors in the folder, only ",
                                       "pytorch_model.bin: ", kPickleBin));
    throw FormatError(
        detail::concat(path_, ": no model.safetensors in the folder (", kExpected, ")"));
  }

  // The .pt / .pth file given.
  const std::string& checkpoint() const {
    if (format_ != ModelFormat::TorchCheckpoint)
      unsupported("this model", "a PyTorch .pt checkpoint");
    return path_;
  }

  // `relative` inside the folder when that file exists; nothing otherwise (and for a single
  // file). `relative` comes from files such as modules.json, so it may not leave the folder.
  std::optional<std::string> optional_file(const std::string& relative) const {
    if (!is_folder()) return std::nullopt;
    const std::string file = inside(relative);
    std::error_code error;
    if (!std::filesystem::is_regular_file(file, error)) return std::nullopt;
    return file;
  }

  // `relative` joined to the folder, refused when it would point outside it.
  std::string inside(const std::string& relative) const {
    const std::filesystem::path part(relative);
    bool escapes = relative.empty() || part.is_absolute() || part.has_root_name();
    for (const auto& element : part) escapes = escapes || element == "..";
    if (escapes)
      throw FormatError(
          detail::concat(path_, ": '", relative, "' is not a path inside the model folder"));
    return (std::filesystem::path(path_) / part).string();
  }

 private:
  static constexpr const char* kPickleBin =
      "pytorch_model.bin is a pickle, which eigenformer does not read. Download the model's "
      "model.safetensors, or convert with safetensors.torch.save_file(torch.load(path), "
      "\"model.safetensors\")";

  ModelFiles(std::string path, ModelFormat format) : path_(std::move(path)), format_(format) {}

  const char* format_name() const {
    switch (format_) {
      case ModelFormat::HFFolder:
        return "a folder";
      case ModelFormat::SafeTensors:
        return "a single .safetensors file";
      case ModelFormat::TorchCheckpoint:
        return "a .pt checkpoint";
    }
    return "this kind of path";
  }

  // HF's sharded form: {"weight_map": {"tensor name": "model-00001-of-00002.safetensors"}}.
  std::vector<std::string> shards(const std::string& index_path) const {
    const JsonConfig index = JsonConfig::load(index_path);
    const JsonConfig map = index.child("weight_map");
    std::set<std::string> names;  // sorted: shards load in their numbered order
    for (const auto& entry : map.json().items())
      names.insert(detail::JsonReader<std::string>::read(
          entry.value(), detail::JsonLocation{index_path, "weight_map." + entry.key()}));
    if (names.empty())
      throw FormatError(detail::concat(index_path, ": field 'weight_map' lists no tensors"));
    std::vector<std::string> files;
    for (const std::string& name : names) {
      std::optional<std::string> file = optional_file(name);
      if (!file)
        throw FormatError(detail::concat(index_path, ": shard '", name, "' is not in ", path_));
      files.push_back(std::move(*file));
    }
    return files;
  }

  std::string path_;
  ModelFormat format_;
};

// The tensors of every safetensors file of `files`, each under `rename(name)`; `source`
// names the set in messages (the file, or the folder for shards).
template <typename T, typename Rename>
StateDict<T> load_model_weights(const ModelFiles& files, Rename rename) {
  const std::vector<std::string> paths = files.safetensors();
  StateDict<T> weights(paths.size() == 1 ? paths[0] : files.path());
  for (const std::string& path : paths) {
    const auto source = SafeTensorsFile::open(path);
    for (const auto& info : source->tensors())
      insert_weight(weights, *source, info.name, rename(info.name));
  }
  return weights;
}

template <typename T>
StateDict<T> load_model_weights(const ModelFiles& files) {
  return load_model_weights<T>(files, [](const std::string& name) { return name; });
}

}  // namespace eigenformer
