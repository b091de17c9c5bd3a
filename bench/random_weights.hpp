#pragma once
// Random weights for benchmarks at real model sizes: a StateDict filled with seeded
// normal values scaled like PyTorch's default initialisation.

#include <eigenformer/core/state_dict.hpp>

#include <cmath>
#include <random>
#include <string>

namespace eigenformer::bench {

class RandomWeights {
 public:
  explicit RandomWeights(unsigned seed = 42) : rng_(seed) {}

  // A tensor of `shape` with entries ~ N(0, scale^2).
  Tensor<float> tensor(const Shape& shape, double scale) {
    std::normal_distribution<double> normal(0.0, scale);
    std::vector<float> values(static_cast<std::size_t>(shape_numel(shape)));
    for (auto& v : values) v = static_cast<float>(normal(rng_));
    return Tensor<float>(shape, std::move(values));
  }

  // `<prefix>weight` (out, in) and `<prefix>bias` (out).
  void linear(StateDict<float>& weights, const std::string& prefix, Index in, Index out) {
    weights.insert(prefix + "weight", tensor({out, in}, 1.0 / std::sqrt(static_cast<double>(in))));
    weights.insert(prefix + "bias", tensor({out}, 0.02));
  }

  void layer_norm(StateDict<float>& weights, const std::string& prefix, Index features) {
    Tensor<float> gamma = tensor({features}, 0.05);
    std::vector<float> shifted(gamma.data(), gamma.data() + gamma.size());
    for (auto& g : shifted) g += 1.0f;
    weights.insert(prefix + "weight", Tensor<float>({features}, std::move(shifted)));
    weights.insert(prefix + "bias", tensor({features}, 0.02));
  }

 private:
  std::mt19937 rng_;
};

}  // namespace eigenformer::bench
