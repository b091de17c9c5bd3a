// The umbrella headers compile on their own and together, and expose the main types.
#include <eigenformer/eigenformer.hpp>
#include <eigenformer/text.hpp>
#include <eigenformer/image.hpp>

#include <gtest/gtest.h>

TEST(Umbrella, ExposesTheMainTypes) {
  const eigenformer::Matrix<float> x = eigenformer::Matrix<float>::Ones(2, 4);
  const auto out = eigenformer::scaled_dot_product_attention<float>(x, x, x);
  EXPECT_EQ(out.rows(), 2);
  EXPECT_TRUE(out.isApprox(x));
}
