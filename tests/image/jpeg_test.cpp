// JPEG decoding with libjpeg: sizes, grayscale, detection by content, and hostile files (each
// written into a temporary directory by the test). Pixel exactness against OpenCV is checked
// through the ultralytics preprocessing in cv_resize_test.cpp.
#include <eigenformer/image/image_file.hpp>
#include <eigenformer/image/jpeg.hpp>

#include "fixture.hpp"
#include "io/test_files.hpp"

#include <cstdlib>
#include <fstream>
#include <iterator>

namespace eigenformer {
namespace {

using testing::data_path;
using testing::TempDir;
using testing::throws_with;

std::vector<unsigned char> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<unsigned char>((std::istreambuf_iterator<char>(in)),
                                    std::istreambuf_iterator<char>());
}

const std::vector<unsigned char>& bus_bytes() {
  static const std::vector<unsigned char> bytes = read_bytes(data_path("ultralytics/bus.jpg"));
  return bytes;
}

// Offset of the first start-of-frame segment (SOF0..SOF2): its height and width follow at +5
// and +7, big-endian.
std::size_t find_frame_header(const std::vector<unsigned char>& jpeg) {
  std::size_t at = 2;
  while (at + 4 <= jpeg.size() && jpeg[at] == 0xFF) {
    if (jpeg[at + 1] >= 0xC0 && jpeg[at + 1] <= 0xC2) return at;
    at += 2 + (jpeg[at + 2] << 8 | jpeg[at + 3]);
  }
  throw std::runtime_error("no frame header");
}

std::vector<unsigned char> with_size(std::vector<unsigned char> jpeg, int width, int height) {
  const std::size_t sof = find_frame_header(jpeg);
  jpeg[sof + 5] = static_cast<unsigned char>(height >> 8);
  jpeg[sof + 6] = static_cast<unsigned char>(height & 0xFF);
  jpeg[sof + 7] = static_cast<unsigned char>(width >> 8);
  jpeg[sof + 8] = static_cast<unsigned char>(width & 0xFF);
  return jpeg;
}

// A grayscale JPEG made with libjpeg's encoder (quality 100) from a gradient.
std::vector<unsigned char> encode_gray(int width, int height) {
  jpeg_compress_struct info{};
  jpeg_error_mgr errors{};
  info.err = jpeg_std_error(&errors);
  jpeg_create_compress(&info);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&info, &buffer, &size);
  info.image_width = static_cast<JDIMENSION>(width);
  info.image_height = static_cast<JDIMENSION>(height);
  info.input_components = 1;
  info.in_color_space = JCS_GRAYSCALE;
  jpeg_set_defaults(&info);
  jpeg_set_quality(&info, 100, TRUE);
  jpeg_start_compress(&info, TRUE);
  std::vector<unsigned char> row(static_cast<std::size_t>(width));
  while (info.next_scanline < info.image_height) {
    for (int x = 0; x < width; ++x)
      row[static_cast<std::size_t>(x)] = static_cast<unsigned char>(x * 8 + info.next_scanline);
    JSAMPROW pointer = row.data();
    jpeg_write_scanlines(&info, &pointer, 1);
  }
  jpeg_finish_compress(&info);
  jpeg_destroy_compress(&info);
  std::vector<unsigned char> jpeg(buffer, buffer + size);
  std::free(buffer);
  return jpeg;
}

TEST(Jpeg, DecodesFilesAndMemoryAlike) {
  const Image image = load_jpeg(data_path("ultralytics/bus.jpg"));
  EXPECT_EQ(image.width, 810);
  EXPECT_EQ(image.height, 1080);
  const Image from_memory = decode_jpeg(bus_bytes().data(), bus_bytes().size(), "bus");
  EXPECT_EQ(from_memory.pixels, image.pixels);
  const Image zidane = load_jpeg(data_path("ultralytics/zidane.jpg"));
  EXPECT_EQ(zidane.width, 1280);
  EXPECT_EQ(zidane.height, 720);
}

// load_image sends files starting FF D8 FF to libjpeg whatever their name; stb_image decodes
// the same file to different pixels (its IDCT and chroma upsampling differ).
TEST(Jpeg, LoadImageRecognisesJpegByItsFirstBytes) {
  const TempDir dir;
  const std::string misnamed = dir.write("photo.png", bus_bytes());
  const Image loaded = load_image(misnamed);
  EXPECT_EQ(loaded.pixels, load_jpeg(data_path("ultralytics/bus.jpg")).pixels);
  int width = 0, height = 0, channels = 0;
  std::unique_ptr<stbi_uc, void (*)(void*)> stb(
      stbi_load(misnamed.c_str(), &width, &height, &channels, 3), stbi_image_free);
  ASSERT_TRUE(stb);
  EXPECT_NE(std::vector<std::uint8_t>(stb.get(), stb.get() + loaded.pixels.size()), loaded.pixels);
}

