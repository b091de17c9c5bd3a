#pragma once
// A weight matrix W (out_features x in_features, PyTorch's layout) repacked once, at load
// time, for the product out = activation(x W^T + b) that every Linear layer computes.
//
// Eigen's GEMM repacks the weight on every call (for a row-major `tokens x features`
// result it packs W as its left-hand side): at batch 1 that is about a sixth of a BERT
// forward pass. Here W is stored as panels of panel_width() output columns, each panel
// `in_features x panel_width()` contiguous, so the micro-kernel reads it with aligned vector
// loads in the order it needs. The micro-kernel is the classic register-blocked one (Goto
// and van de Geijn, "Anatomy of high-performance matrix multiplication", 2008; BLIS's
// 6 x 16 Haswell kernel): kRows rows of x times one panel, kRows x 2 vector accumulators,
// one broadcast of x and two vector loads of W per multiply-add step. It is written with
// Eigen's packet primitives, so it uses whatever SIMD Eigen was compiled for (SSE, AVX,
// AVX-512, NEON) and works for float and double alike. For float, the AVX2 and AVX-512
// variants chosen at run time (kernels/cpu_features.hpp) replace it with intrinsics kernels
// of the same shape (kernels/gemm_x86.hpp), and the panel width follows the variant.

#include <eigenformer/core/error.hpp>
#include <eigenformer/core/huge_page_buffer.hpp>
#include <eigenformer/core/threading.hpp>
#include <eigenformer/core/types.hpp>
#include <eigenformer/kernels/cpu_features.hpp>
#include <eigenformer/kernels/gemm_x86.hpp>
#include <eigenformer/nn/activations.hpp>

#include <algorithm>
#include <atomic>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

namespace eigenformer {

template <typename T>
class PackedWeight {
  using Packet = typename Eigen::internal::packet_traits<T>::type;
  static constexpr Index kPacketSize = Eigen::internal::unpacket_traits<Packet>::size;

 public:
  // Rows of x per micro-kernel call: 6 x 2 accumulators + 2 panel vectors + 1 broadcast
  // fit the 16 vector registers of AVX2 (BLIS uses 6 x 16 for float on Haswell).
  static constexpr Index kRows = 6;
  // Output columns per panel of the Eigen kernel (baseline variant), and the widest panel of
  // any variant (AVX-512's 32 floats).
  static constexpr Index kBaselinePanelWidth = 2 * kPacketSize;
  static constexpr Index kMaxPanelWidth =
      std::is_same_v<T, float> ? std::max<Index>(kBaselinePanelWidth, 32) : kBaselinePanelWidth;

  PackedWeight() = default;

  template <typename Derived>
  explicit PackedWeight(const Eigen::MatrixBase<Derived>& weight) {
    pack(weight);
  }

  // With a bias (out_features) that every product adds: the micro-kernel starts its
  // accumulators from it instead of from zero, so the bias costs no pass over the output.
  template <typename Derived, typename BiasDerived>
  PackedWeight(const Eigen::MatrixBase<Derived>& weight,
               const Eigen::MatrixBase<BiasDerived>& bias) {
    pack(weight);
    if (bias.size() != outputs_)
      throw ShapeError(
          detail::concat("PackedWeight: bias has ", bias.size(), " entries, expected ", outputs_));
    // Zero-padded to whole panels, like the weight, for the last panel's full-width loads.
    bias_.emplace(static_cast<std::size_t>(panel_count() * panel_width_), T(0));
    for (Index o = 0; o < outputs_; ++o) (*bias_)[static_cast<std::size_t>(o)] = bias(o);
  }

