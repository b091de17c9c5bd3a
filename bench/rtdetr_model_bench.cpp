// RT-DETR for one 640 x 640 image with the shapes of PekingU/rtdetr_r18vd (ResNet-18-vd:
// basic blocks, embedding 64, hidden sizes 64/128/256/512, depths 2/2/2/2; hybrid encoder
// 256 wide with hidden_expansion 0.5 and one AIFI layer; d_model 256, 8 heads, 300
// queries, 3 decoder layers, 80 labels) and random weights: the whole model, then each
// stage alone (backbone; hybrid encoder with its projections; head = query selection +
// decoder), and the image preprocessing. Times are per image.

#include <eigenformer/models/rtdetr/model.hpp>
#include <eigenformer/models/rtdetr/image_processor.hpp>

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

// Random tensors under HF's names, for every weight RTDetrModel binds.
class R18vdWeights {
 public:
  explicit R18vdWeights(const RTDetrConfig& config)
      : config_(config), weights_("random rtdetr_r18vd weights") {
    backbone(RTDetrResNetConfig::from_json(*config.backbone_config));
    hybrid_encoder();
    head();
  }
  StateDict<float> take() { return std::move(weights_); }

 private:
  // Kaiming-scaled weights and BatchNorm statistics near (1, 0) keep activations finite
  // through the ResNet.
  void conv(const std::string& weight, Index in, Index out, Index kernel) {
    const double fan_in = static_cast<double>(in * kernel * kernel);
    weights_.insert(weight, random_.tensor({out, in, kernel, kernel}, std::sqrt(1.0 / fan_in)));
  }
  void batch_norm(const std::string& prefix, Index channels) {
    random_.layer_norm(weights_, prefix, channels);  // weight ~ 1, bias ~ 0
    weights_.insert(prefix + "running_mean", random_.tensor({channels}, 0.02));
    std::vector<float> variance(static_cast<std::size_t>(channels), 1.0f);
    weights_.insert(prefix + "running_var", Tensor<float>({channels}, std::move(variance)));
  }
  void conv_norm(const std::string& conv_prefix, const std::string& norm_prefix, Index in,
                 Index out, Index kernel) {
    conv(conv_prefix + "weight", in, out, kernel);
    batch_norm(norm_prefix, out);
  }
  void resnet_conv(const std::string& at, Index in, Index out, Index kernel) {
    conv_norm(at + "convolution.", at + "normalization.", in, out, kernel);
  }
  void encoder_conv(const std::string& at, Index in, Index out, Index kernel) {
    conv_norm(at + "conv.", at + "norm.", in, out, kernel);
  }
  void mlp(const std::string& prefix, const std::vector<Index>& dims) {
    for (std::size_t i = 0; i + 1 < dims.size(); ++i)
      random_.linear(weights_, detail::concat(prefix, "layers.", i, "."), dims[i], dims[i + 1]);
  }

  void backbone(const RTDetrResNetConfig& c) {
    const std::string root = "model.backbone.model.";
    const Index half = c.embedding_size / 2;
    resnet_conv(root + "embedder.embedder.0.", c.num_channels, half, 3);
    resnet_conv(root + "embedder.embedder.1.", half, half, 3);
    resnet_conv(root + "embedder.embedder.2.", half, c.embedding_size, 3);
    Index in = c.embedding_size;
    for (Index s = 0; s < c.num_stages(); ++s) {
      const Index out = c.hidden_sizes[static_cast<std::size_t>(s)];
      for (Index l = 0; l < c.depths[static_cast<std::size_t>(s)]; ++l) {
        const std::string at = detail::concat(root, "encoder.stages.", s, ".layers.", l, ".");
        const Index block_in = l == 0 ? in : out;
        resnet_conv(at + "layer.0.", block_in, out, 3);
        resnet_conv(at + "layer.1.", out, out, 3);
        if (l == 0)
          resnet_conv(at + (block_in != out ? "shortcut.1." : "shortcut."), block_in, out, 1);
      }
      in = out;
    }
  }

