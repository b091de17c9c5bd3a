// What SentenceEncoder takes from a sentence-transformers folder (modules.json, the Pooling
// module's config.json, sentence_bert_config.json, config_sentence_transformers.json),
// against sentence-transformers' rules: modules run in order and each changes the output,
// Pooling(**config) uses its constructor's defaults (mean on, the other modes off) and
// concatenates every mode set, and a default prompt is prepended to every text.
#include <eigenformer/models/bert/sentence_encoder.hpp>

#include "fixture.hpp"
#include "io/test_files.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

namespace eigenformer {
namespace {

using testing::data_path;
using testing::TempDir;
using testing::throws_with;

// Why the folder's sentence embeddings cannot be reproduced, checked to mention `parts`.
::testing::AssertionResult unsupported_because(const TempDir& dir,
                                               const std::vector<std::string>& parts) {
  const auto settings = SentenceTransformersSettings::read(dir.path());
  if (!settings.unsupported) return ::testing::AssertionFailure() << "folder accepted";
  for (const auto& part : parts)
    if (settings.unsupported->find(part) == std::string::npos)
      return ::testing::AssertionFailure() << "'" << part << "' not in: " << *settings.unsupported;
  return ::testing::AssertionSuccess();
}

const std::string kTransformer =
    R"({"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"})";
const std::string kPooling =
    R"({"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"})";
const std::string kNormalize =
    R"({"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"})";
const std::string kDense =
    R"({"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"})";

// A folder whose modules.json lists `modules` and whose 1_Pooling/config.json is `pooling`.
void write_folder(const TempDir& dir, const std::string& modules, const std::string& pooling) {
  dir.write("modules.json", "[" + modules + "]");
  std::filesystem::create_directories(dir.file("1_Pooling"));
  dir.write("1_Pooling/config.json", pooling);
}

// A Transformer + Pooling folder whose pooling config is `pooling`.
void write_pooling_folder(const TempDir& dir, const std::string& pooling) {
  write_folder(dir, kTransformer + "," + kPooling, pooling);
}

std::string pooling_config(bool cls, bool mean, bool max) {
  return std::string(R"({"word_embedding_dimension": 64, "pooling_mode_cls_token": )") +
         (cls ? "true" : "false") + R"(, "pooling_mode_mean_tokens": )" +
         (mean ? "true" : "false") + R"(, "pooling_mode_max_tokens": )" + (max ? "true" : "false") +
         R"(, "pooling_mode_mean_sqrt_len_tokens": false, "pooling_mode_weightedmean_tokens": false,
             "pooling_mode_lasttoken": false, "include_prompt": true})";
}

TEST(SentenceTransformersSettings, PlainFolderGetsMeanPoolingWithoutNormalization) {
  TempDir dir;
  const auto settings = SentenceTransformersSettings::read(dir.path());
  EXPECT_EQ(settings.pooling, Pooling::Mean);
  EXPECT_FALSE(settings.normalize);
  EXPECT_FALSE(settings.max_seq_length);
}

TEST(SentenceTransformersSettings, ReadsPoolingNormalizeAndMaxSeqLength) {
  TempDir dir;
  write_folder(dir, kTransformer + "," + kPooling + "," + kNormalize,
               pooling_config(true, false, false));
  dir.write("sentence_bert_config.json", R"({"max_seq_length": 128, "do_lower_case": false})");
  const auto settings = SentenceTransformersSettings::read(dir.path());
  EXPECT_EQ(settings.pooling, Pooling::CLS);
  EXPECT_TRUE(settings.normalize);
  EXPECT_EQ(settings.max_seq_length, 128);

  write_pooling_folder(dir, pooling_config(false, false, true));
  EXPECT_EQ(SentenceTransformersSettings::read(dir.path()).pooling, Pooling::Max);
  EXPECT_FALSE(SentenceTransformersSettings::read(dir.path()).normalize);
}

