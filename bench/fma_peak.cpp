// The machine's float32 FMA peak: independent chains of AVX-512 and AVX2 FMAs (12 per
// iteration, more than latency x throughput), compiled through target attributes as the
// kernels are, on 1 thread and on every OpenMP thread at once. Prints GFLOP/s (2 per lane).
// Usage: fma_peak [seconds per measurement, default 0.5]

#include <eigenformer/core/threading.hpp>
#include <eigenformer/kernels/cpu_features.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>

#if EIGENFORMER_X86_DISPATCH
#include <immintrin.h>

namespace {

constexpr int kChains = 12;

// `iterations` rounds of kChains independent FMAs; returns a value so nothing is dropped.
__attribute__((target("avx512f"))) float run_512(long iterations) {
  __m512 acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm512_set1_ps(0.001f * static_cast<float>(c));
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (long i = 0; i < iterations; ++i)
#pragma GCC unroll 12
    for (int c = 0; c < kChains; ++c) acc[c] = _mm512_fmadd_ps(acc[c], a, b);
  float sum = 0;
  for (int c = 0; c < kChains; ++c) sum += _mm512_cvtss_f32(acc[c]);
  return sum;
}

__attribute__((target("avx2,fma"))) float run_256(long iterations) {
  __m256 acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm256_set1_ps(0.001f * static_cast<float>(c));
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (long i = 0; i < iterations; ++i)
#pragma GCC unroll 12
    for (int c = 0; c < kChains; ++c) acc[c] = _mm256_fmadd_ps(acc[c], a, b);
  float sum = 0;
  for (int c = 0; c < kChains; ++c) sum += _mm256_cvtss_f32(acc[c]);
  return sum;
}

double process_seconds() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// GFLOP/s of `run` on `threads` threads together (each doing the same iterations), per
// wall-clock second and per second of CPU time the process got (x threads): on a shared
// machine the second is the core's own speed.
void measure(const char* name, float (*run)(long), int lanes, int threads, double seconds) {
  long iterations = 1 << 20;
  for (;;) {
    volatile float sink = 0;
    const double cpu_start = process_seconds();
    const auto start = std::chrono::steady_clock::now();
#ifdef _OPENMP
#pragma omp parallel num_threads(threads) reduction(+ : sink)
#endif
    sink += run(iterations);
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double cpu = process_seconds() - cpu_start;
    if (wall >= seconds) {
      const double gflop = 2.0 * lanes * kChains * static_cast<double>(iterations) * threads * 1e-9;
      std::printf("%s threads=%d GFLOP/s wall=%.1f cpu=%.1f\n", name, threads, gflop / wall,
                  gflop / cpu * threads);
      return;
    }
    iterations *= 2;
  }
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 0.5;
  const int max_threads = eigenformer::num_threads();
  for (int threads = 1; threads <= max_threads; threads *= 2) {
    if (eigenformer::kernel_variant_supported(eigenformer::KernelVariant::AVX512))
      measure("avx512", run_512, 16, threads, seconds);
    if (eigenformer::kernel_variant_supported(eigenformer::KernelVariant::AVX2))
      measure("avx2  ", run_256, 8, threads, seconds);
  }
}
#else
int main() { std::puts("fma_peak: x86 with GCC or Clang only"); }
#endif
