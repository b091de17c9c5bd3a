#pragma once
// An 8-bit RGB image, pixels interleaved in raster order: channel c of pixel (y, x) is
// pixels[(y * width + x) * 3 + c], as PIL's "RGB" mode and stb_image lay them out.

#include <eigenformer/core/error.hpp>
#include <eigenformer/core/types.hpp>

#include <cstdint>
#include <vector>

namespace eigenformer {

struct Image {
  static constexpr Index kChannels = 3;

  Index width = 0;
  Index height = 0;
  std::vector<std::uint8_t> pixels;

  Image() = default;
  Image(Index w, Index h) : width(w), height(h) {
    if (w < 0 || h < 0)
      throw InvalidArgument(detail::concat("Image: size ", w, " x ", h, " is negative"));
    pixels.assign(static_cast<std::size_t>(w * h * kChannels), 0);
  }

  bool empty() const { return width == 0 || height == 0; }
  std::uint8_t& at(Index y, Index x, Index c) {
    return pixels[static_cast<std::size_t>((y * width + x) * kChannels + c)];
  }
  std::uint8_t at(Index y, Index x, Index c) const {
    return pixels[static_cast<std::size_t>((y * width + x) * kChannels + c)];
  }
};

}  // namespace eigenformer
