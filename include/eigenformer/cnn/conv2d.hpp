#pragma once
// 2-D convolution as torch.nn.Conv2d computes it (zero padding, dilation 1; groups 1, or
// depthwise: groups = in = out channels) on a FeatureMap.
//
// With groups 1 it is one matrix product per band of output rows, computed pixel-major:
// output^T (pixels x out) = patches (pixels x in * kh * kw) times W^T, by PackedWeight, whose
// weight is packed once at construction with the bias folded into its accumulators and the
// activation applied to each tile as it is finished. A patch row holds the input at
// (y * stride - padding + ky, x * stride - padding + kx) in (ky, kx, channel) order, so a
// band is built from a pixel-major copy of its input rows with one contiguous copy per tap;
// a 1x1 stride-1 convolution uses that copy as its patches. The band's result is transposed
// back into the channel-major output while it is still in cache. Layers with few output
// channels instead multiply the packed weight by channel-major patches (im2col) read in
// place, which needs no transpose (ChannelMajorProduct). Both run in bands of output rows,
// the bands split between the OpenMP threads.
//
// A depthwise convolution has no product to share between channels: each plane is filtered
// directly, from a zero-padded copy split by stride phase so every tap reads a contiguous row.
//
// Float layers run the run-time kernel variant (kernels/cpu_features.hpp) as PackedWeight
// does: the channel-major product uses the AVX2 / AVX-512 GEMM micro-kernel of
// kernels/gemm_x86.hpp (its weight laid out for the variant current at construction), and the
// depthwise tap sums and the ReLU / SiLU / sigmoid / tanh-GELU activations the variant current
// when the layer runs (kernels/rows_x86.hpp). The baseline is the Eigen code below.
//
// Under the AVX2 / AVX-512 variants, a 3x3 stride-1 groups-1 float layer with at least
// detail::kWinogradMinChannels input and output channels runs the Winograd F(2x2, 3x3) or
// F(4x4, 3x3) algorithm instead (cnn/winograd.hpp, tile detail::winograd_tile at
// construction), with fewer multiplications; detail::winograd_enabled turns it off.

#include <eigenformer/cnn/feature_map.hpp>
#include <eigenformer/cnn/winograd.hpp>
#include <eigenformer/core/error.hpp>
#include <eigenformer/core/state_dict.hpp>
#include <eigenformer/core/tensor.hpp>
#include <eigenformer/core/threading.hpp>
#include <eigenformer/core/types.hpp>
#include <eigenformer/kernels/cpu_features.hpp>
#include <eigenformer/kernels/gemm_x86.hpp>
#include <eigenformer/kernels/rows_x86.hpp>
#include <eigenformer/kernels/transpose_x86.hpp>
#include <eigenformer/nn/activations.hpp>
#include <eigenformer/nn/packed_weight.hpp>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

namespace eigenformer {

// Output extent of a convolution over `input` positions: floor((in + 2p - k) / s) + 1.
inline Index conv_output_size(Index input, Index kernel, Index stride, Index padding) {
  const Index span = input + 2 * padding - kernel;
  return span < 0 ? 0 : span / stride + 1;
}

namespace detail {

// A band's patches take about this many elements (1 MiB of float, about an L2), so the
// product reads them back from cache; a band has at least kConvMinBandPixels pixels, or the
// packed weight, streamed once per band, would cost more than the product saves.
constexpr Index kConvBandElements = Index{1} << 18;
constexpr Index kConvMinBandPixels = 144;

// Below this many output channels the pixel-major product loses to the channel-major one
// (ChannelMajorProduct): its transposes cost per output pixel what the product gains per
// output channel. Above it the two measured within noise (docs/performance.md).
constexpr Index kConvMinPackedOutputs = 128;

// activation(rows x cols block at `data`, row stride `stride`) by the run-time AVX2 / AVX-512
// kernel of `variant`; false (nothing done) for the baseline, a type other than float or an
// activation without such a kernel, where the caller runs its Eigen code.
template <typename T>
bool activate_rows(KernelVariant variant, Activation activation, T* data, Index rows, Index cols,
                   Index stride) {
  if constexpr (std::is_same_v<T, float>) {
    switch (activation) {
      case Activation::Identity:
        return true;
      case Activation::GELU:
        return kernels::gelu_rows(variant, data, rows, cols, stride);
      case Activation::ReLU:
        return kernels::activation_rows(variant, kernels::RowActivation::ReLU, data, rows, cols,
                                        stride);
      case Activation::SiLU:
        return kernels::activation_rows(variant, kernels::RowActivation::SiLU, data, rows, cols,
                                        stride);
      case Activation::Sigmoid:
        return kernels::activation_rows(variant, kernels::RowActivation::Sigmoid, data, rows, cols,
                                        stride);
      case Activation::GELUTanh:
        return kernels::activation_rows(variant, kernels::RowActivation::GELUTanh, data, rows, cols,
                                        stride);
    }
  }
  return false;
}

// One growing buffer per thread and `Slot`, reused by every convolution that thread runs.
// Aligned as Eigen's own matrices: Eigen evaluates the activation of a block's first few
// unaligned elements with scalar code, which may differ from its SIMD code in the last bit,
// so with buffers aligned differently per thread the result would depend on the schedule.
template <typename T, int Slot>
T* conv_buffer(Index size) {
  thread_local std::vector<T, Eigen::aligned_allocator<T>> buffer;
  if (static_cast<Index>(buffer.size()) < size) buffer.resize(static_cast<std::size_t>(size));
  return buffer.data();
}

// dst(j, i) = src(i, j) for a rows x cols source: square tiles of one SIMD packet a side
// are transposed in registers (Eigen's ptranspose), the ragged edges element by element.
// A class, as PackedWeight: a packet type as a template argument at function scope draws
// GCC's -Wignored-attributes (the vector type's alignment attribute does not matter there).
template <typename T>
struct Transpose {
  using Packet = typename Eigen::internal::packet_traits<T>::type;
  static constexpr int kSize = Eigen::internal::unpacket_traits<Packet>::size;
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"
#endif
  using Tile = Eigen::internal::PacketBlock<Packet, kSize>;
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

