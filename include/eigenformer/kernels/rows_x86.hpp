#pragma once
// Float32 element-wise and row kernels for the AVX2 and AVX-512 variants: GELU (erf form),
// ReLU, SiLU, sigmoid and tanh-GELU, softmax and LayerNorm rows, and the depthwise
// convolution's tap sums. One implementation (row_kernels_impl.inc) is compiled twice, over
// the vector wrappers below. The dispatchers at the end return false for the baseline variant
// (and off x86), and the caller then runs its Eigen code.

#include <eigenformer/core/types.hpp>
#include <eigenformer/kernels/cpu_features.hpp>
#include <eigenformer/kernels/gemm_x86.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

namespace eigenformer::kernels {

// The element-wise activations with run-time kernels besides GELU (erf form).
enum class RowActivation { ReLU, SiLU, Sigmoid, GELUTanh };

}  // namespace eigenformer::kernels

#if EIGENFORMER_X86_DISPATCH

namespace eigenformer::kernels {

namespace avx2 {

#define EIGENFORMER_ROW_TARGET EIGENFORMER_TARGET_AVX2
using V = __m256;
constexpr Index kWidth = 8;

EIGENFORMER_ROW_TARGET inline V set1(float a) { return _mm256_set1_ps(a); }
EIGENFORMER_ROW_TARGET inline V loadu(const float* p) { return _mm256_loadu_ps(p); }
EIGENFORMER_ROW_TARGET inline void storeu(float* p, V a) { _mm256_storeu_ps(p, a); }
EIGENFORMER_ROW_TARGET inline V add(V a, V b) { return _mm256_add_ps(a, b); }
EIGENFORMER_ROW_TARGET inline V sub(V a, V b) { return _mm256_sub_ps(a, b); }
EIGENFORMER_ROW_TARGET inline V mul(V a, V b) { return _mm256_mul_ps(a, b); }
EIGENFORMER_ROW_TARGET inline V div(V a, V b) { return _mm256_div_ps(a, b); }
EIGENFORMER_ROW_TARGET inline V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
EIGENFORMER_ROW_TARGET inline V max(V a, V b) { return _mm256_max_ps(a, b); }
EIGENFORMER_ROW_TARGET inline V min(V a, V b) { return _mm256_min_ps(a, b); }
EIGENFORMER_ROW_TARGET inline V floor(V a) { return _mm256_floor_ps(a); }
// 2^m for integral m in [-126, 127], through the exponent field.
EIGENFORMER_ROW_TARGET inline V pow2(V m) {
  const __m256i biased = _mm256_add_epi32(_mm256_cvtps_epi32(m), _mm256_set1_epi32(127));
  return _mm256_castsi256_ps(_mm256_slli_epi32(biased, 23));
}
// v where x >= limit or x is NaN, else 0.
EIGENFORMER_ROW_TARGET inline V zero_below(V v, V x, float limit) {
  return _mm256_and_ps(v, _mm256_cmp_ps(x, _mm256_set1_ps(limit), _CMP_NLT_UQ));
}
// x where |a| < limit, else y.
EIGENFORMER_ROW_TARGET inline V select_tiny(V a, float limit, V x, V y) {
  const V magnitude = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a);
  return _mm256_blendv_ps(y, x, _mm256_cmp_ps(magnitude, _mm256_set1_ps(limit), _CMP_LT_OQ));
}
EIGENFORMER_ROW_TARGET inline __m256i tail_mask(Index n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
// The first n < kWidth entries of p, the others `fill`; nothing beyond p + n is read.
EIGENFORMER_ROW_TARGET inline V load_partial(const float* p, Index n, V fill) {
  const __m256i mask = tail_mask(n);
  return _mm256_blendv_ps(fill, _mm256_maskload_ps(p, mask), _mm256_castsi256_ps(mask));
}
EIGENFORMER_ROW_TARGET inline V load_partial(const float* p, Index n) {
  return _mm256_maskload_ps(p, tail_mask(n));
}
EIGENFORMER_ROW_TARGET inline void store_partial(float* p, V a, Index n) {
  _mm256_maskstore_ps(p, tail_mask(n), a);
}
EIGENFORMER_ROW_TARGET inline float reduce_add(V a) {
  __m128 sum = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  sum = _mm_add_ps(sum, _mm_movehl_ps(sum, sum));
  return _mm_cvtss_f32(_mm_add_ss(sum, _mm_movehdup_ps(sum)));
}
EIGENFORMER_ROW_TARGET inline float reduce_max(V a) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  return _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)));
}

