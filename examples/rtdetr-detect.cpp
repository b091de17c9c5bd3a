// rtdetr-detect: object detection with an RT-DETR model: a HF folder or an ultralytics
// checkpoint (rtdetr-l.pt, rtdetr-x.pt). See `rtdetr-detect --help`.

#include <eigenformer/core/build_info.hpp>
#include <eigenformer/core/threading.hpp>
#include <eigenformer/image/detection_plot.hpp>
#include <eigenformer/image/image_file.hpp>
#include <eigenformer/io/model_files.hpp>
#include <eigenformer/io/safetensors.hpp>
#include <eigenformer/models/rtdetr/image_processor.hpp>
#include <eigenformer/models/rtdetr/model.hpp>
#include <eigenformer/models/rtdetr/post_process.hpp>
#include <eigenformer/models/ultralytics/predictor.hpp>

#include <nlohmann/json.hpp>

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

const char* const kUsage = R"(usage: rtdetr-detect --model PATH [options] IMAGE...
       rtdetr-detect --model PATH --input-tensor FILE.safetensors [--raw]

Detects objects in each IMAGE (JPEG, PNG, BMP, ...) with the RT-DETR model at PATH:
  - a folder: a HF model (config.json, model.safetensors, and preprocessor_config.json
    if present);
  - a .pt file: an ultralytics checkpoint (rtdetr-l.pt, rtdetr-x.pt, or a trainer's
    last.pt / best.pt), run as ultralytics' predictor runs it.
Prints one JSON line per image:
  {"image": ..., "detections": [{"label": "person", "label_id": 0, "score": 0.93,
                                 "box": [x0, y0, x1, y1]}, ...]}
with boxes in the image's own pixel coordinates.

  --conf X             keep detections scoring above X (default 0.25 for ultralytics
                       checkpoints, 0.5 for HF folders; --threshold is the same option)
  --classes A,B,...    keep only these class ids
  --imgsz N            ultralytics: the square input size (default: the checkpoint's)
  --threads N          threads (default: one per core)
  --version            print the kernels and threads this build uses
  --out FILE.png       draw the detections and write a PNG (with several images,
                       FILE-<i>.png for image i)
  --show               draw the detections to a temporary PNG, print its path and open it
                       in the desktop's viewer when there is a display
  --input-tensor FILE  run on a 4-D tensor of a safetensors file instead of images:
                       pixel_values (HF) or images / pixel_values (ultralytics)
  --raw                print the model's raw outputs: HF {"logits": [[...]],
                       "pred_boxes": [[...]]}; ultralytics {"y": [[...]]}, its model(x)[0]
                       (per query cx, cy, w, h as fractions, then the class scores)
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

std::string numbered_path(const std::string& path, std::size_t index, std::size_t count) {
  if (count == 1) return path;
  const std::filesystem::path p(path);
  return (p.parent_path() /
          (p.stem().string() + "-" + std::to_string(index) + p.extension().string()))
      .string();
}

// --- main ------------------------------------------------------------------------------

struct Options {
  std::string model;
  std::optional<double> conf;
  std::optional<std::vector<std::int64_t>> classes;
  Index imgsz = 0;
  std::optional<std::string> out;
  bool show = false;
  std::optional<std::string> input_tensor;
  bool raw = false;
  std::vector<std::string> images;
};

std::vector<std::int64_t> parse_classes(const std::string& text) {
  std::vector<std::int64_t> ids;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, comma - start);
    char* end = nullptr;
    const long long id = std::strtoll(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || id < 0 || id > (1 << 20))
      throw cli::UsageError("--classes takes class ids separated by commas, got '" + text + "'");
    ids.push_back(id);
    start = comma + 1;
  }
  return ids;
}

Options parse_options(int argc, char** argv) {
  const cli::Arguments args(
      argc, argv,
      {"model", "threshold", "conf", "classes", "imgsz", "threads", "out", "input-tensor"},
      {"raw", "show", "help", "version"});
  if (args.has("help")) {
    std::cout << kUsage;
    std::exit(0);
  }
  if (args.has("version")) {
    eigenformer::set_num_threads(static_cast<int>(args.get_int("threads", 0, 0, 1024)));
    std::cout << "rtdetr-detect: " << eigenformer::build_info_string() << '\n';
    std::exit(0);
  }
  Options options;
  options.model = args.get_or("model", "");
  if (options.model.empty()) throw cli::UsageError("--model PATH is required");
  if (args.has("conf") && args.has("threshold"))
    throw cli::UsageError("--conf and --threshold are the same option: give one");
  if (args.has("conf") || args.has("threshold"))
    options.conf = args.get_double(args.has("conf") ? "conf" : "threshold", 0.25, 0.0, 1.0);
  if (auto classes = args.get("classes")) options.classes = parse_classes(*classes);
  options.imgsz = args.get_int("imgsz", 0, 32, 8192);
  if (args.has("imgsz") && options.imgsz % 32 != 0)
    throw cli::UsageError("--imgsz must be a multiple of 32");
  eigenformer::set_num_threads(static_cast<int>(args.get_int("threads", 0, 0, 1024)));
  options.out = args.get("out");
  options.show = args.has("show");
  options.input_tensor = args.get("input-tensor");
  options.raw = args.has("raw");
  options.images = args.positional();
  if (options.input_tensor && !options.images.empty())
    throw cli::UsageError("give either IMAGE arguments or --input-tensor, not both");
  if (!options.input_tensor && options.images.empty()) throw cli::UsageError("no IMAGE given");
  if (options.input_tensor && (options.out || options.show))
    throw cli::UsageError("--out and --show draw on IMAGE inputs, not on --input-tensor");
  return options;
}