  static void run(const T* src, Index src_stride, Index rows, Index cols, T* dst,
                  Index dst_stride) {
    Index i0 = 0;
    if constexpr (kSize > 1) {
      for (; i0 + kSize <= rows; i0 += kSize) {
        Index j0 = 0;
        for (; j0 + kSize <= cols; j0 += kSize) {
          Tile tile;
          for (int r = 0; r < kSize; ++r)
            tile.packet[r] = Eigen::internal::ploadu<Packet>(src + (i0 + r) * src_stride + j0);
          Eigen::internal::ptranspose(tile);
          for (int r = 0; r < kSize; ++r)
            Eigen::internal::pstoreu(dst + (j0 + r) * dst_stride + i0, tile.packet[r]);
        }
        for (Index j = j0; j < cols; ++j)
          for (Index i = i0; i < i0 + kSize; ++i) dst[j * dst_stride + i] = src[i * src_stride + j];
      }
    }
    for (Index j = 0; j < cols; ++j)
      for (Index i = i0; i < rows; ++i) dst[j * dst_stride + i] = src[i * src_stride + j];
  }
};

// Transpose<T>::run, or the run-time variant's transpose for float (kernels/transpose_x86.hpp).
template <typename T>
void transpose(KernelVariant variant, const T* src, Index src_stride, Index rows, Index cols,
               T* dst, Index dst_stride) {
  if constexpr (std::is_same_v<T, float>)
    if (kernels::transpose(variant, src, src_stride, rows, cols, dst, dst_stride)) return;
  Transpose<T>::run(src, src_stride, rows, cols, dst, dst_stride);
}

// out = activation(W B + bias [+ residual]) for a layer with few output channels, computed
// channel-major: W (out x depth) is packed once into groups of kRows output channels, and B
// (depth x pixels: the input itself for a 1x1 convolution, else the unfolded patches) is read
// in place, panel_width() pixels at a time, so the output needs no transpose. The
// micro-kernel is PackedWeight's with the operands' roles swapped: for the AVX2 / AVX-512
// variant current at construction, kernels/gemm_x86.hpp's (W kept row-major, panels of 16 /
// 32 pixels, the bias per row); for the baseline, the Eigen one below (each group of W
// packed depth x kRows, panels of two packets).
template <typename T>
class ChannelMajorProduct {
  using Packet = typename Eigen::internal::packet_traits<T>::type;
  static constexpr Index kPacketSize = Eigen::internal::unpacket_traits<Packet>::size;

 public:
  static constexpr Index kRows = 6;
  static constexpr Index kBaselinePanelWidth = 2 * kPacketSize;
  // A depth block of one panel of B (32 KiB of float with AVX-512) stays in L1 while every
  // group of W meets it.
  static constexpr Index kDepthBlock = 256;

  ChannelMajorProduct() = default;

  // `bias` has weight.rows() entries, or is null.
  template <typename Derived>
  ChannelMajorProduct(const Eigen::MatrixBase<Derived>& weight, const T* bias)
      : outputs_(weight.rows()),
        depth_(weight.cols()),
        variant_(std::is_same_v<T, float> ? kernel_variant() : KernelVariant::Baseline) {
    panel_width_ = variant_ == KernelVariant::AVX512 ? 32
                   : variant_ == KernelVariant::AVX2 ? 16
                                                     : kBaselinePanelWidth;
    const Index groups = group_count();
    packed_.assign(static_cast<std::size_t>(groups * depth_ * kRows), T(0));
    bias_.assign(static_cast<std::size_t>(groups * kRows), T(0));
    for (Index o = 0; o < outputs_; ++o) {
      if (variant_ == KernelVariant::Baseline) {
        T* group = packed_.data() + (o / kRows) * depth_ * kRows + o % kRows;
        for (Index k = 0; k < depth_; ++k) group[k * kRows] = weight(o, k);
      } else {
        for (Index k = 0; k < depth_; ++k)
          packed_[static_cast<std::size_t>(o * depth_ + k)] = weight(o, k);
      }
      if (bias) bias_[static_cast<std::size_t>(o)] = bias[o];
    }
  }

