#pragma once
// Which float32 kernels run: chosen once at run time from what the CPU (and the OS, which must
// save the wider registers) supports, not from the consumer's compiler flags, so a plain
// Release build on an AVX2 or AVX-512 machine gets the wide kernels. The choice can be forced
// with the environment variable EIGENFORMER_KERNELS=baseline|avx2|avx512 (read at the first
// kernel use) or with set_kernel_variant(); a variant the CPU lacks is refused.
//
// Baseline is the portable Eigen code compiled with the consumer's flags (SSE2 in a plain
// x86-64 build, AVX-512 under -march=native on such a CPU, NEON on ARM). The AVX2 and AVX-512
// variants exist on x86 with GCC or Clang only, which compile functions for a wider target
// than the translation unit's (`__attribute__((target))`).

#include <eigenformer/core/error.hpp>

#include <atomic>
#include <cstdlib>
#include <string>

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define EIGENFORMER_X86_DISPATCH 1
#else
#define EIGENFORMER_X86_DISPATCH 0
#endif

namespace eigenformer {

enum class KernelVariant {
  Baseline,  // Eigen's packets, as wide as the compiler flags allow
  AVX2,      // 256-bit AVX2 + FMA intrinsics
  AVX512,    // 512-bit AVX-512F intrinsics
};

// "baseline", "avx2", "avx512": the names EIGENFORMER_KERNELS takes.
inline const char* kernel_variant_name(KernelVariant variant) {
  switch (variant) {
    case KernelVariant::AVX2:
      return "avx2";
    case KernelVariant::AVX512:
      return "avx512";
    case KernelVariant::Baseline:
      break;
  }
  return "baseline";
}

inline KernelVariant parse_kernel_variant(const std::string& name) {
  if (name == "baseline") return KernelVariant::Baseline;
  if (name == "avx2") return KernelVariant::AVX2;
  if (name == "avx512") return KernelVariant::AVX512;
  throw InvalidArgument("unknown kernel variant '" + name +
                        "' (expected baseline, avx2 or avx512)");
}

namespace detail {

// The widest variant treated as supported, for tests of a CPU without AVX2 or AVX-512.
inline std::atomic<int> kernel_variant_limit{static_cast<int>(KernelVariant::AVX512)};

}  // namespace detail

// Whether this CPU and OS can run `variant` and this compiler built it. GCC's and Clang's
// __builtin_cpu_supports check the OS too (xgetbv: YMM / ZMM and mask state enabled in XCR0).
inline bool kernel_variant_supported(KernelVariant variant) {
  if (static_cast<int>(variant) > detail::kernel_variant_limit.load(std::memory_order_relaxed))
    return false;
  switch (variant) {
    case KernelVariant::Baseline:
      return true;
#if EIGENFORMER_X86_DISPATCH
    case KernelVariant::AVX2:
      __builtin_cpu_init();
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case KernelVariant::AVX512:
      __builtin_cpu_init();
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") &&
             __builtin_cpu_supports("fma");
#else
    default:
      return false;
#endif
  }
  return false;
}

// The widest variant this CPU supports: what runs unless forced otherwise.
inline KernelVariant best_kernel_variant() {
  for (KernelVariant variant : {KernelVariant::AVX512, KernelVariant::AVX2})
    if (kernel_variant_supported(variant)) return variant;
  return KernelVariant::Baseline;
}

namespace detail {

inline void check_kernel_variant(KernelVariant variant, const std::string& source) {
  if (!kernel_variant_supported(variant))
    throw InvalidArgument(source + ": this CPU (or this build: x86 with GCC or Clang only) " +
                          "cannot run the " + kernel_variant_name(variant) +
                          " kernels; the best it supports is " +
                          kernel_variant_name(best_kernel_variant()));
}

// The variant EIGENFORMER_KERNELS names (checked), or the best one when it is unset or empty.
inline KernelVariant kernel_variant_from_environment() {
  const char* value = std::getenv("EIGENFORMER_KERNELS");
  if (value == nullptr || *value == '\0') return best_kernel_variant();
  const std::string source = std::string("EIGENFORMER_KERNELS=") + value;
  KernelVariant variant;
  try {
    variant = parse_kernel_variant(value);
  } catch (const InvalidArgument& error) {
    throw InvalidArgument(source + ": " + error.what());
  }
  check_kernel_variant(variant, source);
  return variant;
}

// -1 until set_kernel_variant() is called.
inline std::atomic<int> forced_kernel_variant{-1};

}  // namespace detail

// The variant kernels use from now on: set_kernel_variant()'s, else EIGENFORMER_KERNELS's
// (read once; an unknown or unsupported value throws InvalidArgument here), else the best.
inline KernelVariant kernel_variant() {
  const int forced = detail::forced_kernel_variant.load(std::memory_order_relaxed);
  if (forced >= 0) return static_cast<KernelVariant>(forced);
  static const KernelVariant from_environment = detail::kernel_variant_from_environment();
  return from_environment;
}

// Forces `variant` for all threads (InvalidArgument if the CPU cannot run it). A weight is
// packed for the variant current when it is loaded and keeps it; attention follows at once.
inline void set_kernel_variant(KernelVariant variant) {
  detail::check_kernel_variant(
      variant, std::string("set_kernel_variant(") + kernel_variant_name(variant) + ")");
  detail::forced_kernel_variant.store(static_cast<int>(variant), std::memory_order_relaxed);
}

}  // namespace eigenformer