  // Packs `weight` (out_features x in_features, any Eigen expression: a transposed view, a
  // scaled one) in place of the current contents, reusing the storage when it is
  // large enough: operands that change with every call (an attention head's keys and values)
  // are packed into a workspace without allocating. The layout is the one the kernel
  // variant current now needs (kernel_variant()); later products use that variant.
  template <typename Derived>
  void pack(const Eigen::MatrixBase<Derived>& weight) {
    outputs_ = weight.rows();
    inputs_ = weight.cols();
    bias_.reset();
    variant_ = std::is_same_v<T, float> ? kernel_variant() : KernelVariant::Baseline;
    panel_width_ = variant_ == KernelVariant::AVX512 ? 32
                   : variant_ == KernelVariant::AVX2 ? 16
                                                     : kBaselinePanelWidth;
    const Index panels = panel_count(), width = panel_width_;
    panels_.resize(panels * inputs_ * width);
    for (Index p = 0; p < panels; ++p) {
      const Index first = p * width;
      const Index columns = std::min(width, outputs_ - first);
      T* panel = panel_data(p);
      for (Index k = 0; k < inputs_; ++k) {
        for (Index o = 0; o < columns; ++o) panel[k * width + o] = weight(first + o, k);
        for (Index o = columns; o < width; ++o) panel[k * width + o] = T(0);
      }
    }
  }

  // The weight as it was packed (out_features x in_features).
  Matrix<T> unpack() const {
    Matrix<T> weight(outputs_, inputs_);
    for (Index o = 0; o < outputs_; ++o) {
      const T* panel = panel_data(o / panel_width_) + o % panel_width_;
      for (Index k = 0; k < inputs_; ++k) weight(o, k) = panel[k * panel_width_];
    }
    return weight;
  }

  Index out_features() const { return outputs_; }
  Index in_features() const { return inputs_; }
  // The kernels this weight was packed for, and its panel width (output columns per panel).
  KernelVariant variant() const { return variant_; }
  Index panel_width() const { return panel_width_; }
  bool has_bias() const { return bias_.has_value(); }
  // The bias (out_features), empty without one.
  ConstVectorMap<T> bias() const {
    return has_bias() ? ConstVectorMap<T>(bias_->data(), outputs_) : ConstVectorMap<T>(nullptr, 0);
  }

  // out = activation(x W^T + bias). Output columns are split between the OpenMP threads
  // (when there are several and this is not already a parallel region) in chunks of whole
  // panels. The activation is applied to each micro-tile as soon as its last depth block is
  // stored, while the tile is still in L1, instead of in a pass of its own over `out`.
  void multiply(const MatrixView<T>& x, MutableMatrixView<T> out,
                Activation activation = Activation::Identity) const {
    if (x.cols() != inputs_)
      throw ShapeError(
          detail::concat("x W^T: input has ", x.cols(), " features, expected ", inputs_));
    if (out.rows() != x.rows() || out.cols() != outputs_)
      throw ShapeError(detail::concat("x W^T: output is ", out.rows(), " x ", out.cols(),
                                      ", expected ", x.rows(), " x ", outputs_));
    if (inputs_ == 0) {  // every output is an empty sum
      if (has_bias())
        out.rowwise() = bias().transpose();
      else
        out.setZero();
      apply_activation(activation, out);
      return;
    }
    const Index panels = panel_count();
    const int threads =
        detail::threads_for(panels, x.rows() * outputs_ * inputs_, detail::WorkKind::MultiplyAdds);
    if (threads > 1) {
      // Threads take chunks of panels first come first served, each chunk a share of what is
      // left (OpenMP's "guided" order): large chunks while there is much work, small ones at
      // the end. On shared machines one core is often slower than the other; equal chunks
      // leave the faster thread waiting for up to a whole chunk at the end.
      std::atomic<Index> next_panel{0};
      detail::parallel_region(threads, [&] {
        for (;;) {
          const auto [first, end] = take_chunk(next_panel, panels, threads);
          if (first >= end) break;
          multiply_panels(x, out, activation, first, end);
        }
      });
      return;
    }
    multiply_panels(x, out, activation, 0, panels);
  }

 private:
  // Cache blocking as ONNX Runtime's MLAS blocks a packed weight (K slices of 256, N slices of
  // 128 columns): the kRows x kDepthBlock slice of x stays in L1 while the weight slice streams
  // past it from L2, loaded from memory once per kRowBlock rows (BLIS's MC for zen2 sgemm).
  // The orders and prefetches measured against it are in docs/performance.md.
  static constexpr Index kDepthBlock = 256;
  static constexpr Index kRowBlock = 144;
  static constexpr Index kPanelBlock = 8;