void print_line(const std::string& name, const char* key, nlohmann::ordered_json value) {
  nlohmann::ordered_json line = {{"image", name}};
  line[key] = std::move(value);
  std::cout << line.dump() << '\n' << std::flush;
}

// The image's drawing to --out and/or --show.
void draw(const Options& options, const Image& image,
          const std::vector<Detection<float>>& detections, std::size_t index,
          const std::string& name) {
  if (!options.out && !options.show) return;
  eigenformer::Results results;
  results.path = name;
  results.image = image;
  results.boxes = detections;
  if (options.out)
    eigenformer::write_png(numbered_path(*options.out, index, options.images.size()),
                           results.plot());
  if (options.show)
    std::cerr << "rtdetr-detect: drawing of " << name << " in " << results.show() << '\n';
}

// A HF RT-DETR folder.
class HFDetector {
 public:
  HFDetector(const Options& options, const eigenformer::ModelFiles& files)
      : options_(options),
        model_(eigenformer::RTDetrModel<float>::load(files)),
        processor_(eigenformer::RTDetrImageProcessor::load(files)) {
    if (options.imgsz)
      throw cli::UsageError(
          "--imgsz applies to ultralytics checkpoints; a HF folder's "
          "preprocessor_config.json sets the size");
  }

  void run_images() const {
    for (std::size_t i = 0; i < options_.images.size(); ++i) {
      const std::string& path = options_.images[i];
      const Image image = eigenformer::load_image(path);
      const RTDetrDetections<float> out = model_.forward(processor_.preprocess<float>(image));
      const auto detections = post_process(out, image.width, image.height);
      print(path, out, detections);
      draw(options_, image, detections, i, path);
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
    auto detections = eigenformer::post_process_object_detection<float>(
        out.logits, out.pred_boxes, config.id2label,
        {static_cast<double>(width), static_cast<double>(height)},
        static_cast<float>(options_.conf.value_or(0.5)), config.use_focal_loss);
    if (options_.classes) {
      const auto& keep = *options_.classes;
      detections.erase(std::remove_if(detections.begin(), detections.end(),
                                      [&](const Detection<float>& d) {
                                        return std::find(keep.begin(), keep.end(), d.label_id) ==
                                               keep.end();
                                      }),
                       detections.end());
    }
    return detections;
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

// An ultralytics checkpoint, run as RTDETR(path).predict(image) runs it.
class UltralyticsDetector {
 public:
  explicit UltralyticsDetector(const Options& options)
      : options_(options), detector_(options.model) {
    predict_.conf = options.conf.value_or(0.25);
    predict_.classes = options.classes;
    predict_.imgsz = options.imgsz;
  }

  void run_images() const {
    for (std::size_t i = 0; i < options_.images.size(); ++i) {
      const std::string& path = options_.images[i];
      if (options_.raw) {
        const Index imgsz = options_.imgsz ? options_.imgsz : detector_.model().config().imgsz;
        const auto out = detector_.model().forward(
            eigenformer::ultralytics_letterbox<float>(eigenformer::load_image(path), imgsz));
        print_line(path, "y", rows_json(out.y));
        continue;
      }
      const eigenformer::Results results = detector_.predict(path, predict_);
      print_line(path, "detections", detections_json(results.boxes));
      draw(options_, results.image, results.boxes, i, path);
    }
  }

  void run_tensor() const {
    const auto file = eigenformer::SafeTensorsFile::open(*options_.input_tensor);
    const char* name = file->contains("images") ? "images" : "pixel_values";
    const auto images = file->tensor<float>(name);
    if (images.rank() != 4)
      throw eigenformer::ShapeError(*options_.input_tensor + ": tensor '" + name +
                                    "' must be (batch, 3, height, width)");
    for (Index n = 0; n < images.dim(0); ++n) {
      const auto out = detector_.model().forward(FeatureMap<float>::from_nchw(images, n));
      const std::string label = *options_.input_tensor + "#" + std::to_string(n);
      if (options_.raw) {
        print_line(label, "y", rows_json(out.y));
      } else {
        eigenformer::UltralyticsPostProcessOptions post;
        post.conf = predict_.conf;
        post.classes = predict_.classes;
        print_line(label, "detections",
                   detections_json(eigenformer::ultralytics_post_process<float>(
                       out.y, images.dim(3), images.dim(2), detector_.names(), post)));
      }
    }
  }

 private:
  const Options& options_;
  eigenformer::RTDETR detector_;
  eigenformer::PredictOptions predict_;
};

// A folder is a HF model, a .pt file an ultralytics checkpoint.
template <typename Run>
void with_detector(const Options& options, Run run) {
  const auto files = eigenformer::ModelFiles::find(options.model);
  if (files.format() == eigenformer::ModelFormat::HFFolder)
    run(HFDetector(options, files));
  else if (files.format() == eigenformer::ModelFormat::TorchCheckpoint)
    run(UltralyticsDetector(options));
  else
    files.unsupported("rtdetr-detect", "a HF RT-DETR folder or an ultralytics .pt checkpoint");
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options options = parse_options(argc, argv);
    with_detector(options, [&](const auto& detector) {
      if (options.input_tensor)
        detector.run_tensor();
      else
        detector.run_images();
    });
    return 0;
  } catch (const cli::UsageError& e) {
    std::cerr << "rtdetr-detect: " << e.what() << "\n\n" << kUsage;
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "rtdetr-detect: error: " << e.what() << '\n';
    return 1;
  }
}
