// RTDetrImageProcessor: layout, rescaling and preprocessor_config.json handling.
#include <eigenformer/models/rtdetr/image_processor.hpp>

#include "fixture.hpp"
#include "io/test_files.hpp"

namespace eigenformer {
namespace {

using testing::TempDir;
using testing::throws_with;

Image ramp(Index width, Index height) {
  Image image(width, height);
  for (std::size_t i = 0; i < image.pixels.size(); ++i)
    image.pixels[i] = static_cast<std::uint8_t>(i % 256);
  return image;
}

template <typename T>
class PreprocessTest : public ::testing::Test {};
using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(PreprocessTest, Scalars);

TYPED_TEST(PreprocessTest, DefaultsResizeTo640AndRescale) {
  using T = TypeParam;
  const RTDetrImageProcessor processor;
  const FeatureMap<T> out = processor.preprocess<T>(ramp(7, 5));
  EXPECT_EQ(out.channels(), 3);
  EXPECT_EQ(out.height, 640);
  EXPECT_EQ(out.width, 640);
  EXPECT_GE(out.data.minCoeff(), T(0));
  EXPECT_LE(out.data.maxCoeff(), T(1));
}

TYPED_TEST(PreprocessTest, PlanarLayoutAndNumpyRescaling) {
  using T = TypeParam;
  RTDetrImageProcessor processor;
  processor.do_resize = false;
  const Image image = ramp(3, 2);
  const FeatureMap<T> out = processor.preprocess<T>(image);
  ASSERT_EQ(out.height, 2);
  ASSERT_EQ(out.width, 3);
  for (Index y = 0; y < 2; ++y)
    for (Index x = 0; x < 3; ++x)
      for (Index c = 0; c < 3; ++c)  // numpy: float32(float64(p) * (1 / 255))
        EXPECT_EQ(out.at(c, y, x),
                  static_cast<T>(static_cast<double>(image.at(y, x, c)) * (1.0 / 255.0)));
  processor.do_normalize = true;
  const FeatureMap<T> normalized = processor.preprocess<T>(image);
  EXPECT_NEAR(normalized.at(1, 1, 2), (out.at(1, 1, 2) - 0.456) / 0.224, 1e-6);
}

TYPED_TEST(PreprocessTest, RejectsImageWhoseSizeDisagreesWithItsPixels) {
  using T = TypeParam;
  Image image(4, 4);
  image.width = image.height = 640;
  const RTDetrImageProcessor processor;
  EXPECT_THROW(processor.preprocess<T>(image), InvalidArgument);
  RTDetrImageProcessor no_resize;
  no_resize.do_resize = false;
  EXPECT_THROW(no_resize.preprocess<T>(image), InvalidArgument);
}

TEST(RTDetrImageProcessorConfig, ReadsPreprocessorConfigAndRejectsUnsupportedOptions) {
  const TempDir dir;
  EXPECT_EQ(RTDetrImageProcessor::load(dir.path()).height, 640);  // no file: defaults
  dir.write("preprocessor_config.json",
            R"({"do_resize": true, "size": {"height": 320, "width": 480},
      "resample": 2, "do_rescale": true, "rescale_factor": 0.00392156862745098,
      "do_normalize": false, "do_pad": false, "image_processor_type": "RTDetrImageProcessor"})");
  const auto processor = RTDetrImageProcessor::load(dir.path());
  EXPECT_EQ(processor.height, 320);
  EXPECT_EQ(processor.width, 480);
  EXPECT_FALSE(processor.do_normalize);
  auto rejects = [](const std::string& text, const std::string& field) {
    return throws_with<FormatError>(
        [&] { RTDetrImageProcessor::from_json(JsonConfig(nlohmann::json::parse(text), "p.json")); },
        {"p.json", field});
  };
  EXPECT_TRUE(rejects(R"({"resample": 3})", "resample"));
  EXPECT_TRUE(rejects(R"({"size": {"shortest_edge": 800}})", "size"));
  EXPECT_TRUE(rejects(R"({"do_pad": true})", "do_pad"));
  // Sides beyond Image::kMaxSide (16384) would only end in bad_alloc.
  EXPECT_TRUE(rejects(R"({"size": {"height": 1073741824, "width": 640}})", "size.height"));
  EXPECT_TRUE(rejects(R"({"size": {"height": 640, "width": 16385}})", "size.width"));
  EXPECT_EQ(
      RTDetrImageProcessor::from_json(
          JsonConfig(nlohmann::json::parse(R"({"size": {"height": 16384, "width": 1}})"), "p.json"))
          .height,
      16384);
  EXPECT_TRUE(rejects(R"({"do_normalize": true, "image_mean": [0.5, 0.5]})", "image_mean"));
  EXPECT_TRUE(rejects(R"({"do_resize": "yes"})", "field 'do_resize' must be a boolean"));
  EXPECT_TRUE(rejects(R"({"size": {"height": "640", "width": 640}})", "field 'size.height'"));
  // The file is found through ModelFiles, so a missing folder reads as for every model.
  EXPECT_TRUE(throws_with<FormatError>([&] { RTDetrImageProcessor::load(dir.file("nowhere")); },
                                       {dir.file("nowhere"), "no model there"}));
}

}  // namespace
}  // namespace eigenformer