#include <eigenformer/kernels/row_kernels_impl.inc>
#undef EIGENFORMER_ROW_TARGET

}  // namespace avx2

namespace avx512 {

#define EIGENFORMER_ROW_TARGET EIGENFORMER_TARGET_AVX512
using V = __m512;
constexpr Index kWidth = 16;

EIGENFORMER_ROW_TARGET inline V set1(float a) { return _mm512_set1_ps(a); }
EIGENFORMER_ROW_TARGET inline V loadu(const float* p) { return _mm512_loadu_ps(p); }
EIGENFORMER_ROW_TARGET inline void storeu(float* p, V a) { _mm512_storeu_ps(p, a); }
EIGENFORMER_ROW_TARGET inline V add(V a, V b) { return _mm512_add_ps(a, b); }
EIGENFORMER_ROW_TARGET inline V sub(V a, V b) { return _mm512_sub_ps(a, b); }
EIGENFORMER_ROW_TARGET inline V mul(V a, V b) { return _mm512_mul_ps(a, b); }
EIGENFORMER_ROW_TARGET inline V div(V a, V b) { return _mm512_div_ps(a, b); }
EIGENFORMER_ROW_TARGET inline V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
EIGENFORMER_ROW_TARGET inline V max(V a, V b) { return _mm512_max_ps(a, b); }
EIGENFORMER_ROW_TARGET inline V min(V a, V b) { return _mm512_min_ps(a, b); }
EIGENFORMER_ROW_TARGET inline V floor(V a) {
  return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
}
EIGENFORMER_ROW_TARGET inline V pow2(V m) {
  const __m512i biased = _mm512_add_epi32(_mm512_cvtps_epi32(m), _mm512_set1_epi32(127));
  return _mm512_castsi512_ps(_mm512_slli_epi32(biased, 23));
}
EIGENFORMER_ROW_TARGET inline V zero_below(V v, V x, float limit) {
  return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, _mm512_set1_ps(limit), _CMP_NLT_UQ), v);
}
EIGENFORMER_ROW_TARGET inline V select_tiny(V a, float limit, V x, V y) {
  const V magnitude =
      _mm512_castsi512_ps(_mm512_and_epi32(_mm512_castps_si512(a), _mm512_set1_epi32(0x7fffffff)));
  return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(magnitude, _mm512_set1_ps(limit), _CMP_LT_OQ), y,
                              x);
}
EIGENFORMER_ROW_TARGET inline __mmask16 tail_mask(Index n) {
  return static_cast<__mmask16>((1u << n) - 1);
}
EIGENFORMER_ROW_TARGET inline V load_partial(const float* p, Index n, V fill) {
  return _mm512_mask_loadu_ps(fill, tail_mask(n), p);
}
EIGENFORMER_ROW_TARGET inline V load_partial(const float* p, Index n) {
  return _mm512_maskz_loadu_ps(tail_mask(n), p);
}
EIGENFORMER_ROW_TARGET inline void store_partial(float* p, V a, Index n) {
  _mm512_mask_storeu_ps(p, tail_mask(n), a);
}
EIGENFORMER_ROW_TARGET inline float reduce_add(V a) { return _mm512_reduce_add_ps(a); }
EIGENFORMER_ROW_TARGET inline float reduce_max(V a) { return _mm512_reduce_max_ps(a); }

#include <eigenformer/kernels/row_kernels_impl.inc>
#undef EIGENFORMER_ROW_TARGET

}  // namespace avx512

}  // namespace eigenformer::kernels

#endif  // EIGENFORMER_X86_DISPATCH

