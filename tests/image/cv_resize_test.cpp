// OpenCV-compatible INTER_LINEAR resizing: ultralytics' preprocessing of bus.jpg and zidane.jpg
// reproduced byte for byte, and hand-computed cases (OpenCV's resize.cpp arithmetic carried out
// by hand in the comments).
#include <eigenformer/image/cv_resize.hpp>
#include <eigenformer/image/image_file.hpp>

#include "fixture.hpp"

#include <cstdlib>

namespace eigenformer {
namespace {

using testing::data_path;

// cv2.imdecode -> cv2.resize((640, 640), INTER_LINEAR) -> BGR to RGB -> CHW, as the fixture's
// NAME.input_u8 holds it (tests/data/ultralytics/README.md). The resize treats channels alike,
// so resizing RGB equals resizing BGR then swapping.
void expect_ultralytics_input(const std::string& name, Index width, Index height) {
  const Image decoded = load_image(data_path("ultralytics/" + name + ".jpg"));
  ASSERT_EQ(decoded.width, width);
  ASSERT_EQ(decoded.height, height);
  const Image resized = resize_linear_cv(decoded, 640, 640);
  const auto file = SafeTensorsFile::open(data_path("ultralytics/io.safetensors"));
  const Tensor<std::uint8_t> expected = file->tensor<std::uint8_t>(name + ".input_u8");
  ASSERT_EQ(expected.shape(), (Shape{1, 3, 640, 640}));
  Index mismatches = 0, worst = 0;
  for (Index c = 0; c < 3; ++c)
    for (Index y = 0; y < 640; ++y)
      for (Index x = 0; x < 640; ++x) {
        const int want = expected.data()[(c * 640 + y) * 640 + x];
        const int got = resized.at(y, x, c);
        if (got != want) {
          if (mismatches == 0)
            ADD_FAILURE() << name << ": first difference at channel " << c << ", (" << y << ", "
                          << x << "): " << got << " != " << want;
          ++mismatches;
          worst = std::max<Index>(worst, std::abs(got - want));
        }
      }
  EXPECT_EQ(mismatches, 0) << name << ": largest difference " << worst;
}

TEST(ResizeLinearCv, ReproducesUltralyticsPreprocessingOfBusExactly) {
  expect_ultralytics_input("bus", 810, 1080);
}

TEST(ResizeLinearCv, ReproducesUltralyticsPreprocessingOfZidaneExactly) {
  expect_ultralytics_input("zidane", 1280, 720);
}

// A 2 x 2 image, every channel 0 100 / 200 255, enlarged to 4 x 4 (scale 0.5).
// Columns: (x + 0.5) * 0.5 - 0.5 = -0.25, 0.25, 0.75, 1.25 -> taps (0, 0) clamped to pixel 0
// alone, (0, 1) with weights 1536, 512, (0, 1) with 512, 1536, and pixel 1 alone (2048, 0).
// Horizontal sums: row 0: 0, 51200, 153600, 204800; row 1: 409600, 437760, 494080, 522240.
// Rows: -0.25 -> sy -1, fraction 0.75, both taps clamped to row 0 with weights 512, 1536;
// 0.25 -> rows 0, 1 with 1536, 512; 0.75 -> 512, 1536; 1.25 -> sy 1, rows 1, 1 with 1536, 512.
// Output ((b0 * (r0 >> 4)) >> 16) + ((b1 * (r1 >> 4)) >> 16) + 2) >> 2, e.g. (1, 1):
// ((1536 * 3200) >> 16 = 75) + ((512 * 27360) >> 16 = 213) + 2 = 290 >> 2 = 72 (exact: 72.19);
// (1, 2): (225 + 241 + 2) >> 2 = 117 (exact 116.56); (2, 3): (100 + 765 + 2) >> 2 = 216.
TEST(ResizeLinearCv, EnlargingFollowsOpenCvsFixedPointArithmetic) {
  Image image(2, 2);
  const int values[] = {0, 100, 200, 255};
  for (Index i = 0; i < 4; ++i)
    for (Index c = 0; c < 3; ++c)
      image.pixels[static_cast<std::size_t>(i * 3 + c)] = static_cast<std::uint8_t>(values[i]);
  const Image out = resize_linear_cv(image, 4, 4);
  const int expected[4][4] = {
      {0, 25, 75, 100},
      {50, 72, 117, 139},
      {150, 167, 200, 216},
      {200, 214, 241, 255},
  };
  for (Index y = 0; y < 4; ++y)
    for (Index x = 0; x < 4; ++x)
      for (Index c = 0; c < 3; ++c)
        EXPECT_EQ(out.at(y, x, c), expected[y][x]) << "(" << y << ", " << x << ", " << c << ")";
}

TEST(ResizeLinearCv, SameSizeIsACopy) {
  Image image(3, 2);
  for (std::size_t i = 0; i < image.pixels.size(); ++i)
    image.pixels[i] = static_cast<std::uint8_t>(i * 41 % 256);
  EXPECT_EQ(resize_linear_cv(image, 3, 2).pixels, image.pixels);
}

// One pixel wide: every column tap clamps to the only pixel. A column 0 / 200 enlarged to 4
// rows as above: 0, (0 + ((512 * 25600) >> 16) + 2) >> 2 = 50, (600 + 2) >> 2 = 150, and
// ((1536 * 25600) >> 16) + ((512 * 25600) >> 16) = 800 -> 200 for the clamped last row.
TEST(ResizeLinearCv, OnePixelWideImagesReplicateTheColumn) {
  Image column(1, 2);
  for (Index c = 0; c < 3; ++c) column.at(0, 0, c) = 0, column.at(1, 0, c) = 200;
  const Image out = resize_linear_cv(column, 3, 4);
  const int expected[] = {0, 50, 150, 200};
  for (Index y = 0; y < 4; ++y)
    for (Index x = 0; x < 3; ++x)
      for (Index c = 0; c < 3; ++c) EXPECT_EQ(out.at(y, x, c), expected[y]);

  Image dot(1, 1);
  dot.pixels = {7, 8, 9};
  const Image big = resize_linear_cv(dot, 5, 3);
  for (Index i = 0; i < 15; ++i) EXPECT_EQ(big.pixels[static_cast<std::size_t>(i * 3)], 7);
}

// Shrinking 4 -> 1 (scale 4) samples source coordinate 0.5 * 4 - 0.5 = 1.5: pixels 1 and 2
// with 1024 each, nothing of pixels 0 and 3 (no antialiasing, unlike PIL):
// (100 + 200) * 1024 = 307200; ((2048 * 19200) >> 16 = 600) + 2 >> 2 = 150.
TEST(ResizeLinearCv, ShrinkingSamplesOnlyTheTwoNearestPixels) {
  Image line(4, 1);
  const int values[] = {0, 100, 200, 255};
  for (Index i = 0; i < 4; ++i)
    for (Index c = 0; c < 3; ++c) line.at(0, i, c) = static_cast<std::uint8_t>(values[i]);
  const Image out = resize_linear_cv(line, 1, 1);
  EXPECT_EQ(out.pixels, (std::vector<std::uint8_t>{150, 150, 150}));
}

// Halving exactly, where OpenCV runs INTER_AREA, gives the rounded 2 x 2 mean:
// (10 + 20 + 30 + 41 + 2) >> 2 = 25, (1 + 2 + 3 + 4 + 2) >> 2 = 3.
TEST(ResizeLinearCv, HalvingAveragesTwoByTwoBlocks) {
  Image image(4, 2);
  const int values[2][4] = {{10, 20, 1, 2}, {30, 41, 3, 4}};
  for (Index y = 0; y < 2; ++y)
    for (Index x = 0; x < 4; ++x)
      for (Index c = 0; c < 3; ++c) image.at(y, x, c) = static_cast<std::uint8_t>(values[y][x]);
  const Image out = resize_linear_cv(image, 2, 1);
  EXPECT_EQ(out.pixels, (std::vector<std::uint8_t>{25, 25, 25, 3, 3, 3}));
}

TEST(ResizeLinearCv, BadSizesAndInconsistentImagesThrow) {
  Image image(4, 4);
  EXPECT_THROW(resize_linear_cv(image, 0, 4), InvalidArgument);
  EXPECT_THROW(resize_linear_cv(image, 4, -1), InvalidArgument);
  EXPECT_THROW(resize_linear_cv(Image(), 2, 2), InvalidArgument);
  image.width = 640;
  EXPECT_THROW(resize_linear_cv(image, 8, 8), InvalidArgument);
}

}  // namespace
}  // namespace eigenformer