TEST(Jpeg, GrayscaleIsExpandedToRgb) {
  const std::vector<unsigned char> jpeg = encode_gray(24, 16);
  const Image image = decode_jpeg(jpeg.data(), jpeg.size(), "gray");
  ASSERT_EQ(image.width, 24);
  ASSERT_EQ(image.height, 16);
  for (Index y = 0; y < 16; ++y)
    for (Index x = 0; x < 24; ++x) {
      EXPECT_EQ(image.at(y, x, 0), image.at(y, x, 1));
      EXPECT_EQ(image.at(y, x, 0), image.at(y, x, 2));
      EXPECT_NEAR(image.at(y, x, 0), x * 8 + y, 2);
    }
}

// Bytes between two marker segments draw a "Corrupt JPEG data: extraneous bytes" warning
// but cost no pixel: the image decodes as the original does.
TEST(Jpeg, ExtraneousBytesBetweenSegmentsAreTolerated) {
  std::vector<unsigned char> padded = bus_bytes();
  const std::size_t sof = find_frame_header(padded);
  padded.insert(padded.begin() + static_cast<std::ptrdiff_t>(sof), {0x00, 0x12, 0x34});
  const Image image = decode_jpeg(padded.data(), padded.size(), "padded");
  EXPECT_EQ(image.pixels, decode_jpeg(bus_bytes().data(), bus_bytes().size(), "bus").pixels);
}

TEST(Jpeg, TruncatedAndCorruptFilesThrowNamingThePath) {
  const TempDir dir;
  const std::vector<unsigned char>& bus = bus_bytes();
  const std::string truncated =
      dir.write("truncated.jpg", std::vector<unsigned char>(bus.begin(), bus.begin() + 60000));
  EXPECT_TRUE(throws_with<FormatError>([&] { load_jpeg(truncated); },
                                       {"truncated.jpg", "Premature end of JPEG file"}));
  EXPECT_TRUE(throws_with<FormatError>([&] { load_image(truncated); }, {"truncated.jpg"}));

  // An end-of-image marker in the middle of the entropy-coded data.
  std::vector<unsigned char> cut = bus;
  cut[70000] = 0xFF;
  cut[70001] = 0xD9;
  const std::string marker = dir.write("marker.jpg", cut);
  EXPECT_TRUE(throws_with<FormatError>([&] { load_image(marker); },
                                       {"marker.jpg", "premature end of data segment"}));

  const std::string garbage = dir.write(
      "garbage.jpg", std::vector<unsigned char>{0xFF, 0xD8, 0xFF, 'n', 'o', 't', ' ', 'a', ' ', 'J',
                                                'P', 'E', 'G', 0x00, 0xFF, 0x13});
  EXPECT_TRUE(throws_with<FormatError>([&] { load_image(garbage); },
                                       {"garbage.jpg", "cannot decode JPEG"}));

  const std::string empty = dir.write("empty.jpg", "");
  EXPECT_TRUE(throws_with<FormatError>([&] { load_jpeg(empty); }, {"empty.jpg", "Empty input"}));
  EXPECT_TRUE(throws_with<FormatError>([&] { load_image(empty); }, {"empty.jpg"}));
  EXPECT_TRUE(throws_with<FormatError>([&] { decode_jpeg(nullptr, 0, "no bytes"); },
                                       {"no bytes", "Empty input"}));

  EXPECT_TRUE(throws_with<FormatError>([&] { load_jpeg(dir.file("missing.jpg")); },
                                       {"missing.jpg", "cannot open file"}));
}

// A header can claim up to 65500 x 65500 px (12 GiB of RGB); the size is refused from the
// header, before the pixels are allocated or the scan is read.
TEST(Jpeg, RefusesSidesBeyondTheLimitFromTheHeader) {
  const TempDir dir;
  const std::string huge = dir.write("huge.jpg", with_size(bus_bytes(), 65500, 65500));
  EXPECT_TRUE(
      throws_with<FormatError>([&] { load_image(huge); }, {"huge.jpg", "65500 x 65500", "16384"}));
  const std::string wide = dir.write("wide.jpg", with_size(bus_bytes(), 16385, 8));
  EXPECT_TRUE(throws_with<FormatError>([&] { load_jpeg(wide); }, {"wide.jpg", "16385 x 8"}));
}

// Start of image, a baseline frame header of 8 x 8 px with 4 components (CMYK, there being no
// Adobe marker), a scan header over the 4 components, end of image.
TEST(Jpeg, CmykIsRefused) {
  const std::vector<unsigned char> cmyk = {
      0xFF, 0xD8,                                                  // SOI
      0xFF, 0xC0, 0x00, 0x14, 0x08, 0x00, 0x08, 0x00, 0x08, 0x04,  // SOF0: 8 bits, 8 x 8, 4 comps
      0x01, 0x11, 0x00, 0x02, 0x11, 0x00, 0x03, 0x11, 0x00, 0x04, 0x11, 0x00,        //
      0xFF, 0xDA, 0x00, 0x0E, 0x04, 0x01, 0x00, 0x02, 0x00, 0x03, 0x00, 0x04, 0x00,  // SOS
      0x00, 0x3F, 0x00,                                                              //
      0xFF, 0xD9};                                                                   // EOI
  EXPECT_TRUE(throws_with<FormatError>([&] { decode_jpeg(cmyk.data(), cmyk.size(), "cmyk"); },
                                       {"cmyk", "CMYK"}));
}

}  // namespace
}  // namespace eigenformer
