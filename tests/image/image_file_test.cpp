// PNG round trip and the errors for unreadable files.
#include <eigenformer/image/image_file.hpp>

#include "fixture.hpp"
#include "io/test_files.hpp"

namespace eigenformer {
namespace {

using testing::TempDir;
using testing::throws_with;

TEST(ImageIo, PngRoundTripIsExact) {
  const TempDir dir;
  Image image(5, 3);
  for (std::size_t i = 0; i < image.pixels.size(); ++i)
    image.pixels[i] = static_cast<std::uint8_t>(i * 37 % 256);
  const std::string path = dir.file("round trip.png");
  write_png(path, image);
  const Image loaded = load_image(path);
  EXPECT_EQ(loaded.width, 5);
  EXPECT_EQ(loaded.height, 3);
  EXPECT_EQ(loaded.pixels, image.pixels);
  EXPECT_EQ(loaded.at(2, 4, 1), image.pixels[(2 * 5 + 4) * 3 + 1]);
}

TEST(ImageIo, UnreadableFilesNameThePathAndTheReason) {
  const TempDir dir;
  EXPECT_TRUE(throws_with<FormatError>([&] { load_image(dir.file("missing.png")); },
                                       {"missing.png", "cannot read image"}));
  const std::string text = dir.write("notes.jpg", "this is not a JPEG");
  EXPECT_TRUE(
      throws_with<FormatError>([&] { load_image(text); }, {"notes.jpg", "cannot read image"}));
  const std::string empty = dir.write("empty.png", "");
  EXPECT_TRUE(throws_with<FormatError>([&] { load_image(empty); }, {"empty.png"}));
}

// A header can claim any size; load_image reads it with stbi_info and refuses sides beyond
// Image::kMaxSide before decoding. A binary PPM header of 20000 x 1 px with no pixel data:
// stbi_info accepts it (it reads the header only), stbi_load would fail on the data.
TEST(ImageIo, RefusesSidesBeyondTheLimitFromTheHeader) {
  const TempDir dir;
  const std::string wide = dir.write("wide.ppm", "P6\n20000 1\n255\n");
  EXPECT_TRUE(
      throws_with<FormatError>([&] { load_image(wide); }, {"wide.ppm", "20000 x 1", "16384"}));
  const std::string tall = dir.write("tall.ppm", "P6\n1 16385\n255\n");
  EXPECT_TRUE(throws_with<FormatError>([&] { load_image(tall); }, {"tall.ppm", "1 x 16385"}));
}

TEST(ImageIo, WritingRefusesImageWhoseSizeDisagreesWithItsPixels) {
  const TempDir dir;
  Image image(2, 2);
  image.width = 3;
  EXPECT_THROW(write_png(dir.file("bad.png"), image), InvalidArgument);
}

TEST(ImageIo, WritingErrorsAreReported) {
  const TempDir dir;
  EXPECT_THROW(write_png(dir.file("empty.png"), Image()), InvalidArgument);
  EXPECT_TRUE(throws_with<Error>([&] { write_png(dir.file("no/such/dir/out.png"), Image(2, 2)); },
                                 {"out.png", "cannot write PNG"}));
}

}  // namespace
}  // namespace eigenformer
