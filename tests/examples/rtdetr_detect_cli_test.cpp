// Runs the rtdetr-detect binary: its raw outputs on the fixture's pixel_values against HF's,
// its detections on a PNG against the library's post-processing of its raw outputs, the
// annotated PNG, and its exit codes.
#include <eigenformer/image/image_file.hpp>
#include <eigenformer/io/safetensors.hpp>
#include <eigenformer/models/rtdetr/config.hpp>
#include <eigenformer/models/rtdetr/post_process.hpp>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>

#include "examples/command.hpp"
#include "fixture.hpp"
#include "io/test_files.hpp"

namespace eigenformer {
namespace {

using testing::data_path;
using testing::lines_of;
using testing::run_command;
using testing::shell_quoted;
using testing::TempDir;

std::string detect(const std::string& arguments) {
  return std::string(EIGENFORMER_RTDETR_DETECT) + " --model " + shell_quoted(data_path("rtdetr")) +
         " " + arguments;
}

Matrix<float> to_matrix(const nlohmann::json& rows) {
  Matrix<float> m(static_cast<Index>(rows.size()), static_cast<Index>(rows.at(0).size()));
  for (Index r = 0; r < m.rows(); ++r)
    for (Index c = 0; c < m.cols(); ++c)
      m(r, c) = rows.at(static_cast<std::size_t>(r)).at(static_cast<std::size_t>(c)).get<float>();
  return m;
}

// The fixture's random model gives its top 30 tokens encoder scores within 1e-5 of each
// other, and more tokens tie with the 30th, so which tokens the top-k keeps near the cut
// and in which order is not reproducible between implementations (the library's own test
// replays HF's choice). Queries whose encoder score is within 2e-6 (float rounding across
// ten layers) of the lowest selected one are therefore only required to be well formed;
// every other query of HF's output must appear, in any order, within 1e-4.
TEST(RTDetrDetectCli, RawOutputsMatchHFOnTheFixtureTensor) {
  const auto& io = testing::fixture<float>("rtdetr/io.safetensors");
  const auto result = run_command(
      detect("--input-tensor " + shell_quoted(data_path("rtdetr/io.safetensors")) + " --raw"));
  ASSERT_EQ(result.exit_code, 0);
  const auto lines = lines_of(result.out);
  ASSERT_EQ(lines.size(), 2u);
  Index strictly_checked = 0;
  for (Index n = 0; n < 2; ++n) {
    const auto json = nlohmann::json::parse(lines[static_cast<std::size_t>(n)]);
    EXPECT_EQ(json.at("image"), data_path("rtdetr/io.safetensors") + "#" + std::to_string(n));
    const Matrix<float> logits = to_matrix(json.at("logits"));
    const Matrix<float> boxes = to_matrix(json.at("pred_boxes"));
    ASSERT_EQ(logits.rows(), 30);
    ASSERT_EQ(logits.cols(), 12);
    ASSERT_EQ(boxes.cols(), 4);
    EXPECT_TRUE(logits.allFinite());
    EXPECT_TRUE((boxes.array() >= 0.0f).all() && (boxes.array() <= 1.0f).all());
    const auto expected_logits = io.at("out.logits").matrix().middleRows(n * 30, 30);
    const auto expected_boxes = io.at("out.pred_boxes").matrix().middleRows(n * 30, 30);
    const Vector<float> scores =
        io.at("out.enc_topk_logits").matrix().middleRows(n * 30, 30).rowwise().maxCoeff();
    const float cut = scores.minCoeff();
    std::vector<bool> used(30, false);
    for (Index q = 0; q < 30; ++q) {
      if (scores(q) <= cut + 2e-6f) continue;
      ++strictly_checked;
      bool found = false;
      for (Index a = 0; a < 30 && !found; ++a)
        if (!used[static_cast<std::size_t>(a)] &&
            (logits.row(a) - expected_logits.row(q)).cwiseAbs().maxCoeff() <= 1e-4f &&
            (boxes.row(a) - expected_boxes.row(q)).cwiseAbs().maxCoeff() <= 1e-4f)
          used[static_cast<std::size_t>(a)] = found = true;
      EXPECT_TRUE(found) << "image " << n << ": HF query " << q << " has no match";
    }
  }
  EXPECT_GE(strictly_checked, 20);
}

class DetectOnPng : public ::testing::Test {
 protected:
  const TempDir dir;
  const std::string image_path = dir.file("gradient image.png");  // a space, to test quoting
  Image image{80, 48};