  Index out_features() const { return outputs_; }
  // The kernels this product was laid out for, and its panel width (pixels per panel).
  KernelVariant variant() const { return variant_; }
  Index panel_width() const { return panel_width_; }

  // out(o, 0:n) = activation(sum_k W(o, k) b(k, 0:n) + bias(o) [+ residual(o, 0:n)]); rows
  // of b, out and residual are ldb, ldc and ldr apart. The activation runs `activation_variant`'s
  // kernels (the variant current when the caller started).
  void multiply(const T* b, Index ldb, Index n, T* out, Index ldc, const T* residual, Index ldr,
                Activation activation, KernelVariant activation_variant) const {
    const Index groups = group_count(), panel_width = panel_width_;
    for (Index p0 = 0; p0 < n; p0 += panel_width) {
      const Index width = std::min(panel_width, n - p0);
      // The last, narrower panel: B copied zero-padded, the product into a full-width buffer.
      const bool edge = width < panel_width;
      const T* panel = b + p0;
      Index panel_stride = ldb;
      T* target = out + p0;
      Index target_stride = ldc;
      if (edge) {
        T* copy = conv_buffer<T, 5>(depth_ * panel_width);
        for (Index k = 0; k < depth_; ++k) {
          std::copy(b + k * ldb + p0, b + k * ldb + n, copy + k * panel_width);
          std::fill(copy + k * panel_width + width, copy + (k + 1) * panel_width, T(0));
        }
        panel = copy;
        panel_stride = panel_width;
        target = conv_buffer<T, 6>(groups * kRows * panel_width);
        target_stride = panel_width;
      }
      for (Index k0 = 0; k0 < depth_; k0 += kDepthBlock) {
        const Index depth = std::min(kDepthBlock, depth_ - k0);
        for (Index g = 0; g < groups; ++g) {
          const Index o = g * kRows;
          kernel(std::min(kRows, outputs_ - o), depth, o, k0, panel + k0 * panel_stride,
                 panel_stride, target + o * target_stride, target_stride, k0 > 0);
        }
      }
      if (edge)
        for (Index o = 0; o < outputs_; ++o)
          std::copy(target + o * target_stride, target + o * target_stride + width,
                    out + o * ldc + p0);
      if (residual)
        for (Index o = 0; o < outputs_; ++o) {
          Eigen::Map<Eigen::Matrix<T, 1, Eigen::Dynamic>> values(out + o * ldc + p0, width);
          values +=
              Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>>(residual + o * ldr + p0, width);
        }
      if (activate_rows(activation_variant, activation, out + p0, outputs_, width, ldc)) continue;
      for (Index o = 0; o < outputs_; ++o) {
        Eigen::Map<Eigen::Matrix<T, 1, Eigen::Dynamic>> values(out + o * ldc + p0, width);
        apply_activation(activation, values);
      }
    }
  }

 private:
  Index group_count() const { return (outputs_ + kRows - 1) / kRows; }

  // Output channels [o, o + rows), depth [k0, k0 + depth), one panel.
  EIGEN_ALWAYS_INLINE void kernel(Index rows, Index depth, Index o, Index k0, const T* b, Index ldb,
                                  T* c, Index ldc, bool accumulate) const {
    const T* bias = bias_.data() + o;
#if EIGENFORMER_X86_DISPATCH
    if constexpr (std::is_same_v<T, float>) {
      const T* a = packed_.data() + o * depth_ + k0;
      if (variant_ == KernelVariant::AVX512)
        return kernels::gemm_tile_avx512(rows, depth, a, depth_, b, ldb, nullptr, bias, c, ldc,
                                         accumulate);
      if (variant_ == KernelVariant::AVX2)
        return kernels::gemm_tile_avx2(rows, depth, a, depth_, b, ldb, nullptr, bias, c, ldc,
                                       accumulate);
    }
#endif
    baseline_kernel(rows, depth, packed_.data() + (o * depth_ + k0 * kRows), b, ldb, bias, c, ldc,
                    accumulate);
  }

  EIGEN_ALWAYS_INLINE static void baseline_kernel(Index rows, Index depth, const T* a, const T* b,
                                                  Index ldb, const T* bias, T* c, Index ldc,
                                                  bool accumulate) {
    switch (rows) {
      case 6:
        return micro_kernel<6>(depth, a, b, ldb, bias, c, ldc, accumulate);
      case 5:
        return micro_kernel<5>(depth, a, b, ldb, bias, c, ldc, accumulate);
      case 4:
        return micro_kernel<4>(depth, a, b, ldb, bias, c, ldc, accumulate);
      case 3:
        return micro_kernel<3>(depth, a, b, ldb, bias, c, ldc, accumulate);
      case 2:
        return micro_kernel<2>(depth, a, b, ldb, bias, c, ldc, accumulate);
      default:
        return micro_kernel<1>(depth, a, b, ldb, bias, c, ldc, accumulate);
    }
  }

