// Nearest upsampling as F.interpolate(scale_factor=k, mode="nearest").
#include <eigenformer/cnn/upsample.hpp>

#include "fixture.hpp"

namespace eigenformer {
namespace {

using testing::all_close;

template <typename T>
class ResizeTest : public ::testing::Test {};
using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(ResizeTest, Scalars);

TYPED_TEST(ResizeTest, NearestTimesTwoRepeatsEachPixelInATwoByTwoBlock) {
  using T = TypeParam;
  Matrix<T> values(2, 6);
  values << 1, 2, 3, 4, 5, 6, -1, -2, -3, -4, -5, -6;  // two channels of 2 x 3
  const FeatureMap<T> out = upsample_nearest(FeatureMap<T>(values, 2, 3));
  ASSERT_EQ(out.height, 4);
  ASSERT_EQ(out.width, 6);
  Matrix<T> first(4, 6);
  first << 1, 1, 2, 2, 3, 3,  //
      1, 1, 2, 2, 3, 3,       //
      4, 4, 5, 5, 6, 6,       //
      4, 4, 5, 5, 6, 6;
  EXPECT_TRUE(all_close(out.data.row(0), Eigen::Map<const RowVector<T>>(first.data(), 24), 0));
  EXPECT_TRUE(all_close(out.data.row(1), -out.data.row(0), 0));
}

TYPED_TEST(ResizeTest, FactorThreeAndErrors) {
  using T = TypeParam;
  const FeatureMap<T> out =
      upsample_nearest(FeatureMap<T>(Matrix<T>::Constant(1, 1, T(7)), 1, 1), 3);
  EXPECT_TRUE(all_close(out.data, Matrix<T>::Constant(1, 9, T(7)), 0));
  EXPECT_THROW(upsample_nearest(out, 0), InvalidArgument);
}

TYPED_TEST(ResizeTest, RejectsMapWhoseSizeDisagreesWithItsDataAndHugeFactors) {
  using T = TypeParam;
  FeatureMap<T> map(Matrix<T>::Zero(2, 16), 4, 4);
  EXPECT_THROW(upsample_nearest(map, Index{1} << 62), ShapeError);  // sides overflow
  EXPECT_THROW(upsample_nearest(map, Index{1} << 31), ShapeError);  // their product overflows
  map.height = map.width = 640;
  EXPECT_THROW(upsample_nearest(map), ShapeError);
}

}  // namespace
}  // namespace eigenformer