  void SetUp() override {
    for (Index y = 0; y < image.height; ++y)
      for (Index x = 0; x < image.width; ++x) {
        image.at(y, x, 0) = static_cast<std::uint8_t>(x * 3);
        image.at(y, x, 1) = static_cast<std::uint8_t>(y * 5);
        image.at(y, x, 2) = static_cast<std::uint8_t>((x + y) * 2);
      }
    write_png(image_path, image);
  }
};

// Threshold 0 keeps all 30 top (query, class) pairs, so the JSON can be checked against the
// library's post-processing of the same image's raw outputs. Both runs use one thread: the
// matrix products' summation order, and so the last bits, depend on the thread count, and
// this random model's scores are close enough to tie.
TEST_F(DetectOnPng, DetectionsFollowTheRawOutputsInPixelCoordinates) {
  const std::string annotated = dir.file("annotated.png");
  const auto result = run_command(detect("--threshold 0 --threads 1 --out " +
                                         shell_quoted(annotated) + " " + shell_quoted(image_path)));
  ASSERT_EQ(result.exit_code, 0);
  const auto raw = run_command(detect("--threads 1 --raw " + shell_quoted(image_path)));
  ASSERT_EQ(raw.exit_code, 0);
  ASSERT_EQ(lines_of(result.out).size(), 1u);
  ASSERT_EQ(lines_of(raw.out).size(), 1u);
  const auto json = nlohmann::json::parse(lines_of(result.out)[0]);
  const auto raw_json = nlohmann::json::parse(lines_of(raw.out)[0]);
  EXPECT_EQ(json.at("image"), image_path);

  const RTDetrConfig config = RTDetrConfig::load(data_path("rtdetr"));
  const auto expected = post_process_object_detection<float>(to_matrix(raw_json.at("logits")),
                                                             to_matrix(raw_json.at("pred_boxes")),
                                                             config.id2label, {80.0, 48.0}, 0.0f);
  const auto& detections = json.at("detections");
  ASSERT_EQ(detections.size(), expected.size());
  ASSERT_EQ(detections.size(), 30u);
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const auto& d = detections[i];
    EXPECT_EQ(d.at("label_id").get<std::int64_t>(), expected[i].label_id) << i;
    EXPECT_EQ(d.at("label").get<std::string>(), expected[i].label) << i;
    EXPECT_NEAR(d.at("score").get<double>(), expected[i].score, 1e-4) << i;
    for (std::size_t k = 0; k < 4; ++k)
      EXPECT_NEAR(d.at("box").at(k).get<double>(), expected[i].box[k], 1e-3) << i;
    if (i > 0) {
      EXPECT_GE(detections[i - 1].at("score").get<double>(), d.at("score").get<double>());
    }
  }

  const Image drawn = load_image(annotated);
  EXPECT_EQ(drawn.width, image.width);
  EXPECT_EQ(drawn.height, image.height);
  EXPECT_NE(drawn.pixels, image.pixels);  // boxes were drawn
}

TEST_F(DetectOnPng, ExitCodesAndMessages) {
  EXPECT_EQ(run_command(std::string(EIGENFORMER_RTDETR_DETECT)).exit_code, 2);  // no --model
  EXPECT_EQ(run_command(detect("")).exit_code, 2);                              // no image
  EXPECT_EQ(run_command(detect("--threshold 2 " + shell_quoted(image_path))).exit_code, 2);
  EXPECT_EQ(run_command(detect("--bogus " + shell_quoted(image_path))).exit_code, 2);
  EXPECT_EQ(run_command(detect(shell_quoted(dir.file("missing.png")))).exit_code, 1);
  const std::string not_image = dir.write("notes.png", "not a png");
  const auto result = run_command(detect(shell_quoted(not_image)), true);
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.out.find("notes.png"), std::string::npos) << result.out;
  const auto empty = run_command(std::string(EIGENFORMER_RTDETR_DETECT) + " --model " +
                                     shell_quoted(dir.path()) + " " + shell_quoted(image_path),
                                 true);
  EXPECT_EQ(empty.exit_code, 1);
  EXPECT_NE(empty.out.find(dir.path() + ": no model.safetensors in the folder"), std::string::npos)
      << empty.out;
  // The message every model loader gives (text-encoder's test checks the same text).
  const auto missing = run_command(std::string(EIGENFORMER_RTDETR_DETECT) +
                                       " --model /nonexistent/model " + shell_quoted(image_path),
                                   true);
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(
      missing.out.find("/nonexistent/model: no model there (expected a folder with config.json and "
                       "model.safetensors, or a .pt/.safetensors file)"),
      std::string::npos)
      << missing.out;
  const auto weights_only = run_command(std::string(EIGENFORMER_RTDETR_DETECT) + " --model " +
                                            shell_quoted(dir.write("weights.safetensors", "")) +
                                            " " + shell_quoted(image_path),
                                        true);
  EXPECT_EQ(weights_only.exit_code, 1);
  EXPECT_NE(
      weights_only.out.find("rtdetr-detect loads from a HF RT-DETR folder or an "
                            "ultralytics .pt checkpoint, not from a single .safetensors file"),
      std::string::npos)
      << weights_only.out;
}

// --- ultralytics checkpoints ----------------------------------------------------------

std::string detect_pt(const std::string& arguments) {
  return std::string(EIGENFORMER_RTDETR_DETECT) + " --model " +
         shell_quoted(data_path("ultralytics/rtdetr-tiny.pt")) + " " + arguments;
}