  // c[0:Rows, 0:kBaselinePanelWidth] = a (depth x kRows, k-major) ^T b[0:depth,
  // 0:kBaselinePanelWidth] + (c when `accumulate`, else bias(r) on every column).
  template <int Rows>
  EIGEN_ALWAYS_INLINE static void micro_kernel(Index depth, const T* a, const T* b, Index ldb,
                                               const T* bias, T* c, Index ldc, bool accumulate) {
    using namespace Eigen::internal;
    Packet left[Rows], right[Rows];
    for (int r = 0; r < Rows; ++r) {
      left[r] = accumulate ? ploadu<Packet>(c + r * ldc) : pset1<Packet>(bias[r]);
      right[r] = accumulate ? ploadu<Packet>(c + r * ldc + kPacketSize) : pset1<Packet>(bias[r]);
    }
    for (Index k = 0; k < depth; ++k, b += ldb, a += kRows) {
      const Packet b_left = ploadu<Packet>(b);
      const Packet b_right = ploadu<Packet>(b + kPacketSize);
      for (int r = 0; r < Rows; ++r) {
        const Packet a_rk = pset1<Packet>(a[r]);
        left[r] = pmadd(a_rk, b_left, left[r]);
        right[r] = pmadd(a_rk, b_right, right[r]);
      }
    }
    for (int r = 0; r < Rows; ++r) {
      pstoreu(c + r * ldc, left[r]);
      pstoreu(c + r * ldc + kPacketSize, right[r]);
    }
  }

  Index outputs_ = 0, depth_ = 0;
  KernelVariant variant_ = KernelVariant::Baseline;
  Index panel_width_ = kBaselinePanelWidth;
  // Baseline: group_count() groups of depth x kRows; AVX2 / AVX-512: W row-major (the rest of
  // the last group unused).
  std::vector<T> packed_;
  std::vector<T> bias_;  // group_count() * kRows entries, zero without a bias
};

// First and one-past-last output column x whose input column x * stride + offset lies in
// [0, width); the others read zero padding.
inline std::pair<Index, Index> valid_output_range(Index offset, Index stride, Index width,
                                                  Index out_width) {
  const Index begin = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  const Index limit = width - offset;  // x * stride < limit
  const Index end = limit <= 0 ? 0 : std::min(out_width, (limit + stride - 1) / stride);
  return {std::min(begin, end), end};
}

}  // namespace detail

template <typename T>
class Conv2d {
 public:
  Conv2d() = default;

  // `weight` is (out, in / groups, kh, kw); `bias` is empty or (out).
  Conv2d(Tensor<T> weight, Tensor<T> bias, Index stride, Index padding,
         Activation activation = Activation::Identity, Index groups = 1)
      : weight_(std::move(weight)),
        bias_(std::move(bias)),
        stride_(stride),
        padding_(padding),
        activation_(activation),
        groups_(groups),
        packed_(pixel_major_weight(weight_, bias_, groups_)) {
    if (weight_.rank() != 4 || weight_.size() == 0)
      throw ShapeError(detail::concat("Conv2d: weight must be a non-empty (out, in, kh, kw), got ",
                                      detail::shape_string(weight_.shape())));
    if (!bias_.empty() && bias_.shape() != Shape{out_channels()})
      throw ShapeError(detail::concat("Conv2d: bias shape ", detail::shape_string(bias_.shape()),
                                      " does not match ", out_channels(), " output channels"));
    if (stride_ < 1 || padding_ < 0)
      throw InvalidArgument(detail::concat("Conv2d: stride ", stride_, " must be >= 1 and padding ",
                                           padding_, " >= 0"));
    if (groups_ != 1 && !(weight_.dim(1) == 1 && groups_ == out_channels()))
      throw InvalidArgument(detail::concat("Conv2d: groups ", groups_, " with weight ",
                                           detail::shape_string(weight_.shape()),
                                           ": only groups 1 and depthwise (groups = in = out "
                                           "channels) are supported"));
    if (groups_ == 1 && out_channels() < detail::kConvMinPackedOutputs)
      narrow_ =
          detail::ChannelMajorProduct<T>(weight_matrix(), has_bias() ? bias_.data() : nullptr);
    if constexpr (std::is_same_v<T, float>)
      if (detail::Winograd3x3::suits(out_channels(), in_channels(), kernel_height(), kernel_width(),
                                     stride_, groups_))
        winograd_ =
            detail::Winograd3x3(weight_.data(), out_channels(), in_channels(),
                                has_bias() ? bias_.data() : nullptr, detail::winograd_tile.load());
  }

  // Binds `<prefix>weight` (out, in, kernel, kernel) and, when `has_bias`, `<prefix>bias`.
  static Conv2d load(const StateDict<T>& weights, const std::string& prefix, Index in_channels,
                     Index out_channels, Index kernel, Index stride, Index padding,
                     bool has_bias = false, Activation activation = Activation::Identity) {
    return Conv2d(weights.at(prefix + "weight", {out_channels, in_channels, kernel, kernel}),
                  has_bias ? weights.at(prefix + "bias", {out_channels}) : Tensor<T>(), stride,
                  padding, activation);
  }

