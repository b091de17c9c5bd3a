// The umbrella headers compile on their own and together, and expose the main types.
#include <eigenformer/eigenformer.hpp>
#include <eigenformer/image.hpp>
#include <eigenformer/text.hpp>

#include <gtest/gtest.h>

TEST(Umbrella, ExposesTheMainTypes) {
  const eigenformer::Matrix<float> x = eigenformer::Matrix<float>::Ones(2, 4);
  const auto out = eigenformer::scaled_dot_product_attention<float>(x, x, x);
  EXPECT_EQ(out.rows(), 2);
  EXPECT_TRUE(out.isApprox(x));
}

// The loaders users call are reachable from the umbrella headers, and all resolve a model
// path the same way.
TEST(Umbrella, ExposesTheModelLoaders) {
  using eigenformer::FormatError;
  EXPECT_THROW(eigenformer::ModelFiles::find("/nonexistent/model"), FormatError);
  EXPECT_THROW(eigenformer::BertModel<float>::load("/nonexistent/model"), FormatError);
  EXPECT_THROW(eigenformer::SentenceEncoder<float>::load("/nonexistent/model"), FormatError);
  EXPECT_THROW(eigenformer::RTDetrModel<float>::load("/nonexistent/model"), FormatError);
  EXPECT_THROW(eigenformer::RTDETR("/nonexistent/model.pt"), FormatError);
}
