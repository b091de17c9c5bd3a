#include <eigenformer/nn/positional_encoding.hpp>

#include "fixture.hpp"

#include <cmath>

namespace eigenformer {
namespace {

using testing::all_close;

template <typename T>
class PositionalEncodingTest : public ::testing::Test {};
using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(PositionalEncodingTest, Scalars);

TYPED_TEST(PositionalEncodingTest, SinusoidalMatchesVaswaniFormula) {
  using T = TypeParam;
  const Index length = 7, dim = 10;
  const double base = 10000.0;
  Matrix<double> expected(length, dim);
  for (Index p = 0; p < length; ++p)
    for (Index i = 0; 2 * i < dim; ++i) {
      const double angle = p / std::pow(base, 2.0 * i / dim);
      expected(p, 2 * i) = std::sin(angle);
      expected(p, 2 * i + 1) = std::cos(angle);
    }
  const Matrix<T> encoding = sinusoidal_position_encoding<T>(length, dim, base);
  EXPECT_TRUE(all_close(encoding, expected, std::is_same_v<T, float> ? 1e-6 : 1e-15));
}

TYPED_TEST(PositionalEncodingTest, SinusoidalKnownProperties) {
  using T = TypeParam;
  const Matrix<T> encoding = sinusoidal_position_encoding<T>(50, 16);
  // Position 0: every sine is 0 and every cosine 1.
  for (Index c = 0; c < 16; ++c) EXPECT_EQ(encoding(0, c), c % 2 == 0 ? T(0) : T(1)) << c;
  // The first frequency is 1: column 0 is sin(p), column 1 cos(p).
  EXPECT_NEAR(encoding(3, 0), std::sin(3.0), 1e-6);
  EXPECT_NEAR(encoding(3, 1), std::cos(3.0), 1e-6);
  // Each (sin, cos) pair lies on the unit circle.
  for (Index p = 0; p < 50; ++p)
    for (Index c = 0; c < 16; c += 2)
      EXPECT_NEAR(encoding(p, c) * encoding(p, c) + encoding(p, c + 1) * encoding(p, c + 1), 1.0,
                  1e-6);
}

TYPED_TEST(PositionalEncodingTest, SinusoidalOddDimensionEndsOnSine) {
  using T = TypeParam;
  const Matrix<T> encoding = sinusoidal_position_encoding<T>(4, 5);
  EXPECT_NEAR(encoding(2, 4), std::sin(2.0 / std::pow(10000.0, 4.0 / 5.0)), 1e-6);
}

TYPED_TEST(PositionalEncodingTest, SinCos2dMatchesHuggingFaceRTDetr) {
  using T = TypeParam;
  // The AIFI layer's embedding for the 3 x 4 (height x width) map of the fixture.
  const auto& io = testing::fixture<T>("rtdetr/io.safetensors");
  const Tensor<T>& expected =
      io.at("hook.model.encoder.aifi.0.position_embedding.out", {1, 12, 64});
  const Matrix<T> embedding = sincos_position_embedding_2d<T>(4, 3, 64, 10000.0);
  EXPECT_TRUE(all_close(embedding, expected.matrix(), 1e-5));
}

TYPED_TEST(PositionalEncodingTest, SinCos2dLayout) {
  using T = TypeParam;
  const Index width = 5, height = 2, dim = 8;
  const Matrix<T> embedding = sincos_position_embedding_2d<T>(width, height, dim, 100.0);
  // Row of (y = 1, x = 3); q = 2 so omega = [1, 100^(-1/2)].
  const auto row = embedding.row(1 * width + 3);
  const double omega[2] = {1.0, 0.1};
  for (int i = 0; i < 2; ++i) {
    EXPECT_NEAR(row(i), std::sin(1 * omega[i]), 1e-6);
    EXPECT_NEAR(row(2 + i), std::cos(1 * omega[i]), 1e-6);
    EXPECT_NEAR(row(4 + i), std::sin(3 * omega[i]), 1e-6);
    EXPECT_NEAR(row(6 + i), std::cos(3 * omega[i]), 1e-6);
  }
}

TYPED_TEST(PositionalEncodingTest, RejectsBadArguments) {
  using T = TypeParam;
  EXPECT_THROW(sincos_position_embedding_2d<T>(4, 3, 62), InvalidArgument);
  EXPECT_THROW(sincos_position_embedding_2d<T>(4, 3, 0), InvalidArgument);
  EXPECT_THROW(sincos_position_embedding_2d<T>(-1, 3, 64), InvalidArgument);
  EXPECT_THROW(sincos_position_embedding_2d<T>(4, 3, 64, 0.0), InvalidArgument);
  EXPECT_THROW(sinusoidal_position_encoding<T>(4, 0), InvalidArgument);
  EXPECT_THROW(sinusoidal_position_encoding<T>(-1, 4), InvalidArgument);
}

}  // namespace
}  // namespace eigenformer
