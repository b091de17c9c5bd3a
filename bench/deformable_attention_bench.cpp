// Multi-scale deformable attention and the RT-DETR decoder at the scale of the released
// models (rtdetr_r50vd: d_model 256, 8 heads, 4 points, 6 decoder layers, 300 queries, 80
// labels, feature levels 80x80, 40x40, 20x20 for a 640x640 input), one image, random weights.

#include <eigenformer/attention/multi_scale_deformable_attention.hpp>
#include <eigenformer/models/rtdetr/decoder.hpp>

#include <benchmark/benchmark.h>

#include "random_weights.hpp"

#include <string>
#include <vector>

namespace eigenformer::bench {
namespace {

constexpr Index kQueries = 300;

RTDetrDecoderConfig real_scale_config() {
  RTDetrDecoderConfig config;
  config.d_model = 256;
  config.num_heads = 8;
  config.ffn_dim = 1024;
  config.num_layers = 6;
  config.num_points = 4;
  config.num_levels = 3;
  config.num_labels = 80;
  return config;
}

FeatureLevels real_scale_levels() { return FeatureLevels({{80, 80}, {40, 40}, {20, 20}}); }

void add_deformable_attention(RandomWeights& random, StateDict<float>& weights,
                              const std::string& prefix, const RTDetrDecoderConfig& c) {
  const Index samples = c.num_heads * c.num_levels * c.num_points;
  random.linear(weights, prefix + "value_proj.", c.d_model, c.d_model);
  random.linear(weights, prefix + "sampling_offsets.", c.d_model, 2 * samples);
  random.linear(weights, prefix + "attention_weights.", c.d_model, samples);
  random.linear(weights, prefix + "output_proj.", c.d_model, c.d_model);
}

void add_mlp(RandomWeights& random, StateDict<float>& weights, const std::string& prefix,
             const std::vector<Index>& dims) {
  for (std::size_t i = 0; i + 1 < dims.size(); ++i)
    random.linear(weights, prefix + "layers." + std::to_string(i) + ".", dims[i], dims[i + 1]);
}

// HF RTDetrDecoder's state_dict under "decoder.", with the detection heads.
StateDict<float> random_decoder_weights(const RTDetrDecoderConfig& c, RandomWeights& random) {
  StateDict<float> weights("random decoder weights");
  const Index d = c.d_model;
  add_mlp(random, weights, "decoder.query_pos_head.", {4, 2 * d, d});
  for (Index i = 0; i < c.num_layers; ++i) {
    const std::string index = std::to_string(i) + ".";
    const std::string layer = "decoder.layers." + index;
    for (const char* projection : {"q_proj.", "k_proj.", "v_proj.", "out_proj."})
      random.linear(weights, layer + "self_attn." + projection, d, d);
    random.layer_norm(weights, layer + "self_attn_layer_norm.", d);
    add_deformable_attention(random, weights, layer + "encoder_attn.", c);
    random.layer_norm(weights, layer + "encoder_attn_layer_norm.", d);
    random.linear(weights, layer + "fc1.", d, c.ffn_dim);
    random.linear(weights, layer + "fc2.", c.ffn_dim, d);
    random.layer_norm(weights, layer + "final_layer_norm.", d);
    random.linear(weights, "decoder.class_embed." + index, d, c.num_labels);
    add_mlp(random, weights, "decoder.bbox_embed." + index, {d, d, d, 4});
  }
  return weights;
}

// Unit-scale memory and queries; reference box logits whose sigmoid spreads the centres over
// the image and keeps the sizes small (about 2% to 20% of a side), as query selection yields.
struct Inputs {
  Matrix<float> memory, queries, reference_logits, reference_boxes;
};

Inputs random_inputs(const RTDetrDecoderConfig& c, const FeatureLevels& levels,
                     RandomWeights& random) {
  Inputs in;
  in.memory = random.tensor({levels.total_tokens(), c.d_model}, 1.0).matrix();
  in.queries = random.tensor({kQueries, c.d_model}, 1.0).matrix();
  in.reference_logits = random.tensor({kQueries, 4}, 1.0).matrix();
  in.reference_logits.leftCols(2) *= 1.5f;
  in.reference_logits.rightCols(2).array() = in.reference_logits.rightCols(2).array() * 0.5f - 2.5f;
  in.reference_boxes = in.reference_logits.unaryExpr([](float x) { return sigmoid(x); });
  return in;
}

MultiScaleDeformableAttention<float> random_attention(const RTDetrDecoderConfig& c,
                                                      RandomWeights& random) {
  StateDict<float> weights("random attention weights");
  add_deformable_attention(random, weights, "attn.", c);
  return MultiScaleDeformableAttention<float>::load(weights, "attn.", c.d_model, c.num_heads,
                                                    c.num_levels, c.num_points);
}

// Argument: DeformableSamplingOrder (0 automatic, 1 project then sample, 2 sample then project).
DeformableAttentionOptions<float> order_options(const benchmark::State& state) {
  DeformableAttentionOptions<float> options;
  options.order = static_cast<DeformableSamplingOrder>(state.range(0));
  return options;
}

// The decoder's cross-attention: 300 box queries over 8400 tokens.
void BM_DeformableAttention(benchmark::State& state) {
  const RTDetrDecoderConfig config = real_scale_config();
  const FeatureLevels levels = real_scale_levels();
  RandomWeights random(1);
  const auto attention = random_attention(config, random);
  const Inputs in = random_inputs(config, levels, random);
  const auto options = order_options(state);
  for (auto _ : state) {
    Matrix<float> out =
        attention.forward(in.queries, in.reference_boxes, in.memory, levels, options);
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_DeformableAttention)
    ->ArgName("order")
    ->DenseRange(0, 2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// A deformable encoder's self-attention (Deformable DETR's encoder, not RT-DETR's): every
// token queries, with 2-d reference points; here projecting the values first is cheaper.
void BM_DeformableAttentionEncoderScale(benchmark::State& state) {
  const RTDetrDecoderConfig config = real_scale_config();
  const FeatureLevels levels = real_scale_levels();
  RandomWeights random(1);
  const auto attention = random_attention(config, random);
  const Inputs in = random_inputs(config, levels, random);
  const Matrix<float> reference =
      random.tensor({levels.total_tokens(), 2}, 1.0).matrix().unaryExpr([](float x) {
        return sigmoid(x);
      });
  const auto options = order_options(state);
  for (auto _ : state) {
    Matrix<float> out = attention.forward(in.memory, reference, in.memory, levels, options);
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_DeformableAttentionEncoderScale)
    ->ArgName("order")
    ->DenseRange(0, 2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// For comparison: projecting all 8400 memory tokens, the matrix product that sampling
// before projecting avoids.
void BM_DeformableAttentionValueProjection(benchmark::State& state) {
  const RTDetrDecoderConfig config = real_scale_config();
  RandomWeights random(1);
  StateDict<float> weights("random projection");
  random.linear(weights, "value_proj.", config.d_model, config.d_model);
  const auto projection =
      Linear<float>::load(weights, "value_proj.", config.d_model, config.d_model);
  const Inputs in = random_inputs(config, real_scale_levels(), random);
  for (auto _ : state) {
    Matrix<float> out = projection.forward(in.memory);
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_DeformableAttentionValueProjection)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_RTDetrDecoder(benchmark::State& state) {
  const RTDetrDecoderConfig config = real_scale_config();
  const FeatureLevels levels = real_scale_levels();
  RandomWeights random(2);
  const auto decoder =
      RTDetrDecoder<float>::load(random_decoder_weights(config, random), "decoder.", config);
  const Inputs in = random_inputs(config, levels, random);
  for (auto _ : state) {
    const auto out = decoder.forward(in.queries, in.reference_logits, in.memory, levels);
    benchmark::DoNotOptimize(out.pred_boxes().data());
  }
}
BENCHMARK(BM_RTDetrDecoder)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace eigenformer::bench
