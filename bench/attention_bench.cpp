// One head of scaled dot-product attention (head width 64) at growing sequence lengths:
// the materialised path against the blocked online-softmax path.

#include <eigenformer/attention/scaled_dot_product_attention.hpp>

#include <benchmark/benchmark.h>

#include <random>

namespace {

using eigenformer::Index;
using eigenformer::Matrix;

Matrix<float> random_matrix(Index rows, Index cols, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  Matrix<float> m(rows, cols);
  for (Index i = 0; i < m.size(); ++i) m.data()[i] = normal(rng);
  return m;
}

void SelfAttentionHead(benchmark::State& state) {
  const Index length = state.range(0);
  const Matrix<float> q = random_matrix(length, 64, 1), k = random_matrix(length, 64, 2),
                      v = random_matrix(length, 64, 3);
  Matrix<float> out(length, 64), workspace;
  const auto mask = eigenformer::AttentionMask<float>();
  for (auto _ : state) {
    eigenformer::scaled_dot_product_attention<float>(q, k, v, mask, 0.125f, out, workspace);
    benchmark::DoNotOptimize(out.data());
  }
}

BENCHMARK(SelfAttentionHead)->RangeMultiplier(4)->Range(128, 8192)->Unit(benchmark::kMillisecond);

}  // namespace
