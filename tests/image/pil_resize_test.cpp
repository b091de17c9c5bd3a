// PIL-compatible bilinear resizing on hand-computed cases (the arithmetic of Pillow's
// Resample.c carried out by hand in the comments).
#include <eigenformer/image/pil_resize.hpp>

#include "fixture.hpp"

namespace eigenformer {
namespace {

// A 1-pixel-high image whose three channels all hold `values` (or a 1-pixel-wide one).
Image line(const std::vector<int>& values, bool vertical = false) {
  const Index n = static_cast<Index>(values.size());
  Image image(vertical ? 1 : n, vertical ? n : 1);
  for (Index i = 0; i < n; ++i)
    for (Index c = 0; c < 3; ++c)
      image.pixels[static_cast<std::size_t>(i * 3 + c)] =
          static_cast<std::uint8_t>(values[static_cast<std::size_t>(i)]);
  return image;
}

std::vector<int> channel(const Image& image, Index c) {
  std::vector<int> values;
  for (Index i = 0; i < image.width * image.height; ++i)
    values.push_back(image.pixels[static_cast<std::size_t>(i * 3 + c)]);
  return values;
}

// Enlarging 2 -> 4, scale 0.5, support 1: output x is centred on (x + 0.5) / 2 - 0.5 in
// pixel-centre coordinates: -0.25 (clipped to pixel 0), 0.25, 0.75, 1.25 (clipped to 1).
// Output 1: 0 * 0.75 + 200 * 0.25 = 50; output 2: 0 * 0.25 + 200 * 0.75 = 150.
TEST(ResizeBilinear, EnlargingInterpolatesBetweenNeighbours) {
  const Image out = resize_bilinear(line({0, 200}), 4, 1);
  EXPECT_EQ(out.width, 4);
  for (Index c = 0; c < 3; ++c) EXPECT_EQ(channel(out, c), (std::vector<int>{0, 50, 150, 200}));
}

// Shrinking 4 -> 2, scale 2, support 2 (antialiasing): output 0 is centred on source
// coordinate 1.0 and takes pixels 0, 1, 2 with triangle((i - 1 + 0.5) / 2) = 0.75, 0.75, 0.25,
// normalised by 1.75: (0 * 3 + 100 * 3 + 200) / 7 = 71.4 -> 71. Output 1 (centre 3.0) takes
// pixels 1, 2, 3 with 0.25, 0.75, 0.75: (100 + 600 + 765) / 7 = 209.3 -> 209. Point-sampled
// bilinear would give 50 and 227.
TEST(ResizeBilinear, ShrinkingAveragesTheWholeFootprint) {
  EXPECT_EQ(channel(resize_bilinear(line({0, 100, 200, 255}), 2, 1), 0),
            (std::vector<int>{71, 209}));
  EXPECT_EQ(channel(resize_bilinear(line({0, 100, 200, 255}, true), 1, 2), 2),
            (std::vector<int>{71, 209}));
}

// The horizontal pass is rounded to 8 bits before the vertical one, as Pillow does: a
// 2 x 2 image 0 1 / 1 0 enlarged to 4 x 4 has 0.25 in its second column after the first
// pass, rounded to 0; exact bilinear would give 0.25 * 0.75 + 0.75 * 0.25 = 0.375 -> 0 too,
// so use 255-scaled values: row 0 (0, 255) -> (0, 64, 191, 255) (63.75 rounds to 64).
TEST(ResizeBilinear, PassesRoundToEightBits) {
  Image image(2, 2);
  const int values[] = {0, 255, 255, 0};
  for (Index i = 0; i < 4; ++i)
    for (Index c = 0; c < 3; ++c)
      image.pixels[static_cast<std::size_t>(i * 3 + c)] = static_cast<std::uint8_t>(values[i]);
  const Image out = resize_bilinear(image, 4, 2);  // horizontal only
  EXPECT_EQ(channel(out, 1), (std::vector<int>{0, 64, 191, 255, 255, 191, 64, 0}));
  // Vertical pass on those rows: output row 1 is 0.75 * row 0 + 0.25 * row 1 of the
  // rounded intermediate: 0.75 * 64 + 0.25 * 191 = 95.75 -> 96.
  const Image square = resize_bilinear(image, 4, 4);
  EXPECT_EQ(square.at(1, 1, 0), 96);
}

TEST(ResizeBilinear, SameSizeIsACopyAndBadSizesThrow) {
  const Image image = line({1, 2, 3});
  EXPECT_EQ(resize_bilinear(image, 3, 1).pixels, image.pixels);
  EXPECT_THROW(resize_bilinear(image, 0, 1), InvalidArgument);
  EXPECT_THROW(resize_bilinear(Image(), 2, 2), InvalidArgument);
}

// Image's fields are public: pixels that do not hold width * height * 3 bytes are refused,
// not read out of bounds; sizes whose byte count overflows are refused too.
TEST(ResizeBilinear, RejectsImageWhoseSizeDisagreesWithItsPixels) {
  Image image(4, 4);
  image.width = image.height = 640;
  EXPECT_THROW(resize_bilinear(image, 8, 8), InvalidArgument);
  image.width = image.height = Index{1} << 32;
  EXPECT_THROW(resize_bilinear(image, 8, 8), InvalidArgument);
  EXPECT_THROW(Image(Index{1} << 32, Index{1} << 32), InvalidArgument);
  EXPECT_THROW(Image(-1, 2), InvalidArgument);
}

}  // namespace
}  // namespace eigenformer