  // The next [first, end) panels: half of an equal share of what is left, at least two.
  static std::pair<Index, Index> take_chunk(std::atomic<Index>& next_panel, Index panels,
                                            int threads) {
    constexpr Index kMinChunk = 2;
    Index first = next_panel.load(std::memory_order_relaxed), size = 0;
    do {
      size = std::max(kMinChunk, (panels - first) / (2 * threads));
    } while (first < panels && !next_panel.compare_exchange_weak(first, first + size));
    return {first, std::min(panels, first + size)};
  }

  // Part `index` of `total` split into the fewest parts of at most `max_part`, all of
  // nearly equal size. The depth, the rows and each row block's micro-tiles are cut this
  // way: 128 rows make tiles of 18 x 6 + 4 x 5 rows, not 21 x 6 + 2, and 1024 rows make 8
  // blocks of 128, not 7 x 144 + 16. A tile of 1-3 rows has too few independent accumulators
  // to hide the FMA latency and takes about as long as a full one (5 rows keep the FMA units
  // as busy as 6); a short row block loads weight slices into L2 for only a few tiles.
  static Index balanced_part(Index total, Index max_part, Index index) {
    const Index parts = part_count(total, max_part);
    return total / parts + (index < total % parts ? 1 : 0);
  }

  // The fewest parts of at most `max_part` that `total` splits into: balanced_part's count,
  // and the number of panels or cache lines that hold `total` columns or bytes.
  static Index part_count(Index total, Index max_part) { return (total + max_part - 1) / max_part; }

  Index panel_count() const { return part_count(outputs_, panel_width_); }

  const T* panel_data(Index panel) const { return panels_.data() + panel * inputs_ * panel_width_; }
  T* panel_data(Index panel) { return panels_.data() + panel * inputs_ * panel_width_; }

  // A block of the packed weight: depth rows [k0, k0 + depth) of panels [first, end).
  struct Slice {
    Index first, end, k0, depth;
  };

  // The slice multiplied after `slice`, depth block number `step`, by multiply_panels: the
  // next depth block of the same panels, else the first one of the next panels, else (at
  // the end of a row block) the first slice again, for the next row block. Empty
  // (first == end) when none follows.
  Slice next_slice(const Slice& slice, Index step, Index first_panel, Index end_panel,
                   bool last_row_block) const {
    const Index k0 = slice.k0 + slice.depth;
    if (k0 < inputs_)
      return {slice.first, slice.end, k0, balanced_part(inputs_, kDepthBlock, step + 1)};
    Index first = slice.end;
    if (first == end_panel) {
      if (last_row_block) return {};
      first = first_panel;
    }
    return {first, std::min(end_panel, first + kPanelBlock), 0,
            balanced_part(inputs_, kDepthBlock, 0)};
  }

  // With fewer micro-tiles per row block, a slice is multiplied in about the time its memory
  // takes to arrive anyway, and prefetches only compete with the kernel's own loads.
  static constexpr Index kMinTilesToPrefetch = 4;

  // While a slice is multiplied, the next one is fetched into L2, a share before each
  // micro-kernel call, so that its first tile does not wait for memory: the hardware
  // prefetcher starts only after the first misses.
  class SlicePrefetch {
   public:
    // `tiles`: the current row block's, whose micro-kernel calls take a share each.
    SlicePrefetch(const PackedWeight& weight, const Slice& next, Index tiles)
        : start_(reinterpret_cast<const char*>(weight.panels_.data() +
                                               (next.first * weight.inputs_ + next.k0) *
                                                   weight.panel_width_)),
          panel_bytes_(weight.inputs_ * weight.panel_width_ * Index(sizeof(T))),
          panels_(tiles >= kMinTilesToPrefetch ? next.end - next.first : 0),
          lines_(part_count(next.depth * weight.panel_width_ * Index(sizeof(T)), kCacheLine)),
          share_((lines_ + tiles - 1) / tiles) {}

    // Before the call for `tile` and the current slice's panel `panel_offset`: part `tile`
    // of the same panel of the next slice. Left to the hardware prefetcher: the extra panels
    // of a next slice wider than this one (a short last block followed by the first, for the
    // next row block), and the last line of a panel's slice that does not start on a line
    // boundary (panel rows of 32 bytes, SSE or NEON). Versions that covered them (a loop over
    // panels here, a clamped extra line) kept from all to half of the gain at 128 rows,
    // varying with incidental code layout: not worth it for these corner cases.
    void fetch_share(Index panel_offset, Index tile) const {
      if (panel_offset >= panels_) return;
      const char* panel = start_ + panel_offset * panel_bytes_;
      for (Index line = tile * share_, end = std::min(lines_, line + share_); line < end; ++line)
        prefetch_to_l2(panel + line * kCacheLine);
    }

