// RTDetrModel end to end from pixel_values against HF's logits and pred_boxes, and the
// errors for missing, corrupt or mismatched model files.
#include <eigenformer/models/rtdetr/model.hpp>

#include "fixture.hpp"
#include "io/test_files.hpp"
#include "models/rtdetr/reference.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

namespace eigenformer {
namespace {

using testing::all_close;
using testing::data_path;
using testing::image_rows;
using testing::replay_selection;
using testing::TempDir;
using testing::throws_with;

template <typename T>
class RTDetrModelTest : public ::testing::Test {
 protected:
  const StateDict<T>& io = testing::fixture<T>("rtdetr/io.safetensors");
};
using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(RTDetrModelTest, Scalars);

// The fixture's coarsest level scores many tokens equally up to float rounding, so which
// of them torch.topk kept is replayed from the reference run (as in the head's test); with
// that, every output agrees with HF.
TYPED_TEST(RTDetrModelTest, MatchesHFFromPixelValues) {
  using T = TypeParam;
  const auto model = RTDetrModel<T>::load(data_path("rtdetr"));
  for (Index n = 0; n < 2; ++n) {
    const auto image = FeatureMap<T>::from_nchw(this->io.at("pixel_values"), n);
    TraceRecorder<T> trace;
    const auto out = model.forward(image, replay_selection(this->io, n, &trace));
    EXPECT_TRUE(all_close(out.logits, image_rows(this->io, "out.logits", 30, 12, n), 1e-4)) << n;
    EXPECT_TRUE(all_close(out.pred_boxes, image_rows(this->io, "out.pred_boxes", 30, 4, n), 1e-4))
        << n;

    // The trace, under HF's module names, against the reference run's hooks.
    auto hooked = [&](const std::string& module, Index rows, Index cols) {
      return image_rows(this->io, "hook." + module + ".out", rows, cols, n);
    };
    for (Index level = 0; level < 3; ++level) {
      const std::string module = detail::concat("model.decoder_input_proj.", level);
      EXPECT_TRUE(
          all_close(trace.map(module).data,
                    FeatureMap<T>::from_nchw(this->io.at("hook." + module + ".out"), n).data, 1e-4))
          << module;
    }
    EXPECT_TRUE(
        all_close(trace.matrix("model.enc_output"), hooked("model.enc_output", 252, 64), 1e-4));
    EXPECT_TRUE(all_close(trace.matrix("model.enc_bbox_head"),
                          hooked("model.enc_bbox_head", 252, 4), 1e-4));
    const std::string attention = "model.decoder.layers.0.encoder_attn";
    EXPECT_TRUE(all_close(trace.matrix(attention + ".value_proj"),
                          hooked(attention + ".value_proj", 252, 64), 1e-4));
    EXPECT_TRUE(
        all_close(trace.matrix(attention + ".attn"), hooked(attention + ".attn", 30, 64), 1e-4));
    for (Index layer = 0; layer < 3; ++layer)
      EXPECT_TRUE(all_close(
          trace.matrix(detail::concat("model.decoder.layers.", layer)),
          image_rows(this->io, "out.intermediate_hidden_states", 30, 64, 3 * n + layer), 1e-4))
          << "layer " << layer;
  }
}

// With its own top-k: the batch entry point runs every image, giving well-formed detections,
// the same as one image at a time.
TYPED_TEST(RTDetrModelTest, BatchForwardRunsEveryImage) {
  using T = TypeParam;
  const auto model = RTDetrModel<T>::load(data_path("rtdetr"));
  const auto detections = model.forward(this->io.at("pixel_values"));
  ASSERT_EQ(detections.size(), 2u);
  for (const auto& out : detections) {
    ASSERT_EQ(out.logits.rows(), 30);
    ASSERT_EQ(out.logits.cols(), 12);
    ASSERT_EQ(out.pred_boxes.rows(), 30);
    ASSERT_EQ(out.pred_boxes.cols(), 4);
    EXPECT_TRUE(out.logits.allFinite());
    EXPECT_TRUE((out.pred_boxes.array() >= T(0)).all() && (out.pred_boxes.array() <= T(1)).all());
  }
  const auto single = model.forward(FeatureMap<T>::from_nchw(this->io.at("pixel_values"), 1));
  EXPECT_TRUE(all_close(single.logits, detections[1].logits, 0));
  EXPECT_TRUE(all_close(single.pred_boxes, detections[1].pred_boxes, 0));
}

TYPED_TEST(RTDetrModelTest, RejectsBadPixelValues) {
  using T = TypeParam;
  const auto model = RTDetrModel<T>::load(data_path("rtdetr"));
  EXPECT_THROW(model.forward(Tensor<T>({3, 96, 128}, std::vector<T>(3 * 96 * 128))), ShapeError);
  EXPECT_THROW(model.forward(Tensor<T>({1, 1, 96, 128}, std::vector<T>(96 * 128))), ShapeError);
  // 100 is not a multiple of 32: the FPN cannot fuse the upsampled 4 x 4 map with a 7 x 8 one.
  EXPECT_THROW(model.forward(FeatureMap<T>(Matrix<T>::Zero(3, 100 * 128), 100, 128)), ShapeError);
}

TEST(RTDetrModelFiles, MissingOrCorruptFilesAreNamed) {
  const TempDir dir;
  EXPECT_TRUE(
      throws_with<FormatError>([&] { RTDetrModel<float>::load(dir.file("nowhere")); },
                               {dir.file("nowhere"), "no model there",
                                "expected a folder with config.json and model.safetensors"}));
  EXPECT_TRUE(throws_with<FormatError>([&] { RTDetrModel<float>::load(dir.path()); },
                                       {dir.path(), "no model.safetensors"}));
  std::filesystem::copy_file(data_path("rtdetr/model.safetensors"), dir.file("model.safetensors"));
  EXPECT_TRUE(throws_with<FormatError>([&] { RTDetrModel<float>::load(dir.path()); },
                                       {dir.path(), "no config.json"}));
  // A field of the wrong type names the file and the field.
  auto config = nlohmann::json::parse(std::ifstream(data_path("rtdetr/config.json")));
  config["d_model"] = "256";
  dir.write("config.json", config.dump());
  EXPECT_TRUE(throws_with<FormatError>([&] { RTDetrModel<float>::load(dir.path()); },
                                       {dir.file("config.json"), "field 'd_model'", "string"}));
  std::filesystem::copy_file(data_path("rtdetr/config.json"), dir.file("config.json"),
                             std::filesystem::copy_options::overwrite_existing);
  // An ultralytics checkpoint is another model class.
  EXPECT_TRUE(
      throws_with<FormatError>([&] { RTDetrModel<float>::load(dir.write("rtdetr-l.pt", "")); },
                               {"rtdetr-l.pt", "ultralytics .pt checkpoints load with RTDETR"}));
  dir.write("model.safetensors", "\x10\0\0\0\0\0\0\0{not json}     ");
  EXPECT_TRUE(throws_with<FormatError>([&] { RTDetrModel<float>::load(dir.path()); },
                                       {"model.safetensors"}));
  // A valid file without the backbone's tensors: the first missing one is named.
  std::filesystem::copy_file(data_path("attention/cases.safetensors"),
                             dir.file("model.safetensors"),
                             std::filesystem::copy_options::overwrite_existing);
  EXPECT_TRUE(
      throws_with<FormatError>([&] { RTDetrModel<float>::load(dir.path()); },
                               {"model.backbone.model.embedder.embedder.0.convolution.weight"}));
}

}  // namespace
}  // namespace eigenformer
