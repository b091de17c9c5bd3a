#pragma once
// Random weights for benchmarks at real model sizes: seeded normal values scaled like
// PyTorch's default initialisation, made on demand by a generating StateDict so that the
// model's own loader decides which tensors exist and their shapes.

#include <eigenformer/core/state_dict.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace eigenformer::bench {

class RandomWeights {
 public:
  explicit RandomWeights(unsigned seed = 42) : rng_(seed) {}

  // A tensor of `shape` with entries ~ N(mean, scale^2).
  Tensor<float> tensor(const Shape& shape, double scale, double mean = 0.0) {
    std::normal_distribution<double> normal(mean, scale);
    std::vector<float> values(static_cast<std::size_t>(shape_numel(shape)));
    for (auto& v : values) v = static_cast<float>(normal(rng_));
    return Tensor<float>(shape, std::move(values));
  }

  // By name and rank: BatchNorm statistics ~(0, 1), biases ~0, norm weights ~1, embeddings
  // N(0, 0.02), and Kaiming-scaled linear / conv weights so deep stacks stay finite.
  Tensor<float> like(const std::string& name, const Shape& shape) {
    if (ends_with(name, "running_var"))
      return Tensor<float>(shape,
                           std::vector<float>(static_cast<std::size_t>(shape_numel(shape)), 1.0f));
    if (ends_with(name, "running_mean") || ends_with(name, "bias")) return tensor(shape, 0.02);
    if (shape.size() <= 1) return tensor(shape, 0.05, 1.0);
    if (ends_with(name, "embeddings.weight") || ends_with(name, "embedding.weight"))
      return tensor(shape, 0.02);
    const Index fan_in = std::max<Index>(1, shape_numel(shape) / std::max<Index>(1, shape[0]));
    return tensor(shape, 1.0 / std::sqrt(static_cast<double>(fan_in)));
  }

 private:
  static bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() &&
           s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
  }

  std::mt19937 rng_;
};

// A StateDict that makes every tensor a loader asks for with RandomWeights::like, in the
// order asked, so the same loader and seed give the same weights.
inline StateDict<float> random_state_dict(std::string source, unsigned seed = 42) {
  return StateDict<float>(
      std::move(source),
      [random = RandomWeights(seed)](const std::string& name, const Shape& shape) mutable {
        return random.like(name, shape);
      });
}

}  // namespace eigenformer::bench
