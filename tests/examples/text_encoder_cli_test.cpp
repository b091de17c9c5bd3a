// Runs the text-encoder binary on the fixture model and compares its output with the
// reference sentence embeddings.
#include <nlohmann/json.hpp>

#include "command.hpp"
#include "fixture.hpp"

#include <filesystem>
#include <fstream>
#include <string>

namespace eigenformer {
namespace {

using testing::data_path;

using testing::lines_of;
using testing::shell_quoted;

// text-encoder with `arguments`, standard input from `input` when given.
testing::CommandResult run_command(const std::string& arguments, const std::string& input = "") {
  std::string command = std::string(EIGENFORMER_TEXT_ENCODER) + " " + arguments;
  if (!input.empty()) {
    const std::string input_file = ::testing::TempDir() + "text_encoder_input.txt";
    std::ofstream(input_file) << input;
    command += " < " + input_file;
  }
  return testing::run_command(command);
}

std::vector<std::string> fixture_sentences() {
  std::ifstream in(data_path("bert/io.json"));
  return nlohmann::json::parse(in).at("sentences").get<std::vector<std::string>>();
}

// Rows 1 and 2 of the fixture have token type 0 everywhere, as text-encoder encodes them.
TEST(TextEncoderCli, MeanPooledNormalizedEmbeddingsMatchReference) {
  const auto sentences = fixture_sentences();
  const auto result = run_command("--model " + data_path("bert") + " --pooling mean --normalize " +
                                  shell_quoted(sentences[1]) + " " + shell_quoted(sentences[2]));
  ASSERT_EQ(result.exit_code, 0);
  const auto lines = lines_of(result.out);
  ASSERT_EQ(lines.size(), 2u) << result.out;
  const auto expected =
      testing::fixture<float>("bert/io.safetensors").at("mean_pooled_normalized").matrix();
  for (Index row = 0; row < 2; ++row) {
    const auto values = nlohmann::json::parse(lines[row]).get<std::vector<float>>();
    ASSERT_EQ(static_cast<Index>(values.size()), expected.cols());
    const Eigen::Map<const RowVector<float>> actual(values.data(), expected.cols());
    EXPECT_TRUE(testing::all_close(actual, expected.row(row + 1), 1e-5)) << "sentence " << row + 1;
  }
}

TEST(TextEncoderCli, ReadsStandardInputAndPrintsIdsOrSimilarity) {
  const auto sentences = fixture_sentences();
  const auto ids = run_command("--model " + data_path("bert") + " --ids",
                               sentences[1] + "\n" + sentences[2] + "\n");
  ASSERT_EQ(ids.exit_code, 0);
  const auto lines = lines_of(ids.out);
  ASSERT_EQ(lines.size(), 2u);
  const auto io = SafeTensorsFile::open(data_path("bert/io.safetensors"));
  const Matrix<std::int64_t> reference = io->tensor<std::int64_t>("input_ids").matrix();
  // The reference rows are padded: the attention mask counts row 1's real tokens.
  const Matrix<std::int64_t> mask = io->tensor<std::int64_t>("attention_mask").matrix();
  const auto first = nlohmann::json::parse(lines[0]).get<std::vector<std::int64_t>>();
  ASSERT_EQ(static_cast<std::int64_t>(first.size()), mask.row(1).sum()) << lines[0];
  for (std::size_t i = 0; i < first.size(); ++i)
    EXPECT_EQ(first[i], reference(1, static_cast<Index>(i)));

  const auto similarity =
      run_command("--model " + data_path("bert") + " --similarity --format tsv a b c");
  ASSERT_EQ(similarity.exit_code, 0);
  const auto rows = lines_of(similarity.out);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_NEAR(std::stod(rows[0]), 1.0, 1e-5);  // every text is its own nearest neighbour
}

TEST(TextEncoderCli, BadUsageAndBadInputFailCleanly) {
  EXPECT_EQ(run_command("--pooling mean hello").exit_code, 2);  // no --model
  EXPECT_EQ(run_command("--model " + data_path("bert") + " --pooling median hi").exit_code, 2);
  EXPECT_EQ(run_command("--model /nonexistent hello").exit_code, 1);
  const auto invalid_utf8 =
      run_command("--model " + data_path("bert"), std::string("ok\n\xff\xfe\n"));
  EXPECT_EQ(invalid_utf8.exit_code, 1);
  EXPECT_EQ(
      run_command("--model " + data_path("bert") + " --no-truncate --max-length 4 'a b c d e f'")
          .exit_code,
      1);
}

// The message every model loader gives (rtdetr-detect's test checks the same text).
TEST(TextEncoderCli, AMissingOrIncompleteModelIsNamed) {
  const std::string program = std::string(EIGENFORMER_TEXT_ENCODER) + " --model ";
  const auto missing = testing::run_command(program + "/nonexistent/model hello", true);
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(
      missing.out.find("/nonexistent/model: no model there (expected a folder with config.json and "
                       "model.safetensors, or a .pt/.safetensors file)"),
      std::string::npos)
      << missing.out;
  const std::string empty = ::testing::TempDir() + "text_encoder_empty_model";
  std::filesystem::create_directories(empty);
  const auto incomplete = testing::run_command(program + shell_quoted(empty) + " hello", true);
  EXPECT_EQ(incomplete.exit_code, 1);
  EXPECT_NE(incomplete.out.find(empty + ": no model.safetensors in the folder"), std::string::npos)
      << incomplete.out;
}

}  // namespace
}  // namespace eigenformer
