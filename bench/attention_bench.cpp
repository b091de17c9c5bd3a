// Attention at growing sequence lengths: one head of width 64 through the materialised path,
// the blocked online-softmax path and the dispatcher (scaled_dot_product_attention, which
// picks one of them), and 8 heads of self-attention at L = 16384 through attend_heads (heads
// in parallel). The second argument is the thread count; `GFLOP/s` counts 4 L^2 d flops per
// head (Q K^T and P V) per second of CPU time (one head) or of wall-clock time (8 heads, where
// `GFLOP/s_per_core` divides by the CPU time of all threads instead), to compare with
// bench/fma_peak's per-core peak: on a shared machine CPU time is what the code got.

#include <eigenformer/attention/attend_heads.hpp>
#include <eigenformer/attention/blocked_attention.hpp>
#include <eigenformer/attention/materialized_attention.hpp>
#include <eigenformer/attention/scaled_dot_product_attention.hpp>
#include <eigenformer/core/threading.hpp>

#include <benchmark/benchmark.h>

#include <ctime>
#include <fstream>
#include <random>
#include <string>

namespace {

using eigenformer::Index;
using eigenformer::Matrix;

constexpr Index kHeadWidth = 64;

Matrix<float> random_matrix(Index rows, Index cols, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  Matrix<float> m(rows, cols);
  for (Index i = 0; i < m.size(); ++i) m.data()[i] = normal(rng);
  return m;
}

struct Head {
  explicit Head(Index length)
      : q(random_matrix(length, kHeadWidth, 1)),
        k(random_matrix(length, kHeadWidth, 2)),
        v(random_matrix(length, kHeadWidth, 3)),
        out(length, kHeadWidth) {}
  Matrix<float> q, k, v, out;
};

// Flops of Q K^T and P V for `heads` heads of self-attention over `length` tokens.
void count_flops(benchmark::State& state, Index length, Index heads) {
  state.counters["GFLOP/s"] = benchmark::Counter(
      4.0 * static_cast<double>(length) * static_cast<double>(length) * kHeadWidth * heads * 1e-9,
      benchmark::Counter::kIsIterationInvariantRate);
}

void Materialized(benchmark::State& state) {
  eigenformer::set_num_threads(static_cast<int>(state.range(1)));
  Head head(state.range(0));
  Matrix<float> probabilities;
  for (auto _ : state) {
    eigenformer::materialized_attention<float>(head.q, head.k, head.v, {}, 0.125f, head.out,
                                               probabilities);
    benchmark::DoNotOptimize(head.out.data());
  }
  count_flops(state, state.range(0), 1);
}

void Blocked(benchmark::State& state) {
  eigenformer::set_num_threads(static_cast<int>(state.range(1)));
  Head head(state.range(0));
  eigenformer::BlockedAttentionWorkspace<float> workspace;
  for (auto _ : state) {
    eigenformer::blocked_attention<float>(head.q, head.k, head.v, {}, 0.125f, head.out, workspace);
    benchmark::DoNotOptimize(head.out.data());
  }
  count_flops(state, state.range(0), 1);
}

void Dispatched(benchmark::State& state) {
  eigenformer::set_num_threads(static_cast<int>(state.range(1)));
  Head head(state.range(0));
  eigenformer::AttentionWorkspace<float> workspace;
  for (auto _ : state) {
    eigenformer::scaled_dot_product_attention<float>(head.q, head.k, head.v, {}, 0.125f, head.out,
                                                     workspace);
    benchmark::DoNotOptimize(head.out.data());
  }
  count_flops(state, state.range(0), 1);
}

double process_cpu_seconds() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
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
// Reports `extra_MiB`, the growth of peak resident memory during the call (0 after the
// first run in this process, whose peak it already includes).
void EightHeadsLongSequence(benchmark::State& state) {
  const Index length = state.range(0), heads = 8;
  eigenformer::set_num_threads(static_cast<int>(state.range(1)));
  const Matrix<float> qkv = Matrix<float>::Random(length, 3 * heads * kHeadWidth);
  Matrix<float> context = Matrix<float>::Zero(length, heads * kHeadWidth);
  const auto batch = eigenformer::SequenceBatch::uniform(1, length);
  const Index width = heads * kHeadWidth;
  const double before = peak_resident_mib();
  const double cpu_start = process_cpu_seconds();
  for (auto _ : state) {
    eigenformer::attend_heads<float>(qkv.leftCols(width), qkv.middleCols(width, width),
                                     qkv.rightCols(width), heads, batch, batch, {}, context);
    benchmark::DoNotOptimize(context.data());
  }
  const double cpu = process_cpu_seconds() - cpu_start;
  state.counters["extra_MiB"] = peak_resident_mib() - before;
  count_flops(state, length, heads);
  state.counters["GFLOP/s_per_core"] = 4.0 * static_cast<double>(length) *
                                       static_cast<double>(length) * kHeadWidth * heads *
                                       static_cast<double>(state.iterations()) * 1e-9 / cpu;
}

void Lengths(benchmark::internal::Benchmark* b) {
  for (int threads : {1, 2})
    for (Index length : {64, 128, 256, 512, 1024, 2048, 4096}) b->Args({length, threads});
}

BENCHMARK(EightHeadsLongSequence)
    ->Args({16384, 1})
    ->Args({16384, 2})
    ->Iterations(1)
    ->UseRealTime()
    ->Unit(benchmark::kSecond);
BENCHMARK(Materialized)->Apply(Lengths)->Unit(benchmark::kMillisecond);
BENCHMARK(Blocked)->Apply(Lengths)->Unit(benchmark::kMillisecond);
BENCHMARK(Dispatched)->Apply(Lengths)->Unit(benchmark::kMillisecond);

}  // namespace
