// BertModel forward pass at the MiniLM-L6 and BERT-base shapes with random weights, batch 1
// and 8 at sequence length 128. Threads: Eigen's and OpenMP's default (one per core); set
// OMP_NUM_THREADS to change it.

#include <eigenformer/models/bert/model.hpp>

#include <benchmark/benchmark.h>

#include "random_weights.hpp"

#include <map>
#include <random>

namespace {

using eigenformer::BertConfig;
using eigenformer::BertModel;
using eigenformer::Index;

BertConfig shape(Index layers, Index hidden, Index heads, Index ffn) {
  BertConfig config;
  config.num_hidden_layers = layers;
  config.hidden_size = hidden;
  config.num_attention_heads = heads;
  config.intermediate_size = ffn;
  return config;
}

BertModel<float> random_model(const BertConfig& config) {
  const auto weights = eigenformer::bench::random_state_dict("random");
  // The pooler is optional, and a generating dict holds only what was asked for: ask first,
  // so the model has one as bert-base does.
  const Index h = config.hidden_size;
  weights.at("pooler.dense.weight", {h, h});
  weights.at("pooler.dense.bias", {h});
  return BertModel<float>::load(weights, config);
}

void run_forward(benchmark::State& state, const BertConfig& config) {
  static std::map<Index, BertModel<float>> cache;
  auto found = cache.find(config.num_hidden_layers * 100000 + config.hidden_size);
  if (found == cache.end())
    found =
        cache.emplace(config.num_hidden_layers * 100000 + config.hidden_size, random_model(config))
            .first;
  const BertModel<float>& model = found->second;
  const Index batch = state.range(0), seq = state.range(1);
  std::mt19937 rng(7);
  std::uniform_int_distribution<std::int64_t> token(1000, config.vocab_size - 1);
  eigenformer::TokenIdVector ids(batch * seq);
  for (Index i = 0; i < ids.size(); ++i) ids[i] = token(rng);
  const eigenformer::TokenIdVector types = eigenformer::TokenIdVector::Zero(ids.size());
  const auto sequences = eigenformer::SequenceBatch::uniform(batch, seq);
  eigenformer::BertWorkspace<float> workspace;
  for (auto _ : state) {
    auto out = model.forward_packed(ids, types, sequences, false, &workspace);
    benchmark::DoNotOptimize(out.last_hidden_state.data());
  }
  state.SetItemsProcessed(state.iterations() * batch);
}

void MiniLM_L6(benchmark::State& state) { run_forward(state, shape(6, 384, 12, 1536)); }
void BERT_base(benchmark::State& state) { run_forward(state, shape(12, 768, 12, 3072)); }

BENCHMARK(MiniLM_L6)->Args({1, 128})->Args({8, 128})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BERT_base)->Args({1, 128})->Args({8, 128})->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