// LaBSE: Transformer -> Pooling(cls) -> Dense -> Normalize. Skipping Dense would give
// different embeddings, so the folder's pipeline is refused.
TEST(SentenceTransformersSettings, OtherModuleTypesAreRefused) {
  TempDir dir;
  write_folder(dir, kTransformer + "," + kPooling + "," + kDense + "," + kNormalize,
               pooling_config(true, false, false));
  EXPECT_TRUE(unsupported_because(
      dir, {dir.file("modules.json"), "'[2].type'", "sentence_transformers.models.Dense",
            "Transformer, Pooling and Normalize"}));

  write_folder(dir, R"({"idx": 0, "path": ""})", pooling_config(true, false, false));
  EXPECT_TRUE(throws_with<FormatError>([&] { SentenceTransformersSettings::read(dir.path()); },
                                       {"modules.json", "missing required field '[0].type'"}));
  dir.write("modules.json", R"({"modules": []})");
  EXPECT_TRUE(throws_with<FormatError>([&] { SentenceTransformersSettings::read(dir.path()); },
                                       {"modules.json", "top level must be an array"}));
}

TEST(SentenceTransformersSettings, SeveralPoolingModesAreRefused) {
  TempDir dir;
  write_pooling_folder(dir, pooling_config(true, true, false));
  EXPECT_TRUE(unsupported_because(
      dir, {dir.file("1_Pooling/config.json"), "pooling_mode_cls_token, pooling_mode_mean_tokens",
            "exactly one of"}));
  write_pooling_folder(dir, pooling_config(false, false, false));
  EXPECT_TRUE(unsupported_because(dir, {"pooling modes set: none", "exactly one of"}));
}

TEST(SentenceTransformersSettings, UnsupportedPoolingModesAreRefused) {
  TempDir dir;
  for (const std::string flag : {"pooling_mode_mean_sqrt_len_tokens",
                                 "pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken"}) {
    write_pooling_folder(dir, R"({"pooling_mode_mean_tokens": false, ")" + flag + R"(": true})");
    EXPECT_TRUE(unsupported_because(dir, {"1_Pooling", flag})) << flag;
  }
  // A supported mode does not hide an unsupported one: sentence-transformers concatenates.
  write_pooling_folder(dir,
                       R"({"pooling_mode_mean_tokens": true, "pooling_mode_lasttoken": true})");
  EXPECT_TRUE(unsupported_because(dir, {"pooling_mode_mean_tokens, pooling_mode_lasttoken"}));
  write_pooling_folder(dir, R"({"pooling_mode": "median"})");
  EXPECT_TRUE(unsupported_because(dir, {"'pooling_mode'", "median", "mean_sqrt_len_tokens"}));
  // The string names every mode, mean_sqrt_len_tokens included, and clears the other flags.
  write_pooling_folder(
      dir, R"({"pooling_mode": "mean_sqrt_len_tokens", "pooling_mode_mean_tokens": true})");
  EXPECT_TRUE(unsupported_because(dir, {"pooling modes set: pooling_mode_mean_sqrt_len_tokens"}));
  write_pooling_folder(dir,
                       R"({"pooling_mode": "mean", "pooling_mode_mean_sqrt_len_tokens": true})");
  EXPECT_EQ(SentenceTransformersSettings::read(dir.path()).pooling, Pooling::Mean);
}

// include_prompt only matters when a prompt is prepended; a default prompt is refused.
TEST(SentenceTransformersSettings, DefaultPromptIsRefusedIncludePromptIsNot) {
  TempDir dir;
  write_pooling_folder(dir,
                       R"({"pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false,
                   "include_prompt": false})");
  dir.write("config_sentence_transformers.json",
            R"({"prompts": {"query": "query: "}, "default_prompt_name": null})");
  const auto settings = SentenceTransformersSettings::read(dir.path());
  EXPECT_EQ(settings.pooling, Pooling::CLS);
  EXPECT_FALSE(settings.unsupported) << *settings.unsupported;
  dir.write("config_sentence_transformers.json",
            R"({"prompts": {"query": "query: "}, "default_prompt_name": "query"})");
  EXPECT_TRUE(unsupported_because(
      dir, {"config_sentence_transformers.json", "default_prompt_name 'query'", "not supported"}));
}

