#pragma once
// ultralytics' RTDETR(...).predict(...) in C++: an image file in, detections and a drawing out.
//   RTDETR model("rtdetr-l.pt");
//   Results results = model.predict("bus.jpg");
//   results.save("bus-detected.png");   // or results.show()
// Pre-processing is the predictor's LetterBox(imgsz, auto=False, scale_fill=True): the 8-bit
// image stretched to imgsz x imgsz with OpenCV's INTER_LINEAR, then / 255 in float32.
// Needs the image libraries (link eigenformer::image).

#include <eigenformer/cnn/feature_map.hpp>
#include <eigenformer/core/error.hpp>
#include <eigenformer/image/cv_resize.hpp>
#include <eigenformer/image/detection_plot.hpp>
#include <eigenformer/image/image.hpp>
#include <eigenformer/image/image_file.hpp>
#include <eigenformer/models/rtdetr/post_process.hpp>
#include <eigenformer/models/ultralytics/post_process.hpp>
#include <eigenformer/models/ultralytics/rtdetr_model.hpp>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace eigenformer {

// The network input for `image`: (3, imgsz * imgsz), RGB in [0, 1].
template <typename T>
FeatureMap<T> ultralytics_letterbox(const Image& image, Index imgsz) {
  const Image resized = resize_linear_cv(image, imgsz, imgsz);  // a copy at imgsz already
  FeatureMap<T> map(Image::kChannels, imgsz, imgsz);
  const Index pixels = imgsz * imgsz;
  for (Index p = 0; p < pixels; ++p)
    for (Index c = 0; c < Image::kChannels; ++c)
      map.data(c, p) = static_cast<T>(resized.pixels[static_cast<std::size_t>(p * 3 + c)]) / T(255);
  return map;
}

struct PredictOptions {
  double conf = 0.25;                                // keep scores above this
  std::optional<std::vector<std::int64_t>> classes;  // keep only these class ids
  Index imgsz = 0;                                   // 0: the checkpoint's training size
};

// One image's detections, as ultralytics' Results holds them (boxes in original pixels).
struct Results {
  std::string path;
  Image image;  // the original image
  std::vector<Detection<float>> boxes;

  // The image with the boxes drawn as Results.plot() draws them.
  Image plot() const {
    std::vector<PlotBox> drawn;
    for (const auto& d : boxes)
      drawn.push_back(
          {d.box[0], d.box[1], d.box[2], d.box[3], static_cast<int>(d.label_id), d.score, d.label});
    return plot_detections(image, drawn);
  }

  void save(const std::string& png_path) const { write_png(png_path, plot()); }

  // Writes the drawing to a temporary PNG and, when there is a display, opens it with the
  // desktop's viewer (xdg-open). Returns the PNG's path.
  std::string show() const {
    std::string stem = std::filesystem::path(path).stem().string();
    if (stem.empty()) stem = "image";
    const std::string png = (std::filesystem::temp_directory_path() /
                             ("eigenformer-" + stem + "-" + std::to_string(::getpid()) + ".png"))
                                .string();
    save(png);
    if (std::getenv("DISPLAY") || std::getenv("WAYLAND_DISPLAY")) {
      // No shell: the path is passed as one argument.
      char program[] = "xdg-open";
      std::vector<char> argument(png.begin(), png.end());
      argument.push_back('\0');
      char* argv[] = {program, argument.data(), nullptr};
      pid_t pid = 0;
      if (posix_spawnp(&pid, program, nullptr, nullptr, argv, environ) == 0) {
        int status = 0;
        ::waitpid(pid, &status, 0);
      }
    }
    return png;
  }
};

class RTDETR {
 public:
  explicit RTDETR(const std::string& checkpoint)
      : model_(UltralyticsRTDetr<float>::load(checkpoint)) {}
  explicit RTDETR(UltralyticsRTDetr<float> model) : model_(std::move(model)) {}

  const UltralyticsRTDetr<float>& model() const { return model_; }
  const std::vector<std::string>& names() const { return model_.names(); }

  Results predict(const std::string& image_path, const PredictOptions& options = {}) const {
    return predict(load_image(image_path), options, image_path);
  }

  Results predict(Image image, const PredictOptions& options = {},
                  std::string name = "image") const {
    const Index imgsz = options.imgsz > 0 ? options.imgsz : model_.config().imgsz;
    const UltralyticsDetectorOutput<float> out =
        model_.forward(ultralytics_letterbox<float>(image, imgsz));
    UltralyticsPostProcessOptions post;
    post.conf = options.conf;
    post.classes = options.classes;
    Results results;
    results.boxes =
        ultralytics_post_process<float>(out.y, image.width, image.height, model_.names(), post);
    results.path = std::move(name);
    results.image = std::move(image);
    return results;
  }

 private:
  UltralyticsRTDetr<float> model_;
};

}  // namespace eigenformer
