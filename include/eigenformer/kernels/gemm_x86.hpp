#pragma once
// The packed product's float32 micro-kernels for AVX2 + FMA and AVX-512F, compiled through
// function target attributes so that a translation unit built without -mavx2 still contains
// them; PackedWeight calls them only when kernel_variant() selected them (cpu_features.hpp).
// Same structure as PackedWeight's Eigen micro-kernel: Rows rows of x times one panel of two
// vectors of output columns (16 floats for AVX2, 32 for AVX-512), 2 x Rows accumulators.
// Conv2d's channel-major product (cnn/conv2d.hpp) runs the same kernels with the roles
// swapped: Rows output channels of the weight times a panel of pixels read in place.

#include <eigenformer/core/types.hpp>
#include <eigenformer/kernels/cpu_features.hpp>

#if EIGENFORMER_X86_DISPATCH
#include <immintrin.h>

#define EIGENFORMER_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define EIGENFORMER_TARGET_AVX512 __attribute__((target("avx512f,avx2,fma")))

namespace eigenformer::kernels {

// c[0:Rows, 0:16] = a[0:Rows, 0:depth] * b[0:depth, 0:16] + (c when `accumulate`, else
// `bias` (16 entries) on every row, or `row_bias[r]` on every column of row r, or zero when
// both are null). Rows of b are `ldb` apart: 16 for PackedWeight's panels, the image's row
// stride when Conv2d's channel-major product reads its patches in place. Out of line from
// the caller, which is compiled for the baseline: one call per micro-tile and depth block.
template <int Rows>
EIGENFORMER_TARGET_AVX2 inline __attribute__((always_inline)) void gemm_rows_avx2(
    Index depth, const float* a, Index lda, const float* b, Index ldb, const float* bias,
    const float* row_bias, float* c, Index ldc, bool accumulate) {
  const __m256 start_left = bias ? _mm256_loadu_ps(bias) : _mm256_setzero_ps();
  const __m256 start_right = bias ? _mm256_loadu_ps(bias + 8) : _mm256_setzero_ps();
  __m256 left[Rows], right[Rows];
#pragma GCC unroll 8
  for (int r = 0; r < Rows; ++r) {
    if (accumulate) {
      left[r] = _mm256_loadu_ps(c + r * ldc);
      right[r] = _mm256_loadu_ps(c + r * ldc + 8);
    } else if (row_bias) {
      left[r] = right[r] = _mm256_set1_ps(row_bias[r]);
    } else {
      left[r] = start_left;
      right[r] = start_right;
    }
  }
  for (Index k = 0; k < depth; ++k, b += ldb) {
    const __m256 b_left = _mm256_loadu_ps(b);
    const __m256 b_right = _mm256_loadu_ps(b + 8);
#pragma GCC unroll 8
    for (int r = 0; r < Rows; ++r) {
      const __m256 a_rk = _mm256_broadcast_ss(a + r * lda + k);
      left[r] = _mm256_fmadd_ps(a_rk, b_left, left[r]);
      right[r] = _mm256_fmadd_ps(a_rk, b_right, right[r]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < Rows; ++r) {
    _mm256_storeu_ps(c + r * ldc, left[r]);
    _mm256_storeu_ps(c + r * ldc + 8, right[r]);
  }
}

EIGENFORMER_TARGET_AVX2 inline void gemm_tile_avx2(Index rows, Index depth, const float* a,
                                                   Index lda, const float* b, Index ldb,
                                                   const float* bias, const float* row_bias,
                                                   float* c, Index ldc, bool accumulate) {
  switch (rows) {
    case 6:
      return gemm_rows_avx2<6>(depth, a, lda, b, ldb, bias, row_bias, c, ldc, accumulate);
    case 5:
      return gemm_rows_avx2<5>(depth, a, lda, b, ldb, bias, row_bias, c, ldc, accumulate);
    case 4:
      return gemm_rows_avx2<4>(depth, a, lda, b, ldb, bias, row_bias, c, ldc, accumulate);
    case 3:
      return gemm_rows_avx2<3>(depth, a, lda, b, ldb, bias, row_bias, c, ldc, accumulate);
    case 2:
      return gemm_rows_avx2<2>(depth, a, lda, b, ldb, bias, row_bias, c, ldc, accumulate);
    default:
      return gemm_rows_avx2<1>(depth, a, lda, b, ldb, bias, row_bias, c, ldc, accumulate);
  }
}

// PackedWeight's tile: b is a packed panel (rows 16 apart), the bias per column.
EIGENFORMER_TARGET_AVX2 inline void gemm_tile_avx2(Index rows, Index depth, const float* a,
                                                   Index lda, const float* b, const float* bias,
                                                   float* c, Index ldc, bool accumulate) {
  gemm_tile_avx2(rows, depth, a, lda, b, 16, bias, nullptr, c, ldc, accumulate);
}

// As gemm_rows_avx2 with 512-bit vectors: panels of 32 floats.
template <int Rows>
EIGENFORMER_TARGET_AVX512 inline __attribute__((always_inline)) void gemm_rows_avx512(
    Index depth, const float* a, Index lda, const float* b, Index ldb, const float* bias,
    const float* row_bias, float* c, Index ldc, bool accumulate) {
  const __m512 start_left = bias ? _mm512_loadu_ps(bias) : _mm512_setzero_ps();
  const __m512 start_right = bias ? _mm512_loadu_ps(bias + 16) : _mm512_setzero_ps();
  __m512 left[Rows], right[Rows];
#pragma GCC unroll 8
  for (int r = 0; r < Rows; ++r) {
    if (accumulate) {
      left[r] = _mm512_loadu_ps(c + r * ldc);
      right[r] = _mm512_loadu_ps(c + r * ldc + 16);
    } else if (row_bias) {
      left[r] = right[r] = _mm512_set1_ps(row_bias[r]);
    } else {
      left[r] = start_left;
      right[r] = start_right;
    }
  }
  for (Index k = 0; k < depth; ++k, b += ldb) {
    const __m512 b_left = _mm512_loadu_ps(b);
    const __m512 b_right = _mm512_loadu_ps(b + 16);
#pragma GCC unroll 8
    for (int r = 0; r < Rows; ++r) {
      const __m512 a_rk = _mm512_set1_ps(a[r * lda + k]);
      left[r] = _mm512_fmadd_ps(a_rk, b_left, left[r]);
      right[r] = _mm512_fmadd_ps(a_rk, b_right, right[r]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < Rows; ++r) {
    _mm512_storeu_ps(c + r * ldc, left[r]);
    _mm512_storeu_ps(c + r * ldc + 16, right[r]);
  }
}

EIGENFORMER_TARGET_AVX512 inline void gemm_tile_avx512(Index rows, Index depth, const float* a,
                                                       Index lda, const float* b, Index ldb,
                                                       const float* bias, const float* row_bias,
                                                       float* c, Index ldc, bool accumulate) {
  switch (rows) {
    case 6:
      return gemm_rows_avx512<6>(depth, a, lda, b, ldb, bias, row_bias, c, ldc, accumulate);
    case 5:
      return gemm_rows_avx512<5>(depth, a, lda, b, ldb, bias, row_bias, c, ldc, accumulate);
    case 4:
      return gemm_rows_avx512<4>(depth, a, lda, b, ldb, bias, row_bias, c, ldc, accumulate);
    case 3:
      return gemm_rows_avx512<3>(depth, a, lda, b, ldb, bias, row_bias, c, ldc, accumulate);
    case 2:
      return gemm_rows_avx512<2>(depth, a, lda, b, ldb, bias, row_bias, c, ldc, accumulate);
    default:
      return gemm_rows_avx512<1>(depth, a, lda, b, ldb, bias, row_bias, c, ldc, accumulate);
  }
}

EIGENFORMER_TARGET_AVX512 inline void gemm_tile_avx512(Index rows, Index depth, const float* a,
                                                       Index lda, const float* b, const float* bias,
                                                       float* c, Index ldc, bool accumulate) {
  gemm_tile_avx512(rows, depth, a, lda, b, 32, bias, nullptr, c, ldc, accumulate);
}

}  // namespace eigenformer::kernels

#endif  // EIGENFORMER_X86_DISPATCH
