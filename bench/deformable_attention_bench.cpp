// Multi-scale deformable attention and the RT-DETR decoder at the scale of the released
// models (rtdetr_r50vd: d_model 256, 8 heads, 4 points, 6 decoder layers, 300 queries, 80
// labels, feature levels 80x80, 40x40, 20x20 for a 640x640 input), one image, random weights
// made for whatever tensors the loaders ask for (random_weights.hpp).

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

MultiScaleDeformableAttention<float> random_attention(const RTDetrDecoderConfig& c) {
  return MultiScaleDeformableAttention<float>::load(random_state_dict("random attention weights"),
                                                    "attn.", c.d_model, c.num_heads, c.num_levels,
                                                    c.num_points);
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
  const auto attention = random_attention(config);
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
  const auto attention = random_attention(config);
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
  const auto projection = Linear<float>::load(random_state_dict("random projection"), "value_proj.",
                                              config.d_model, config.d_model);
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
  // HF RTDetrDecoder's state_dict under "decoder.", with the detection heads.
  const auto decoder =
      RTDetrDecoder<float>::load(random_state_dict("random decoder weights"), "decoder.", config);
  const Inputs in = random_inputs(config, levels, random);
  for (auto _ : state) {
    const auto out = decoder.forward(in.queries, in.reference_logits, in.memory, levels);
    benchmark::DoNotOptimize(out.pred_boxes().data());
  }
}
BENCHMARK(BM_RTDetrDecoder)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace eigenformer::bench
