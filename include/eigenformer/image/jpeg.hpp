#pragma once
// Decoding JPEG with libjpeg (libjpeg-turbo on Debian) at its default settings: ISLOW DCT,
// fancy upsampling, RGB output. These are what OpenCV's imdecode and PIL use, so the pixels
// match theirs exactly when they link the same libjpeg(-turbo). Needs libjpeg (CMake target
// eigenformer::image). EXIF orientation is not applied.
//
// - Grayscale JPEGs are expanded to RGB by libjpeg; CMYK and YCCK (Adobe) JPEGs are refused
//   with a FormatError (libjpeg cannot convert them to RGB).
// - Stricter than OpenCV: warnings that mean pixels are missing or wrong (premature end of
//   the file or of a data segment, corrupt Huffman/arithmetic data, lost restart markers) are
//   errors, so a truncated JPEG throws instead of decoding to grey; other warnings (e.g.
//   extraneous bytes between markers, an unknown JFIF revision) are ignored, as OpenCV does.
// - Sides beyond Image::kMaxSide are refused from the header, before pixels are allocated.

#include <eigenformer/core/error.hpp>
#include <eigenformer/image/image.hpp>

#include <csetjmp>
#include <cstddef>
#include <cstdio>  // jpeglib.h uses FILE and size_t without including their headers
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <jpeglib.h>
// After jpeglib.h: the codes jerror.h declares depend on jconfig.h's macros.
#include <jerror.h>

namespace eigenformer {
namespace detail {

// libjpeg reports errors through callbacks that must not return; no C++ exception may unwind
// through its C frames, so the callbacks longjmp back to the setjmp in jpeg_run, which
// returns false, and the caller throws. jpeg_error_mgr comes first: libjpeg hands the
// callbacks a pointer to it.
struct JpegErrorManager {
  jpeg_error_mgr base;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

inline void jpeg_fail(j_common_ptr info) {
  auto* manager = reinterpret_cast<JpegErrorManager*>(info->err);
  (*info->err->format_message)(info, manager->message);
  std::longjmp(manager->jump, 1);
}

// Warnings (level -1) whose data loss libjpeg would paper over with grey or repeated blocks.
inline void jpeg_message(j_common_ptr info, int level) {
  if (level >= 0) return;  // trace messages
  switch (info->err->msg_code) {
    case JWRN_JPEG_EOF:
    case JWRN_HIT_MARKER:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_MUST_RESYNC:
// jerror.h declares this code only under these conditions.
#if JPEG_LIB_VERSION >= 70 || defined(C_ARITH_CODING_SUPPORTED) || defined(D_ARITH_CODING_SUPPORTED)
    case JWRN_ARITH_BAD_CODE:
#endif
      jpeg_fail(info);
      break;
    default:
      ++info->err->num_warnings;
  }
}

// Runs `step` under the setjmp that jpeg_fail returns to: false when libjpeg failed. Frames
// between the two hold only trivially destructible objects, so longjmp skips no destructor.
template <typename Step>
bool jpeg_run(JpegErrorManager& manager, Step&& step) {
  if (setjmp(manager.jump)) return false;
  step();
  return true;
}

// Owns the decompressor; destroying one never created (mem still null) does nothing.
class JpegDecompressor {
 public:
  JpegDecompressor() {
    info.err = jpeg_std_error(&manager.base);
    manager.base.error_exit = jpeg_fail;
    manager.base.emit_message = jpeg_message;
    manager.message[0] = '\0';
  }
  JpegDecompressor(const JpegDecompressor&) = delete;
  JpegDecompressor& operator=(const JpegDecompressor&) = delete;
  ~JpegDecompressor() { jpeg_destroy_decompress(&info); }

  jpeg_decompress_struct info{};
  JpegErrorManager manager{};
};

}  // namespace detail

// `name` is used in messages (the path, for a file).
inline Image decode_jpeg(const unsigned char* data, std::size_t size, const std::string& name) {
  const auto fail = [&](const char* what) {
    return FormatError(detail::concat(name, ": cannot decode JPEG: ", what));
  };
  if (size > static_cast<std::size_t>(static_cast<unsigned long>(-1)))
    throw fail("the data is too large for libjpeg");
  detail::JpegDecompressor jpeg;
  jpeg_decompress_struct* info = &jpeg.info;
  if (!detail::jpeg_run(jpeg.manager, [&] {
        jpeg_create_decompress(info);
        // IJG libjpeg 8/9 take a non-const pointer; the source manager only reads.
        jpeg_mem_src(info, const_cast<unsigned char*>(data), static_cast<unsigned long>(size));
        jpeg_read_header(info, TRUE);
      }))
    throw fail(jpeg.manager.message);

  const Index width = static_cast<Index>(info->image_width);
  const Index height = static_cast<Index>(info->image_height);
  if (width > Image::kMaxSide || height > Image::kMaxSide)
    throw FormatError(detail::concat(name, ": image is ", width, " x ", height,
                                     " px, more than the ", Image::kMaxSide,
                                     " px per side supported"));
  if (info->jpeg_color_space == JCS_CMYK || info->jpeg_color_space == JCS_YCCK)
    throw fail("CMYK and YCCK JPEGs are not supported (only RGB, YCbCr and grayscale)");
  info->out_color_space = JCS_RGB;

  Image image(width, height);
  const std::size_t stride = static_cast<std::size_t>(width * Image::kChannels);
  unsigned char* pixels = image.pixels.data();
  bool size_agrees = true;
  if (!detail::jpeg_run(jpeg.manager, [&] {
        jpeg_start_decompress(info);
        size_agrees = info->output_width == info->image_width &&
                      info->output_height == info->image_height &&
                      info->output_components == Image::kChannels;
        while (size_agrees && info->output_scanline < info->output_height) {
          JSAMPROW row = pixels + info->output_scanline * stride;
          jpeg_read_scanlines(info, &row, 1);
        }
        if (size_agrees) jpeg_finish_decompress(info);
      }))
    throw fail(jpeg.manager.message);
  if (!size_agrees) throw fail("libjpeg's output size disagrees with the header");
  return image;
}

inline Image load_jpeg(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FormatError(detail::concat(path, ": cannot open file"));
  const std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)),
                                         std::istreambuf_iterator<char>());
  if (in.bad()) throw FormatError(detail::concat(path, ": cannot read file"));
  return decode_jpeg(bytes.data(), bytes.size(), path);
}

}  // namespace eigenformer
