// ultralytics RT-DETR checkpoints against ultralytics 8.3.166's own outputs
// (tests/data/ultralytics/README.md): the tiny model with every module type of rtdetr-l and
// rtdetr-x, in the released and the trainer's form, on the fixture's preprocessed inputs.

#include <eigenformer/io/safetensors.hpp>
#include <eigenformer/models/ultralytics/post_process.hpp>
#include <eigenformer/models/ultralytics/rtdetr_model.hpp>

#include <gtest/gtest.h>

#include "fixture.hpp"

#include <map>
#include <memory>
#include <string>

namespace eigenformer {
namespace {

using testing::data_path;

const UltralyticsRTDetr<float>& tiny_model() {
  static const auto model = UltralyticsRTDetr<float>::load(data_path("ultralytics/rtdetr-tiny.pt"));
  return model;
}

std::shared_ptr<const SafeTensorsFile> reference() {
  static const auto file = SafeTensorsFile::open(data_path("ultralytics/io.safetensors"));
  return file;
}

// `NAME.input_u8` / 255 in float32, as the predictor divides.
FeatureMap<float> input(const std::string& name) {
  FeatureMap<float> x =
      FeatureMap<float>::from_nchw(reference()->tensor<float>(name + ".input_u8"), 0);
  x.data = x.data.unaryExpr([](float v) { return v / 255.0f; });
  return x;
}

Matrix<float> rows(const std::string& key) {
  const Tensor<float> t = reference()->tensor<float>(key);
  return t.matrix(t.size() / t.dim(t.rank() - 1), t.dim(t.rank() - 1));
}

TEST(UltralyticsRTDetrTest, ReadsTheArchitectureFromTheCheckpointsYaml) {
  const UltralyticsConfig& config = tiny_model().config();
  ASSERT_EQ(config.layers.size(), 30u);
  EXPECT_EQ(config.layers[0].module, "HGStem");
  EXPECT_EQ(config.layers[29].module, "RTDETRDecoder");
  EXPECT_EQ(config.layers[29].from, (std::vector<Index>{22, 25, 28}));
  EXPECT_EQ(config.layers[16].from, (std::vector<Index>{14, 15}));
  EXPECT_EQ(config.layers[16].out_channels, 64);  // Concat of two 32-channel maps
  EXPECT_EQ(config.num_classes, 80);
  EXPECT_EQ(config.imgsz, 640);
  ASSERT_EQ(config.names.size(), 80u);
  EXPECT_EQ(config.names[0], "person");
  EXPECT_EQ(config.names[79], "toothbrush");
  const RTDetrConfig& decoder = tiny_model().decoder().config();
  EXPECT_EQ(decoder.d_model, 64);
  EXPECT_EQ(decoder.num_queries, 40);
  EXPECT_EQ(decoder.decoder_layers, 2);
}

// Every layer output the fixture taps on the 96 x 160 input (all module types), then y.
TEST(UltralyticsRTDetrTest, EveryLayerAndTheOutputMatchUltralyticsOnASmallInput) {
  TraceRecorder<float> trace;
  RTDetrForwardOptions<float> options;
  options.trace = &trace;
  const auto out = tiny_model().forward(input("small"), options);
  int checked = 0;
  for (int index = 0; index < 29; ++index) {
    const std::string module = "model." + std::to_string(index);
    ASSERT_EQ(trace.calls(module), 1u) << module;
    char key[32];
    std::snprintf(key, sizeof key, "small.layer%02d", index);
    if (!reference()->contains(key)) continue;
    const FeatureMap<float>& map = trace.map(module);
    const FeatureMap<float> expected =
        FeatureMap<float>::from_nchw(reference()->tensor<float>(key), 0);
    ASSERT_EQ(map.channels(), expected.channels()) << key;
    ASSERT_EQ(map.height, expected.height) << key;
    ASSERT_EQ(map.width, expected.width) << key;
    const float scale = expected.data.cwiseAbs().maxCoeff();
    EXPECT_LT((map.data - expected.data).cwiseAbs().maxCoeff(), 1e-4f * scale) << key;
    ++checked;
  }
  EXPECT_EQ(checked, 13);  // layers 0, 3, 4, 8-13, 17, 22, 25, 28

  for (int level = 0; level < 3; ++level) {
    const std::string key = "small.dec.input_proj" + std::to_string(level);
    const auto expected = FeatureMap<float>::from_nchw(reference()->tensor<float>(key), 0);
    const FeatureMap<float>& projected = trace.map("model.29.input_proj." + std::to_string(level));
    EXPECT_LT((projected.data - expected.data).cwiseAbs().maxCoeff(), 1e-4f) << key;
  }
  EXPECT_EQ(trace.matrix("model.29"), out.y);
  EXPECT_LT((out.y - rows("small.y")).cwiseAbs().maxCoeff(), 1e-4f);
}

class UltralyticsPhotoTest : public ::testing::TestWithParam<std::string> {};

// The fixture's top-k margins (README: >= 1.1e-3 at the boundary, >= 8.9e-5 in order) are far
// above float32 noise, so the model's own top-k is used, not a replay.
TEST_P(UltralyticsPhotoTest, OutputTopKAndDecoderLayersMatchUltralytics) {
  const std::string name = GetParam();
  // Only the decoder layers' outputs: a filter keeps the recorder from copying the rest.
  TraceRecorder<float> trace([](const std::string& module) {
    return module == "model.29.decoder.layers.0" || module == "model.29.decoder.layers.1";
  });
  RTDetrForwardOptions<float> options;
  options.trace = &trace;
  const auto out = tiny_model().forward(input(name), options);
  const Tensor<float> topk = reference()->tensor<float>(name + ".enc_topk_index");
  ASSERT_EQ(static_cast<Index>(out.head.queries.topk_indices.size()), topk.size());
  for (Index i = 0; i < topk.size(); ++i)
    EXPECT_EQ(out.head.queries.topk_indices[static_cast<std::size_t>(i)],
              static_cast<Index>(topk.data()[i]))
        << i;
  EXPECT_LT((out.head.queries.topk_logits - rows(name + ".enc_scores")).cwiseAbs().maxCoeff(),
            1e-4f);
  EXPECT_LT((out.head.queries.topk_boxes - rows(name + ".enc_bboxes")).cwiseAbs().maxCoeff(),
            1e-5f);
  for (int layer = 0; layer < 2; ++layer) {
    const std::string key = name + ".dec.layer" + std::to_string(layer) + ".out";
    EXPECT_LT(
        (out.head.decoder.intermediate_hidden_states[layer] - rows(key)).cwiseAbs().maxCoeff(),
        1e-4f)
        << key;
    // The trace names the layer as ultralytics does.
    EXPECT_EQ(trace.matrix("model.29.decoder.layers." + std::to_string(layer)),
              out.head.decoder.intermediate_hidden_states[layer]);
  }
  EXPECT_LT((out.y - rows(name + ".y")).cwiseAbs().maxCoeff(), 1e-4f);
}

// Detections from our y against ultralytics' boxes: same count, classes and queries, boxes
// within 1e-2 px of the original image (y agrees to ~4e-6, times up to 1280 px), scores 1e-5.
TEST_P(UltralyticsPhotoTest, DetectionsMatchUltralyticsPostProcessing) {
  const std::string name = GetParam();
  const Index width = name == "bus" ? 810 : 1280, height = name == "bus" ? 1080 : 720;
  const auto out = tiny_model().forward(input(name));
  const auto detections =
      ultralytics_post_process<float>(out.y, width, height, tiny_model().names());
  const Matrix<float> boxes = rows(name + ".det_xyxy");
  const Tensor<float> conf = reference()->tensor<float>(name + ".det_conf");
  const Tensor<float> cls = reference()->tensor<float>(name + ".det_cls");
  const Tensor<float> query = reference()->tensor<float>(name + ".det_query");
  ASSERT_EQ(static_cast<Index>(detections.size()), conf.size());
  for (std::size_t i = 0; i < detections.size(); ++i) {
    const auto& d = detections[i];
    EXPECT_EQ(d.label_id, static_cast<std::int64_t>(cls.data()[i])) << i;
    EXPECT_EQ(d.query, static_cast<std::int64_t>(query.data()[i])) << i;
    EXPECT_EQ(d.label, tiny_model().names()[static_cast<std::size_t>(d.label_id)]);
    EXPECT_NEAR(d.score, conf.data()[i], 1e-5f) << i;
    for (int c = 0; c < 4; ++c) EXPECT_NEAR(d.box[c], boxes(static_cast<Index>(i), c), 1e-2f) << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Photos, UltralyticsPhotoTest, ::testing::Values("bus", "zidane"));

TEST(UltralyticsRTDetrTest, TheTrainersFormGivesTheSameModel) {
  const auto last = UltralyticsRTDetr<float>::load(data_path("ultralytics/rtdetr-tiny-last.pt"));
  const FeatureMap<float> x = input("small");
  EXPECT_EQ(last.forward(x).y, tiny_model().forward(x).y);
}

TEST(UltralyticsRTDetrTest, PostProcessingFiltersByClassAndConfidence) {
  Matrix<float> y(3, 6);
  y << 0.5f, 0.5f, 0.2f, 0.4f, 0.9f, 0.1f,  //
      0.1f, 0.2f, 0.1f, 0.1f, 0.2f, 0.3f,   //
      0.5f, 0.5f, 1.0f, 1.0f, 0.25f, 0.25f;
  const std::vector<std::string> names{"a", "b"};
  auto all = ultralytics_post_process<float>(y, 100, 200, names);
  ASSERT_EQ(all.size(), 2u);  // the third scores exactly 0.25: not above conf
  EXPECT_EQ(all[0].label, "a");
  EXPECT_FLOAT_EQ(all[0].box[0], 40.0f);
  EXPECT_FLOAT_EQ(all[0].box[3], 140.0f);
  EXPECT_EQ(all[1].label, "b");
  UltralyticsPostProcessOptions only_b;
  only_b.classes = std::vector<std::int64_t>{1};
  EXPECT_EQ(ultralytics_post_process<float>(y, 100, 200, names, only_b).size(), 1u);
  EXPECT_THROW(ultralytics_post_process<float>(y, 100, 200, {"a"}), ShapeError);
}

TEST(UltralyticsRTDetrTest, RefusesBadInputsAndArchitecturesWithClearErrors) {
  EXPECT_THROW(tiny_model().forward(FeatureMap<float>(3, 96, 100)), ShapeError);
  EXPECT_THROW(tiny_model().forward(FeatureMap<float>(1, 96, 96)), ShapeError);

  nlohmann::json yaml = nlohmann::json::parse(R"({"nc": 2, "backbone": [[-1, 1, "Conv", [8, 3, 2]]],
      "head": [[-1, 1, "SPPF", [8, 5]]]})");
  try {
    UltralyticsConfig::from_yaml(yaml, "x.pt");
    FAIL() << "SPPF accepted";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("SPPF"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("x.pt"), std::string::npos) << e.what();
  }
  yaml["head"] = nlohmann::json::parse(R"([[5, 1, "Conv", [8, 1, 1]]])");
  EXPECT_THROW(UltralyticsConfig::from_yaml(yaml, "x.pt"), FormatError);  // a later layer
  yaml["head"] = nlohmann::json::parse(R"([[-1, 1, "Conv"]])");
  EXPECT_THROW(UltralyticsConfig::from_yaml(yaml, "x.pt"), FormatError);  // not 4 fields
  EXPECT_THROW(UltralyticsConfig::from_yaml(nlohmann::json::array(), "x.pt"), FormatError);
}

}  // namespace
}  // namespace eigenformer
