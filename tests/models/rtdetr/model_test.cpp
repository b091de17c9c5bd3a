// RTDetrModel end to end from pixel_values against HF's logits and pred_boxes, and the
// errors for missing, corrupt or mismatched model files.
#include <eigenformer/models/rtdetr/model.hpp>

#include "fixture.hpp"
#include "io/test_files.hpp"
#include "models/rtdetr/reference.hpp"

#include <filesystem>

namespace eigenformer {
namespace {

using testing::all_close;
using testing::data_path;
using testing::image_rows;
using testing::reference_selection;
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
    const auto out = model.forward(image, reference_selection(this->io, n));
    EXPECT_TRUE(all_close(out.logits, image_rows(this->io, "out.logits", 30, 12, n), 1e-4)) << n;
    EXPECT_TRUE(all_close(out.pred_boxes, image_rows(this->io, "out.pred_boxes", 30, 4, n), 1e-4))
        << n;
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
  EXPECT_TRUE(throws_with<FormatError>([&] { RTDetrModel<float>::load(dir.file("nowhere")); },
                                       {"nowhere", "not a model directory"}));
  EXPECT_TRUE(
      throws_with<FormatError>([&] { RTDetrModel<float>::load(dir.path()); }, {"config.json"}));
  std::filesystem::copy_file(data_path("rtdetr/config.json"), dir.file("config.json"));
  EXPECT_TRUE(throws_with<FormatError>([&] { RTDetrModel<float>::load(dir.path()); },
                                       {"model.safetensors", "cannot open"}));
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
