#pragma once
// The Winograd F(2x2, 3x3) and F(4x4, 3x3) transforms of cnn/winograd.hpp for the AVX2 and AVX-512
// variants: one implementation (winograd_impl.inc) compiled twice through function target
// attributes, so that a plain Release build vectorises them for the CPU it runs on. The dispatchers
// return false for the baseline variant (and off x86); Winograd convolutions run only where they
// return true.

#include <eigenformer/core/types.hpp>
#include <eigenformer/kernels/cpu_features.hpp>
#include <eigenformer/kernels/gemm_x86.hpp>

#include <algorithm>

#if EIGENFORMER_X86_DISPATCH

namespace eigenformer::kernels {

namespace avx2 {
#define EIGENFORMER_WINOGRAD_TARGET EIGENFORMER_TARGET_AVX2
#include <eigenformer/kernels/winograd_impl.inc>
#undef EIGENFORMER_WINOGRAD_TARGET
}  // namespace avx2

namespace avx512 {
#define EIGENFORMER_WINOGRAD_TARGET EIGENFORMER_TARGET_AVX512
#include <eigenformer/kernels/winograd_impl.inc>
#undef EIGENFORMER_WINOGRAD_TARGET
}  // namespace avx512

}  // namespace eigenformer::kernels

#endif  // EIGENFORMER_X86_DISPATCH

namespace eigenformer::kernels {

// avx2:: / avx512::winograd_input (`tile` 2: F(2x2, 3x3)) or winograd_input4 (`tile` 4:
// F(4x4, 3x3)) for `variant`; false for the baseline.
inline bool winograd_input(KernelVariant variant, int tile, const float* plane, Index height,
                           Index width, Index padding, Index ty, Index tx0, Index count,
                           float* scratch, float* v, Index v_stride) {
#if EIGENFORMER_X86_DISPATCH
  if (variant == KernelVariant::AVX512) {
    if (tile == 4)
      avx512::winograd_input4(plane, height, width, padding, ty, tx0, count, scratch, v, v_stride);
    else
      avx512::winograd_input(plane, height, width, padding, ty, tx0, count, scratch, v, v_stride);
    return true;
  }
  if (variant == KernelVariant::AVX2) {
    if (tile == 4)
      avx2::winograd_input4(plane, height, width, padding, ty, tx0, count, scratch, v, v_stride);
    else
      avx2::winograd_input(plane, height, width, padding, ty, tx0, count, scratch, v, v_stride);
    return true;
  }
#else
  (void)variant, (void)tile, (void)plane, (void)height, (void)width, (void)padding, (void)ty,
      (void)tx0;
  (void)count, (void)scratch, (void)v, (void)v_stride;
#endif
  return false;
}

// avx2:: / avx512::winograd_output (`tile` 2) or winograd_output4 (`tile` 4) for `variant`;
// false for the baseline.
inline bool winograd_output(KernelVariant variant, int tile, const float* m, Index m_stride,
                            Index count, float bias, float* y) {
#if EIGENFORMER_X86_DISPATCH
  if (variant == KernelVariant::AVX512) {
    if (tile == 4)
      avx512::winograd_output4(m, m_stride, count, bias, y);
    else
      avx512::winograd_output(m, m_stride, count, bias, y);
    return true;
  }
  if (variant == KernelVariant::AVX2) {
    if (tile == 4)
      avx2::winograd_output4(m, m_stride, count, bias, y);
    else
      avx2::winograd_output(m, m_stride, count, bias, y);
    return true;
  }
#else
  (void)variant, (void)tile, (void)m, (void)m_stride, (void)count, (void)bias, (void)y;
#endif
  return false;
}

// The GEMM micro-kernel of `variant` (kernels/gemm_x86.hpp) on one tile: c[0:rows, 0:panel] =
// a[0:rows, 0:depth] b[0:depth, 0:panel] (+ c when `accumulate`); false for the baseline.
inline bool gemm_tile(KernelVariant variant, Index rows, Index depth, const float* a, Index lda,
                      const float* b, Index ldb, float* c, Index ldc, bool accumulate) {
#if EIGENFORMER_X86_DISPATCH
  if (variant == KernelVariant::AVX512) {
    gemm_tile_avx512(rows, depth, a, lda, b, ldb, nullptr, nullptr, c, ldc, accumulate);
    return true;
  }
  if (variant == KernelVariant::AVX2) {
    gemm_tile_avx2(rows, depth, a, lda, b, ldb, nullptr, nullptr, c, ldc, accumulate);
    return true;
  }
#else
  (void)variant, (void)rows, (void)depth, (void)a, (void)lda, (void)b, (void)ldb, (void)c;
  (void)ldc, (void)accumulate;
#endif
  return false;
}

// Pixels per panel of `variant`'s GEMM micro-kernel: 32 (AVX-512), 16 (AVX2), 0 (baseline).
inline Index gemm_panel_width(KernelVariant variant) {
  return variant == KernelVariant::AVX512 ? 32 : variant == KernelVariant::AVX2 ? 16 : 0;
}

}  // namespace eigenformer::kernels
