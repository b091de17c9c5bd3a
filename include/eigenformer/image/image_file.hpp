#pragma once
// Reading images (JPEG, PNG, BMP, GIF, TGA, ... anything stb_image decodes) as 8-bit RGB,
// and writing PNG. Needs stb and libjpeg (CMake target eigenformer::image; Debian's libstb-dev
// provides the compiled stb implementations, so this header only declares).
//
// JPEG files, recognised by their first bytes (FF D8 FF) whatever their extension, are decoded
// by libjpeg (jpeg.hpp) at its defaults, as OpenCV and PIL decode them: with libjpeg-turbo the
// pixels equal theirs exactly (stb_image's IDCT and chroma upsampling differ by a few levels).
// Other formats go to stb_image; PNG decoding is exact. Unlike HF's load_image (PIL) and
// OpenCV's imread, EXIF orientation is not applied.

#include <eigenformer/core/error.hpp>
#include <eigenformer/image/image.hpp>
#include <eigenformer/image/jpeg.hpp>

#include <stb_image.h>
#include <stb_image_write.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <memory>
#include <string>

namespace eigenformer {

// Refuses images with a side beyond Image::kMaxSide from their header, before decoding: a
// small hostile file can claim a size whose pixels would exhaust memory.
inline void check_image_header(const std::string& path) {
  int width = 0, height = 0, channels_in_file = 0;
  if (!stbi_info(path.c_str(), &width, &height, &channels_in_file))
    return;  // unreadable: stbi_load reports why
  if (width > Image::kMaxSide || height > Image::kMaxSide)
    throw FormatError(detail::concat(path, ": image is ", width, " x ", height,
                                     " px, more than the ", Image::kMaxSide,
                                     " px per side supported"));
}

// True when the file starts like a JPEG (SOI then another marker); false when it cannot be read.
inline bool is_jpeg_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  unsigned char magic[3] = {0, 0, 0};
  in.read(reinterpret_cast<char*>(magic), sizeof magic);
  return in && magic[0] == 0xFF && magic[1] == 0xD8 && magic[2] == 0xFF;
}

inline Image load_image(const std::string& path) {
  if (is_jpeg_file(path)) return load_jpeg(path);
  check_image_header(path);
  int width = 0, height = 0, channels_in_file = 0;
  std::unique_ptr<stbi_uc, void (*)(void*)> decoded(
      stbi_load(path.c_str(), &width, &height, &channels_in_file,
                static_cast<int>(Image::kChannels)),
      stbi_image_free);
  if (!decoded) {
    const char* reason = stbi_failure_reason();
    throw FormatError(
        detail::concat(path, ": cannot read image: ", reason ? reason : "unknown error",
                       " (readable formats: JPEG, PNG, BMP, GIF, TGA, PSD, PNM, HDR)"));
  }
  Image image(width, height);
  std::memcpy(image.pixels.data(), decoded.get(), image.pixels.size());
  return image;
}

inline void write_png(const std::string& path, const Image& image) {
  image.check(path);
  if (image.empty() || image.width > std::numeric_limits<int>::max() / Image::kChannels ||
      image.height > std::numeric_limits<int>::max())
    throw InvalidArgument(detail::concat(path, ": cannot write a ", image.width, " x ",
                                         image.height, " image holding ", image.pixels.size(),
                                         " bytes as PNG"));
  const int stride = static_cast<int>(image.width * Image::kChannels);
  if (!stbi_write_png(path.c_str(), static_cast<int>(image.width), static_cast<int>(image.height),
                      static_cast<int>(Image::kChannels), image.pixels.data(), stride))
    throw Error(detail::concat(path, ": cannot write PNG file: ", std::strerror(errno)));
}

}  // namespace eigenformer