   private:
    static constexpr Index kCacheLine = 64;

    // An asm statement on x86: with __builtin_prefetch, GCC 12 declared this function
    // "looping const" (its pure-const pass sees no side effect in a prefetch) and the
    // compiled product had no prefetch left. An asm volatile statement is always kept.
    // Elsewhere __builtin_prefetch, which GCC may drop the same way (not checked).
    static void prefetch_to_l2([[maybe_unused]] const char* address) {
#if (defined(__GNUC__) || defined(__clang__)) && defined(__SSE__)
      asm volatile("prefetcht1 %0" : : "m"(*address));
#elif defined(__GNUC__) || defined(__clang__)
      __builtin_prefetch(address, 0, 2);  // locality 2: into L2
#endif
    }

    const char* start_;
    Index panel_bytes_, panels_, lines_, share_;
  };

  void multiply_panels(const MatrixView<T>& x, MutableMatrixView<T>& out, Activation activation,
                       Index first_panel, Index end_panel) const {
    // The depth loop runs inside the row and panel blocks, so the block of `out` being
    // accumulated stays in L2. Inside a depth block, each kRows slice of x meets every panel
    // of the block in turn.
    for (Index block = 0, r0 = 0, block_rows = 0; r0 < x.rows(); r0 += block_rows, ++block) {
      block_rows = balanced_part(x.rows(), kRowBlock, block);
      const bool last_row_block = r0 + block_rows == x.rows();
      const Index tiles = part_count(block_rows, kRows);
      for (Index p0 = first_panel; p0 < end_panel; p0 += kPanelBlock) {
        const Index p_end = std::min(end_panel, p0 + kPanelBlock);
        for (Index step = 0, k0 = 0, depth = 0; k0 < inputs_; k0 += depth, ++step) {
          depth = balanced_part(inputs_, kDepthBlock, step);
          const SlicePrefetch prefetch(
              *this,
              next_slice({p0, p_end, k0, depth}, step, first_panel, end_panel, last_row_block),
              tiles);
          const bool accumulate = k0 > 0, last_depth_block = k0 + depth == inputs_;
          for (Index tile = 0, r = r0, rows = 0; r < r0 + block_rows; r += rows, ++tile) {
            rows = balanced_part(block_rows, kRows, tile);
            const T* a = x.data() + r * x.outerStride() + k0;
            for (Index p = p0; p < p_end; ++p) {
              prefetch.fetch_share(p - p0, tile);
              const T* panel = panel_data(p) + k0 * panel_width_;
              const Index column = p * panel_width_;
              const Index width = std::min(panel_width_, outputs_ - column);
              const T* bias = has_bias() ? bias_->data() + column : nullptr;
              if (width == panel_width_)
                kernel(rows, depth, a, x.outerStride(), panel, bias, &out(r, column),
                       out.outerStride(), accumulate);
              else
                edge_kernel(rows, width, depth, a, x.outerStride(), panel, bias, &out(r, column),
                            out.outerStride(), accumulate);
              if (last_depth_block && activation != Activation::Identity) {
                auto finished = out.block(r, column, rows, width);
                apply_activation(activation, finished);
              }
            }
          }
        }
      }
    }
  }

  // The variant's micro-kernel for one tile. The intrinsics kernels are called out of line
  // (a caller compiled for the baseline cannot inline them), once per tile and depth block.
  EIGEN_ALWAYS_INLINE void kernel(Index rows, Index depth, const T* a, Index lda, const T* b,
                                  const T* bias, T* c, Index ldc, bool accumulate) const {
#if EIGENFORMER_X86_DISPATCH
    if constexpr (std::is_same_v<T, float>) {
      if (variant_ == KernelVariant::AVX512)
        return kernels::gemm_tile_avx512(rows, depth, a, lda, b, bias, c, ldc, accumulate);
      if (variant_ == KernelVariant::AVX2)
        return kernels::gemm_tile_avx2(rows, depth, a, lda, b, bias, c, ldc, accumulate);
    }
#endif
    baseline_kernel(rows, depth, a, lda, b, bias, c, ldc, accumulate);
  }

