#include <eigenformer/text/tokenizer_loader.hpp>

#include <gtest/gtest.h>

#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "io/test_files.hpp"
#include "text/bert_cases.hpp"

namespace eigenformer {
namespace {

using nlohmann::json;
using testing::BertCaseFile;
using testing::TempDir;
using testing::throws_with;

std::vector<std::string> vocab_lines(const BertCaseFile& file) {
  std::ifstream in(testing::data_path(file.vocab_file));
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

json special_token_piece(const std::string& token, int type_id) {
  return {{"SpecialToken", {{"id", token}, {"type_id", type_id}}}};
}
json sequence_piece(const std::string& which, int type_id) {
  return {{"Sequence", {{"id", which}, {"type_id", type_id}}}};
}

// A tokenizer.json as HF tokenizers saves a BertWordPieceTokenizer built on the fixture
// vocabulary (the fixture vocab.txt files have no duplicate or blank lines).
json bert_tokenizer_json(const BertCaseFile& file) {
  const auto lines = vocab_lines(file);
  json vocab = json::object();
  for (std::size_t id = 0; id < lines.size(); ++id) vocab[lines[id]] = id;
  const auto id_of = [&](const std::string& token) { return vocab.at(token).get<TokenId>(); };
  json added = json::array();
  for (const std::string token : {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"})
    added.push_back({{"id", id_of(token)},
                     {"content", token},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
  json special_tokens = json::object();
  for (const std::string token : {"[CLS]", "[SEP]"})
    special_tokens[token] = {{"id", token}, {"ids", {id_of(token)}}, {"tokens", {token}}};
  return {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", added},
      {"normalizer",
       {{"type", "BertNormalizer"},
        {"clean_text", true},
        {"handle_chinese_chars", true},
        {"strip_accents", nullptr},
        {"lowercase", true}}},
      {"pre_tokenizer", {{"type", "BertPreTokenizer"}}},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single",
         {special_token_piece("[CLS]", 0), sequence_piece("A", 0),
          special_token_piece("[SEP]", 0)}},
        {"pair",
         {special_token_piece("[CLS]", 0), sequence_piece("A", 0), special_token_piece("[SEP]", 0),
          sequence_piece("B", 1), special_token_piece("[SEP]", 1)}},
        {"special_tokens", special_tokens}}},
      {"decoder", {{"type", "WordPiece"}, {"prefix", "##"}, {"cleanup", true}}},
      {"model",
       {{"type", "WordPiece"},
        {"unk_token", "[UNK]"},
        {"continuing_subword_prefix", "##"},
        {"max_input_chars_per_word", 100},
        {"vocab", vocab}}}};
}

json bpe_tokenizer_json() {
  return {{"version", "1.0"},
          {"normalizer", nullptr},
          {"pre_tokenizer", {{"type", "ByteLevel"}}},
          {"model", {{"type", "BPE"}, {"vocab", {{"a", 0}, {"b", 1}}}, {"merges", json::array()}}}};
}

// A cased BERT tokenizer.json over five tokens: [PAD] 0, [UNK] 1, [CLS] 2, [SEP] 3, hello 4.
json tiny_tokenizer_json() {
  return {{"version", "1.0"},
          {"padding", nullptr},
          {"added_tokens", json::array()},
          {"normalizer", {{"type", "BertNormalizer"}, {"lowercase", false}}},
          {"pre_tokenizer", {{"type", "BertPreTokenizer"}}},
          {"post_processor",
           {{"type", "BertProcessing"}, {"cls", {"[CLS]", 2}}, {"sep", {"[SEP]", 3}}}},
          {"model",
           {{"type", "WordPiece"},
            {"unk_token", "[UNK]"},
            {"continuing_subword_prefix", "##"},
            {"max_input_chars_per_word", 100},
            {"vocab", {{"[PAD]", 0}, {"[UNK]", 1}, {"[CLS]", 2}, {"[SEP]", 3}, {"hello", 4}}}}}};
}

json added_token(const std::string& content, int id) {
  return {{"id", id},        {"content", content},  {"single_word", false}, {"lstrip", false},
          {"rstrip", false}, {"normalized", false}, {"special", true}};
}

void expect_reference_ids(const BertTokenizer& tokenizer, const BertCaseFile& file) {
  for (const auto& entry : testing::bert_cases(file)) {
    SCOPED_TRACE("text: \"" + entry.text + "\"");
    const Encoding encoding = tokenizer.encode(entry.text);
    EXPECT_EQ(encoding.ids, entry.ids);
    EXPECT_EQ(encoding.tokens, entry.tokens);
  }
}

struct ReferencePair {
  std::string first, second;
  std::vector<TokenId> ids, type_ids;
};

ReferencePair reference_pair() {
  const auto pair = testing::read_json(testing::bert_case_files()[0].cases_file).at("pair");
  return {pair.at("a"), pair.at("b"), pair.at("input_ids"), pair.at("token_type_ids")};
}

class TokenizerJsonCases : public ::testing::TestWithParam<BertCaseFile> {};

TEST_P(TokenizerJsonCases, GivesTheSameIdsAsVocabTxt) {
  TempDir dir;
  const auto path = dir.write("tokenizer.json", bert_tokenizer_json(GetParam()).dump());
  expect_reference_ids(load_tokenizer_json(path), GetParam());
}

INSTANTIATE_TEST_SUITE_P(Fixtures, TokenizerJsonCases,
                         ::testing::ValuesIn(testing::bert_case_files()),
                         [](const auto& info) { return info.param.name; });

const BertCaseFile& small_vocab() { return testing::bert_case_files()[0]; }

TEST(TokenizerJson, TemplateAndBertProcessingGiveTheReferencePair) {
  const auto pair = reference_pair();
  TempDir dir;
  json description = bert_tokenizer_json(small_vocab());
  const auto from_template = load_tokenizer_json(dir.write("template.json", description.dump()));
  EXPECT_EQ(from_template.encode_pair(pair.first, pair.second).ids, pair.ids);
  EXPECT_EQ(from_template.encode_pair(pair.first, pair.second).type_ids, pair.type_ids);

  const auto& special = description["post_processor"]["special_tokens"];
  description["post_processor"] = {{"type", "BertProcessing"},
                                   {"sep", {"[SEP]", special["[SEP]"]["ids"][0]}},
                                   {"cls", {"[CLS]", special["[CLS]"]["ids"][0]}}};
  const auto from_bert = load_tokenizer_json(dir.write("bert.json", description.dump()));
  EXPECT_EQ(from_bert.encode_pair(pair.first, pair.second).ids, pair.ids);
  EXPECT_EQ(from_bert.encode_pair(pair.first, pair.second).type_ids, pair.type_ids);
}

// HF's encode gives the second sequence type id 1 before post-processing
// (encode_single_sequence(pair, 1, ...)), and without a post-processor nothing changes it.
TEST(TokenizerJson, NullPostProcessorAddsNothing) {
  const auto pair = reference_pair();
  TempDir dir;
  json description = bert_tokenizer_json(small_vocab());
  description["post_processor"] = nullptr;
  const auto tokenizer = load_tokenizer_json(dir.write("tokenizer.json", description.dump()));
  const Encoding encoding = tokenizer.encode_pair(pair.first, pair.second);
  std::vector<TokenId> expected(pair.ids.begin() + 1, pair.ids.begin() + 6);
  expected.insert(expected.end(), pair.ids.begin() + 7, pair.ids.end() - 1);
  EXPECT_EQ(encoding.ids, expected);
  std::vector<TokenId> expected_types(5, 0);
  expected_types.resize(expected.size(), 1);
  EXPECT_EQ(encoding.type_ids, expected_types);
}

// tokenizers ignores the ids stored in added_tokens (it only warns): AddedVocabulary::add_tokens
// gives a token its vocabulary id, else the vocabulary size for the first new token and one
// past the highest id assigned so far for the next.
TEST(TokenizerJson, AddedTokenIdsAreAssignedAsHfDoes) {
  TempDir dir;
  json description = tiny_tokenizer_json();
  description["added_tokens"] = {added_token("[CLS]", 7), added_token("<x>", 99),
                                 added_token("<y>", 3)};
  const auto tokenizer = load_tokenizer_json(dir.write("tokenizer.json", description.dump()));
  EXPECT_EQ(tokenizer.encode("[CLS]").ids, (std::vector<TokenId>{2, 2, 3}));
  EXPECT_EQ(tokenizer.encode("hello <x> <y>").ids, (std::vector<TokenId>{2, 4, 5, 6, 3}));
  EXPECT_EQ(tokenizer.id_to_token(6), "<y>");
}

TEST(TokenizerJson, NegativeTemplateTypeIdIsAFormatError) {
  TempDir dir;
  json description = bert_tokenizer_json(small_vocab());
  description["post_processor"]["pair"][3] = sequence_piece("B", -1);
  EXPECT_TRUE(throws_with<FormatError>(
      [&] { load_tokenizer_json(dir.write("negative.json", description.dump())); },
      {"negative.json", "post_processor.pair[3].type_id", "[0, 4294967295]", "-1"}));
}

// Nested 100000 deep: copying or printing such a value would overflow the stack, so the file
// is refused while it is parsed.
TEST(TokenizerJson, DeeplyNestedFileIsAFormatError) {
  TempDir dir;
  const int depth = 100000;
  const auto path = dir.write("deep.json", R"({"added_tokens": )" + std::string(depth, '[') +
                                               std::string(depth, ']') + "}");
  EXPECT_TRUE(throws_with<FormatError>([&] { load_tokenizer_json(path); },
                                       {path, "nested deeper than", "512"}));
}

TEST(TokenizerJson, TruncationAndPaddingSectionsAreRead) {
  TempDir dir;
  json description = bert_tokenizer_json(small_vocab());
  description["truncation"] = {
      {"direction", "Right"}, {"max_length", 128}, {"strategy", "LongestFirst"}, {"stride", 0}};
  description["padding"] = {{"strategy", "BatchLongest"}, {"pad_id", 4}, {"pad_token", "[MASK]"}};
  const auto tokenizer = load_tokenizer_json(dir.write("tokenizer.json", description.dump()));
  EXPECT_EQ(tokenizer.model_max_length(), 128);
  EXPECT_EQ(tokenizer.pad_id(), *tokenizer.token_to_id("[MASK]"));
}

TEST(TokenizerJson, UnsupportedModelsAreFormatErrorsSayingWhatIsSupported) {
  TempDir dir;
  EXPECT_TRUE(throws_with<FormatError>(
      [&] { load_tokenizer_json(dir.write("bpe.json", bpe_tokenizer_json().dump())); },
      {"bpe.json", "model.type is 'BPE'", "only WordPiece"}));
  json unigram = bpe_tokenizer_json();
  unigram["model"] = {{"type", "Unigram"}, {"vocab", {{"a", 0.0}}}};
  EXPECT_TRUE(throws_with<FormatError>(
      [&] { load_tokenizer_json(dir.write("unigram.json", unigram.dump())); },
      {"model.type is 'Unigram'", "only WordPiece"}));
}

TEST(TokenizerJson, UnsupportedPipelinePiecesAreFormatErrors) {
  TempDir dir;
  json description = bert_tokenizer_json(small_vocab());
  description["normalizer"] = {{"type", "Sequence"}, {"normalizers", json::array()}};
  EXPECT_TRUE(throws_with<FormatError>(
      [&] { load_tokenizer_json(dir.write("a.json", description.dump())); },
      {"normalizer.type is 'Sequence'", "BertNormalizer"}));

  description = bert_tokenizer_json(small_vocab());
  description["pre_tokenizer"] = {{"type", "Whitespace"}};
  EXPECT_TRUE(throws_with<FormatError>(
      [&] { load_tokenizer_json(dir.write("b.json", description.dump())); },
      {"pre_tokenizer.type is 'Whitespace'", "BertPreTokenizer"}));

  description = bert_tokenizer_json(small_vocab());
  description["post_processor"] = {{"type", "RobertaProcessing"}};
  EXPECT_TRUE(throws_with<FormatError>(
      [&] { load_tokenizer_json(dir.write("c.json", description.dump())); },
      {"post_processor.type is 'RobertaProcessing'", "TemplateProcessing"}));

  description = bert_tokenizer_json(small_vocab());
  description["added_tokens"][0]["single_word"] = true;
  EXPECT_TRUE(throws_with<FormatError>(
      [&] { load_tokenizer_json(dir.write("d.json", description.dump())); },
      {"added_tokens[0]", "single_word"}));
}

TEST(TokenizerJson, MalformedFilesAreFormatErrors) {
  TempDir dir;
  EXPECT_TRUE(throws_with<FormatError>(
      [&] { load_tokenizer_json(dir.write("broken.json", "{\"model\": ")); },
      {"broken.json", "JSON"}));
  EXPECT_TRUE(throws_with<FormatError>([&] { load_tokenizer_json(dir.file("missing.json")); },
                                       {"missing.json", "cannot open"}));
  json description = bert_tokenizer_json(small_vocab());
  description["model"].erase("unk_token");
  EXPECT_TRUE(throws_with<FormatError>(
      [&] { load_tokenizer_json(dir.write("no-unk.json", description.dump())); }, {"unk_token"}));

  description = bert_tokenizer_json(small_vocab());
  description["model"]["vocab"]["[CLS]"] = -3;
  EXPECT_TRUE(throws_with<FormatError>(
      [&] { load_tokenizer_json(dir.write("negative.json", description.dump())); },
      {"model.vocab", "'[CLS]'", "-3"}));

  description = bert_tokenizer_json(small_vocab());
  description["post_processor"]["special_tokens"]["[CLS]"]["ids"] = {7};
  EXPECT_TRUE(throws_with<FormatError>(
      [&] { load_tokenizer_json(dir.write("wrong-id.json", description.dump())); },
      {"'[CLS]'", "id 7"}));

  description = bert_tokenizer_json(small_vocab());
  description["post_processor"]["single"][0] = {{"Something", {{"id", "A"}, {"type_id", 0}}}};
  EXPECT_TRUE(throws_with<FormatError>(
      [&] { load_tokenizer_json(dir.write("piece.json", description.dump())); },
      {"post_processor.single[0]"}));
}

TEST(TokenizerDirectory, PrefersAWordPieceTokenizerJson) {
  TempDir dir;
  dir.write("tokenizer.json", bert_tokenizer_json(small_vocab()).dump());
  dir.write("tokenizer_config.json", R"({"model_max_length": 40, "do_lower_case": true})");
  const auto tokenizer = load_bert_tokenizer(dir.path());
  EXPECT_EQ(tokenizer.model_max_length(), 40);  // above the longest case (34 ids)
  expect_reference_ids(tokenizer, small_vocab());
}

TEST(TokenizerDirectory, TokenizerConfigOverridesTheNormalizerLikeBertTokenizerFast) {
  TempDir dir;
  dir.write("tokenizer.json", bert_tokenizer_json(small_vocab()).dump());
  dir.write("tokenizer_config.json", R"({"do_lower_case": false})");
  const auto options = load_bert_tokenizer(dir.path()).config().normalizer;
  ASSERT_TRUE(options);
  EXPECT_FALSE(options->lowercase);
  EXPECT_FALSE(options->strips_accents());
}

// BertTokenizerFast.__init__ rebuilds the normalizer with its do_lower_case (default True),
// strip_accents and tokenize_chinese_chars arguments whenever they differ from the
// tokenizer.json normalizer's, so a tokenizer_config.json without them lowercases.
TEST(TokenizerDirectory, TokenizerConfigDefaultsOverrideTheNormalizer) {
  TempDir dir;
  const auto path = dir.write("tokenizer.json", tiny_tokenizer_json().dump());
  EXPECT_EQ(load_tokenizer_json(path).encode("Hello").ids, (std::vector<TokenId>{2, 1, 3}));
  dir.write("tokenizer_config.json", R"({"model_max_length": 512})");
  EXPECT_EQ(load_bert_tokenizer(dir.path()).encode("Hello").ids, (std::vector<TokenId>{2, 4, 3}));
}

// transformers takes pad_token from tokenizer_config.json before tokenizer.json's padding.
TEST(TokenizerDirectory, PadTokenComesFromTokenizerConfig) {
  TempDir dir;
  json description = tiny_tokenizer_json();
  description["model"]["vocab"].erase("[PAD]");
  description["model"]["vocab"]["<pad>"] = 0;
  dir.write("tokenizer.json", description.dump());
  dir.write("tokenizer_config.json", R"({"pad_token": "<pad>"})");
  EXPECT_EQ(load_bert_tokenizer(dir.path()).pad_id(), 0);

  description["padding"] = {{"pad_token", "[SEP]"}};
  dir.write("tokenizer.json", description.dump());
  EXPECT_EQ(load_bert_tokenizer(dir.path()).pad_id(), 0);
}

TEST(TokenizerDirectory, PaddingSectionAppliesOnlyWithoutTokenizerConfig) {
  TempDir dir;
  json description = tiny_tokenizer_json();  // [PAD] = 0, [SEP] = 3
  description["padding"] = {{"pad_token", "[SEP]"}};
  dir.write("tokenizer.json", description.dump());
  EXPECT_EQ(load_bert_tokenizer(dir.path()).pad_id(), 3);  // tokenizers' Tokenizer
  dir.write("tokenizer_config.json", "{}");
  EXPECT_EQ(load_bert_tokenizer(dir.path()).pad_id(), 0);  // BertTokenizerFast's "[PAD]"
}

TEST(TokenizerDirectory, FallsBackToVocabTxt) {
  for (const auto& file : testing::bert_case_files()) {
    TempDir dir;
    std::ifstream in(testing::data_path(file.vocab_file), std::ios::binary);
    dir.write("vocab.txt", std::string(std::istreambuf_iterator<char>(in), {}));
    expect_reference_ids(load_bert_tokenizer(dir.path()), file);
    dir.write("tokenizer.json", bpe_tokenizer_json().dump());  // not WordPiece: ignored
    expect_reference_ids(load_bert_tokenizer(dir.path()), file);
  }
}

TEST(TokenizerDirectory, VocabTxtTakesItsSettingsFromTokenizerConfig) {
  TempDir dir;
  dir.write("vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n<unk>\nhello\n");
  dir.write("tokenizer_config.json",
            R"({"do_lower_case": false, "model_max_length": 1000000000000000019884624838656,
                "unk_token": {"content": "<unk>", "__type": "AddedToken"}})");
  const auto tokenizer = load_bert_tokenizer(dir.path());
  EXPECT_FALSE(tokenizer.config().normalizer->lowercase);
  EXPECT_EQ(tokenizer.model_max_length(), std::numeric_limits<Index>::max());
  EXPECT_EQ(tokenizer.unk_id(), 4);
}

TEST(TokenizerDirectory, WithoutAUsableTokenizerItIsAFormatError) {
  TempDir dir;
  EXPECT_TRUE(throws_with<FormatError>([&] { load_bert_tokenizer(dir.path()); },
                                       {dir.path(), "neither tokenizer.json nor vocab.txt"}));
  dir.write("tokenizer.json", bpe_tokenizer_json().dump());
  EXPECT_TRUE(throws_with<FormatError>([&] { load_bert_tokenizer(dir.path()); },
                                       {"model.type is 'BPE'", "only WordPiece"}));
  EXPECT_TRUE(throws_with<FormatError>([&] { load_bert_tokenizer(dir.file("nowhere")); },
                                       {dir.file("nowhere"), "no model there"}));
  EXPECT_TRUE(throws_with<FormatError>([&] { load_bert_tokenizer(dir.write("vocab.pt", "")); },
                                       {"vocab.pt", "a tokenizer loads from a HF folder"}));
}

}  // namespace
}  // namespace eigenformer
