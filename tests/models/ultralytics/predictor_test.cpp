// ultralytics' predictor end to end, from the JPEG files: RTDETR(checkpoint).predict(path)
// against ultralytics 8.3.166's detections on the same photos (tests/data/ultralytics).

#include <eigenformer/image/image_file.hpp>
#include <eigenformer/io/safetensors.hpp>
#include <eigenformer/models/ultralytics/predictor.hpp>

#include <gtest/gtest.h>

#include "fixture.hpp"

#include <string>

namespace eigenformer {
namespace {

using testing::data_path;

const RTDETR& tiny() {
  static const RTDETR model(data_path("ultralytics/rtdetr-tiny.pt"));
  return model;
}

std::shared_ptr<const SafeTensorsFile> reference() {
  static const auto file = SafeTensorsFile::open(data_path("ultralytics/io.safetensors"));
  return file;
}

class PredictorTest : public ::testing::TestWithParam<std::string> {};

// The network input is bit-exact: libjpeg-turbo's decode, OpenCV's INTER_LINEAR, / 255.
TEST_P(PredictorTest, LetterboxedInputIsTheReferenceTensor) {
  const std::string name = GetParam();
  const FeatureMap<float> x =
      ultralytics_letterbox<float>(load_image(data_path("ultralytics/" + name + ".jpg")), 640);
  const Tensor<float> u8 = reference()->tensor<float>(name + ".input_u8");
  const FeatureMap<float> expected = FeatureMap<float>::from_nchw(u8, 0);
  ASSERT_EQ(x.data.rows(), 3);
  ASSERT_EQ(x.data.cols(), 640 * 640);
  Index differing = 0;
  for (Index c = 0; c < 3; ++c)
    for (Index p = 0; p < x.data.cols(); ++p)
      differing += x.data(c, p) != expected.data(c, p) / 255.0f;
  EXPECT_EQ(differing, 0);
}

// Same boxes in the same (query) order with the same classes; boxes within 1e-2 px and
// scores within 1e-5 (the README's margins to conf 0.25 and between classes are >= 1.8e-3).
TEST_P(PredictorTest, PredictFromTheJpegGivesUltralyticsDetections) {
  const std::string name = GetParam();
  const Results results = tiny().predict(data_path("ultralytics/" + name + ".jpg"));
  EXPECT_EQ(results.image.width, name == "bus" ? 810 : 1280);
  const Tensor<float> xyxy = reference()->tensor<float>(name + ".det_xyxy");
  const Tensor<float> conf = reference()->tensor<float>(name + ".det_conf");
  const Tensor<float> cls = reference()->tensor<float>(name + ".det_cls");
  ASSERT_EQ(static_cast<Index>(results.boxes.size()), conf.size());
  for (std::size_t i = 0; i < results.boxes.size(); ++i) {
    const auto& d = results.boxes[i];
    EXPECT_EQ(d.label_id, static_cast<std::int64_t>(cls.data()[i])) << i;
    EXPECT_NEAR(d.score, conf.data()[i], 1e-5f) << i;
    for (std::size_t k = 0; k < 4; ++k) EXPECT_NEAR(d.box[k], xyxy.data()[i * 4 + k], 1e-2f) << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Photos, PredictorTest, ::testing::Values("bus", "zidane"));

TEST(PredictorOptionsTest, ConfidenceAndClassFilters) {
  const std::string bus = data_path("ultralytics/bus.jpg");
  const Results all = tiny().predict(bus);
  PredictOptions strict;
  strict.conf = 0.99;
  EXPECT_TRUE(tiny().predict(bus, strict).boxes.empty());
  PredictOptions people;
  people.classes = std::vector<std::int64_t>{0};
  const Results only_people = tiny().predict(bus, people);
  std::size_t expected = 0;
  for (const auto& d : all.boxes) expected += d.label_id == 0;
  EXPECT_EQ(only_people.boxes.size(), expected);
  for (const auto& d : only_people.boxes) EXPECT_EQ(d.label, "person");
}

TEST(PredictorOptionsTest, PlotDrawsOnACopyOfTheOriginal) {
  const Results results = tiny().predict(data_path("ultralytics/zidane.jpg"));
  ASSERT_FALSE(results.boxes.empty());
  const Image drawn = results.plot();
  EXPECT_EQ(drawn.width, results.image.width);
  EXPECT_EQ(drawn.height, results.image.height);
  EXPECT_NE(drawn.pixels, results.image.pixels);
}

}  // namespace
}  // namespace eigenformer