  Index out_channels() const { return weight_.dim(0); }
  Index in_channels() const { return weight_.dim(1) * groups_; }
  Index groups() const { return groups_; }
  bool is_depthwise() const { return groups_ > 1; }
  Index kernel_height() const { return weight_.dim(2); }
  Index kernel_width() const { return weight_.dim(3); }
  Index stride() const { return stride_; }
  Index padding() const { return padding_; }
  Activation activation() const { return activation_; }
  bool has_bias() const { return !bias_.empty(); }
  const Tensor<T>& weight_tensor() const { return weight_; }
  const Tensor<T>& bias_tensor() const { return bias_; }
  // The weight as PyTorch's (out, in * kh * kw) matrix (the product uses a reordered copy).
  ConstMatrixMap<T> weight_matrix() const {
    return weight_.matrix(out_channels(), weight_.size() / out_channels());
  }
  ConstVectorMap<T> bias() const { return bias_.vector(); }

  Index output_height(Index height) const {
    return conv_output_size(height, kernel_height(), stride_, padding_);
  }
  Index output_width(Index width) const {
    return conv_output_size(width, kernel_width(), stride_, padding_);
  }

  // output = activation(conv(input) + bias [+ residual]). `output` is resized as needed and
  // must not be `input`; `residual`, when given, has the output's shape.
  void forward(const FeatureMap<T>& input, FeatureMap<T>& output,
               const FeatureMap<T>* residual = nullptr) const {
    check_input(input);
    const Index out_h = output_height(input.height), out_w = output_width(input.width);
    output.data.resize(out_channels(), out_h * out_w);
    output.height = out_h;
    output.width = out_w;
    if (residual) check_residual(*residual, output);
    if (is_depthwise())
      depthwise(input, output, residual);
    else if (!winograd_.empty() && detail::winograd_enabled.load(std::memory_order_relaxed) &&
             kernel_variant() != KernelVariant::Baseline)
      winograd(input, output, residual);
    else
      banded_product(input, output, residual);
  }

  FeatureMap<T> forward(const FeatureMap<T>& input, const FeatureMap<T>* residual = nullptr) const {
    FeatureMap<T> output;
    forward(input, output, residual);
    return output;
  }

 private:
  bool is_pointwise() const {
    return groups_ == 1 && kernel_height() == 1 && kernel_width() == 1 && stride_ == 1 &&
           padding_ == 0;
  }

  // The pixel-major product's weight for a groups-1 layer with at least
  // kConvMinPackedOutputs outputs (else empty): column (ky * kw + kx) * in + c holds
  // weight(o, c, ky, kx), the order in which a patch row is copied from pixel-major input.
  // Built in the member initialiser (no assignment: GCC 12 then warns about PackedWeight's
  // optional bias), so it checks the shapes that the constructor's body rejects.
  static PackedWeight<T> pixel_major_weight(const Tensor<T>& weight, const Tensor<T>& bias,
                                            Index groups) {
    if (groups != 1 || weight.rank() != 4 || weight.size() == 0 ||
        weight.dim(0) < detail::kConvMinPackedOutputs ||
        !(bias.empty() || bias.shape() == Shape{weight.dim(0)}))
      return PackedWeight<T>();
    const Index out = weight.dim(0), in = weight.dim(1), taps = weight.dim(2) * weight.dim(3);
    const auto pytorch = weight.matrix(out, in * taps);
    Matrix<T> reordered(out, in * taps);
    for (Index o = 0; o < out; ++o)
      for (Index c = 0; c < in; ++c)
        for (Index t = 0; t < taps; ++t) reordered(o, t * in + c) = pytorch(o, c * taps + t);
    if (bias.empty()) return PackedWeight<T>(reordered);
    return PackedWeight<T>(reordered, bias.vector());
  }

  void check_input(const FeatureMap<T>& input) const {
    input.check("Conv2d input");
    if (input.channels() != in_channels())
      throw ShapeError(detail::concat("Conv2d: input has ", input.channels(),
                                      " channels, expected ", in_channels()));
    if (output_height(input.height) < 1 || output_width(input.width) < 1)
      throw ShapeError(detail::concat("Conv2d: input ", input.height, " x ", input.width,
                                      " is smaller than the ", kernel_height(), " x ",
                                      kernel_width(), " kernel with padding ", padding_));
  }

  static void check_residual(const FeatureMap<T>& residual, const FeatureMap<T>& output) {
    if (residual.channels() != output.channels() || residual.height != output.height ||
        residual.width != output.width)
      throw ShapeError(detail::concat("Conv2d: residual is ", residual.channels(), " x ",
                                      residual.height, " x ", residual.width, ", output is ",
                                      output.channels(), " x ", output.height, " x ",
                                      output.width));
  }

