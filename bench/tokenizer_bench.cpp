// Throughput of the BERT WordPiece tokenizer (bytes of UTF-8 input per second) with the
// bert-base-uncased vocabulary, on generated text that mixes English with accented Latin,
// Cyrillic, Greek, CJK, kana, Hangul, Arabic, emoji, numbers and punctuation.
//
// Needs EIGENFORMER_TEST_DATA (the tests/data directory) as a compile definition.

#include <eigenformer/text/bert_tokenizer.hpp>

#include <benchmark/benchmark.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace {

using eigenformer::BertTokenizer;
using eigenformer::EncodeOptions;

const BertTokenizer& tokenizer() {
  static const BertTokenizer instance = BertTokenizer::from_vocab_file(
      std::string(EIGENFORMER_TEST_DATA) + "/bert/bert-base-uncased-vocab.txt");
  return instance;
}

const std::vector<std::string>& multilingual_fragments() {
  static const std::vector<std::string> fragments{
      "The quick brown fox jumps over the lazy dog.",
      "Self-attention weighs every token against every other token;",
      "tokenization isn't trivial, e.g. U.S.A. & co. (see https://example.org/a?b=c)",
      "Le c\u0153ur a ses raisons que la raison ne conna\u00eet point.",
      "Stra\u00dfe, M\u00fcller und \u00c4rger \u00fcber \u00d6l",
      "el ni\u00f1o comi\u00f3 pi\u00f1a en Espa\u00f1a",
      "\u041f\u0440\u0438\u0432\u0435\u0442, \u043a\u0430\u043a \u0434\u0435\u043b\u0430?",
      "\u039a\u03b1\u03bb\u03b7\u03bc\u03ad\u03c1\u03b1 \u03ba\u03cc\u03c3\u03bc\u03b5",
      "\u6570\u5b66\u3068\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8",
      "\ud55c\uad6d\uc5b4 \ubb38\uc7a5\uc785\ub2c8\ub2e4",
      "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645",
      "emoji \U0001F642\U0001F680 and symbols \u00a9\u00ae\u2122",
      "numbers 3.14159, 2,718 and 1e-9 at 12:45 on 2024-01-31",
      "supercalifragilisticexpialidocious antidisestablishmentarianism"};
  return fragments;
}

// Deterministic text of at least `bytes` bytes: fragments picked by a linear congruential
// generator, separated by spaces or newlines.
std::string generated_text(std::size_t bytes, const std::vector<std::string>& fragments) {
  std::uint64_t state = 42;
  std::string text;
  while (text.size() < bytes) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    text += fragments[(state >> 33) % fragments.size()];
    text += (state >> 20) % 8 == 0 ? '\n' : ' ';
  }
  return text;
}

EncodeOptions no_length_limit() {
  EncodeOptions options;
  options.truncation.enabled = false;
  options.truncation.max_length = std::numeric_limits<eigenformer::Index>::max();
  return options;
}

void encode_document(benchmark::State& state, const std::vector<std::string>& fragments) {
  const auto& bert = tokenizer();
  const std::string text = generated_text(static_cast<std::size_t>(state.range(0)), fragments);
  const EncodeOptions options = no_length_limit();
  std::size_t tokens = 0;
  for (auto _ : state) {
    auto encoding = bert.encode(text, options);
    tokens = encoding.ids.size();
    benchmark::DoNotOptimize(encoding.ids.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
  state.counters["tokens"] = static_cast<double>(tokens);
}

void BM_EncodeMultilingualDocument(benchmark::State& state) {
  encode_document(state, multilingual_fragments());
}
BENCHMARK(BM_EncodeMultilingualDocument)->Arg(1 << 16)->Arg(1 << 20)->Unit(benchmark::kMillisecond);

void BM_EncodeEnglishDocument(benchmark::State& state) {
  const auto& all = multilingual_fragments();
  encode_document(state, {all[0], all[1], all[2], all[12], all[13]});
}
BENCHMARK(BM_EncodeEnglishDocument)->Arg(1 << 20)->Unit(benchmark::kMillisecond);

// The usual model input: a batch of sentence-sized texts, padded, truncated at 512.
void BM_EncodeBatch(benchmark::State& state) {
  const auto& bert = tokenizer();
  std::vector<std::string> texts;
  std::size_t bytes = 0;
  for (int i = 0; i < state.range(0); ++i) {
    const auto& fragments = multilingual_fragments();
    texts.push_back(
        generated_text(64 + static_cast<std::size_t>(i % 7) * 48,
                       {fragments[static_cast<std::size_t>(i) % fragments.size()],
                        fragments[static_cast<std::size_t>(i * 5 + 3) % fragments.size()]}));
    bytes += texts.back().size();
  }
  for (auto _ : state) {
    auto batch = bert.encode_batch(texts);
    benchmark::DoNotOptimize(batch.ids.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
}
BENCHMARK(BM_EncodeBatch)->Arg(64)->Unit(benchmark::kMillisecond);

}  // namespace
