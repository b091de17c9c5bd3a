// ModelFiles: how a model path resolves to its files, and the one form of error every model
// loader gives for a missing or incomplete model.

#include <eigenformer/io/model_files.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "io/test_files.hpp"

namespace eigenformer {
namespace {

using testing::TempDir;
using testing::throws_with;

// A safetensors file of one F32 vector `name` holding `values`.
std::vector<unsigned char> one_tensor_file(const std::string& name,
                                           const std::vector<float>& values) {
  const std::string header = "{\"" + name + "\": {\"dtype\": \"F32\", \"shape\": [" +
                             std::to_string(values.size()) + "], \"data_offsets\": [0, " +
                             std::to_string(values.size() * sizeof(float)) + "]}}";
  std::string bytes;
  for (int i = 0; i < 8; ++i) bytes += static_cast<char>((header.size() >> (8 * i)) & 0xff);
  bytes += header;
  bytes.append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
  return std::vector<unsigned char>(bytes.begin(), bytes.end());
}

TEST(ModelFiles, AMissingPathSaysWhatAModelIs) {
  const TempDir dir;
  EXPECT_TRUE(throws_with<FormatError>([&] { ModelFiles::find(dir.file("nowhere")); },
                                       {dir.file("nowhere"), "no model there",
                                        "expected a folder with config.json and model.safetensors, "
                                        "or a .pt/.safetensors file"}));
}

TEST(ModelFiles, SingleFilesAreTakenByExtension) {
  const TempDir dir;
  EXPECT_EQ(ModelFiles::find(dir.write("w.safetensors", "")).format(), ModelFormat::SafeTensors);
  EXPECT_EQ(ModelFiles::find(dir.write("rtdetr-l.pt", "")).format(), ModelFormat::TorchCheckpoint);
  EXPECT_EQ(ModelFiles::find(dir.path()).format(), ModelFormat::HFFolder);
  EXPECT_TRUE(throws_with<FormatError>(
      [&] { ModelFiles::find(dir.write("pytorch_model.bin", "")); },
      {"pytorch_model.bin", "is a pickle", "safetensors.torch.save_file"}));
  EXPECT_TRUE(throws_with<FormatError>([&] { ModelFiles::find(dir.write("model.onnx", "")); },
                                       {"model.onnx", "not a model file", ".pt/.safetensors"}));
  // A format the model does not load from is named as such.
  const auto pt = ModelFiles::find(dir.file("rtdetr-l.pt"));
  EXPECT_TRUE(throws_with<FormatError>([&] { pt.safetensors(); },
                                       {"rtdetr-l.pt", "not from a .pt checkpoint"}));
  EXPECT_TRUE(throws_with<FormatError>([&] { pt.config(); }, {"rtdetr-l.pt", "HF folder"}));
  EXPECT_EQ(ModelFiles::find(dir.file("w.safetensors")).safetensors(),
            std::vector<std::string>{dir.file("w.safetensors")});
}

TEST(ModelFiles, AFolderWithoutConfigOrWeightsNamesTheFolderAndTheFile) {
  const TempDir dir;
  const auto files = ModelFiles::find(dir.path());
  EXPECT_TRUE(throws_with<FormatError>([&] { files.config(); }, {dir.path(), "no config.json"}));
  EXPECT_TRUE(
      throws_with<FormatError>([&] { files.safetensors(); }, {dir.path(), "no model.safetensors"}));
  dir.write("pytorch_model.bin", "pickle");
  EXPECT_TRUE(throws_with<FormatError>([&] { files.safetensors(); },
                                       {dir.path(), "only pytorch_model.bin", "is a pickle"}));
  dir.write("config.json", "{}");
  dir.write("model.safetensors", "");
  EXPECT_EQ(files.config(), dir.file("config.json"));
  EXPECT_EQ(files.safetensors(), std::vector<std::string>{dir.file("model.safetensors")});
  EXPECT_FALSE(files.optional_file("preprocessor_config.json"));
  EXPECT_EQ(files.optional_file("config.json"), dir.file("config.json"));
}

TEST(ModelFiles, FilesNamedByTheFolderStayInsideIt) {
  const TempDir dir;
  const auto files = ModelFiles::find(dir.path());
  for (const char* escape : {"../config.json", "/etc/passwd", "1_Pooling/../../x", ""})
    EXPECT_TRUE(throws_with<FormatError>([&] { files.inside(escape); },
                                         {"is not a path inside the model folder"}))
        << escape;
  EXPECT_EQ(files.inside("1_Pooling/config.json"), dir.file("1_Pooling/config.json"));
}

TEST(ModelFiles, ShardedWeightsLoadFromTheIndex) {
  const TempDir dir;
  dir.write("model-00001-of-00002.safetensors", one_tensor_file("a", {1, 2}));
  dir.write("model-00002-of-00002.safetensors", one_tensor_file("b", {3}));
  dir.write("model.safetensors.index.json",
            R"({"metadata": {}, "weight_map": {"b": "model-00002-of-00002.safetensors",
                                               "a": "model-00001-of-00002.safetensors"}})");
  const auto files = ModelFiles::find(dir.path());
  EXPECT_EQ(files.safetensors(),
            (std::vector<std::string>{dir.file("model-00001-of-00002.safetensors"),
                                      dir.file("model-00002-of-00002.safetensors")}));
  const StateDict<float> weights = load_model_weights<float>(files);
  EXPECT_EQ(weights.size(), 2u);
  EXPECT_EQ(weights.vector("a", 2)(1), 2.0f);
  EXPECT_EQ(weights.vector("b", 1)(0), 3.0f);

  dir.write(
      "model.safetensors.index.json",
      R"({"weight_map": {"a": "model-00001-of-00002.safetensors", "c": "missing.safetensors"}})");
  EXPECT_TRUE(throws_with<FormatError>([&] { files.safetensors(); },
                                       {"model.safetensors.index.json", "missing.safetensors"}));
  dir.write("model.safetensors.index.json", R"({"weight_map": {"a": "../elsewhere.safetensors"}})");
  EXPECT_TRUE(throws_with<FormatError>([&] { files.safetensors(); },
                                       {"../elsewhere.safetensors", "not a path inside"}));
  dir.write("model.safetensors.index.json", R"({"weight_map": {"a": 1}})");
  EXPECT_TRUE(throws_with<FormatError>(
      [&] { files.safetensors(); },
      {"model.safetensors.index.json", "'weight_map.a'", "must be a string"}));
}

}  // namespace
}  // namespace eigenformer
