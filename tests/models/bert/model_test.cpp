#include <eigenformer/core/threading.hpp>
#include <eigenformer/models/bert/model.hpp>
#include <eigenformer/models/bert/pooling.hpp>

#include "fixture.hpp"
#include "io/test_files.hpp"

#include <filesystem>
#include <fstream>

namespace eigenformer {
namespace {

using testing::all_close;
using testing::data_path;
using testing::throws_with;

template <typename T>
class BertModelTest : public ::testing::Test {
 protected:
  static const BertModel<T>& model() {
    static const BertModel<T> instance = BertModel<T>::load(data_path("bert"));
    return instance;
  }
  const StateDict<T>& io = testing::fixture<T>("bert/io.safetensors");
  TokenIdMatrix input(const std::string& name) const {
    static const auto file = SafeTensorsFile::open(data_path("bert/io.safetensors"));
    return file->tensor<std::int64_t>(name).matrix();
  }
  BertOutput<T> run(bool hidden_states = false) const {
    return model().forward(input("input_ids"), input("attention_mask"), input("token_type_ids"),
                           hidden_states);
  }
  BoolVector valid_rows() const {
    const TokenIdMatrix mask = input("attention_mask");
    return Eigen::Map<const TokenIdVector>(mask.data(), mask.size()).array() != 0;
  }
};
using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(BertModelTest, Scalars);

TYPED_TEST(BertModelTest, LastHiddenStateAndPoolerMatchHuggingFace) {
  const auto out = this->run();
  EXPECT_TRUE(all_close(out.last_hidden_state, this->io.at("last_hidden_state").matrix(), 1e-5));
  EXPECT_TRUE(all_close(out.pooler_output, this->io.at("pooler_output").matrix(), 1e-5));
}

TYPED_TEST(BertModelTest, EveryHiddenStateMatchesHuggingFace) {
  const auto out = this->run(true);
  ASSERT_EQ(out.hidden_states.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i)
    EXPECT_TRUE(all_close(out.hidden_states[i],
                          this->io.at("hidden_states." + std::to_string(i)).matrix(), 1e-5))
        << "hidden_states." << i;
}

TYPED_TEST(BertModelTest, MeanPoolingAndNormalisationMatchSentenceTransformers) {
  using T = TypeParam;
  const auto out = this->run();
  Matrix<T> pooled = pool<T>(out.last_hidden_state, out.batch, Pooling::Mean, this->valid_rows());
  EXPECT_TRUE(all_close(pooled, this->io.at("mean_pooled").matrix(), 1e-5));
  l2_normalize_rows(pooled);
  EXPECT_TRUE(all_close(pooled, this->io.at("mean_pooled_normalized").matrix(), 1e-5));
}

TYPED_TEST(BertModelTest, PackedSequencesMatchPaddedBatch) {
  using T = TypeParam;
  const TokenIdMatrix ids = this->input("input_ids"), mask = this->input("attention_mask"),
                      types = this->input("token_type_ids");
  std::vector<Index> lengths;
  std::vector<std::int64_t> packed_ids, packed_types;
  for (Index b = 0; b < ids.rows(); ++b) {
    lengths.push_back(mask.row(b).sum());
    for (Index p = 0; p < lengths.back(); ++p)
      packed_ids.push_back(ids(b, p)), packed_types.push_back(types(b, p));
  }
  const auto packed = this->model().forward_packed(
      Eigen::Map<TokenIdVector>(packed_ids.data(), packed_ids.size()),
      Eigen::Map<TokenIdVector>(packed_types.data(), packed_types.size()), SequenceBatch(lengths));
  const auto expected = this->io.at("last_hidden_state").matrix();
  for (Index b = 0; b < ids.rows(); ++b)
    EXPECT_TRUE(all_close(packed.last_hidden_state.middleRows(packed.batch.offset(b), lengths[b]),
                          expected.middleRows(b * ids.cols(), lengths[b]), 1e-5));
  EXPECT_TRUE(all_close(packed.pooler_output, this->io.at("pooler_output").matrix(), 1e-5));
  (void)sizeof(T);
}

// The threaded paths (column-split projections, parallel heads and rows) against one thread.
TYPED_TEST(BertModelTest, ThreadedForwardMatchesSingleThread) {
  set_num_threads(1);
  const auto serial = this->run(true);
  set_num_threads(2);
  const auto threaded = this->run(true);
  set_num_threads(0);
  for (std::size_t i = 0; i < serial.hidden_states.size(); ++i)
    EXPECT_TRUE(all_close(threaded.hidden_states[i], serial.hidden_states[i], 1e-6))
        << "hidden_states." << i;
  EXPECT_TRUE(all_close(threaded.pooler_output, serial.pooler_output, 1e-6));
}

TYPED_TEST(BertModelTest, BadInputsAreClearErrors) {
  TokenIdMatrix ids = this->input("input_ids");
  const TokenIdMatrix mask = this->input("attention_mask");
  ids(0, 1) = 3000;  // vocabulary has 3000 entries
  EXPECT_THROW(this->model().forward(ids, mask), InvalidArgument);
  ids(0, 1) = -1;
  EXPECT_THROW(this->model().forward(ids, mask), InvalidArgument);
  EXPECT_THROW(this->model().forward(this->input("input_ids"), mask.leftCols(3)), ShapeError);
  const TokenIdMatrix too_long = TokenIdMatrix::Ones(1, 65);  // max_position_embeddings 64
  EXPECT_THROW(this->model().forward(too_long, too_long), InvalidArgument);
  TokenIdMatrix types = this->input("token_type_ids");
  types(1, 0) = 2;
  EXPECT_THROW(this->model().forward(this->input("input_ids"), mask, types), InvalidArgument);
  TokenIdMatrix odd_mask = mask;
  odd_mask(0, 0) = 2;
  EXPECT_TRUE(throws_with<InvalidArgument>(
      [&] { this->model().forward(this->input("input_ids"), odd_mask); },
      {"attention_mask(0, 0) is 2", "expected 0 or 1"}));
  TokenIdMatrix empty_row = mask;
  empty_row.row(1).setZero();
  EXPECT_TRUE(throws_with<InvalidArgument>(
      [&] { this->model().forward(this->input("input_ids"), empty_row); },
      {"attention_mask row 1 is all 0", "no real token"}));
}

TEST(BertLoading, UnsupportedOrBrokenFoldersAreClearErrors) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / "eigenformer_bert_loading";
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto expect_message = [&](const std::string& needle) {
    try {
      BertModel<float>::load(dir.string());
      ADD_FAILURE() << "expected an error mentioning " << needle;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
          << needle << ": " << e.what();
    }
  };
  const std::string nowhere = (dir / "nowhere").string();
  EXPECT_TRUE(throws_with<FormatError>(
      [&] { BertModel<float>::load(nowhere); },
      {nowhere, "no model there", "expected a folder with config.json and model.safetensors"}));
  expect_message("no model.safetensors in the folder");
  // Only pytorch_model.bin: the weights are looked for before the config is read.
  std::ofstream(dir / "pytorch_model.bin") << "pickle";
  expect_message("only pytorch_model.bin: pytorch_model.bin is a pickle");
  std::ofstream(dir / "model.safetensors") << "garbage";
  expect_message("model.safetensors");
  fs::copy_file(data_path("bert/model.safetensors"), dir / "model.safetensors",
                fs::copy_options::overwrite_existing);
  expect_message(dir.string() + ": no config.json in the folder");
  fs::copy_file(data_path("bert/config.json"), dir / "config.json");
  std::string config;
  std::getline(std::ifstream(data_path("bert/config.json")), config, '\0');
  auto write_config = [&](const std::string& from, const std::string& to) {
    std::string edited = config;
    edited.replace(edited.find(from), from.size(), to);
    std::ofstream(dir / "config.json") << edited;
  };
  fs::copy_file(data_path("bert/model.safetensors"), dir / "model.safetensors",
                fs::copy_options::overwrite_existing);
  write_config("\"model_type\": \"bert\"", "\"model_type\": \"roberta\"");
  expect_message("roberta");
  write_config("\"hidden_size\": 64", "\"hidden_size\": 48");
  expect_message("expected [3000, 48]");
  write_config("\"intermediate_size\": 96", "\"intermediate_size\": 97");
  expect_message("intermediate.dense");
  write_config("\"layer_norm_eps\": 1e-12", "\"layer_norm_eps\": -1");
  expect_message("'layer_norm_eps' must be a positive finite number, got number -1");
  write_config("\"hidden_size\": 64", "\"hidden_size\": \"64\"");
  expect_message((dir / "config.json").string() +
                 ": field 'hidden_size' must be a positive integer at most 1073741824, got string");
  write_config("\"hidden_act\": \"gelu\"", "\"hidden_act\": \"swish2\"");
  expect_message("field 'hidden_act'");
  fs::remove_all(dir);
}

}  // namespace
}  // namespace eigenformer