  // Always inlined: called out of line, GCC 12 kept the micro-kernels' accumulator arrays on
  // the stack instead of in registers.
  EIGEN_ALWAYS_INLINE static void baseline_kernel(Index rows, Index depth, const T* a, Index lda,
                                                  const T* b, const T* bias, T* c, Index ldc,
                                                  bool accumulate) {
    switch (rows) {
      case 6:
        return micro_kernel<6>(depth, a, lda, b, bias, c, ldc, accumulate);
      case 5:
        return micro_kernel<5>(depth, a, lda, b, bias, c, ldc, accumulate);
      case 4:
        return micro_kernel<4>(depth, a, lda, b, bias, c, ldc, accumulate);
      case 3:
        return micro_kernel<3>(depth, a, lda, b, bias, c, ldc, accumulate);
      case 2:
        return micro_kernel<2>(depth, a, lda, b, bias, c, ldc, accumulate);
      default:
        return micro_kernel<1>(depth, a, lda, b, bias, c, ldc, accumulate);
    }
  }

  // The last panel is narrower than panel_width_: compute it into a full-width tile (the
  // packed panel is zero-padded) and copy back the columns that exist.
  void edge_kernel(Index rows, Index width, Index depth, const T* a, Index lda, const T* b,
                   const T* bias, T* c, Index ldc, bool accumulate) const {
    alignas(64) T tile[kRows * kMaxPanelWidth] = {};
    const Index tile_width = panel_width_;
    if (accumulate)
      for (Index r = 0; r < rows; ++r)
        for (Index j = 0; j < width; ++j) tile[r * tile_width + j] = c[r * ldc + j];
    kernel(rows, depth, a, lda, b, bias, tile, tile_width, accumulate);
    for (Index r = 0; r < rows; ++r)
      for (Index j = 0; j < width; ++j) c[r * ldc + j] = tile[r * tile_width + j];
  }

  // c[0:Rows, 0:kBaselinePanelWidth] = a[0:Rows, 0:depth] * b[0:depth, 0:kBaselinePanelWidth]
  // + (c when `accumulate`, else `bias` (kBaselinePanelWidth entries) on every row, or zero).
  template <int Rows>
  EIGEN_ALWAYS_INLINE static void micro_kernel(Index depth, const T* a, Index lda, const T* b,
                                               const T* bias, T* c, Index ldc, bool accumulate) {
    using namespace Eigen::internal;
    const Packet start_left = bias ? ploadu<Packet>(bias) : pset1<Packet>(T(0));
    const Packet start_right = bias ? ploadu<Packet>(bias + kPacketSize) : pset1<Packet>(T(0));
    Packet left[Rows], right[Rows];
    for (int r = 0; r < Rows; ++r) {
      left[r] = accumulate ? ploadu<Packet>(c + r * ldc) : start_left;
      right[r] = accumulate ? ploadu<Packet>(c + r * ldc + kPacketSize) : start_right;
    }
    for (Index k = 0; k < depth; ++k, b += kBaselinePanelWidth) {
      const Packet b_left = ploadu<Packet>(b);
      const Packet b_right = ploadu<Packet>(b + kPacketSize);
      for (int r = 0; r < Rows; ++r) {
        const Packet a_rk = pset1<Packet>(a[r * lda + k]);
        left[r] = pmadd(a_rk, b_left, left[r]);
        right[r] = pmadd(a_rk, b_right, right[r]);
      }
    }
    for (int r = 0; r < Rows; ++r) {
      pstoreu(c + r * ldc, left[r]);
      pstoreu(c + r * ldc + kPacketSize, right[r]);
    }
  }

  Index outputs_ = 0, inputs_ = 0;
  KernelVariant variant_ = KernelVariant::Baseline;
  Index panel_width_ = kBaselinePanelWidth;
  // Aligned at least to EIGEN_MAX_ALIGN_BYTES, so each panel row starts on a packet boundary
  // (loads are the unaligned kind all the same, in case alignment is disabled); on huge pages
  // where the system allows it.
  detail::HugePageBuffer<T> panels_;
  std::optional<std::vector<T>> bias_;  // panel_count() * panel_width_ entries
};

}  // namespace eigenformer