namespace eigenformer::kernels {

// GELU (erf form) in place on a rows x cols block with row stride `stride`.
inline bool gelu_rows([[maybe_unused]] KernelVariant variant, [[maybe_unused]] float* data,
                      [[maybe_unused]] Index rows, [[maybe_unused]] Index cols,
                      [[maybe_unused]] Index stride) {
#if EIGENFORMER_X86_DISPATCH
  if (variant == KernelVariant::AVX512) {
    for (Index r = 0; r < rows; ++r) avx512::gelu_row(data + r * stride, cols);
    return true;
  }
  if (variant == KernelVariant::AVX2) {
    for (Index r = 0; r < rows; ++r) avx2::gelu_row(data + r * stride, cols);
    return true;
  }
#endif
  return false;
}

// Softmax of a contiguous row of n >= 1 entries.
inline bool softmax_row([[maybe_unused]] KernelVariant variant, [[maybe_unused]] float* data,
                        [[maybe_unused]] Index n) {
#if EIGENFORMER_X86_DISPATCH
  if (variant == KernelVariant::AVX512) return avx512::softmax_row(data, n), true;
  if (variant == KernelVariant::AVX2) return avx2::softmax_row(data, n), true;
#endif
  return false;
}

// row = LayerNorm(row + residual) over n >= 1 features; `residual` may be null.
inline bool layer_norm_row([[maybe_unused]] KernelVariant variant, [[maybe_unused]] float* row,
                           [[maybe_unused]] const float* residual,
                           [[maybe_unused]] const float* weight, [[maybe_unused]] const float* bias,
                           [[maybe_unused]] float eps, [[maybe_unused]] Index n) {
#if EIGENFORMER_X86_DISPATCH
  if (variant == KernelVariant::AVX512)
    return avx512::layer_norm_row(row, residual, weight, bias, eps, n), true;
  if (variant == KernelVariant::AVX2)
    return avx2::layer_norm_row(row, residual, weight, bias, eps, n), true;
#endif
  return false;
}

// ReLU, SiLU, sigmoid or tanh-GELU in place on a rows x cols block with row stride `stride`.
inline bool activation_rows([[maybe_unused]] KernelVariant variant,
                            [[maybe_unused]] RowActivation activation, [[maybe_unused]] float* data,
                            [[maybe_unused]] Index rows, [[maybe_unused]] Index cols,
                            [[maybe_unused]] Index stride) {
#if EIGENFORMER_X86_DISPATCH
  if (variant != KernelVariant::AVX512 && variant != KernelVariant::AVX2) return false;
  const bool wide = variant == KernelVariant::AVX512;
  for (Index r = 0; r < rows; ++r) {
    float* row = data + r * stride;
    switch (activation) {
      case RowActivation::ReLU:
        wide ? avx512::activation_row<RowActivation::ReLU>(row, cols)
             : avx2::activation_row<RowActivation::ReLU>(row, cols);
        break;
      case RowActivation::SiLU:
        wide ? avx512::activation_row<RowActivation::SiLU>(row, cols)
             : avx2::activation_row<RowActivation::SiLU>(row, cols);
        break;
      case RowActivation::Sigmoid:
        wide ? avx512::activation_row<RowActivation::Sigmoid>(row, cols)
             : avx2::activation_row<RowActivation::Sigmoid>(row, cols);
        break;
      case RowActivation::GELUTanh:
        wide ? avx512::activation_row<RowActivation::GELUTanh>(row, cols)
             : avx2::activation_row<RowActivation::GELUTanh>(row, cols);
        break;
    }
  }
  return true;
#else
  return false;
#endif
}

// out[0:n] = bias + sum_t taps[t] * source[offsets[t] + i] over `count` taps, in tap order.
inline bool tap_sum_row([[maybe_unused]] KernelVariant variant, [[maybe_unused]] float* out,
                        [[maybe_unused]] Index n, [[maybe_unused]] const float* source,
                        [[maybe_unused]] const Index* offsets, [[maybe_unused]] const float* taps,
                        [[maybe_unused]] Index count, [[maybe_unused]] float bias) {
#if EIGENFORMER_X86_DISPATCH
  if (variant == KernelVariant::AVX512)
    return avx512::tap_sum_row(out, n, source, offsets, taps, count, bias), true;
  if (variant == KernelVariant::AVX2)
    return avx2::tap_sum_row(out, n, source, offsets, taps, count, bias), true;
#endif
  return false;
}

}  // namespace eigenformer::kernels
