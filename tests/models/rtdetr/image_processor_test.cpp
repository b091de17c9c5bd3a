// RTDetrImageProcessor: layout, rescaling, mean and std, preprocessor_config.json handling,
// and HF's pixel_values of a real photo.
#include <eigenformer/image/image_file.hpp>
#include <eigenformer/io/safetensors.hpp>
#include <eigenformer/models/rtdetr/image_processor.hpp>

#include <nlohmann/json.hpp>

#include <iostream>

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

// A constant colour with a different level per channel, through a config whose mean and std
// differ per channel: every value of channel c is (level_c / 255 - mean_c) / std_c, so an
// RGB/BGR swap, a mean or std taken from the wrong channel, or an unread value shows.
TYPED_TEST(PreprocessTest, AppliesTheConfiguredMeanAndStdPerChannel) {
  using T = TypeParam;
  const std::array<std::uint8_t, 3> levels{200, 100, 30};
  Image image(9, 7);
  for (Index y = 0; y < image.height; ++y)
    for (Index x = 0; x < image.width; ++x)
      for (Index c = 0; c < 3; ++c) image.at(y, x, c) = levels[static_cast<std::size_t>(c)];
  const auto check = [&](const RTDetrImageProcessor& processor, const std::array<double, 3>& mean,
                         const std::array<double, 3>& std, Index height, Index width) {
    const FeatureMap<T> out = processor.preprocess<T>(image);
    ASSERT_EQ(out.height, height);
    ASSERT_EQ(out.width, width);
    for (Index c = 0; c < 3; ++c) {
      const std::size_t k = static_cast<std::size_t>(c);
      const double expected = (levels[k] / 255.0 - mean[k]) / std[k];
      EXPECT_NEAR(out.data.row(c).minCoeff(), expected, 1e-6) << "channel " << c;
      EXPECT_NEAR(out.data.row(c).maxCoeff(), expected, 1e-6) << "channel " << c;
    }
  };
  const auto processor = RTDetrImageProcessor::from_json(JsonConfig(nlohmann::json::parse(R"({
      "do_resize": true, "size": {"height": 4, "width": 6}, "do_rescale": true,
      "rescale_factor": 0.00392156862745098, "do_normalize": true,
      "image_mean": [0.1, 0.5, 0.9], "image_std": [0.2, 0.3, 0.4]})"),
                                                                    "p.json"));
  check(processor, {0.1, 0.5, 0.9}, {0.2, 0.3, 0.4}, 4, 6);
  // do_normalize without image_mean / image_std: ImageNet's, as HF's defaults.
  const auto imagenet = RTDetrImageProcessor::from_json(
      JsonConfig(nlohmann::json::parse(R"({"do_resize": false, "do_normalize": true})"), "p.json"));
  check(imagenet, {0.485, 0.456, 0.406}, {0.229, 0.224, 0.225}, 7, 9);
  // HF's RT-DETR default leaves normalisation off: the configured mean and std are unused.
  const auto off = RTDetrImageProcessor::from_json(
      JsonConfig(nlohmann::json::parse(R"({"do_resize": false, "do_normalize": false,
      "image_mean": [0.1, 0.5, 0.9], "image_std": [0.2, 0.3, 0.4]})"),
                 "p.json"));
  check(off, {0, 0, 0}, {1, 1, 1}, 7, 9);
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

// bus.jpg (810 x 1080) through the speed fixture's preprocessor_config.json against HF
// RTDetrImageProcessor's pixel_values of it (transformers 5.17; tests/data/rtdetr_preprocess
// stores that tensor's 8-bit levels, see make_bus_pixel_values.py). HF rescales in float32,
// float32(level) * float32(1 / 255); this library as numpy does, float32(level / 255.0), which
// differs in the last bit for some levels, hence the 1e-7 on values that agree. Measured:
// 3710 of the 1228800 values (0.30 %) are one level (1/255) apart, none further: the decode
// or the resize's rounding (the float32 rescale points to HF's torchvision backend, whose
// bilinear resize is not PIL's). The bound is 0.5 %.
TEST(RTDetrImageProcessorReference, BusJpegMatchesHFPixelValues) {
  const auto processor = RTDetrImageProcessor::from_json(
      JsonConfig::load(testing::data_path("rtdetr_preprocess/preprocessor_config.json")));
  const FeatureMap<float> actual =
      processor.preprocess<float>(load_image(testing::data_path("ultralytics/bus.jpg")));
  const auto reference =
      SafeTensorsFile::open(testing::data_path("rtdetr_preprocess/bus_pixel_values.safetensors"));
  const Tensor<std::uint8_t> levels = reference->tensor<std::uint8_t>("pixel_levels");
  ASSERT_EQ(levels.shape(), (Shape{3, 640, 640}));
  ASSERT_EQ(actual.channels(), 3);
  ASSERT_EQ(actual.height, 640);
  ASSERT_EQ(actual.width, 640);
  const Index plane = 640 * 640;
  const auto sums =
      nlohmann::json::parse(reference->metadata().at("channel_sums")).get<std::vector<double>>();
  ASSERT_EQ(sums.size(), 3u);
  const float scale = 1.0f / 255.0f;
  Index off_by_one = 0, worse = 0;
  double max_diff = 0;
  for (Index c = 0; c < 3; ++c) {
    double sum = 0, expected_sum = 0;
    for (Index i = 0; i < plane; ++i) {
      const float expected = static_cast<float>(levels.data()[c * plane + i]) * scale;
      const double diff = std::abs(static_cast<double>(actual.data(c, i)) - expected);
      max_diff = std::max(max_diff, diff);
      if (diff > 1e-7) ++(diff < 1.5 / 255 ? off_by_one : worse);
      sum += actual.data(c, i);
      expected_sum += expected;
    }
    // The stored levels reproduce the reference's sums; ours are within rounding of them.
    EXPECT_NEAR(expected_sum, sums[static_cast<std::size_t>(c)], 1e-6) << "channel " << c;
    EXPECT_NEAR(sum / plane, sums[static_cast<std::size_t>(c)] / plane, 1e-5) << "channel " << c;
  }
  std::cout << "bus.jpg pixel_values: max abs diff " << max_diff << ", " << off_by_one
            << " values one level apart, " << worse << " further, of " << 3 * plane << "\n";
  EXPECT_EQ(worse, 0);
  EXPECT_LE(off_by_one, 3 * plane / 200);
}

}  // namespace
}  // namespace eigenformer
