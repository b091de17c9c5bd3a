#pragma once
// An 8-bit RGB image, pixels interleaved in raster order: channel c of pixel (y, x) is
// pixels[(y * width + x) * 3 + c], as PIL's "RGB" mode and stb_image lay them out.

#include <eigenformer/core/error.hpp>
#include <eigenformer/core/extent.hpp>
#include <eigenformer/core/types.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace eigenformer {

struct Image {
  static constexpr Index kChannels = 3;
  // Largest side that image loaders and preprocessor configs accept: 16384 px (a 16384 x
  // 16384 RGB image is 768 MiB), generous for detection inputs while refusing the sizes of
  // corrupt or hostile headers before they allocate.
  static constexpr Index kMaxSide = 16384;

  Index width = 0;
  Index height = 0;
  std::vector<std::uint8_t> pixels;

  Image() = default;
  Image(Index w, Index h) : width(w), height(h) {
    pixels.assign(static_cast<std::size_t>(byte_count(w, h, "Image")), 0);
  }

  // The fields are public and can disagree: entry points that index pixels by width and
  // height check this first. `what` names the caller in the message.
  void check(const std::string& what) const {
    if (pixels.size() != static_cast<std::size_t>(byte_count(width, height, what)))
      throw InvalidArgument(detail::concat(what, ": a ", width, " x ", height, " RGB image holds ",
                                           pixels.size(), " bytes, expected ", width, " * ", height,
                                           " * ", kChannels));
  }

  // width * height * kChannels, rejecting negative sizes and overflow.
  static Index byte_count(Index w, Index h, const std::string& what) {
    const auto bytes = detail::element_count(h, w, kChannels);
    if (!bytes)
      throw InvalidArgument(
          detail::concat(what, ": image size ", w, " x ", h, " is negative or too large"));
    return *bytes;
  }

  bool empty() const { return width == 0 || height == 0; }

  // For resizers: a consistent, non-empty image and a positive target size.
  void check_resize(Index to_width, Index to_height, const std::string& what) const {
    check(what);
    if (to_width <= 0 || to_height <= 0 || empty())
      throw InvalidArgument(detail::concat(what, ": cannot resize a ", width, " x ", height,
                                           " image to ", to_width, " x ", to_height));
  }
  std::uint8_t& at(Index y, Index x, Index c) {
    return pixels[static_cast<std::size_t>((y * width + x) * kChannels + c)];
  }
  std::uint8_t at(Index y, Index x, Index c) const {
    return pixels[static_cast<std::size_t>((y * width + x) * kChannels + c)];
  }
};

}  // namespace eigenformer
