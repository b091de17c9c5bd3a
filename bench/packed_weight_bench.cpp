// x W^T for the encoder's projection shapes on one thread: Eigen's GEMM (which repacks W
// on every call) against PackedWeight (packed once). Arguments: rows, in_features,
// out_features; the `GFLOPS` counter is 2 * rows * in * out per second.

#include <eigenformer/core/threading.hpp>
#include <eigenformer/nn/packed_weight.hpp>

#include <benchmark/benchmark.h>

#include <vector>

namespace {

using eigenformer::Index;
using eigenformer::Matrix;

struct Product {
  explicit Product(const benchmark::State& state)
      : x(Matrix<float>::Random(state.range(0), state.range(1))),
        w(Matrix<float>::Random(state.range(2), state.range(1))),
        out(state.range(0), state.range(2)) {}
  void count(benchmark::State& state) const {
    state.counters["GFLOPS"] = benchmark::Counter(2.0 * x.rows() * x.cols() * w.rows() / 1e9,
                                                  benchmark::Counter::kIsIterationInvariantRate);
  }
  Matrix<float> x, w, out;
};

void EigenProduct(benchmark::State& state) {
  Eigen::setNbThreads(1);
  Product p(state);
  for (auto _ : state) {
    p.out.noalias() = p.x * p.w.transpose();
    benchmark::DoNotOptimize(p.out.data());
  }
  p.count(state);
}

void PackedProduct(benchmark::State& state) {
  const int threads = eigenformer::num_threads();
  eigenformer::set_num_threads(1);
  Product p(state);
  const eigenformer::PackedWeight<float> packed(p.w);
  for (auto _ : state) {
    packed.multiply(p.x, p.out);
    benchmark::DoNotOptimize(p.out.data());
  }
  p.count(state);
  eigenformer::set_num_threads(threads);
}

// MiniLM-L6 (hidden 384) and BERT-base (768) at 128 tokens: QKV, attention output,
// intermediate, output; and MiniLM's intermediate at 8 x 128 tokens.
void Shapes(benchmark::internal::Benchmark* b) {
  for (const auto& shape : std::vector<std::vector<int64_t>>{{128, 384, 1152},
                                                             {128, 384, 1536},
                                                             {128, 1536, 384},
                                                             {1024, 384, 1536},
                                                             {128, 768, 2304},
                                                             {128, 768, 3072},
                                                             {128, 3072, 768}})
    b->Args(shape);
  b->Unit(benchmark::kMillisecond);
}

BENCHMARK(EigenProduct)->Apply(Shapes);
BENCHMARK(PackedProduct)->Apply(Shapes);

}  // namespace