  // Channel-major patches of output rows [y0, y0 + rows), rows * out_w columns: row
  // (c, ky, kx), column (y, x) holds input(c, y * stride - padding + ky, x * stride -
  // padding + kx) (im2col).
  void unfold_channel_major(const FeatureMap<T>& input, Index y0, Index rows, Index out_w,
                            T* columns) const {
    const Index kh = kernel_height(), kw = kernel_width(), patch = in_channels() * kh * kw;
    for (Index r = 0; r < patch; ++r) {
      const Index c = r / (kh * kw), ky = (r / kw) % kh, kx = r % kw;
      const T* plane = input.data.row(c).data();
      const Index offset = kx - padding_;  // source x = x * stride + offset
      const auto [x_begin, x_end] = detail::valid_output_range(offset, stride_, input.width, out_w);
      T* destination = columns + r * rows * out_w;
      for (Index y = y0; y < y0 + rows; ++y, destination += out_w) {
        const Index source_y = y * stride_ - padding_ + ky;
        if (source_y < 0 || source_y >= input.height) {
          std::fill(destination, destination + out_w, T(0));
          continue;
        }
        const T* source = plane + source_y * input.width;
        std::fill(destination, destination + x_begin, T(0));
        if (stride_ == 1)
          std::copy(source + x_begin + offset, source + x_end + offset, destination + x_begin);
        else
          for (Index x = x_begin; x < x_end; ++x) destination[x] = source[x * stride_ + offset];
        std::fill(destination + x_end, destination + out_w, T(0));
      }
    }
  }

  // Output columns [first, first + count): += residual, then the activation (the product
  // could not apply it: it comes after the residual).
  void add_residual(FeatureMap<T>& output, const FeatureMap<T>& residual, Index first, Index count,
                    KernelVariant variant) const {
    if (variant != KernelVariant::Baseline) {
      for (Index c = 0; c < output.channels(); ++c)
        output.data.row(c).segment(first, count) += residual.data.row(c).segment(first, count);
      if (detail::activate_rows(variant, activation_, output.data.data() + first, output.channels(),
                                count, output.data.cols()))
        return;
      for (Index c = 0; c < output.channels(); ++c) {
        auto segment = output.data.row(c).segment(first, count);
        apply_activation(activation_, segment);
      }
      return;
    }
    for (Index c = 0; c < output.channels(); ++c) {
      auto segment = output.data.row(c).segment(first, count);
      segment += residual.data.row(c).segment(first, count);
      apply_activation(activation_, segment);
    }
  }

  // The Winograd path (float only: winograd_ is empty otherwise), the residual and the
  // activation applied to each block's outputs while they are in cache.
  void winograd(const FeatureMap<T>& input, FeatureMap<T>& output,
                const FeatureMap<T>* residual) const {
    if constexpr (std::is_same_v<T, float>) {
      const KernelVariant variant = kernel_variant();  // outside the parallel region
      winograd_.forward(input, padding_, output, variant, [&](Index first, Index count) {
        if (residual) return add_residual(output, *residual, first, count, variant);
        if (detail::activate_rows(variant, activation_, output.data.data() + first,
                                  output.channels(), count, output.data.cols()))
          return;
        for (Index c = 0; c < output.channels(); ++c) {
          auto segment = output.data.row(c).segment(first, count);
          apply_activation(activation_, segment);
        }
      });
    } else {
      banded_product(input, output, residual);
    }
  }

  // Bands of whole output rows, as many as the patch buffer size asks for, rounded up to a
  // multiple of the thread count so that the threads, one band at a time, finish together.
  void banded_product(const FeatureMap<T>& input, FeatureMap<T>& output,
                      const FeatureMap<T>* residual) const {
    const Index out_h = output.height, out_w = output.width;
    const Index patch = in_channels() * kernel_height() * kernel_width();
    const Index band_pixels =
        std::max(detail::kConvMinBandPixels, detail::kConvBandElements / patch);
    const int threads =
        detail::threads_for(out_h, output.data.size() * patch, detail::WorkKind::MultiplyAdds);
    Index bands = (out_h * out_w + band_pixels - 1) / band_pixels;
    bands = std::min(out_h, (bands + threads - 1) / threads * threads);
    const Index band_rows = (out_h + bands - 1) / bands;
    bands = (out_h + band_rows - 1) / band_rows;
    const KernelVariant variant = kernel_variant();  // outside the parallel region: it may throw
    detail::parallel_for(bands, threads, [&](Index band) {
      const Index y0 = band * band_rows, rows = std::min(band_rows, out_h - y0);
      if (narrow_.out_features() > 0)
        narrow_band_product(input, output, residual, y0, rows, variant);
      else
        band_product(input, output, residual, y0, rows, variant);
    });
  }

  void narrow_band_product(const FeatureMap<T>& input, FeatureMap<T>& output,
                           const FeatureMap<T>* residual, Index y0, Index rows,
                           KernelVariant variant) const {
    const Index out_w = output.width, first = y0 * out_w, pixels = rows * out_w;
    const T* patches = input.data.data() + first;
    Index stride = input.data.cols();
    if (!is_pointwise()) {
      T* unfolded =
          detail::conv_buffer<T, 1>(in_channels() * kernel_height() * kernel_width() * pixels);
      unfold_channel_major(input, y0, rows, out_w, unfolded);
      patches = unfolded;
      stride = pixels;
    }
    narrow_.multiply(patches, stride, pixels, output.data.data() + first, output.data.cols(),
                     residual ? residual->data.data() + first : nullptr,
                     residual ? residual->data.cols() : 0, activation_, variant);
  }