  void hybrid_encoder() {
    const Index d = config_.encoder_hidden_dim, ff = config_.encoder_ffn_dim;
    const Index hidden = static_cast<Index>(static_cast<double>(d) * config_.hidden_expansion);
    const std::vector<Index> backbone_channels{128, 256, 512};
    for (Index i = 0; i < 3; ++i) {
      const std::string at = detail::concat("model.encoder_input_proj.", i, ".");
      conv_norm(at + "0.", at + "1.", backbone_channels[static_cast<std::size_t>(i)], d, 1);
      const std::string decoder_at = detail::concat("model.decoder_input_proj.", i, ".");
      conv_norm(decoder_at + "0.", decoder_at + "1.", d, config_.d_model, 1);
    }
    const std::string layer = "model.encoder.encoder.0.layers.0.";
    for (const char* projection : {"q_proj.", "k_proj.", "v_proj.", "out_proj."})
      random_.linear(weights_, layer + "self_attn." + projection, d, d);
    random_.layer_norm(weights_, layer + "self_attn_layer_norm.", d);
    random_.linear(weights_, layer + "fc1.", d, ff);
    random_.linear(weights_, layer + "fc2.", ff, d);
    random_.layer_norm(weights_, layer + "final_layer_norm.", d);
    for (Index i = 0; i < 2; ++i) {
      encoder_conv(detail::concat("model.encoder.lateral_convs.", i, "."), d, d, 1);
      encoder_conv(detail::concat("model.encoder.downsample_convs.", i, "."), d, d, 3);
      for (const char* blocks : {"fpn_blocks.", "pan_blocks."}) {
        const std::string at = detail::concat("model.encoder.", blocks, i, ".");
        encoder_conv(at + "conv1.", 2 * d, hidden, 1);
        encoder_conv(at + "conv2.", 2 * d, hidden, 1);
        encoder_conv(at + "conv3.", hidden, d, 1);
        for (Index b = 0; b < 3; ++b) {
          encoder_conv(detail::concat(at, "bottlenecks.", b, ".conv1."), hidden, hidden, 3);
          encoder_conv(detail::concat(at, "bottlenecks.", b, ".conv2."), hidden, hidden, 1);
        }
      }
    }
  }

  void head() {
    const Index d = config_.d_model, labels = config_.num_labels();
    const Index samples =
        config_.decoder_attention_heads * config_.num_feature_levels * config_.decoder_n_points;
    random_.linear(weights_, "model.enc_output.0.", d, d);
    random_.layer_norm(weights_, "model.enc_output.1.", d);
    random_.linear(weights_, "model.enc_score_head.", d, labels);
    mlp("model.enc_bbox_head.", {d, d, d, 4});
    mlp("model.decoder.query_pos_head.", {4, 2 * d, d});
    for (Index i = 0; i < config_.decoder_layers; ++i) {
      const std::string layer = detail::concat("model.decoder.layers.", i, ".");
      for (const char* projection : {"q_proj.", "k_proj.", "v_proj.", "out_proj."})
        random_.linear(weights_, layer + "self_attn." + projection, d, d);
      random_.layer_norm(weights_, layer + "self_attn_layer_norm.", d);
      random_.linear(weights_, layer + "encoder_attn.value_proj.", d, d);
      random_.linear(weights_, layer + "encoder_attn.sampling_offsets.", d, 2 * samples);
      random_.linear(weights_, layer + "encoder_attn.attention_weights.", d, samples);
      random_.linear(weights_, layer + "encoder_attn.output_proj.", d, d);
      random_.layer_norm(weights_, layer + "encoder_attn_layer_norm.", d);
      random_.linear(weights_, layer + "fc1.", d, config_.decoder_ffn_dim);
      random_.linear(weights_, layer + "fc2.", config_.decoder_ffn_dim, d);
      random_.layer_norm(weights_, layer + "final_layer_norm.", d);
      random_.linear(weights_, detail::concat("model.decoder.class_embed.", i, "."), d, labels);
      mlp(detail::concat("model.decoder.bbox_embed.", i, "."), {d, d, d, 4});
    }
  }

  const RTDetrConfig& config_;
  RandomWeights random_;
  StateDict<float> weights_;
};

struct Setup {
  RTDetrModel<float> model;
  FeatureMap<float> pixels;
  std::vector<FeatureMap<float>> backbone_features;
  std::vector<FeatureMap<float>> decoder_inputs;

  Setup() {
    const RTDetrConfig config = r18vd_config();
    model = RTDetrModel<float>::load(R18vdWeights(config).take(), config);
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
