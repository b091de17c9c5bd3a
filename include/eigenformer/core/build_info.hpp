#pragma once
// What this build of eigenformer runs with: the SIMD instruction sets its kernels were compiled
// for, what the CPU offers, and the threads OpenMP gives it. Kernels follow the compiler's flags
// (Eigen's packet types are fixed at compile time), so a build without -march gets SSE2 on
// x86-64 whatever the CPU supports; this says so, and `text-encoder --version` prints it.

#include <eigenformer/core/threading.hpp>
#include <eigenformer/core/types.hpp>

#include <string>

namespace eigenformer {

// The library's version; CMakeLists.txt's project(VERSION) is the same.
inline constexpr const char* kVersion = "0.1.0";

struct BuildInfo {
  std::string kernels;  // instruction sets compiled in ("SSE, SSE2", "AVX2, FMA", ...)
  std::string cpu;      // instruction sets this CPU offers beyond them, empty if none known
  bool openmp = false;  // compiled with OpenMP: threads available
  int threads = 1;      // threads later calls use (set_num_threads)
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
  info.kernels = Eigen::SimdInstructionSetsInUse();
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

// One line for a --version output.
inline std::string build_info_string() {
  const BuildInfo info = build_info();
  std::string text = std::string("eigenformer ") + kVersion + "; kernels: " + info.kernels +
                     "; threads: " + std::to_string(info.threads) +
                     (info.openmp ? " (OpenMP)" : " (built without OpenMP: one thread)");
  if (!info.cpu.empty())
    text +=
        "; this CPU also has " + info.cpu + ", unused by this build (compile with -march=native)";
  return text;
}

}  // namespace eigenformer
