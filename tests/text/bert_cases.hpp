#pragma once
// The HF reference tokenizations in tests/data/bert: tokenizer_cases.json (with vocab.txt)
// and tokenizer_cases_bert_base_uncased.json (with bert-base-uncased-vocab.txt), made by
// HF's BertWordPieceTokenizer (lowercase, accents stripped, [CLS] ... [SEP] added).

#include <eigenformer/text/vocabulary.hpp>

#include <nlohmann/json.hpp>

#include <fstream>
#include <string>
#include <vector>

#include "fixture.hpp"

namespace eigenformer::testing {

struct BertCase {
  std::string text;
  std::vector<TokenId> ids;
  std::vector<std::string> tokens;
};

struct BertCaseFile {
  std::string name;        // for test names
  std::string cases_file;  // under tests/data
  std::string vocab_file;
};

inline const std::vector<BertCaseFile>& bert_case_files() {
  static const std::vector<BertCaseFile> files{
      {"small_vocab", "bert/tokenizer_cases.json", "bert/vocab.txt"},
      {"bert_base_uncased", "bert/tokenizer_cases_bert_base_uncased.json",
       "bert/bert-base-uncased-vocab.txt"}};
  return files;
}

inline nlohmann::json read_json(const std::string& relative) {
  std::ifstream in(data_path(relative));
  if (!in) throw std::runtime_error("cannot open " + data_path(relative));
  return nlohmann::json::parse(in);
}

inline std::vector<BertCase> bert_cases(const BertCaseFile& file) {
  const nlohmann::json document = read_json(file.cases_file);
  std::vector<BertCase> cases;
  for (const auto& entry : document.at("cases"))
    cases.push_back({entry.at("text").get<std::string>(),
                     entry.at("input_ids").get<std::vector<TokenId>>(),
                     entry.at("tokens").get<std::vector<std::string>>()});
  if (cases.empty()) throw std::runtime_error(file.cases_file + " holds no cases");
  return cases;
}

// The case holding `text`; fails loudly when the fixture no longer has it.
inline BertCase bert_case(const BertCaseFile& file, const std::string& text) {
  for (auto& entry : bert_cases(file))
    if (entry.text == text) return entry;
  throw std::runtime_error(file.cases_file + " has no case \"" + text + "\"");
}

}  // namespace eigenformer::testing
