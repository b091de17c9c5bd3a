// Arbitrary bytes as a vocab.txt (Vocabulary::read_vocab_txt, BertTokenizer::from_vocab_file),
// then the tokenizer, when the vocabulary makes one, on fixed texts and on the same bytes
// as text. An odd first byte puts BERT's special tokens in front of the fuzzed lines, so
// most inputs get past the "no [UNK] token" check to the tokenizer itself.
#include <eigenformer/text/bert_tokenizer.hpp>
#include <eigenformer/text/vocabulary.hpp>

#include "tokenizer_checks.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace {

using eigenformer::fuzz::require;

void check_vocabulary(const eigenformer::Vocabulary& vocabulary, std::size_t bytes) {
  require(vocabulary.size() >= 1 && vocabulary.size() <= bytes + 1, "one token per line at most");
  vocabulary.for_each([&](std::string_view token, eigenformer::TokenId id) {
    require(vocabulary.find(token) == id, "find() gives each token's id");
    require(vocabulary.find_token(id) == token, "find_token() gives each id's token");
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static eigenformer::fuzz::MemoryFile file;
  std::string contents = size > 0 && (data[0] & 1) ? "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n" : "";
  contents.append(reinterpret_cast<const char*>(data), size);
  const std::string& path =
      file.write(reinterpret_cast<const std::uint8_t*>(contents.data()), contents.size());
  eigenformer::fuzz::expect_load_or_error([&] {
    check_vocabulary(eigenformer::Vocabulary::read_vocab_txt(path), contents.size());
    const auto tokenizer = eigenformer::BertTokenizer::from_vocab_file(path);
    eigenformer::fuzz::exercise_loaded_tokenizer(tokenizer, std::string_view(contents));
  });
  return 0;
}
