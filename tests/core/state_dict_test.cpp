#include <eigenformer/cnn/conv_norm.hpp>
#include <eigenformer/core/state_dict.hpp>

#include "io/test_files.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace eigenformer {
namespace {

using testing::throws_with;

// Fills each tensor with its generation count, so tests can tell which call made it.
struct CountingGenerator {
  std::shared_ptr<int> calls = std::make_shared<int>(0);
  Tensor<float> operator()(const std::string&, const Shape& shape) const {
    ++*calls;
    return Tensor<float>(shape, std::vector<float>(static_cast<std::size_t>(shape_numel(shape)),
                                                   static_cast<float>(*calls)));
  }
};

TEST(GeneratingStateDictTest, GeneratesOnFirstRequestThenReturnsTheSameTensor) {
  const CountingGenerator generate;
  const StateDict<float> dict("random", generate);
  EXPECT_TRUE(dict.generates());
  EXPECT_FALSE(StateDict<float>("file").generates());
  EXPECT_EQ(dict.size(), 0u);
  const Tensor<float>& w = dict.at("layer.weight", {2, 3});
  EXPECT_EQ(w.shape(), (Shape{2, 3}));
  EXPECT_EQ(w[5], 1.0f);
  EXPECT_EQ(&dict.at("layer.weight", {2, 3}), &w);
  EXPECT_EQ(&dict.at("layer.weight"), &w);  // once present, found without a shape too
  EXPECT_EQ(dict.vector("layer.bias", 2)(1), 2.0f);
  EXPECT_EQ(*generate.calls, 2);
  // What the loaders asked for is the layout: names() lists it.
  EXPECT_EQ(dict.names(), (std::vector<std::string>{"layer.bias", "layer.weight"}));
}

TEST(GeneratingStateDictTest, InsertedTensorsAreKeptAndNotGenerated) {
  const CountingGenerator generate;
  StateDict<float> dict("random", generate);
  dict.insert("fixed", Tensor<float>({2}, {7, 8}));
  EXPECT_EQ(dict.at("fixed", {2})[1], 8.0f);
  EXPECT_EQ(*generate.calls, 0);
  EXPECT_TRUE(throws_with<FormatError>([&] { dict.insert("fixed", Tensor<float>({1}, {0})); },
                                       {"duplicate tensor 'fixed'"}));
}

TEST(GeneratingStateDictTest, NeverRequestedNamesAreAbsent) {
  const StateDict<float> dict("random", CountingGenerator());
  EXPECT_FALSE(dict.contains("conv.bias"));
  dict.at("conv.weight", {4, 3, 1, 1});
  EXPECT_TRUE(dict.contains("conv.weight"));
  EXPECT_FALSE(dict.contains("conv.bias"));
}

// An optional tensor stays absent, so the loader takes the structure without it: here the
// convolution bias that HF's RT-DETR convolutions do not have.
TEST(GeneratingStateDictTest, LoadersTakeTheirDefaultStructure) {
  const StateDict<float> dict("random", CountingGenerator());
  const Conv2d<float> conv = load_conv_norm(dict, "conv.", "norm.", 3, 4, 3, 1, 1e-5);
  EXPECT_EQ(conv.out_channels(), 4);
  EXPECT_EQ(dict.names(), (std::vector<std::string>{"conv.weight", "norm.bias", "norm.running_mean",
                                                    "norm.running_var", "norm.weight"}));
  EXPECT_EQ(dict.at("conv.weight").shape(), (Shape{4, 3, 3, 3}));
}

TEST(GeneratingStateDictTest, ShapeMismatchesAreStillErrors) {
  StateDict<float> dict("random", CountingGenerator());
  dict.insert("w", Tensor<float>({2, 3}, {1, 2, 3, 4, 5, 6}));
  EXPECT_TRUE(throws_with<ShapeError>(
      [&] {
        dict.at("w", {3, 2});
      },
      {"random", "'w'", "shape [2, 3]", "expected [3, 2]"}));
  // Two loaders disagreeing about a generated tensor are caught the same way.
  dict.at("g", {4});
  EXPECT_TRUE(throws_with<ShapeError>([&] { dict.matrix("g", 2, 2); },
                                      {"'g'", "shape [4]", "expected [2, 2]"}));
  dict.insert_unusable("position_ids", "is an integer tensor");
  EXPECT_TRUE(throws_with<FormatError>([&] { dict.at("position_ids", {4}); },
                                       {"'position_ids' is an integer tensor"}));
}

TEST(GeneratingStateDictTest, WithoutAShapeNothingIsGenerated) {
  const CountingGenerator generate;
  const StateDict<float> dict("random", generate);
  dict.at("a.x", {1});
  EXPECT_TRUE(throws_with<FormatError>(
      [&] { dict.at("a.y"); },
      {"random", "missing tensor 'a.y'", "a.x", "generated only when asked for with a shape"}));
  EXPECT_EQ(*generate.calls, 1);
  EXPECT_FALSE(dict.contains("a.y"));
}

TEST(GeneratingStateDictTest, AGeneratorOfTheWrongShapeIsAnError) {
  const StateDict<float> dict(
      "random", [](const std::string&, const Shape&) { return Tensor<float>({1}, {0}); });
  EXPECT_TRUE(throws_with<ShapeError>([&] { dict.at("w", {2}); },
                                      {"generator made tensor 'w'", "shape [1]", "expected [2]"}));
  EXPECT_FALSE(dict.contains("w"));
}

TEST(GeneratingStateDictTest, MovedDictsKeepGenerating) {
  const CountingGenerator generate;
  StateDict<float> dict("random", generate);
  dict.at("a", {1});
  const StateDict<float> moved = std::move(dict);
  EXPECT_EQ(moved.at("a", {1})[0], 1.0f);
  EXPECT_EQ(moved.at("b", {1})[0], 2.0f);
}

// Const lookups may run on several threads (models loaded in parallel from one dict): each
// tensor is generated once and every thread sees the same one.
TEST(GeneratingStateDictTest, ConcurrentLookupsGenerateEachTensorOnce) {
  std::atomic<int> calls{0};
  const StateDict<float> dict("random", [&](const std::string&, const Shape& shape) {
    ++calls;
    return Tensor<float>(shape, std::vector<float>(static_cast<std::size_t>(shape_numel(shape))));
  });
  constexpr int kThreads = 4, kNames = 64;
  std::vector<std::vector<const Tensor<float>*>> seen(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kNames; ++i) {
        const int name = (i * (2 * t + 1) * 7 + t) % kNames;  // a different order per thread
        seen[static_cast<std::size_t>(t)].push_back(&dict.at("t" + std::to_string(name), {8}));
        dict.contains("t" + std::to_string(i));
      }
    });
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(calls.load(), kNames);
  EXPECT_EQ(dict.size(), static_cast<std::size_t>(kNames));
  for (int t = 0; t < kThreads; ++t)
    for (int i = 0; i < kNames; ++i)
      EXPECT_EQ(seen[static_cast<std::size_t>(t)][static_cast<std::size_t>(i)],
                &dict.at("t" + std::to_string((i * (2 * t + 1) * 7 + t) % kNames)));
}

}  // namespace
}  // namespace eigenformer
