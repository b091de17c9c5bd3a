#pragma once
// Float32 out-of-place transpose for the AVX2 and AVX-512 variants: 8 x 8 tiles transposed in
// ymm registers (AVX shuffles, run by both variants), the ragged edges element by element.
// Conv2d's pixel-major product transposes its input rows and its result with it; a plain
// build's Eigen transpose works in SSE2 4 x 4 tiles. Only data moves: the result is exact.

#include <eigenformer/core/types.hpp>
#include <eigenformer/kernels/cpu_features.hpp>
#include <eigenformer/kernels/gemm_x86.hpp>

namespace eigenformer::kernels {

#if EIGENFORMER_X86_DISPATCH

// dst(j, i) = src(i, j) for a rows x cols source.
EIGENFORMER_TARGET_AVX2 inline void transpose_avx2(const float* src, Index src_stride, Index rows,
                                                   Index cols, float* dst, Index dst_stride) {
  Index i0 = 0;
  for (; i0 + 8 <= rows; i0 += 8) {
    Index j0 = 0;
    for (; j0 + 8 <= cols; j0 += 8) {
      const float* s = src + i0 * src_stride + j0;
      const __m256 r0 = _mm256_loadu_ps(s), r1 = _mm256_loadu_ps(s + src_stride),
                   r2 = _mm256_loadu_ps(s + 2 * src_stride),
                   r3 = _mm256_loadu_ps(s + 3 * src_stride),
                   r4 = _mm256_loadu_ps(s + 4 * src_stride),
                   r5 = _mm256_loadu_ps(s + 5 * src_stride),
                   r6 = _mm256_loadu_ps(s + 6 * src_stride),
                   r7 = _mm256_loadu_ps(s + 7 * src_stride);
      const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1),
                   t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3),
                   t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5),
                   t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
      const __m256 u0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0)),
                   u1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2)),
                   u2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0)),
                   u3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2)),
                   u4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0)),
                   u5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2)),
                   u6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0)),
                   u7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
      float* d = dst + j0 * dst_stride + i0;
      _mm256_storeu_ps(d, _mm256_permute2f128_ps(u0, u4, 0x20));
      _mm256_storeu_ps(d + dst_stride, _mm256_permute2f128_ps(u1, u5, 0x20));
      _mm256_storeu_ps(d + 2 * dst_stride, _mm256_permute2f128_ps(u2, u6, 0x20));
      _mm256_storeu_ps(d + 3 * dst_stride, _mm256_permute2f128_ps(u3, u7, 0x20));
      _mm256_storeu_ps(d + 4 * dst_stride, _mm256_permute2f128_ps(u0, u4, 0x31));
      _mm256_storeu_ps(d + 5 * dst_stride, _mm256_permute2f128_ps(u1, u5, 0x31));
      _mm256_storeu_ps(d + 6 * dst_stride, _mm256_permute2f128_ps(u2, u6, 0x31));
      _mm256_storeu_ps(d + 7 * dst_stride, _mm256_permute2f128_ps(u3, u7, 0x31));
    }
    for (Index j = j0; j < cols; ++j)
      for (Index i = i0; i < i0 + 8; ++i) dst[j * dst_stride + i] = src[i * src_stride + j];
  }
  for (Index j = 0; j < cols; ++j)
    for (Index i = i0; i < rows; ++i) dst[j * dst_stride + i] = src[i * src_stride + j];
}

#endif  // EIGENFORMER_X86_DISPATCH

// dst(j, i) = src(i, j) for a rows x cols source by the AVX2 / AVX-512 variant's kernel; false
// (nothing done) for the baseline and off x86.
inline bool transpose([[maybe_unused]] KernelVariant variant, [[maybe_unused]] const float* src,
                      [[maybe_unused]] Index src_stride, [[maybe_unused]] Index rows,
                      [[maybe_unused]] Index cols, [[maybe_unused]] float* dst,
                      [[maybe_unused]] Index dst_stride) {
#if EIGENFORMER_X86_DISPATCH
  if (variant == KernelVariant::AVX512 || variant == KernelVariant::AVX2)
    return transpose_avx2(src, src_stride, rows, cols, dst, dst_stride), true;
#endif
  return false;
}

}  // namespace eigenformer::kernels
