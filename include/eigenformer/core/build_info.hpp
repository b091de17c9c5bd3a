#pragma once
// What this build of eigenformer runs with: the kernel variant chosen at run time for the hot
// float kernels (kernels/cpu_features.hpp), the SIMD instruction sets the rest was compiled for
// (Eigen's packet types follow the compiler's flags: SSE2 in a plain x86-64 build), what the CPU
// offers beyond them, and the threads OpenMP gives it. `text-encoder --version` prints it.

#include <eigenformer/core/threading.hpp>
#include <eigenformer/core/types.hpp>
#include <eigenformer/kernels/cpu_features.hpp>

#include <string>

namespace eigenformer {

// The library's version; CMakeLists.txt's project(VERSION) is the same.
inline constexpr const char* kVersion = "0.1.0";

struct BuildInfo {
  std::string kernels;   // the run-time variant of the hot kernels: "avx512", "avx2", "baseline"
  std::string compiled;  // instruction sets compiled in ("SSE, SSE2", "AVX2, FMA", ...)
  std::string cpu;       // instruction sets this CPU offers beyond `compiled`, empty if none
  bool openmp = false;   // compiled with OpenMP: threads available
  int threads = 1;       // threads later calls use (set_num_threads)
  std::string compiler;
};

namespace detail {

// The wider x86 instruction sets the CPU supports but this translation unit was not compiled
// for: the speed a -march=native (or -mavx2 -mfma) build would add.
inline std::string unused_cpu_features() {
  std::string unused;
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
  [[maybe_unused]] auto add = [&](const char* name) {
    unused += unused.empty() ? name : std::string(", ") + name;
  };
#ifndef __AVX2__
  if (__builtin_cpu_supports("avx2")) add("AVX2");
#endif
#ifndef __FMA__
  if (__builtin_cpu_supports("fma")) add("FMA");
#endif
#ifndef __AVX512F__
  if (__builtin_cpu_supports("avx512f")) add("AVX-512F");
#endif
#endif
  return unused;
}

}  // namespace detail

inline BuildInfo build_info() {
  BuildInfo info;
  info.kernels = kernel_variant_name(kernel_variant());
  info.compiled = Eigen::SimdInstructionSetsInUse();
  info.cpu = detail::unused_cpu_features();
#ifdef _OPENMP
  info.openmp = true;
#endif
  info.threads = num_threads();
#if defined(__clang__)
  info.compiler = std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  info.compiler = std::string("gcc ") + __VERSION__;
#endif
  return info;
}

// One line for a --version output, e.g. "eigenformer 0.1.0; kernels: avx512 (chosen at run
// time; other code compiled for SSE, SSE2; -march=native would widen it); threads: 2 (OpenMP)".
inline std::string build_info_string() {
  const BuildInfo info = build_info();
  std::string text = std::string("eigenformer ") + kVersion + "; kernels: " + info.kernels +
                     " (chosen at run time; other code compiled for " + info.compiled;
  if (!info.cpu.empty()) {
    text += "; this CPU also has " + info.cpu;
    if (info.kernels == kernel_variant_name(KernelVariant::Baseline) &&
        best_kernel_variant() != KernelVariant::Baseline)
      text += std::string(", unused: EIGENFORMER_KERNELS or set_kernel_variant chose baseline");
    else
      text += ", which -march=native would use there too";
  }
  text += "); threads: " + std::to_string(info.threads) +
          (info.openmp ? " (OpenMP)" : " (built without OpenMP: one thread)");
  return text;
}

}  // namespace eigenformer
