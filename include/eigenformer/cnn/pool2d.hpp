#pragma once
// Max and average pooling over square windows, with PyTorch's F.max_pool2d / F.avg_pool2d
// semantics (dilation 1):
// - output size floor((in + 2p - k) / s) + 1, or with ceil_mode the ceiling, minus one when
//   the last window would start in the right/bottom padding (PyTorch's pooling_output_shape);
// - max pooling ignores padding and propagates NaN;
// - average pooling divides by the window clipped to input + padding when count_include_pad,
//   by the number of input elements otherwise. A ceil_mode window that hangs past the padding
//   is clipped either way: with padding 0, as the ResNet-vd shortcut's
//   AvgPool2d(2, 2, ceil_mode=True) uses it, a half window averages what it covers.

#include <eigenformer/cnn/feature_map.hpp>
#include <eigenformer/core/error.hpp>
#include <eigenformer/core/threading.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace eigenformer {

struct PoolOptions {
  Index kernel = 2;
  Index stride = 2;
  Index padding = 0;
  bool ceil_mode = false;
  bool count_include_pad = true;  // average pooling only
};

inline Index pool_output_size(Index input, const PoolOptions& options) {
  const Index k = options.kernel, s = options.stride, p = options.padding;
  if (k < 1 || s < 1 || p < 0 || 2 * p > k)
    throw InvalidArgument(detail::concat("pooling: kernel ", k, ", stride ", s, ", padding ", p,
                                         " (need kernel, stride >= 1 and padding <= kernel / 2)"));
  const Index span = input + 2 * p - k;
  if (span < 0)
    throw ShapeError(detail::concat("pooling: input extent ", input, " with padding ", p,
                                    " is smaller than the kernel ", k));
  Index size = (options.ceil_mode ? (span + s - 1) / s : span / s) + 1;
  if (options.ceil_mode && (size - 1) * s >= input + p) --size;
  return size;
}

namespace detail {

// Calls reduce(channel_plane, y_begin, y_end, x_begin, x_end, padded_window_size) for every
// output position and stores what it returns; the ranges are clipped to the input.
template <typename T, typename Reduce>
FeatureMap<T> pool(const FeatureMap<T>& input, const PoolOptions& options, Reduce reduce) {
  input.check("pooling input");
  const Index out_h = pool_output_size(input.height, options);
  const Index out_w = pool_output_size(input.width, options);
  const Index k = options.kernel, s = options.stride, p = options.padding;
  FeatureMap<T> output(input.channels(), out_h, out_w);
  const Index window_elements = output.data.size() * k * k;
  detail::parallel_for(
      input.channels(),
      detail::threads_for(input.channels(), window_elements, detail::WorkKind::Elements),
      [&](Index c) {
        const T* plane = input.data.row(c).data();
        for (Index oy = 0; oy < out_h; ++oy) {
          const Index y0 = oy * s - p, y1 = std::min(y0 + k, input.height + p);
          for (Index ox = 0; ox < out_w; ++ox) {
            const Index x0 = ox * s - p, x1 = std::min(x0 + k, input.width + p);
            const Index padded_size = (y1 - y0) * (x1 - x0);
            output.data(c, oy * out_w + ox) =
                reduce(plane, input.width, std::max<Index>(y0, 0), std::min(y1, input.height),
                       std::max<Index>(x0, 0), std::min(x1, input.width), padded_size);
          }
        }
      });
  return output;
}

}  // namespace detail

namespace detail {

// One step of PyTorch's max-pool scan: a later value replaces the best if larger or NaN.
template <typename T>
inline T max_or_nan(T best, T value) {
  return value > best || std::isnan(value) ? value : best;
}

}  // namespace detail

// Separable: each output row first takes the maximum down its window's input rows (one
// contiguous pass per row), then across each window's columns.
template <typename T>
FeatureMap<T> max_pool2d(const FeatureMap<T>& input, const PoolOptions& options) {
  input.check("pooling input");
  const Index out_h = pool_output_size(input.height, options);
  const Index out_w = pool_output_size(input.width, options);
  const Index k = options.kernel, s = options.stride, p = options.padding;
  const Index height = input.height, width = input.width;
  FeatureMap<T> output(input.channels(), out_h, out_w);
  const Index channels = input.channels();
  detail::parallel_for(
      channels,
      detail::threads_for(channels, output.data.size() * k * k, detail::WorkKind::Elements),
      [&](Index c) {
        std::vector<T> down(static_cast<std::size_t>(width));
        const T* plane = input.data.row(c).data();
        T* out = output.data.row(c).data();
        for (Index oy = 0; oy < out_h; ++oy) {
          const Index y0 = std::max<Index>(oy * s - p, 0);
          const Index y1 = std::min(oy * s - p + k, height);
          if (y1 <= y0) {  // not reached with PyTorch's output sizes; kept safe
            std::fill(out + oy * out_w, out + (oy + 1) * out_w,
                      -std::numeric_limits<T>::infinity());
            continue;
          }
          std::copy(plane + y0 * width, plane + (y0 + 1) * width, down.begin());
          for (Index y = y0 + 1; y < y1; ++y) {
            const T* row = plane + y * width;
            for (Index x = 0; x < width; ++x)
              down[static_cast<std::size_t>(x)] =
                  detail::max_or_nan(down[static_cast<std::size_t>(x)], row[x]);
          }
          for (Index ox = 0; ox < out_w; ++ox) {
            const Index x0 = std::max<Index>(ox * s - p, 0);
            const Index x1 = std::min(ox * s - p + k, width);
            T best = -std::numeric_limits<T>::infinity();
            for (Index x = x0; x < x1; ++x)
              best = detail::max_or_nan(best, down[static_cast<std::size_t>(x)]);
            out[oy * out_w + ox] = best;
          }
        }
      });
  return output;
}

template <typename T>
FeatureMap<T> avg_pool2d(const FeatureMap<T>& input, const PoolOptions& options) {
  const bool include_pad = options.count_include_pad;
  return detail::pool(input, options,
                      [include_pad](const T* plane, Index width, Index y0, Index y1, Index x0,
                                    Index x1, Index padded_size) {
                        T sum = 0;
                        for (Index y = y0; y < y1; ++y)
                          for (Index x = x0; x < x1; ++x) sum += plane[y * width + x];
                        const Index count = include_pad ? padded_size : (y1 - y0) * (x1 - x0);
                        return sum / static_cast<T>(count);
                      });
}

}  // namespace eigenformer
