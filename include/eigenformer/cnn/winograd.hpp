#pragma once
// Winograd F(2x2, 3x3) and F(4x4, 3x3) convolution (Lavin & Gray 2015, "Fast Algorithms for
// Convolutional Neural Networks"), for Conv2d's 3x3, stride-1, groups-1 float layers with many
// channels: each m x m output tile (m = 2 or 4) is Y = A^T [(G g G^T) . (B^T d B)] A over its
// (m + 2) x (m + 2) input patch d, so a tile takes (m + 2)^2 multiply-adds per input and output
// channel instead of the direct product's 9 m^2 (16 instead of 36, 36 instead of 144).
// F(4x4) takes the interpolation points 0, -1, 1, 1/2, -2 (kernels/winograd_impl.inc) for
// accuracy; detail::winograd_tile picks the tile of the layers constructed next.
//
// The weight is transformed once, at construction, into (m + 2)^2 matrices U (out x in). Tiles
// are taken in blocks (a multiple of the GEMM panel width, so that the transformed inputs V,
// (m + 2)^2 x in x tiles, and the products M, (m + 2)^2 x out x tiles, stay in L2), the blocks
// split between the threads as they come free. Per block: the input transform
// (kernels/winograd_x86.hpp), the products U V on the run-time variant's GEMM micro-kernel
// (kernels/gemm_x86.hpp), the output transform with the bias, and the caller's residual and
// activation on the finished outputs. It runs only with the AVX2 / AVX-512 variants; Conv2d
// keeps its direct path for the rest.

#include <eigenformer/cnn/feature_map.hpp>
#include <eigenformer/core/threading.hpp>
#include <eigenformer/core/types.hpp>
#include <eigenformer/kernels/cpu_features.hpp>
#include <eigenformer/kernels/winograd_x86.hpp>

#include <algorithm>
#include <atomic>
#include <vector>

namespace eigenformer::detail {

// Whether Conv2d may take the Winograd path at all (tests turn it off to compare with the
// direct one).
inline std::atomic<bool> winograd_enabled{true};

// The output tile (2: F(2x2, 3x3), 4: F(4x4, 3x3)) of the Winograd layers Conv2d constructs
// from now on (tests and `eigenformer-bench --winograd-tile` set it before building a model).
// F(4x4) by default: fewer products, faster on both RT-DETR models (docs/performance.md).
inline std::atomic<int> winograd_tile{4};

// Layers with fewer input or output channels stay direct: per tile, the transforms cost about
// what the products save.
constexpr Index kWinogradMinChannels = 16;

// Floats of V and M per block (1 MiB, about an L2), and the bounds on a block's tiles.
constexpr Index kWinogradBlockElements = Index{1} << 18;
constexpr Index kWinogradMinBlockTiles = 32;
constexpr Index kWinogradMaxBlockTiles = 128;

class Winograd3x3 {
 public:
  // The products' depth block, as ChannelMajorProduct's: one panel of V stays in L1.
  static constexpr Index kDepthBlock = 256;
  static constexpr Index kRows = 6;  // output channels per micro-kernel call

  Winograd3x3() = default;