// Pooling(**config): a flag the file leaves out takes the constructor default (mean on), and
// a "pooling_mode" string replaces the flags it names.
TEST(SentenceTransformersSettings, PoolingConfigUsesPoolingsDefaults) {
  TempDir dir;
  write_pooling_folder(dir, R"({"word_embedding_dimension": 64})");
  EXPECT_EQ(SentenceTransformersSettings::read(dir.path()).pooling, Pooling::Mean);
  write_pooling_folder(dir, R"({"pooling_mode_cls_token": true})");
  EXPECT_TRUE(unsupported_because(dir, {"pooling_mode_cls_token, pooling_mode_mean_tokens"}));
  write_pooling_folder(dir, R"({"pooling_mode": "CLS", "pooling_mode_mean_tokens": true})");
  EXPECT_EQ(SentenceTransformersSettings::read(dir.path()).pooling, Pooling::CLS);
}

// A folder whose pipeline cannot be followed still gives token embeddings, and sentence
// embeddings once the caller chooses the pooling.
TEST(SentenceEncoder, UnsupportedPipelineRefusesOnlyTheFoldersSentenceEmbeddings) {
  TempDir dir;
  for (const char* file : {"config.json", "model.safetensors", "vocab.txt"})
    std::filesystem::copy_file(data_path(std::string("bert/") + file), dir.file(file));
  write_folder(dir, kTransformer + "," + kPooling + "," + kDense,
               pooling_config(true, false, false));
  const std::vector<std::string> texts{"hello world"};

  const auto folder_pipeline = SentenceEncoder<float>::load(dir.path());
  EXPECT_TRUE(throws_with<FormatError>(
      [&] { folder_pipeline.encode(texts); },
      {"sentence_transformers.models.Dense", "choose a pooling explicitly"}));
  const auto tokens = folder_pipeline.encode_tokens(texts);
  ASSERT_EQ(tokens.size(), 1u);

  SentenceEncoderOptions options;
  options.pooling = Pooling::CLS;
  const Matrix<float> chosen = SentenceEncoder<float>::load(dir.path(), options).encode(texts);
  ASSERT_EQ(chosen.rows(), 1);
  EXPECT_EQ(chosen.row(0), tokens[0].row(0));  // CLS pooling: the first token's embedding
}

// A folder's own max_seq_length beyond the model's positions is a broken folder; the same
// length asked for by the caller is a bad argument.
TEST(SentenceEncoder, MaxSeqLengthBeyondThePositionsIsNamed) {
  TempDir dir;
  for (const char* file : {"config.json", "model.safetensors", "vocab.txt"})
    std::filesystem::copy_file(data_path(std::string("bert/") + file), dir.file(file));
  dir.write("sentence_bert_config.json", R"({"max_seq_length": 65})");  // the model has 64
  EXPECT_TRUE(throws_with<FormatError>(
      [&] { SentenceEncoder<float>::load(dir.path()); },
      {dir.file("sentence_bert_config.json"), "field 'max_seq_length' is 65", "64 positions"}));
  SentenceEncoderOptions options;
  options.max_length = 32;
  EXPECT_EQ(SentenceEncoder<float>::load(dir.path(), options).max_length(), 32);
  options.max_length = 65;
  EXPECT_THROW(SentenceEncoder<float>::load(dir.path(), options), InvalidArgument);
}

TEST(SentenceEncoder, AMissingFolderReadsAsForEveryModel) {
  const TempDir dir;
  EXPECT_TRUE(throws_with<FormatError>([&] { SentenceEncoder<float>::load(dir.file("nowhere")); },
                                       {dir.file("nowhere"), "no model there"}));
}

}  // namespace
}  // namespace eigenformer
