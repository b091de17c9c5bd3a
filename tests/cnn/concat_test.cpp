// Channel concatenation, torch.concat(dim=1) for one image.
#include <eigenformer/cnn/concat.hpp>

#include "fixture.hpp"

namespace eigenformer {
namespace {

using testing::all_close;

TEST(ConcatChannels, StacksChannelsInOrder) {
  const FeatureMap<double> a(Matrix<double>::Constant(2, 6, 1.0), 2, 3);
  const FeatureMap<double> b(Matrix<double>::Constant(1, 6, 2.0), 2, 3);
  const FeatureMap<double> out = concat_channels(a, b);
  ASSERT_EQ(out.channels(), 3);
  EXPECT_EQ(out.height, 2);
  EXPECT_EQ(out.width, 3);
  EXPECT_TRUE(all_close(out.data.topRows(2), a.data, 0));
  EXPECT_TRUE(all_close(out.data.bottomRows(1), b.data, 0));
  const FeatureMap<double> three = concat_channels<double>({&b, &a, &b});
  EXPECT_TRUE(all_close(three.data.row(0), b.data.row(0), 0));
  EXPECT_TRUE(all_close(three.data.row(3), b.data.row(0), 0));
}

TEST(ConcatChannels, RejectsDifferentSizes) {
  const FeatureMap<float> a(Matrix<float>::Zero(1, 6), 2, 3);
  const FeatureMap<float> b(Matrix<float>::Zero(1, 6), 3, 2);
  EXPECT_THROW(concat_channels(a, b), ShapeError);
}

}  // namespace
}  // namespace eigenformer
