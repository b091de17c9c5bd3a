// rtdetr-detect: object detection with a HF RT-DETR model folder. See `rtdetr-detect --help`.

#include <eigenformer/core/threading.hpp>
#include <eigenformer/io/safetensors.hpp>
#include <eigenformer/models/rtdetr/model.hpp>
#include <eigenformer/models/rtdetr/post_process.hpp>
#include <eigenformer/vision/image_io.hpp>
#include <eigenformer/vision/preprocess.hpp>

#include <nlohmann/json.hpp>

#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#endif
#include <stb_easy_font.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

#include "common/cli.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

namespace {

using eigenformer::Detection;
using eigenformer::FeatureMap;
using eigenformer::Image;
using eigenformer::Index;
using eigenformer::Matrix;
using eigenformer::RTDetrDetections;

const char* const kUsage = R"(usage: rtdetr-detect --model DIR [options] IMAGE...
       rtdetr-detect --model DIR --input-tensor FILE.safetensors [--raw]

Detects objects in each IMAGE (JPEG, PNG, BMP, ...) with the RT-DETR model in DIR
(config.json, model.safetensors, and preprocessor_config.json if present) and prints one
JSON line per image:
  {"image": ..., "detections": [{"label": "person", "label_id": 0, "score": 0.93,
                                 "box": [x0, y0, x1, y1]}, ...]}
with boxes in the image's own pixel coordinates.

  --threshold X        keep detections scoring above X (default 0.5)
  --threads N          threads (default: one per core)
  --out FILE.png       draw the detections and write a PNG (with several images,
                       FILE-<i>.png for image i)
  --input-tensor FILE  run on the tensor pixel_values (N, 3, H, W) of a safetensors file
                       instead of images; boxes are then in that tensor's pixels
  --raw                print the model's raw {"logits": [[...]], "pred_boxes": [[...]]}
                       (queries x classes before the sigmoid; cx, cy, w, h in [0, 1])
)";

// `value` rounded to `digits` significant digits, so JSON shows 0.93 rather than the float
// 0.9300000071525879.
double rounded(double value, int digits) {
  char text[40];
  std::snprintf(text, sizeof text, "%.*g", digits, value);
  return std::strtod(text, nullptr);
}

nlohmann::ordered_json rows_json(const Matrix<float>& m) {
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  for (Index r = 0; r < m.rows(); ++r) {
    nlohmann::ordered_json row = nlohmann::ordered_json::array();
    for (Index c = 0; c < m.cols(); ++c) row.push_back(rounded(m(r, c), 9));  // float round-trips
    rows.push_back(std::move(row));
  }
  return rows;
}

nlohmann::ordered_json detections_json(const std::vector<Detection<float>>& detections) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const auto& d : detections)
    list.push_back({{"label", d.label},
                    {"label_id", d.label_id},
                    {"score", rounded(d.score, 4)},
                    {"box",
                     {rounded(d.box[0], 6), rounded(d.box[1], 6), rounded(d.box[2], 6),
                      rounded(d.box[3], 6)}}});
  return list;
}

// --- drawing -------------------------------------------------------------------------

struct Colour {
  std::uint8_t r, g, b;
};

Colour label_colour(std::int64_t label_id) {
  static const Colour palette[] = {{230, 25, 75},  {60, 180, 75},  {255, 225, 25}, {0, 130, 200},
                                   {245, 130, 48}, {145, 30, 180}, {70, 240, 240}, {240, 50, 230},
                                   {210, 245, 60}, {250, 190, 212}};
  return palette[static_cast<std::size_t>(label_id) % (sizeof palette / sizeof palette[0])];
}

void fill_rect(Image& image, Index x0, Index y0, Index x1, Index y1, Colour colour) {
  x0 = std::max<Index>(x0, 0), y0 = std::max<Index>(y0, 0);
  x1 = std::min(x1, image.width), y1 = std::min(y1, image.height);
  for (Index y = y0; y < y1; ++y)
    for (Index x = x0; x < x1; ++x) {
      image.at(y, x, 0) = colour.r;
      image.at(y, x, 1) = colour.g;
      image.at(y, x, 2) = colour.b;
    }
}

// stb_easy_font renders text as axis-aligned quads (4 vertices of 16 bytes: x, y, z floats
// and an RGBA colour), about 6 x 7 pixels a character, drawn here `scale` times larger.
void draw_text(Image& image, Index x, Index y, const std::string& text, Colour colour,
               Index scale) {
  std::vector<char> buffer(text.size() * 300 + 64);
  std::string copy = text;  // the font covers printable ASCII only
  for (char& c : copy)
    if (c < 32 || c > 126) c = '?';
  unsigned char rgba[4] = {colour.r, colour.g, colour.b, 255};
  const int quads =
      stb_easy_font_print(0, 0, copy.data(), rgba, buffer.data(), static_cast<int>(buffer.size()));
  for (int q = 0; q < quads; ++q) {
    const auto* v = reinterpret_cast<const float*>(buffer.data() + q * 64);  // 4 vertices
    const float left = v[0], top = v[1], right = v[8], bottom = v[9];
    fill_rect(image, x + static_cast<Index>(left * scale), y + static_cast<Index>(top * scale),
              x + static_cast<Index>(right * scale), y + static_cast<Index>(bottom * scale),
              colour);
  }
}