// A one-tensor safetensors file: `name`, float32 of `shape`.
void write_safetensors(const std::string& path, const std::string& name, const Shape& shape,
                       const std::vector<float>& values) {
  nlohmann::json header;
  header[name] = {
      {"dtype", "F32"}, {"shape", shape}, {"data_offsets", {0, values.size() * sizeof(float)}}};
  const std::string text = header.dump();
  std::ofstream out(path, std::ios::binary);
  const std::uint64_t size = text.size();
  out.write(reinterpret_cast<const char*>(&size), sizeof size);
  out << text;
  out.write(reinterpret_cast<const char*>(values.data()),
            static_cast<std::streamsize>(values.size() * sizeof(float)));
}

// `rtdetr-detect --model rtdetr-tiny.pt bus.jpg` against ultralytics' predictor on bus.jpg.
TEST(RTDetrDetectUltralytics, DetectionsOnTheJpegMatchUltralytics) {
  TempDir dir;
  const std::string drawn = dir.file("bus-detected.png");
  const auto result = run_command(detect_pt("--out " + shell_quoted(drawn) + " " +
                                            shell_quoted(data_path("ultralytics/bus.jpg"))));
  ASSERT_EQ(result.exit_code, 0);
  const auto json = nlohmann::json::parse(lines_of(result.out).at(0));
  const auto reference = SafeTensorsFile::open(data_path("ultralytics/io.safetensors"));
  const Tensor<float> xyxy = reference->tensor<float>("bus.det_xyxy");
  const Tensor<float> conf = reference->tensor<float>("bus.det_conf");
  const Tensor<float> cls = reference->tensor<float>("bus.det_cls");
  const auto& detections = json.at("detections");
  ASSERT_EQ(static_cast<Index>(detections.size()), conf.size());
  for (std::size_t i = 0; i < detections.size(); ++i) {
    EXPECT_EQ(detections[i].at("label_id").get<Index>(), static_cast<Index>(cls.data()[i])) << i;
    EXPECT_NEAR(detections[i].at("score").get<double>(), conf.data()[i], 1e-4) << i;
    for (std::size_t k = 0; k < 4; ++k)
      EXPECT_NEAR(detections[i].at("box").at(k).get<double>(), xyxy.data()[i * 4 + k], 1e-2) << i;
  }
  const Image image = load_image(drawn);
  EXPECT_EQ(image.width, 810);
  EXPECT_EQ(image.height, 1080);

  // A class filter keeps only those classes.
  const auto people = run_command(
      detect_pt("--classes 0 --conf 0.25 " + shell_quoted(data_path("ultralytics/bus.jpg"))));
  ASSERT_EQ(people.exit_code, 0);
  const auto people_json = nlohmann::json::parse(lines_of(people.out).at(0));
  for (const auto& d : people_json.at("detections"))
    EXPECT_EQ(d.at("label").get<std::string>(), "person");
}

// --input-tensor --raw prints ultralytics' y for the tensor `images`.
TEST(RTDetrDetectUltralytics, RawOutputOfAnInputTensorIsUltralyticsY) {
  TempDir dir;
  const auto reference = SafeTensorsFile::open(data_path("ultralytics/io.safetensors"));
  const Tensor<float> u8 = reference->tensor<float>("small.input_u8");
  std::vector<float> values(u8.data(), u8.data() + u8.size());
  for (float& v : values) v /= 255.0f;
  const std::string input = dir.file("images.safetensors");
  write_safetensors(input, "images", u8.shape(), values);
  const auto result = run_command(detect_pt("--input-tensor " + shell_quoted(input) + " --raw"));
  ASSERT_EQ(result.exit_code, 0);
  const Matrix<float> y = to_matrix(nlohmann::json::parse(lines_of(result.out).at(0)).at("y"));
  const Tensor<float> expected = reference->tensor<float>("small.y");
  EXPECT_LT((y - expected.matrix(40, 84)).cwiseAbs().maxCoeff(), 1e-4f);
}

TEST(RTDetrDetectUltralytics, RefusesMissingModelsAndHostileCheckpointsClearly) {
  const std::string bus = shell_quoted(data_path("ultralytics/bus.jpg"));
  auto missing = run_command(
      std::string(EIGENFORMER_RTDETR_DETECT) + " --model /nonexistent/x.pt " + bus, true);
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.out.find("/nonexistent/x.pt"), std::string::npos) << missing.out;
  std::remove("/tmp/eigenformer-hostile-ran");
  auto hostile =
      run_command(std::string(EIGENFORMER_RTDETR_DETECT) + " --model " +
                      shell_quoted(data_path("ultralytics/hostile/os-system.pt")) + " " + bus,
                  true);
  EXPECT_EQ(hostile.exit_code, 1);
  EXPECT_NE(hostile.out.find("os.system"), std::string::npos) << hostile.out;
  EXPECT_FALSE(std::ifstream("/tmp/eigenformer-hostile-ran").good());
  EXPECT_EQ(run_command(detect_pt("--imgsz 100 " + bus)).exit_code, 2);
  EXPECT_EQ(run_command(detect_pt("--classes a,b " + bus)).exit_code, 2);
}

}  // namespace
}  // namespace eigenformer
