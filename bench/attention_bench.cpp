// One head of self-attention (head width 64) at growing sequence lengths: the
// materialised path against the blocked online-softmax path (the dispatcher switches to the
// blocked one above kMaterializedKeyLimit keys).

#include <eigenformer/attention/attend_heads.hpp>
#include <eigenformer/attention/blocked_attention.hpp>
#include <eigenformer/attention/materialized_attention.hpp>

#include <benchmark/benchmark.h>

#include <fstream>
#include <random>
#include <string>

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

// Peak resident memory of this process so far (Linux: VmHWM in /proc/self/status), in MiB.
double peak_resident_mib() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return 0.0;
}

// Issue #6's memory bound: self-attention with 8 heads of width 64 at L = 16384 within
// 64 MB beyond its inputs and output (the materialised path would need 1 GiB per head).
// Reports `extra_MiB`, the growth of peak resident memory during the call.
void EightHeadsLongSequence(benchmark::State& state) {
  const Index length = state.range(0), heads = 8;
  const Matrix<float> qkv = Matrix<float>::Random(length, 3 * heads * 64);
  Matrix<float> context = Matrix<float>::Zero(length, heads * 64);
  const auto batch = eigenformer::SequenceBatch::uniform(1, length);
  const double before = peak_resident_mib();
  for (auto _ : state) {
    eigenformer::attend_heads<float>(qkv.leftCols(heads * 64),
                                     qkv.middleCols(heads * 64, heads * 64),
                                     qkv.rightCols(heads * 64), heads, batch, batch, {}, context);
    benchmark::DoNotOptimize(context.data());
  }
  state.counters["extra_MiB"] = peak_resident_mib() - before;
}

BENCHMARK(EightHeadsLongSequence)->Arg(16384)->Iterations(1)->Unit(benchmark::kSecond);
BENCHMARK(Materialized)->RangeMultiplier(4)->Range(128, 8192)->Unit(benchmark::kMillisecond);
BENCHMARK(Blocked)->RangeMultiplier(4)->Range(128, 8192)->Unit(benchmark::kMillisecond);

}  // namespace
