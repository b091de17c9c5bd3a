// Runs the text-encoder binary on the fixture model and compares its output with the
// reference sentence embeddings.
#include <nlohmann/json.hpp>

#include "command.hpp"
#include "fixture.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>
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

// Every line of --ids against the reference tokenizer's ids: each row of input_ids up to its
// attention mask's length (the rows are padded with [PAD] = 0). Token types do not enter the
// ids, so row 0 counts too.
TEST(TextEncoderCli, IdsOfEveryLineMatchTheReferenceTokenizer) {
  const auto sentences = fixture_sentences();
  ASSERT_EQ(sentences.size(), 3u);
  const auto ids = run_command("--model " + data_path("bert") + " --ids",
                               sentences[0] + "\n" + sentences[1] + "\n" + sentences[2] + "\n");
  ASSERT_EQ(ids.exit_code, 0);
  const auto lines = lines_of(ids.out);
  ASSERT_EQ(lines.size(), 3u) << ids.out;
  const auto io = SafeTensorsFile::open(data_path("bert/io.safetensors"));
  const Matrix<std::int64_t> reference = io->tensor<std::int64_t>("input_ids").matrix();
  const Matrix<std::int64_t> mask = io->tensor<std::int64_t>("attention_mask").matrix();
  for (Index row = 0; row < 3; ++row) {
    const auto line = nlohmann::json::parse(lines[static_cast<std::size_t>(row)])
                          .get<std::vector<std::int64_t>>();
    const Index length = static_cast<Index>(mask.row(row).sum());
    std::vector<std::int64_t> expected(static_cast<std::size_t>(length));
    for (Index i = 0; i < length; ++i) expected[static_cast<std::size_t>(i)] = reference(row, i);
    EXPECT_EQ(line, expected) << "line " << row << ": " << sentences[static_cast<std::size_t>(row)];
  }
}

// --similarity against cosine similarities of the reference's mean-pooled embeddings. Rows 1
// and 2 (token type 0, as text-encoder encodes) and row 1 again: the off-diagonal entries are
// cos(1, 2) and, for the repeated text, 1; the diagonal is 1.
TEST(TextEncoderCli, SimilarityMatrixMatchesReferenceCosines) {
  const auto sentences = fixture_sentences();
  const auto result =
      run_command("--model " + data_path("bert") + " --pooling mean --similarity --format tsv " +
                  shell_quoted(sentences[1]) + " " + shell_quoted(sentences[2]) + " " +
                  shell_quoted(sentences[1]));
  ASSERT_EQ(result.exit_code, 0);
  const auto lines = lines_of(result.out);
  ASSERT_EQ(lines.size(), 3u) << result.out;
  const Matrix<float> pooled =
      testing::fixture<float>("bert/io.safetensors").at("mean_pooled").matrix();
  const Index rows[3] = {1, 2, 1};
  Matrix<double> expected(3, 3), actual(3, 3);
  for (Index i = 0; i < 3; ++i)
    for (Index j = 0; j < 3; ++j) {
      const Eigen::RowVectorXd a = pooled.row(rows[i]).cast<double>();
      const Eigen::RowVectorXd b = pooled.row(rows[j]).cast<double>();
      expected(i, j) = a.dot(b) / (a.norm() * b.norm());
    }
  for (Index i = 0; i < 3; ++i) {
    std::istringstream line(lines[static_cast<std::size_t>(i)]);
    for (Index j = 0; j < 3; ++j) ASSERT_TRUE(line >> actual(i, j)) << lines[i];
    std::string rest;
    EXPECT_FALSE(line >> rest) << "more than 3 columns: " << lines[i];
  }
  // The random model's two sentences are far from parallel, so cos(1, 2) is informative.
  EXPECT_LT(std::abs(expected(0, 1)), 0.99);
  EXPECT_TRUE(testing::all_close(actual, expected, 1e-5));
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
