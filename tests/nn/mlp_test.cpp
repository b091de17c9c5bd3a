#include <eigenformer/nn/mlp.hpp>

#include "fixture.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace eigenformer {
namespace {

using testing::all_close;
using testing::fixture;

template <typename T>
class MlpTest : public ::testing::Test {};

using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(MlpTest, Scalars);

// RT-DETR's enc_bbox_head (RTDetrMLPPredictionHead d -> d -> d -> 4) applied to the
// enc_output activations, against the recorded hook.
TYPED_TEST(MlpTest, MatchesRTDetrBoxHead) {
  using T = TypeParam;
  const auto& io = fixture<T>("rtdetr/io.safetensors");
  const auto head =
      Mlp<T>::load(fixture<T>("rtdetr/model.safetensors"), "model.enc_bbox_head.", {64, 64, 64, 4});
  EXPECT_EQ(head.num_layers(), 3);
  EXPECT_EQ(head.in_features(), 64);
  EXPECT_EQ(head.out_features(), 4);
  EXPECT_TRUE(all_close(head.forward(io.at("hook.model.enc_output.out").matrix()),
                        io.at("hook.model.enc_bbox_head.out").matrix(), 1e-5));
}

TYPED_TEST(MlpTest, ActivationOnlyBetweenLayers) {
  using T = TypeParam;
  // Identity layers with biases: x -> relu(x - 1) -> relu(. ) - 1 (no activation at the end).
  const Matrix<T> identity = Matrix<T>::Identity(2, 2);
  const Vector<T> minus_one = Vector<T>::Constant(2, T(-1));
  const Mlp<T> mlp({Linear<T>(identity, minus_one), Linear<T>(identity, minus_one)});
  Matrix<T> x(1, 2);
  x << T(0.5), T(3);
  Matrix<T> expected(1, 2);
  expected << T(-1), T(1);  // relu(-0.5) - 1, relu(2) - 1
  EXPECT_TRUE(all_close(mlp.forward(x), expected, 0));
}

TYPED_TEST(MlpTest, RejectsBadShapes) {
  using T = TypeParam;
  const auto& weights = fixture<T>("rtdetr/model.safetensors");
  EXPECT_THROW(Mlp<T>::load(weights, "model.enc_bbox_head.", {64}), InvalidArgument);
  EXPECT_THROW(Mlp<T>::load(weights, "model.enc_bbox_head.", {64, 64, 4}), ShapeError);
  try {
    Mlp<T>::load(weights, "model.enc_bbox_head.", {64, 64, 64, 4, 4});
    FAIL() << "expected a FormatError";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("missing tensor 'model.enc_bbox_head.layers.3."),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(Mlp<T>(std::vector<Linear<T>>{}), InvalidArgument);
  EXPECT_THROW(Mlp<T>({Linear<T>(Matrix<T>::Identity(2, 3)), Linear<T>(Matrix<T>::Identity(2, 3))}),
               ShapeError);
  EXPECT_THROW(Mlp<T>().forward(Matrix<T>::Zero(1, 2)), InvalidArgument);
}

}  // namespace
}  // namespace eigenformer
