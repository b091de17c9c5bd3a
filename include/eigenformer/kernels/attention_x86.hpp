#pragma once
// The blocked (online-softmax) float32 attention of one head, as one AVX-512 or AVX2 + FMA
// function (attention_kernels_impl.inc compiled twice through target attributes, as
// rows_x86.hpp does): per micro-tile of 6 queries, logits against a chunk of packed keys and
// the probability-times-values update both run in register-blocked FMA loops, with an exp2
// polynomial in between, so the L x S matrix never exists. flash_attention_width() is 0 for
// the baseline variant (and off x86): the caller then runs its Eigen code.

#include <eigenformer/core/types.hpp>
#include <eigenformer/kernels/cpu_features.hpp>
#include <eigenformer/kernels/rows_x86.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

namespace eigenformer::kernels {

// One head: q (queries x depth), k (keys x depth), v (keys x dv), out (queries x dv), all
// row-major with the given row strides. `apply_mask`, when set, masks a rows x cols block of
// logits (row stride lds) at (row0, col0) of the full matrix; causal masking is done inline.
struct FlashAttentionArgs {
  const float* q;
  Index ldq, queries, depth;
  const float* k;
  Index ldk, keys;
  const float* v;
  Index ldv, dv;
  float* out;
  Index ldo;
  float scale;
  Index query_block, key_block;
  bool causal;
  void (*apply_mask)(const void* mask, float* logits, Index lds, Index rows, Index cols, Index row0,
                     Index col0);
  const void* mask;
  // Beyond this |logit| a tile's logits are recomputed in double (attention_common.hpp).
  float float_logit_limit;
};

// Caller-owned buffers, sized by flash_attention_sizes() and reused across calls: the packed
// keys and values (flash_attention_pack) shared by all threads, the rest one per thread.
struct FlashAttentionScratch {
  const float *keys, *values;
  float *logits, *accumulator, *row_max, *row_sum;
};

// In floats; keys and values once per head, the others once per thread.
struct FlashAttentionSizes {
  Index keys, values, logits, accumulator, rows;
};

// Query rows per micro-tile of every variant (6 x 4 zmm or 6 x 2 ymm accumulators, as
// gemm_x86.hpp's kernels); the logits scratch holds one tile's rows.
constexpr Index kFlashTileRows = 6;

inline Index flash_round_up(Index n, Index multiple) {
  return (n + multiple - 1) / multiple * multiple;
}
inline Index flash_part_count(Index n, Index part) { return (n + part - 1) / part; }

// Logits of rows [row0, row0 + rows) and keys [col0, col0 + cols) in double, rounded to float:
// the accurate path for large logits, as detail::compute_logits.
inline void flash_exact_logits(const FlashAttentionArgs& a, Index row0, int rows, Index col0,
                               Index cols, float* logits, Index lds) {
  for (int r = 0; r < rows; ++r)
    for (Index j = 0; j < cols; ++j) {
      const float* q = a.q + (row0 + r) * a.ldq;
      const float* k = a.k + (col0 + j) * a.ldk;
      double dot = 0;
      for (Index c = 0; c < a.depth; ++c) dot += double(q[c]) * double(k[c]);
      logits[r * lds + j] = static_cast<float>(static_cast<double>(a.scale) * dot);
    }
}

#if EIGENFORMER_X86_DISPATCH

namespace avx2::flash {

#define EIGENFORMER_ROW_TARGET EIGENFORMER_TARGET_AVX2
constexpr int kKeyVectors = 2, kValueVectors = 2;  // 12 accumulators of 16 ymm registers

// 2^t for t <= 0 (or -inf / NaN: 0): t = n + f with |f| <= 1/2, a degree-6 polynomial for 2^f
// (Cephes exp2f, relative error 1.7e-7), and 2^n through the exponent field; t < -127 gives 0.
EIGENFORMER_ROW_TARGET inline V exp2_nonpositive(V t) {
  t = _mm256_max_ps(t, _mm256_set1_ps(-127.0f));  // NaN and -inf become -127, hence 0
  const V n = _mm256_round_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const V f = _mm256_sub_ps(t, n);
  V p = _mm256_fmadd_ps(_mm256_set1_ps(1.535336188319500e-4f), f,
                        _mm256_set1_ps(1.339887440266574e-3f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(9.618437357674640e-3f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(5.550332471162809e-2f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(2.402264791363012e-1f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(6.931472028550421e-1f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f));
  const __m256i biased = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
  return _mm256_mul_ps(p, _mm256_castsi256_ps(_mm256_slli_epi32(biased, 23)));
}

#include <eigenformer/kernels/attention_kernels_impl.inc>
#undef EIGENFORMER_ROW_TARGET

}  // namespace avx2::flash

namespace avx512::flash {

#define EIGENFORMER_ROW_TARGET EIGENFORMER_TARGET_AVX512
constexpr int kKeyVectors = 4, kValueVectors = 4;  // 24 accumulators of 32 zmm registers

// As the AVX2 one, with scalef for 2^n (exact, and 0 below the denormals).
EIGENFORMER_ROW_TARGET inline V exp2_nonpositive(V t) {
  t = _mm512_max_ps(t, _mm512_set1_ps(-151.0f));  // NaN and -inf become -151, hence 0
  const V n = _mm512_roundscale_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const V f = _mm512_sub_ps(t, n);
  V p = _mm512_fmadd_ps(_mm512_set1_ps(1.535336188319500e-4f), f,
                        _mm512_set1_ps(1.339887440266574e-3f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.618437357674640e-3f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.550332471162809e-2f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.402264791363012e-1f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.931472028550421e-1f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

#include <eigenformer/kernels/attention_kernels_impl.inc>
#undef EIGENFORMER_ROW_TARGET

}  // namespace avx512::flash

#endif  // EIGENFORMER_X86_DISPATCH

// The vector width the variant's kernel pads to; 0 when it has none (baseline, non-x86).
inline Index flash_attention_width([[maybe_unused]] KernelVariant variant) {
#if EIGENFORMER_X86_DISPATCH
  if (variant == KernelVariant::AVX512) return avx512::kWidth;
  if (variant == KernelVariant::AVX2) return avx2::kWidth;
#endif
  return 0;
}

// Scratch sizes for `a` with the variant's `width` (flash_attention_width, > 0): linear in
// the number of keys for the packed keys and values, bounded by the blocks otherwise.
inline FlashAttentionSizes flash_attention_sizes(Index width, const FlashAttentionArgs& a) {
  const Index block_keys = flash_round_up(std::min(a.key_block, a.keys), width);
  const Index dv_padded = flash_round_up(a.dv, width);
  const Index query_rows = std::min(a.query_block, a.queries);
  return {flash_part_count(a.keys, a.key_block) * block_keys * a.depth, a.keys * dv_padded,
          kFlashTileRows * block_keys, query_rows * dv_padded, query_rows};
}

// Packs the keys and values of `a` (keys >= 1, blocks >= 1) for flash_attention_queries
// under `variant`, which must have a kernel (flash_attention_width > 0).
inline void flash_attention_pack([[maybe_unused]] KernelVariant variant,
                                 [[maybe_unused]] const FlashAttentionArgs& a,
                                 [[maybe_unused]] float* keys, [[maybe_unused]] float* values) {
#if EIGENFORMER_X86_DISPATCH
  if (variant == KernelVariant::AVX512) return avx512::flash::flash_pack(a, keys, values);
  if (variant == KernelVariant::AVX2) return avx2::flash::flash_pack(a, keys, values);
#endif
}

// Writes the output rows of query blocks [first_block, end_block) (of a.query_block rows);
// blocks are independent, so threads may take disjoint ranges with their own scratch.
inline void flash_attention_queries([[maybe_unused]] KernelVariant variant,
                                    [[maybe_unused]] const FlashAttentionArgs& a,
                                    [[maybe_unused]] const FlashAttentionScratch& scratch,
                                    [[maybe_unused]] Index first_block,
                                    [[maybe_unused]] Index end_block) {
#if EIGENFORMER_X86_DISPATCH
  if (variant == KernelVariant::AVX512)
    return avx512::flash::flash_query_blocks(a, scratch, first_block, end_block);
  if (variant == KernelVariant::AVX2)
    return avx2::flash::flash_query_blocks(a, scratch, first_block, end_block);
#endif
}

}  // namespace eigenformer::kernels
