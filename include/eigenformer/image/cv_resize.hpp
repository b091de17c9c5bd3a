#pragma once
// Bilinear resizing of 8-bit RGB images exactly as OpenCV 4.x's cv::resize(src, dst, size,
// 0, 0, INTER_LINEAR) computes it without IPP (modules/imgproc/src/resize.cpp), which is
// what ultralytics' LetterBox runs:
// - output x samples source coordinate (x + 0.5) * scale - 0.5, computed in double with
//   scale = 1 / (out / in) and rounded to float; its floor is the left tap, the fraction the
//   weight. No antialiasing: only the two nearest source pixels contribute, even when shrinking;
// - horizontally, taps left of the image or at its last pixel take that border pixel alone;
//   vertically, the row indices are clamped but the weights kept (both taps read the border);
// - weights are 11-bit fixed point, lrint(w * 2048) of the float weight; the horizontal pass
//   keeps its sums as int (11 fraction bits), the vertical pass truncates before adding and
//   rounds only the last 2 bits: (((b0 * (r0 >> 4)) >> 16) + ((b1 * (r1 >> 4)) >> 16) + 2) >> 2,
//   as both OpenCV's SIMD and scalar code do for 8-bit images (not the rounded exact sum);
// - OpenCV halves both sides exactly with INTER_AREA, (a + b + c + d + 2) >> 2 per 2 x 2
//   block, which equals the above there (both taps weigh 1024, nothing is truncated);
// - the same size is a copy.

#include <eigenformer/core/error.hpp>
#include <eigenformer/image/image.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace eigenformer {
namespace detail {

// Per output position along one axis: the two source indices, already clamped, and their
// fixed-point weights.
struct CvLinearTaps {
  static constexpr int kOne = 2048;  // INTER_RESIZE_COEF_SCALE

  std::vector<Index> first, second;
  std::vector<std::int32_t> w0, w1;

  // `clamp_weights`: the horizontal pass puts all weight on the border pixel; the vertical
  // pass only clamps the row indices.
  CvLinearTaps(Index in_size, Index out_size, bool clamp_weights) {
    const double scale = 1.0 / (static_cast<double>(out_size) / static_cast<double>(in_size));
    const auto n = static_cast<std::size_t>(out_size);
    first.resize(n);
    second.resize(n);
    w0.resize(n);
    w1.resize(n);
    for (Index i = 0; i < out_size; ++i) {
      float f = static_cast<float>((static_cast<double>(i) + 0.5) * scale - 0.5);
      Index s = static_cast<Index>(std::floor(f));
      f -= static_cast<float>(s);
      if (clamp_weights && s < 0) f = 0.f, s = 0;
      if (clamp_weights && s >= in_size - 1) f = 0.f, s = in_size - 1;
      const auto k = static_cast<std::size_t>(i);
      first[k] = std::clamp<Index>(s, 0, in_size - 1);
      second[k] = std::clamp<Index>(s + 1, 0, in_size - 1);
      // saturate_cast<short>(float) rounds half to even, as lrint does in the default mode.
      w0[k] = static_cast<std::int32_t>(std::lrint((1.f - f) * static_cast<float>(kOne)));
      w1[k] = static_cast<std::int32_t>(std::lrint(f * static_cast<float>(kOne)));
    }
  }
};

inline Image cv_resize_linear(const Image& in, Index width, Index height) {
  const CvLinearTaps xs(in.width, width, true);
  const CvLinearTaps ys(in.height, height, false);
  const Index c = Image::kChannels;
  const auto row_size = static_cast<std::size_t>(width * c);

  // The horizontal pass of the two source rows last used, as OpenCV keeps them.
  std::vector<std::int32_t> rows[2] = {std::vector<std::int32_t>(row_size),
                                       std::vector<std::int32_t>(row_size)};
  Index cached[2] = {-1, -1};
  const auto horizontal = [&](Index y, Index keep) -> const std::vector<std::int32_t>& {
    for (int slot = 0; slot < 2; ++slot)
      if (cached[slot] == y) return rows[slot];
    const int slot = cached[0] == keep ? 1 : 0;
    std::vector<std::int32_t>& row = rows[slot];
    const std::uint8_t* source = &in.pixels[static_cast<std::size_t>(y * in.width * c)];
    for (Index x = 0; x < width; ++x) {
      const auto k = static_cast<std::size_t>(x);
      const std::uint8_t* a = source + xs.first[k] * c;
      const std::uint8_t* b = source + xs.second[k] * c;
      for (Index channel = 0; channel < c; ++channel)
        row[static_cast<std::size_t>(x * c + channel)] =
            a[channel] * xs.w0[k] + b[channel] * xs.w1[k];
    }
    cached[slot] = y;
    return row;
  };

  Image out(width, height);
  for (Index y = 0; y < height; ++y) {
    const auto k = static_cast<std::size_t>(y);
    const std::vector<std::int32_t>& top = horizontal(ys.first[k], ys.second[k]);
    const std::vector<std::int32_t>& bottom = horizontal(ys.second[k], ys.first[k]);
    const std::int32_t b0 = ys.w0[k], b1 = ys.w1[k];
    std::uint8_t* destination = &out.pixels[static_cast<std::size_t>(y) * row_size];
    for (std::size_t i = 0; i < row_size; ++i) {
      const std::int32_t value =
          (((b0 * (top[i] >> 4)) >> 16) + ((b1 * (bottom[i] >> 4)) >> 16) + 2) >> 2;
      destination[i] = static_cast<std::uint8_t>(std::clamp<std::int32_t>(value, 0, 255));
    }
  }
  return out;
}

}  // namespace detail

inline Image resize_linear_cv(const Image& image, Index width, Index height) {
  image.check_resize(width, height, "resize_linear_cv");
  if (width == image.width && height == image.height) return image;
  return detail::cv_resize_linear(image, width, height);
}

}  // namespace eigenformer
