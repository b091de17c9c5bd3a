// RT-DETR for one 640 x 640 image with the shapes of PekingU/rtdetr_r18vd (ResNet-18-vd:
// basic blocks, embedding 64, hidden sizes 64/128/256/512, depths 2/2/2/2; hybrid encoder
// 256 wide with hidden_expansion 0.5 and one AIFI layer; d_model 256, 8 heads, 300
// queries, 3 decoder layers, 80 labels) and random weights, made for whatever tensors the
// loader asks for (random_weights.hpp): the whole model, then each stage alone (backbone;
// hybrid encoder with its projections; head = query selection + decoder), and the image
// preprocessing. Times are per image.

#include <eigenformer/models/rtdetr/image_processor.hpp>
#include <eigenformer/models/rtdetr/model.hpp>

#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

#include "random_weights.hpp"

#include <string>
#include <vector>

namespace eigenformer::bench {
namespace {

constexpr Index kImageSize = 640;

RTDetrConfig r18vd_config() {
  nlohmann::json id2label;
  for (int i = 0; i < 80; ++i) id2label[std::to_string(i)] = "class_" + std::to_string(i);
  const nlohmann::json json = {{"model_type", "rt_detr"},
                               {"backbone_config",
                                {{"model_type", "rt_detr_resnet"},
                                 {"layer_type", "basic"},
                                 {"embedding_size", 64},
                                 {"hidden_sizes", {64, 128, 256, 512}},
                                 {"depths", {2, 2, 2, 2}},
                                 {"out_indices", {2, 3, 4}}}},
                               {"encoder_in_channels", {128, 256, 512}},
                               {"hidden_expansion", 0.5},
                               {"decoder_layers", 3},
                               {"id2label", id2label}};
  return RTDetrConfig::from_json(JsonConfig(json, "rtdetr_r18vd (benchmark)"));
}

struct Setup {
  RTDetrModel<float> model;
  FeatureMap<float> pixels;
  std::vector<FeatureMap<float>> backbone_features;
  std::vector<FeatureMap<float>> decoder_inputs;

  Setup() {
    const RTDetrConfig config = r18vd_config();
    // The loader asks for every tensor with its shape; the dict makes it on the spot.
    model = RTDetrModel<float>::load(random_state_dict("random rtdetr_r18vd weights"), config);
    RandomWeights random(7);
    const Tensor<float> noise = random.tensor({3, kImageSize * kImageSize}, 0.25);
    pixels = FeatureMap<float>((noise.matrix().array() + 0.5f).matrix(), kImageSize, kImageSize);
    backbone_features = model.backbone().forward(pixels);
    decoder_inputs = model.encoder().forward(backbone_features).decoder_inputs;
  }
};

const Setup& setup() {
  static const Setup instance;
  return instance;
}

void BM_RTDetrR18vd_Model(benchmark::State& state) {
  const Setup& s = setup();
  for (auto _ : state) benchmark::DoNotOptimize(s.model.forward(s.pixels));
}

void BM_RTDetrR18vd_Backbone(benchmark::State& state) {
  const Setup& s = setup();
  for (auto _ : state) benchmark::DoNotOptimize(s.model.backbone().forward(s.pixels));
}

void BM_RTDetrR18vd_HybridEncoder(benchmark::State& state) {
  const Setup& s = setup();
  for (auto _ : state) benchmark::DoNotOptimize(s.model.encoder().forward(s.backbone_features));
}

void BM_RTDetrR18vd_Head(benchmark::State& state) {
  const Setup& s = setup();
  for (auto _ : state) benchmark::DoNotOptimize(s.model.head().forward(s.decoder_inputs));
}

// A 1280 x 720 photo-sized image to 640 x 640 pixel_values (PIL bilinear, rescale).
void BM_RTDetrPreprocess(benchmark::State& state) {
  Image image(1280, 720);
  for (std::size_t i = 0; i < image.pixels.size(); ++i)
    image.pixels[i] = static_cast<std::uint8_t>((i * 2654435761u) >> 24);
  const RTDetrImageProcessor processor;
  for (auto _ : state) benchmark::DoNotOptimize(processor.preprocess<float>(image));
}

BENCHMARK(BM_RTDetrR18vd_Model)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_RTDetrR18vd_Backbone)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_RTDetrR18vd_HybridEncoder)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_RTDetrR18vd_Head)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_RTDetrPreprocess)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace eigenformer::bench
