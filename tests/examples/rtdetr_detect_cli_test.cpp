// Runs the rtdetr-detect binary: its raw outputs and detections on the fixture's
// pixel_values against HF's, its detections on bus.jpg against ultralytics', where the
// annotated PNGs draw box outlines and labels, and its exit codes.
#include <eigenformer/image/detection_plot.hpp>
#include <eigenformer/image/image_file.hpp>
#include <eigenformer/io/safetensors.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>

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

// HF's RTDetrImageProcessor.post_process_object_detection (use_focal_loss): sigmoid of
// every (query, class) logit, the num_queries best of them (label = index % classes,
// query = index / classes), the query's cx, cy, w, h box as corners scaled to the image's
// width and height, kept when the score exceeds the threshold.
struct ReferenceDetection {
  Index query = 0;
  std::int64_t label_id = 0;
  double score = 0;
  std::array<double, 4> box{};
};

std::vector<ReferenceDetection> hf_post_process(const Matrix<float>& logits,
                                                const Matrix<float>& boxes, double width,
                                                double height, double threshold) {
  std::vector<ReferenceDetection> all;
  for (Index q = 0; q < logits.rows(); ++q)
    for (Index c = 0; c < logits.cols(); ++c) {
      ReferenceDetection d;
      d.query = q;
      d.label_id = c;
      d.score = 1.0 / (1.0 + std::exp(-static_cast<double>(logits(q, c))));
      const double cx = boxes(q, 0), cy = boxes(q, 1), w = boxes(q, 2), h = boxes(q, 3);
      d.box = {(cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width,
               (cy + h / 2) * height};
      all.push_back(d);
    }
  std::stable_sort(all.begin(), all.end(),
                   [](const auto& a, const auto& b) { return a.score > b.score; });
  all.resize(static_cast<std::size_t>(logits.rows()));
  all.erase(std::remove_if(all.begin(), all.end(),
                           [&](const ReferenceDetection& d) { return !(d.score > threshold); }),
            all.end());
  return all;
}

// The detections of `--input-tensor` (boxes in the tensor's 128 x 96 pixels) against HF's
// post-processing of HF's logits and pred_boxes. As in RawOutputsMatchHFOnTheFixtureTensor,
// queries at the encoder's top-k cut are not reproducible: the detections of the other
// queries must all be there (label, score to the JSON's 4 digits, box within 0.02 px) and
// rank above every other detection; the rest must be well formed.
TEST(RTDetrDetectCli, DetectionsOnTheFixtureTensorFollowHFPostProcessing) {
  const auto& io = testing::fixture<float>("rtdetr/io.safetensors");
  nlohmann::json config;
  std::ifstream(data_path("rtdetr/config.json")) >> config;
  for (const double threshold : {0.0, 0.19}) {
    const auto result =
        run_command(detect("--input-tensor " + shell_quoted(data_path("rtdetr/io.safetensors")) +
                           " --threshold " + std::to_string(threshold)));
    ASSERT_EQ(result.exit_code, 0);
    const auto lines = lines_of(result.out);
    ASSERT_EQ(lines.size(), 2u);
    for (Index n = 0; n < 2; ++n) {
      const auto line = nlohmann::json::parse(lines[static_cast<std::size_t>(n)]);
      const auto& detections = line.at("detections");
      const Vector<float> encoder_scores =
          io.at("out.enc_topk_logits").matrix().middleRows(n * 30, 30).rowwise().maxCoeff();
      const float cut = encoder_scores.minCoeff();
      const auto expected = hf_post_process(io.at("out.logits").matrix().middleRows(n * 30, 30),
                                            io.at("out.pred_boxes").matrix().middleRows(n * 30, 30),
                                            128, 96, threshold);
      std::vector<bool> used(detections.size(), false);
      std::size_t strict = 0;
      double lowest_matched = 1;
      for (const auto& e : expected) {
        if (encoder_scores(e.query) <= cut + 2e-6f) continue;
        ++strict;
        bool found = false;
        for (std::size_t a = 0; a < detections.size() && !found; ++a) {
          const auto& d = detections[a];
          bool same = !used[a] && d.at("label_id").get<std::int64_t>() == e.label_id &&
                      std::abs(d.at("score").get<double>() - e.score) <= 1e-4;
          for (std::size_t k = 0; k < 4 && same; ++k)
            same = std::abs(d.at("box").at(k).get<double>() - e.box[k]) <= 0.02;
          if (same) {
            used[a] = found = true;
            lowest_matched = std::min(lowest_matched, d.at("score").get<double>());
            EXPECT_EQ(d.at("label").get<std::string>(),
                      config.at("id2label").at(std::to_string(e.label_id)).get<std::string>());
          }
        }
        EXPECT_TRUE(found) << "threshold " << threshold << ", image " << n << ": HF query "
                           << e.query << " class " << e.label_id << " score " << e.score
                           << " has no detection";
      }
      if (threshold == 0.0) {
        EXPECT_EQ(detections.size(), 30u);
        EXPECT_GE(strict, 10u);
      } else {  // above 0.19 only queries away from the cut: exactly HF's detections
        EXPECT_EQ(strict, expected.size());
        EXPECT_EQ(detections.size(), expected.size());
        EXPECT_GE(expected.size(), 5u);
      }
      for (std::size_t a = 0; a < detections.size(); ++a) {
        const auto& d = detections[a];
        const double score = d.at("score").get<double>();
        EXPECT_GT(score, threshold);
        if (!used[a]) {
          EXPECT_LE(score, lowest_matched) << "detection " << a << " outranks HF's";
        }
        if (a > 0) {
          EXPECT_GE(detections[a - 1].at("score").get<double>(), score);
        }
        const auto& box = d.at("box");
        EXPECT_LE(box.at(0).get<double>(), box.at(2).get<double>());
        EXPECT_LE(box.at(1).get<double>(), box.at(3).get<double>());
      }
    }
  }
}

// Where a drawing of `boxes` (corners in pixels, each with its label text) onto `input` must
// change it and where it must not, ultralytics' plot() style with outlines `line_width` wide:
// - edge: the outlines' centre lines, which must differ from the input;
// - label: each label box, filled in the box's colour above the box's top-left corner (inside
//   the box when it has no room above; OpenCV's text size and ultralytics' placement, as
//   tests/image/draw_test.cpp checks them), which must differ from the input;
// - far: pixels more than line_width + 2 px from every outline and label box, which must be
//   the input's; `inside` counts those within some box.
struct LabeledBox {
  double x0, y0, x1, y1;
  std::string label;
};

struct DrawingCheck {
  Index edge = 0, edge_unchanged = 0;
  Index label = 0, label_unchanged = 0;
  Index far = 0, far_changed = 0, inside = 0;
};

DrawingCheck check_drawing(const Image& input, const Image& drawn,
                           const std::vector<LabeledBox>& boxes) {
  const int line_width = plot_line_width(input.width, input.height);
  const Index margin = line_width + 2;
  std::vector<bool> near(static_cast<std::size_t>(input.width * input.height), false);
  const auto mark = [&](Index x0, Index y0, Index x1, Index y1) {
    for (Index y = std::max<Index>(y0, 0); y <= std::min(y1, input.height - 1); ++y)
      for (Index x = std::max<Index>(x0, 0); x <= std::min(x1, input.width - 1); ++x)
        near[static_cast<std::size_t>(y * input.width + x)] = true;
  };
  const auto changed = [&](Index x, Index y) {
    for (Index c = 0; c < 3; ++c)
      if (drawn.at(y, x, c) != input.at(y, x, c)) return true;
    return false;
  };
  DrawingCheck check;
  for (const LabeledBox& b : boxes) {
    const Index x0 = static_cast<Index>(b.x0), y0 = static_cast<Index>(b.y0);
    const Index x1 = static_cast<Index>(b.x1), y1 = static_cast<Index>(b.y1);
    mark(x0 - margin, y0 - margin, x1 + margin, y0 + margin);
    mark(x0 - margin, y1 - margin, x1 + margin, y1 + margin);
    mark(x0 - margin, y0 - margin, x0 + margin, y1 + margin);
    mark(x1 - margin, y0 - margin, x1 + margin, y1 + margin);
    const auto on_edge = [&](Index x, Index y) {
      if (x < 0 || y < 0 || x >= input.width || y >= input.height) return;
      ++check.edge;
      check.edge_unchanged += !changed(x, y);
    };
    for (Index x = x0; x <= x1; ++x) on_edge(x, y0), on_edge(x, y1);
    for (Index y = y0; y <= y1; ++y) on_edge(x0, y), on_edge(x1, y);
    const TextSize size = text_size(b.label, line_width / 3.0, std::max(line_width - 1, 1));
    const LabelPlacement place = place_label(input.width, x0, y0, size);
    const Index top = std::min(place.y0, place.y1), bottom = std::max(place.y0, place.y1);
    // The text's descenders reach below its baseline, out of the label box.
    mark(place.x0 - margin, top - margin, place.x1 + margin,
         std::max(bottom, place.text_y + size.baseline) + margin);
    for (Index y = std::max<Index>(top, 0); y <= std::min(bottom, input.height - 1); ++y)
      for (Index x = std::max<Index>(place.x0, 0); x <= std::min(place.x1, input.width - 1); ++x) {
        ++check.label;
        check.label_unchanged += !changed(x, y);
      }
  }
  for (Index y = 0; y < input.height; ++y)
    for (Index x = 0; x < input.width; ++x) {
      if (near[static_cast<std::size_t>(y * input.width + x)]) continue;
      ++check.far;
      check.far_changed += changed(x, y);
      for (const LabeledBox& b : boxes)
        if (x > b.x0 && x < b.x1 && y > b.y0 && y < b.y1) {
          ++check.inside;
          break;
        }
    }
  return check;
}

std::string plot_label_text(const std::string& name, double score) {
  char text[64];
  std::snprintf(text, sizeof text, "%s %.2f", name.c_str(), score);
  return text;
}

class DetectOnPng : public ::testing::Test {
 protected:
  const TempDir dir;
  const std::string image_path = dir.file("gradient image.png");  // a space, to test quoting
  Image image{320, 240};

  void SetUp() override {
    for (Index y = 0; y < image.height; ++y)
      for (Index x = 0; x < image.width; ++x) {
        image.at(y, x, 0) = static_cast<std::uint8_t>(x * 3 / 4);
        image.at(y, x, 1) = static_cast<std::uint8_t>(y);
        image.at(y, x, 2) = static_cast<std::uint8_t>((x + y) / 2);
      }
    write_png(image_path, image);
  }
};

// A PNG through the whole path: decode, preprocess, model, post-processing in the image's
// pixels, drawing. The fixtures hold no HF output for an 8-bit image through this model
// (their pixel_values are random floats), so the detections' values are checked on the
// fixture tensor above; here they must be well formed, and the drawing must put an outline
// on every printed box and its label above it (inside it at the top edge), and leave
// everything else as it was. The random model's scores nearly tie: the threshold keeps the
// top two, 1e-4 apart from the rest, and one thread keeps the last bits reproducible.
TEST_F(DetectOnPng, DrawsEachDetectionsOutlineAndLabelAndNothingElse) {
  const std::string annotated = dir.file("annotated.png");
  const auto result = run_command(detect("--threshold 0.1923 --threads 1 --out " +
                                         shell_quoted(annotated) + " " + shell_quoted(image_path)));
  ASSERT_EQ(result.exit_code, 0);
  ASSERT_EQ(lines_of(result.out).size(), 1u);
  const auto json = nlohmann::json::parse(lines_of(result.out)[0]);
  EXPECT_EQ(json.at("image"), image_path);
  const auto& detections = json.at("detections");
  ASSERT_EQ(detections.size(), 2u);
  std::vector<LabeledBox> boxes;
  for (std::size_t i = 0; i < detections.size(); ++i) {
    const auto& d = detections[i];
    const auto& b = d.at("box");
    const double score = d.at("score").get<double>();
    EXPECT_GT(score, 0.1923);
    if (i > 0) {
      EXPECT_GE(detections[i - 1].at("score").get<double>(), score);
    }
    EXPECT_EQ(d.at("label").get<std::string>(),
              "LABEL_" + std::to_string(d.at("label_id").get<std::int64_t>()));
    boxes.push_back({b.at(0).get<double>(), b.at(1).get<double>(), b.at(2).get<double>(),
                     b.at(3).get<double>(), plot_label_text(d.at("label"), score)});
    EXPECT_LT(boxes.back().x0, boxes.back().x1);  // HF does not clip to the image
    EXPECT_LT(boxes.back().y0, boxes.back().y1);
  }
  const Image drawn = load_image(annotated);
  ASSERT_EQ(drawn.width, image.width);
  ASSERT_EQ(drawn.height, image.height);
  const DrawingCheck check = check_drawing(image, drawn, boxes);
  EXPECT_EQ(check.edge_unchanged, 0) << "of " << check.edge << " outline centre pixels";
  EXPECT_EQ(check.label_unchanged, 0) << "of " << check.label << " label pixels";
  EXPECT_EQ(check.far_changed, 0) << "of " << check.far << " pixels away from the drawing";
  EXPECT_GT(check.far, image.width * image.height / 4);
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
  // The drawing: ultralytics' boxes outlined and labelled ("name 0.93") where they are,
  // nothing changed away from them.
  nlohmann::json io;
  std::ifstream(data_path("ultralytics/io.json")) >> io;
  std::vector<LabeledBox> boxes;
  for (Index i = 0; i < conf.size(); ++i) {
    const float* b = xyxy.data() + 4 * i;
    const std::string name = io.at("model")
                                 .at("names")
                                 .at(std::to_string(static_cast<int>(cls.data()[i])))
                                 .get<std::string>();
    boxes.push_back({b[0], b[1], b[2], b[3], plot_label_text(name, conf.data()[i])});
  }
  const Image input = load_image(data_path("ultralytics/bus.jpg"));
  const Image image = load_image(drawn);
  ASSERT_EQ(image.width, 810);
  ASSERT_EQ(image.height, 1080);
  const DrawingCheck check = check_drawing(input, image, boxes);
  EXPECT_EQ(check.edge_unchanged, 0) << "of " << check.edge << " outline centre pixels";
  EXPECT_EQ(check.label_unchanged, 0) << "of " << check.label << " label pixels";
  EXPECT_EQ(check.far_changed, 0) << "of " << check.far << " pixels away from the drawing";
  EXPECT_GT(check.inside, 100000);  // the boxes' insides are checked too
  std::cout << "bus drawing: " << check.edge << " outline, " << check.label << " label, "
            << check.far << " far (" << check.inside << " inside boxes) pixels\n";

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