  // `weight` in PyTorch's (out, in, 3, 3) layout; `bias` has `out` entries, or is null; `tile`
  // the output tile, 2 (F(2x2, 3x3)) or 4 (F(4x4, 3x3)).
  Winograd3x3(const float* weight, Index out, Index in, const float* bias, int tile = 2)
      : outputs_(out), inputs_(in), tile_(tile == 4 ? 4 : 2), points_(tile_ + 2) {
    // G for F(2x2): [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]; for F(4x4) (points 0, -1, 1,
    // 1/2, -2, infinity; kernels/winograd_impl.inc): [1 0 0; -1/3 1/3 -1/3; 1/3 1/3 1/3;
    // -16/15 -8/15 -4/15; 1/15 -2/15 4/15; 0 0 1].
    static constexpr double kG2[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
    static constexpr double kG4[6][3] = {{1, 0, 0},
                                         {-1.0 / 3, 1.0 / 3, -1.0 / 3},
                                         {1.0 / 3, 1.0 / 3, 1.0 / 3},
                                         {-16.0 / 15, -8.0 / 15, -4.0 / 15},
                                         {1.0 / 15, -2.0 / 15, 4.0 / 15},
                                         {0, 0, 1}};
    const int p = points_;
    auto g_at = [&](int i, int b) { return p == 4 ? kG2[i][b] : kG4[i][b]; };
    u_.assign(static_cast<std::size_t>(p * p * out * in), 0.0f);
    for (Index o = 0; o < out; ++o)
      for (Index c = 0; c < in; ++c) {
        const float* g = weight + (o * in + c) * 9;
        double gg[6][3];  // G g
        for (int i = 0; i < p; ++i)
          for (int b = 0; b < 3; ++b)
            gg[i][b] = g_at(i, 0) * g[b] + g_at(i, 1) * g[3 + b] + g_at(i, 2) * g[6 + b];
        for (int i = 0; i < p; ++i)
          for (int j = 0; j < p; ++j)
            u_[static_cast<std::size_t>(((p * i + j) * out + o) * in + c)] = static_cast<float>(
                gg[i][0] * g_at(j, 0) + gg[i][1] * g_at(j, 1) + gg[i][2] * g_at(j, 2));
      }
    bias_.assign(static_cast<std::size_t>(out), 0.0f);
    if (bias) std::copy(bias, bias + out, bias_.begin());
    const Index fit = kWinogradBlockElements / (products() * (in + out));
    block_tiles_ = std::clamp(fit / kWinogradMinBlockTiles * kWinogradMinBlockTiles,
                              kWinogradMinBlockTiles, kWinogradMaxBlockTiles);
  }

  // Whether a layer of this shape takes the Winograd path (given a run-time variant).
  static bool suits(Index out, Index in, Index kernel_height, Index kernel_width, Index stride,
                    Index groups) {
    return groups == 1 && kernel_height == 3 && kernel_width == 3 && stride == 1 &&
           out >= kWinogradMinChannels && in >= kWinogradMinChannels;
  }

  bool empty() const { return outputs_ == 0; }
  Index block_tiles() const { return block_tiles_; }
  int tile() const { return tile_; }
  // Products per tile: 16 for F(2x2, 3x3), 36 for F(4x4, 3x3).
  Index products() const { return Index{points_} * points_; }

  // output = conv(input, padding) + bias, then finish(first, count) on columns [first, first +
  // count) of every output channel once they are final (the residual and the activation).
  // `output` has its shape already; `variant` is AVX2 or AVX-512. `finish` must not throw.
  template <typename Finish>
  void forward(const FeatureMap<float>& input, Index padding, FeatureMap<float>& output,
               KernelVariant variant, Finish&& finish) const {
    const Index out_h = output.height, out_w = output.width, m = tile_;
    const Index tiles_w = (out_w + m - 1) / m, tiles = (out_h + m - 1) / m * tiles_w;
    const Index block = block_tiles_, blocks = (tiles + block - 1) / block;
    const int threads =
        threads_for(blocks, products() * tiles * inputs_ * outputs_, WorkKind::MultiplyAdds);
    parallel_for(blocks, threads, [&](Index b) {
      const Index t0 = b * block;
      run_block(input, padding, output, variant, t0, std::min(block, tiles - t0), tiles_w, finish);
    });
  }

 private:
  // One growing buffer per thread and slot, aligned as Eigen's matrices.
  template <int Slot>
  static float* buffer(Index size) {
    thread_local std::vector<float, Eigen::aligned_allocator<float>> storage;
    if (static_cast<Index>(storage.size()) < size) storage.resize(static_cast<std::size_t>(size));
    return storage.data();
  }

  // body(ty, tx0, n, offset) for each run of tiles [t0, t0 + count) within one tile row:
  // tiles (ty, tx0 .. tx0 + n - 1), the first at position `offset` of the block.
  template <typename Body>
  static void for_each_run(Index t0, Index count, Index tiles_w, Body&& body) {
    for (Index offset = 0; offset < count;) {
      const Index t = t0 + offset, ty = t / tiles_w, tx0 = t % tiles_w;
      const Index n = std::min(tiles_w - tx0, count - offset);
      body(ty, tx0, n, offset);
      offset += n;
    }
  }

  template <typename Finish>
  void run_block(const FeatureMap<float>& input, Index padding, FeatureMap<float>& output,
                 KernelVariant variant, Index t0, Index count, Index tiles_w,
                 Finish& finish) const {
    const Index block = block_tiles_, in = inputs_, out = outputs_, mt = tile_, np = products();
    const Index panel = kernels::gemm_panel_width(variant);
    const Index used = (count + panel - 1) / panel * panel;  // columns the products compute
    float* v = buffer<0>(np * in * block);
    float* m = buffer<1>(np * out * block);
    // The input transform's 2 (mt + 2) rows of count + 1, the output transform's mt^2 rows.
    float* scratch = buffer<2>(std::max(4 * (mt + 2) * (block + 1), mt * mt * block));
    const Index plane_size = input.height * input.width;
    for (Index c = 0; c < in; ++c) {
      const float* plane = input.data.data() + c * plane_size;
      for_each_run(t0, count, tiles_w, [&](Index ty, Index tx0, Index n, Index offset) {
        kernels::winograd_input(variant, tile_, plane, input.height, input.width, padding, ty, tx0,
                                n, scratch, v + c * block + offset, in * block);
      });
    }
    if (used > count)  // the last block's ragged panel: zeros, not stale values
      for (Index row = 0; row < np * in; ++row)
        std::fill(v + row * block + count, v + row * block + used, 0.0f);
    for (Index xi = 0; xi < np; ++xi) {
      const float* u = u_.data() + xi * out * in;
      const float* vx = v + xi * in * block;
      float* mx = m + xi * out * block;
      for (Index p0 = 0; p0 < used; p0 += panel)
        for (Index k0 = 0; k0 < in; k0 += kDepthBlock) {
          const Index depth = std::min(kDepthBlock, in - k0);
          for (Index o = 0; o < out; o += kRows)
            kernels::gemm_tile(variant, std::min(kRows, out - o), depth, u + o * in + k0, in,
                               vx + k0 * block + p0, block, mx + o * block + p0, block, k0 > 0);
        }
    }
    float* y = scratch;  // mt^2 * count outputs of one channel
    const Index out_h = output.height, out_w = output.width;
    for (Index o = 0; o < out; ++o) {
      kernels::winograd_output(variant, tile_, m + o * block, out * block, count,
                               bias_[static_cast<std::size_t>(o)], y);
      float* plane = output.data.data() + o * out_h * out_w;
      for_each_run(t0, count, tiles_w, [&](Index ty, Index tx0, Index n, Index offset) {
        // Whole tiles, then a last one cut by the output width.
        const Index whole = mt * (tx0 + n) <= out_w ? n : n - 1;
        const Index rows = std::min(mt, out_h - mt * ty);
        const Index cut = out_w - mt * (tx0 + whole);  // columns of the cut tile
        for (Index r = 0; r < rows; ++r) {
          float* row = plane + (mt * ty + r) * out_w + mt * tx0;
          for (Index s = 0; s < mt; ++s) {
            const float* ys = y + (mt * r + s) * count + offset;
            for (Index t = 0; t < whole; ++t) row[mt * t + s] = ys[t];
            if (whole < n && s < cut) row[mt * whole + s] = ys[whole];
          }
        }
      });
    }
    for_each_run(t0, count, tiles_w, [&](Index ty, Index tx0, Index n, Index) {
      const Index x0 = mt * tx0, width = std::min(mt * n, out_w - x0);
      for (Index y_out = mt * ty; y_out < std::min(mt * ty + mt, out_h); ++y_out)
        finish(y_out * out_w + x0, width);
    });
  }

  Index outputs_ = 0, inputs_ = 0;
  int tile_ = 2, points_ = 4;  // output tile and input patch side
  Index block_tiles_ = kWinogradMinBlockTiles;
  // products() matrices out x in, row-major: U(xi)(o, c) at (xi * out + o) * in + c
  std::vector<float> u_;
  std::vector<float> bias_;  // out entries, zero without a bias
};

}  // namespace eigenformer::detail
