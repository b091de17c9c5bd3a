// One head of self-attention (head width 64) at growing sequence lengths: the
// materialised path against the blocked online-softmax path (the dispatcher switches to the
// blocked one above kMaterializedKeyLimit keys).

#include <eigenformer/attention/blocked_attention.hpp>
#include <eigenformer/attention/materialized_attention.hpp>

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

struct Head {
  explicit Head(Index length)
      : q(random_matrix(length, 64, 1)),
        k(random_matrix(length, 64, 2)),
        v(random_matrix(length, 64, 3)),
        out(length, 64) {}
  Matrix<float> q, k, v, out;
};

void Materialized(benchmark::State& state) {
  Head head(state.range(0));
  Matrix<float> probabilities;
  for (auto _ : state) {
    eigenformer::materialized_attention<float>(head.q, head.k, head.v, {}, 0.125f, head.out,
                                               probabilities);
    benchmark::DoNotOptimize(head.out.data());
  }
}

void Blocked(benchmark::State& state) {
  Head head(state.range(0));
  eigenformer::BlockedAttentionWorkspace<float> workspace;
  for (auto _ : state) {
    eigenformer::blocked_attention<float>(head.q, head.k, head.v, {}, 0.125f, head.out, workspace);
    benchmark::DoNotOptimize(head.out.data());
  }
}

BENCHMARK(Materialized)->RangeMultiplier(4)->Range(128, 8192)->Unit(benchmark::kMillisecond);
BENCHMARK(Blocked)->RangeMultiplier(4)->Range(128, 8192)->Unit(benchmark::kMillisecond);

}  // namespace
