#pragma once
// Bilinear resizing of 8-bit RGB images exactly as PIL's Image.resize(size,
// Image.BILINEAR) computes it (Pillow's libImaging/Resample.c), which is what HF image
// processors run with resample=BILINEAR:
// - separable: a horizontal pass, rounded to 8 bits, then a vertical pass;
// - the triangle filter's support is 1 source pixel when enlarging and grows with the
//   downscale factor when shrinking (support = scale = in / out), so every source pixel
//   under an output pixel's footprint contributes: antialiasing;
// - output pixel x is centred on source coordinate (x + 0.5) * scale; its taps are the
//   source pixels i in [round(centre - support), round(centre + support)) clipped to the
//   image, weighted by filter((i - centre + 0.5) / max(scale, 1)) and normalised to sum 1;
// - weights are fixed point with 22 fraction bits, each sum starts at one half (rounding)
//   and is clamped to [0, 255].

#include <eigenformer/core/error.hpp>
#include <eigenformer/image/image.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace eigenformer {
namespace detail {

// Per output position: the first source index, the tap count, and fixed-point weights.
struct ResampleTaps {
  static constexpr int kPrecisionBits = 32 - 8 - 2;

  Index max_taps = 0;
  std::vector<Index> first;
  std::vector<Index> count;
  std::vector<std::int32_t> weights;  // out_size x max_taps

  ResampleTaps(Index in_size, Index out_size) {
    const double scale = static_cast<double>(in_size) / static_cast<double>(out_size);
    const double filter_scale = std::max(scale, 1.0);
    const double inverse_filter_scale = 1.0 / filter_scale;
    const double support = 1.0 * filter_scale;  // the bilinear filter's support is 1
    max_taps = static_cast<Index>(std::ceil(support)) * 2 + 1;
    first.resize(static_cast<std::size_t>(out_size));
    count.resize(static_cast<std::size_t>(out_size));
    weights.assign(static_cast<std::size_t>(out_size * max_taps), 0);
    std::vector<double> k(static_cast<std::size_t>(max_taps));
    for (Index x = 0; x < out_size; ++x) {
      const double centre = (static_cast<double>(x) + 0.5) * scale;
      // Pillow rounds with (int)(v + 0.5), truncating toward zero, then clips.
      const Index begin = std::max<Index>(static_cast<Index>(centre - support + 0.5), 0);
      const Index end = std::min<Index>(static_cast<Index>(centre + support + 0.5), in_size);
      double total = 0.0;
      for (Index i = begin; i < end; ++i) {
        // Times the reciprocal, as Pillow does: dividing can round differently.
        const double w = triangle((static_cast<double>(i) - centre + 0.5) * inverse_filter_scale);
        k[static_cast<std::size_t>(i - begin)] = w;
        total += w;
      }
      first[static_cast<std::size_t>(x)] = begin;
      count[static_cast<std::size_t>(x)] = end - begin;
      for (Index i = 0; i < end - begin; ++i) {
        const double w =
            total != 0.0 ? k[static_cast<std::size_t>(i)] / total : k[static_cast<std::size_t>(i)];
        const double fixed = w * static_cast<double>(1 << kPrecisionBits);
        weights[static_cast<std::size_t>(x * max_taps + i)] =
            static_cast<std::int32_t>(fixed < 0 ? fixed - 0.5 : fixed + 0.5);
      }
    }
  }

  static double triangle(double x) {
    x = std::abs(x);
    return x < 1.0 ? 1.0 - x : 0.0;
  }

  // Output value x from its source samples, `step` bytes apart from `source` on.
  std::uint8_t apply(Index x, const std::uint8_t* source, Index step) const {
    const std::int32_t* w = &weights[static_cast<std::size_t>(x * max_taps)];
    std::int32_t sum = std::int32_t{1} << (kPrecisionBits - 1);
    const Index taps = count[static_cast<std::size_t>(x)];
    for (Index i = 0; i < taps; ++i) sum += static_cast<std::int32_t>(source[i * step]) * w[i];
    return static_cast<std::uint8_t>(std::clamp<std::int32_t>(sum >> kPrecisionBits, 0, 255));
  }
};

inline Image resample_horizontal(const Image& in, Index width) {
  const ResampleTaps taps(in.width, width);
  Image out(width, in.height);
  const Index c = Image::kChannels;
  for (Index y = 0; y < in.height; ++y)
    for (Index x = 0; x < width; ++x) {
      const std::uint8_t* source = &in.pixels[static_cast<std::size_t>(
          (y * in.width + taps.first[static_cast<std::size_t>(x)]) * c)];
      for (Index channel = 0; channel < c; ++channel)
        out.at(y, x, channel) = taps.apply(x, source + channel, c);
    }
  return out;
}

inline Image resample_vertical(const Image& in, Index height) {
  const ResampleTaps taps(in.height, height);
  Image out(in.width, height);
  const Index row = in.width * Image::kChannels;
  for (Index y = 0; y < height; ++y) {
    const std::uint8_t* source =
        &in.pixels[static_cast<std::size_t>(taps.first[static_cast<std::size_t>(y)] * row)];
    std::uint8_t* destination = &out.pixels[static_cast<std::size_t>(y * row)];
    for (Index i = 0; i < row; ++i) destination[i] = taps.apply(y, source + i, row);
  }
  return out;
}

}  // namespace detail

inline Image resize_bilinear(const Image& image, Index width, Index height) {
  image.check_resize(width, height, "resize_bilinear");
  Image out = width != image.width ? detail::resample_horizontal(image, width) : image;
  if (height != image.height) out = detail::resample_vertical(out, height);
  return out;
}

}  // namespace eigenformer