void draw_detections(Image& image, const std::vector<Detection<float>>& detections) {
  const Index thickness = std::max<Index>(2, std::min(image.width, image.height) / 300);
  const Index scale = std::max<Index>(1, std::min(image.width, image.height) / 400);
  for (const auto& d : detections) {
    const Colour colour = label_colour(d.label_id);
    const Index x0 = static_cast<Index>(d.box[0]), y0 = static_cast<Index>(d.box[1]);
    const Index x1 = static_cast<Index>(d.box[2]), y1 = static_cast<Index>(d.box[3]);
    fill_rect(image, x0, y0, x1, y0 + thickness, colour);
    fill_rect(image, x0, y1 - thickness, x1, y1, colour);
    fill_rect(image, x0, y0, x0 + thickness, y1, colour);
    fill_rect(image, x1 - thickness, y0, x1, y1, colour);
    char score[16];
    std::snprintf(score, sizeof score, " %.2f", static_cast<double>(d.score));
    const std::string caption = d.label + score;
    // Above the box's top-left corner, moved inside the image when that is off its edge.
    const Index caption_height = 10 * scale, caption_y = std::max<Index>(y0 - caption_height, 0);
    const Index caption_width = static_cast<Index>(caption.size()) * 6 * scale + 2 * scale;
    const Index caption_x = std::max<Index>(std::min(x0, image.width - caption_width), 0);
    fill_rect(image, caption_x, caption_y, caption_x + caption_width, caption_y + caption_height,
              colour);
    draw_text(image, caption_x + scale, caption_y + scale, caption, Colour{0, 0, 0}, scale);
  }
}

std::string numbered_path(const std::string& path, std::size_t index, std::size_t count) {
  if (count == 1) return path;
  const std::filesystem::path p(path);
  return (p.parent_path() /
          (p.stem().string() + "-" + std::to_string(index) + p.extension().string()))
      .string();
}

// --- main ------------------------------------------------------------------------------

struct Options {
  std::string model_dir;
  float threshold = 0.5f;
  std::optional<std::string> out;
  std::optional<std::string> input_tensor;
  bool raw = false;
  std::vector<std::string> images;
};

Options parse_options(int argc, char** argv) {
  const cli::Arguments args(argc, argv, {"model", "threshold", "threads", "out", "input-tensor"},
                            {"raw", "help"});
  if (args.has("help")) {
    std::cout << kUsage;
    std::exit(0);
  }
  Options options;
  options.model_dir = args.get_or("model", "");
  if (options.model_dir.empty()) throw cli::UsageError("--model DIR is required");
  options.threshold = static_cast<float>(args.get_double("threshold", 0.5, 0.0, 1.0));
  eigenformer::set_num_threads(static_cast<int>(args.get_int("threads", 0, 0, 1024)));
  options.out = args.get("out");
  options.input_tensor = args.get("input-tensor");
  options.raw = args.has("raw");
  options.images = args.positional();
  if (options.input_tensor && !options.images.empty())
    throw cli::UsageError("give either IMAGE arguments or --input-tensor, not both");
  if (!options.input_tensor && options.images.empty()) throw cli::UsageError("no IMAGE given");
  if (options.input_tensor && options.out)
    throw cli::UsageError("--out draws on IMAGE inputs; it cannot be used with --input-tensor");
  return options;
}

class Detector {
 public:
  explicit Detector(const Options& options)
      : options_(options),
        model_(eigenformer::RTDetrModel<float>::load(options.model_dir)),
        processor_(eigenformer::RTDetrImageProcessor::load(options.model_dir)) {}

  void run_images() const {
    for (std::size_t i = 0; i < options_.images.size(); ++i) {
      const std::string& path = options_.images[i];
      Image image = eigenformer::load_image(path);
      const RTDetrDetections<float> out = model_.forward(processor_.preprocess<float>(image));
      const auto detections = post_process(out, image.width, image.height);
      print(path, out, detections);
      if (options_.out) {
        draw_detections(image, detections);
        eigenformer::write_png(numbered_path(*options_.out, i, options_.images.size()), image);
      }
    }
  }

  void run_tensor() const {
    const auto file = eigenformer::SafeTensorsFile::open(*options_.input_tensor);
    const auto pixel_values = file->tensor<float>("pixel_values");
    const auto batch = model_.forward(pixel_values);
    for (std::size_t n = 0; n < batch.size(); ++n)
      print(*options_.input_tensor + "#" + std::to_string(n), batch[n],
            post_process(batch[n], pixel_values.dim(3), pixel_values.dim(2)));
  }

 private:
  std::vector<Detection<float>> post_process(const RTDetrDetections<float>& out, Index width,
                                             Index height) const {
    const auto& config = model_.config();
    return eigenformer::post_process_object_detection<float>(
        out.logits, out.pred_boxes, config.id2label,
        {static_cast<double>(width), static_cast<double>(height)}, options_.threshold,
        config.use_focal_loss);
  }

  void print(const std::string& name, const RTDetrDetections<float>& out,
             const std::vector<Detection<float>>& detections) const {
    nlohmann::ordered_json line = {{"image", name}};
    if (options_.raw) {
      line["logits"] = rows_json(out.logits);
      line["pred_boxes"] = rows_json(out.pred_boxes);
    } else {
      line["detections"] = detections_json(detections);
    }
    std::cout << line.dump() << '\n' << std::flush;
  }

  const Options& options_;
  eigenformer::RTDetrModel<float> model_;
  eigenformer::RTDetrImageProcessor processor_;
};

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options options = parse_options(argc, argv);
    const Detector detector(options);
    if (options.input_tensor)
      detector.run_tensor();
    else
      detector.run_images();
    return 0;
  } catch (const cli::UsageError& e) {
    std::cerr << "rtdetr-detect: " << e.what() << "\n\n" << kUsage;
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "rtdetr-detect: error: " << e.what() << '\n';
    return 1;
  }
}
