#pragma once
// HF transformers' RTDetrImageProcessor (PIL backend) for inference: resize to a fixed
// height x width with PIL's bilinear filter on the 8-bit image (aspect ratio not kept),
// rescale by 1/255, optionally normalise by mean and std (off by default), then lay the
// result out as a planar (3, height * width) FeatureMap: pixel_values for one image.
// Rescaling multiplies in double and rounds once, as numpy's astype(float64) * scale
// followed by astype(float32) does.

#include <eigenformer/cnn/feature_map.hpp>
#include <eigenformer/core/error.hpp>
#include <eigenformer/image/image.hpp>
#include <eigenformer/image/pil_resize.hpp>
#include <eigenformer/io/json_config.hpp>
#include <eigenformer/io/model_files.hpp>
#include <eigenformer/models/config_reader.hpp>

#include <array>
#include <optional>
#include <string>
#include <vector>

namespace eigenformer {

struct RTDetrImageProcessor {
  static constexpr int kPilBilinear = 2;  // PIL.Image.Resampling.BILINEAR

  bool do_resize = true;
  Index height = 640;
  Index width = 640;
  bool do_rescale = true;
  double rescale_factor = 1.0 / 255.0;
  bool do_normalize = false;
  std::array<double, 3> image_mean{0.485, 0.456, 0.406};  // ImageNet's, HF's default
  std::array<double, 3> image_std{0.229, 0.224, 0.225};

  // Reads a model folder's preprocessor_config.json when it has one; the defaults above
  // otherwise. Options this implementation cannot honour (another resample filter,
  // shortest/longest-edge sizes, padding) are a FormatError.
  static RTDetrImageProcessor load(const std::string& path) { return load(ModelFiles::find(path)); }

  static RTDetrImageProcessor load(const ModelFiles& files) {
    const std::optional<std::string> file = files.optional_file("preprocessor_config.json");
    return file ? from_json(JsonConfig::load(*file)) : RTDetrImageProcessor();
  }

  static RTDetrImageProcessor from_json(const JsonConfig& json);

  // pixel_values for one image: (3, height * width), or the image's own size when
  // do_resize is off.
  template <typename T>
  FeatureMap<T> preprocess(const Image& image) const {
    image.check("RTDetrImageProcessor");
    if (image.empty()) throw InvalidArgument("RTDetrImageProcessor: the image is empty");
    const Image resized = do_resize ? resize_bilinear(image, width, height) : image;
    const Index pixels = resized.width * resized.height;
    FeatureMap<T> out(Image::kChannels, resized.height, resized.width);
    for (Index c = 0; c < Image::kChannels; ++c) {
      const double mean = do_normalize ? image_mean[static_cast<std::size_t>(c)] : 0.0;
      const double scale = do_normalize ? 1.0 / image_std[static_cast<std::size_t>(c)] : 1.0;
      for (Index i = 0; i < pixels; ++i) {
        double v =
            static_cast<double>(resized.pixels[static_cast<std::size_t>(i * Image::kChannels + c)]);
        if (do_rescale) v = static_cast<double>(static_cast<T>(v * rescale_factor));
        if (do_normalize) v = (v - mean) * scale;
        out.data(c, i) = static_cast<T>(v);
      }
    }
    return out;
  }
};

namespace detail {

class RTDetrImageProcessorReader : public ConfigReader {
 public:
  using ConfigReader::ConfigReader;

  RTDetrImageProcessor read() const {
    RTDetrImageProcessor p;
    p.do_resize = json_.get_or("do_resize", p.do_resize);
    if (json_.has("size")) {
      const JsonConfig size = json_.child("size");
      if (!size.has("height") || !size.has("width"))
        fail("size",
             "must give height and width (shortest/longest-edge resizing is not supported)");
      p.height = side(size, "height");
      p.width = side(size, "width");
    }
    if (json_.get_or("resample", RTDetrImageProcessor::kPilBilinear) !=
        RTDetrImageProcessor::kPilBilinear)
      fail("resample", "must be 2 (bilinear), the only filter implemented");
    if (json_.get_or("do_pad", false)) fail("do_pad", "must be false: padding is not supported");
    p.do_rescale = json_.get_or("do_rescale", p.do_rescale);
    p.rescale_factor = json_.get_or("rescale_factor", p.rescale_factor);
    p.do_normalize = json_.get_or("do_normalize", p.do_normalize);
    if (p.do_normalize) {
      p.image_mean = triple("image_mean", p.image_mean);
      p.image_std = triple("image_std", p.image_std);
      for (double s : p.image_std)
        if (!(s != 0.0)) fail("image_std", "must not contain zero");
    }
    return p;
  }

 private:
  // A resize target side, at most Image::kMaxSide: a larger one would only end in bad_alloc.
  Index side(const JsonConfig& size, const std::string& key) const {
    const Index value = size.get_positive(key);
    if (value > Image::kMaxSide)
      fail("size." + key,
           concat("is ", value, ", more than the ", Image::kMaxSide, " px supported"));
    return value;
  }

  std::array<double, 3> triple(const std::string& key, std::array<double, 3> fallback) const {
    if (!json_.has(key)) return fallback;
    const auto values = json_.get<std::vector<double>>(key);
    if (values.size() != 3) fail(key, "must list 3 values, one per RGB channel");
    return {values[0], values[1], values[2]};
  }
};

}  // namespace detail

inline RTDetrImageProcessor RTDetrImageProcessor::from_json(const JsonConfig& json) {
  return detail::RTDetrImageProcessorReader(json).read();
}

}  // namespace eigenformer