  // Output rows [y0, y0 + rows): patches, product, transposed store.
  void band_product(const FeatureMap<T>& input, FeatureMap<T>& output,
                    const FeatureMap<T>* residual, Index y0, Index rows,
                    KernelVariant variant) const {
    const Index in = in_channels(), width = input.width, out_w = output.width;
    const Index pixels = rows * out_w, patch = packed_.in_features();
    // Input rows the band reads, clipped to the image, copied pixel-major.
    const Index first_row = std::max<Index>(0, y0 * stride_ - padding_);
    const Index end_row =
        std::min(input.height, (y0 + rows - 1) * stride_ - padding_ + kernel_height());
    T* pixel_major =
        detail::conv_buffer<T, 0>(std::max<Index>(0, end_row - first_row) * width * in);
    if (end_row > first_row)
      detail::transpose(variant, input.data.data() + first_row * width, input.data.cols(), in,
                        (end_row - first_row) * width, pixel_major, in);
    const T* patches = pixel_major;
    if (!is_pointwise()) {
      T* unfolded = detail::conv_buffer<T, 1>(pixels * patch);
      unfold(pixel_major, first_row, end_row, width, y0, rows, out_w, unfolded);
      patches = unfolded;
    }
    T* result = detail::conv_buffer<T, 2>(pixels * out_channels());
    const Eigen::Map<const Matrix<T>> x(patches, pixels, patch);
    Eigen::Map<Matrix<T>> product(result, pixels, out_channels());
    // The baseline activates each tile inside the product; a run-time variant activates the
    // band's result here, still in cache, with its own kernel.
    const bool activate_here =
        std::is_same_v<T, float> && !residual && variant != KernelVariant::Baseline;
    packed_.multiply(x, product, residual || activate_here ? Activation::Identity : activation_);
    if (activate_here && !detail::activate_rows(variant, activation_, result, pixels,
                                                out_channels(), out_channels()))
      apply_activation(activation_, product);
    const Index first = y0 * out_w;
    detail::transpose(variant, result, out_channels(), pixels, out_channels(),
                      output.data.data() + first, output.data.cols());
    if (residual) add_residual(output, *residual, first, pixels, variant);
  }

  // Patch rows of output rows [y0, y0 + rows) from the pixel-major input rows
  // [first_row, end_row): tap (ky, kx) of pixel (y, x) is the `in` values of input pixel
  // (y * stride - padding + ky, x * stride - padding + kx), or zeros outside the image.
  void unfold(const T* pixel_major, Index first_row, Index end_row, Index width, Index y0,
              Index rows, Index out_w, T* patches) const {
    const Index in = in_channels(), kh = kernel_height(), kw = kernel_width();
    const Index patch = in * kh * kw;
    for (Index y = y0; y < y0 + rows; ++y) {
      for (Index ky = 0; ky < kh; ++ky) {
        const Index source_y = y * stride_ - padding_ + ky;
        const bool inside = source_y >= first_row && source_y < end_row;
        const T* source_row = inside ? pixel_major + (source_y - first_row) * width * in : nullptr;
        for (Index kx = 0; kx < kw; ++kx) {
          T* destination = patches + (y - y0) * out_w * patch + (ky * kw + kx) * in;
          const Index offset = kx - padding_;  // source x = x * stride + offset
          const auto [x_begin, x_end] =
              inside ? detail::valid_output_range(offset, stride_, width, out_w)
                     : std::pair<Index, Index>{0, 0};
          for (Index x = 0; x < out_w; ++x, destination += patch) {
            if (x < x_begin || x >= x_end) {
              std::fill(destination, destination + in, T(0));
            } else {
              const T* source = source_row + (x * stride_ + offset) * in;
              std::copy(source, source + in, destination);
            }
          }
        }
      }
    }
  }

  // Each channel is filtered from a zero-padded copy of its plane, split by stride phase:
  // phase q of padded row r holds padded(r, i * stride + q), so tap (ky, kx) of output x
  // reads phase kx % stride of row y * stride + ky at x + kx / stride, a contiguous run.
  void depthwise(const FeatureMap<T>& input, FeatureMap<T>& output,
                 const FeatureMap<T>* residual) const {
    const Index channels = out_channels(),
                phase_w = (input.width + 2 * padding_ + stride_ - 1) / stride_;
    const Index padded_size = (input.height + 2 * padding_) * stride_ * phase_w;
    const KernelVariant variant = kernel_variant();  // outside the parallel region: it may throw
    const int threads =
        detail::threads_for(channels, output.data.size() * kernel_height() * kernel_width(),
                            detail::WorkKind::MultiplyAdds);
    detail::parallel_for(channels, threads, [&](Index c) {
      T* padded = detail::conv_buffer<T, 3>(padded_size);
      std::fill(padded, padded + padded_size, T(0));
      const T* plane = input.data.row(c).data();
      for (Index y = 0; y < input.height; ++y) {
        T* phases = padded + (y + padding_) * stride_ * phase_w;
        const T* source = plane + y * input.width;
        if (stride_ == 1) {
          std::copy(source, source + input.width, phases + padding_);
          continue;
        }
        for (Index x = 0; x < input.width; ++x) {
          const Index px = x + padding_;
          phases[(px % stride_) * phase_w + px / stride_] = source[x];
        }
      }
      if (stride_ == 1)
        filter_flat(padded, phase_w, c, output, variant);
      else
        filter_rows(padded, phase_w, c, output, variant);
      auto result = output.data.row(c);
      if (residual) result += residual->data.row(c);
      if (variant == KernelVariant::Baseline ||
          !detail::activate_rows(variant, activation_, result.data(), 1, result.size(),
                                 result.size()))
        apply_activation(activation_, result);
    });
  }

  // Stride 1: each tap is one multiply-add over the whole plane, in padded coordinates (row
  // stride `padded_w`, the columns past out_w computed and dropped), so the loops are long.
  void filter_flat(const T* padded, Index padded_w, Index c, FeatureMap<T>& output,
                   KernelVariant variant) const {
    const Index kh = kernel_height(), kw = kernel_width(), out_h = output.height,
                out_w = output.width, span = (out_h - 1) * padded_w + out_w;
    T* sums = detail::conv_buffer<T, 4>(span);
    if (variant != KernelVariant::Baseline) {
      Index* offsets = detail::conv_buffer<Index, 7>(kh * kw);
      for (Index ky = 0; ky < kh; ++ky)
        for (Index kx = 0; kx < kw; ++kx) offsets[ky * kw + kx] = ky * padded_w + kx;
      if (tap_sum(variant, sums, span, padded, offsets, c)) {
        T* destination = output.data.row(c).data();
        for (Index y = 0; y < out_h; ++y)
          std::copy(sums + y * padded_w, sums + y * padded_w + out_w, destination + y * out_w);
        return;
      }
    }
    std::fill(sums, sums + span, has_bias() ? bias_.data()[c] : T(0));
    const T* taps = weight_.data() + c * kh * kw;
    for (Index ky = 0; ky < kh; ++ky)
      for (Index kx = 0; kx < kw; ++kx) {
        const T tap = taps[ky * kw + kx];
        const T* source = padded + ky * padded_w + kx;
        for (Index i = 0; i < span; ++i) sums[i] += tap * source[i];
      }
    T* destination = output.data.row(c).data();
    for (Index y = 0; y < out_h; ++y)
      std::copy(sums + y * padded_w, sums + y * padded_w + out_w, destination + y * out_w);
  }

  void filter_rows(const T* padded, Index phase_w, Index c, FeatureMap<T>& output,
                   KernelVariant variant) const {
    const Index kh = kernel_height(), kw = kernel_width(), out_w = output.width;
    const T* taps = weight_.data() + c * kh * kw;
    T* destination = output.data.row(c).data();
    if (variant != KernelVariant::Baseline) {
      Index* offsets = detail::conv_buffer<Index, 7>(kh * kw);
      for (Index ky = 0; ky < kh; ++ky)
        for (Index kx = 0; kx < kw; ++kx)
          offsets[ky * kw + kx] = ky * stride_ * phase_w + (kx % stride_) * phase_w + kx / stride_;
      bool done = true;
      for (Index y = 0; y < output.height && done; ++y)
        done = tap_sum(variant, destination + y * out_w, out_w,
                       padded + y * stride_ * stride_ * phase_w, offsets, c);
      if (done) return;
    }
    for (Index y = 0; y < output.height; ++y) {
      T* row = destination + y * out_w;
      std::fill(row, row + out_w, has_bias() ? bias_.data()[c] : T(0));
      for (Index ky = 0; ky < kh; ++ky) {
        const T* phases = padded + (y * stride_ + ky) * stride_ * phase_w;
        for (Index kx = 0; kx < kw; ++kx) {
          const T tap = taps[ky * kw + kx];
          const T* source = phases + (kx % stride_) * phase_w + kx / stride_;
          for (Index x = 0; x < out_w; ++x) row[x] += tap * source[x];
        }
      }
    }
  }

  // out[0:n] = bias(c) + sum over the taps t of channel c of weight(c, t) source[offsets[t] +
  // i], by the run-time kernel of `variant`; false for the baseline or a type other than float.
  bool tap_sum(KernelVariant variant, T* out, Index n, const T* source, const Index* offsets,
               Index c) const {
    if constexpr (std::is_same_v<T, float>) {
      const Index taps = kernel_height() * kernel_width();
      return kernels::tap_sum_row(variant, out, n, source, offsets, weight_.data() + c * taps, taps,
                                  has_bias() ? bias_.data()[c] : T(0));
    }
    return false;
  }

  Tensor<T> weight_;
  Tensor<T> bias_;
  Index stride_ = 1;
  Index padding_ = 0;
  Activation activation_ = Activation::Identity;
  Index groups_ = 1;
  // Groups 1 with at least kConvMinPackedOutputs outputs: the reordered weight and the bias.
  PackedWeight<T> packed_;
  detail::ChannelMajorProduct<T> narrow_;  // groups 1, fewer outputs
  detail::Winograd3x3 winograd_;           // float 3x3 stride-1 layers with many channels
};

}  // namespace eigenformer
