// Pooling against hand-computed PyTorch results (F.max_pool2d, F.avg_pool2d).
#include <eigenformer/cnn/pool2d.hpp>

#include "fixture.hpp"

#include <cmath>
#include <limits>

namespace eigenformer {
namespace {

using testing::all_close;

// One channel holding 1, 2, ..., height * width in raster order.
template <typename T>
FeatureMap<T> counting_map(Index height, Index width) {
  Matrix<T> values(1, height * width);
  for (Index i = 0; i < values.size(); ++i) values(0, i) = T(i + 1);
  return FeatureMap<T>(values, height, width);
}

template <typename T>
class PoolingTest : public ::testing::Test {};
using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(PoolingTest, Scalars);

TEST(PoolOutputSize, FollowsPyTorchFloorAndCeilModes) {
  EXPECT_EQ(pool_output_size(4, {2, 2, 0, true}), 2);
  EXPECT_EQ(pool_output_size(5, {2, 2, 0, false}), 2);
  EXPECT_EQ(pool_output_size(5, {2, 2, 0, true}), 3);
  EXPECT_EQ(pool_output_size(160, {3, 2, 1, false}), 80);
  EXPECT_EQ(pool_output_size(5, {3, 2, 1, false}), 3);
  EXPECT_EQ(pool_output_size(4, {3, 2, 1, true}), 3);  // last window starts on pixel 3
  // Windows would start at -1, 1, 3 and 5; the one at 5 lies in the padding: PyTorch drops it.
  EXPECT_EQ(pool_output_size(5, {2, 2, 1, true}), 3);
  EXPECT_THROW(pool_output_size(4, {2, 2, 2, false}), InvalidArgument);
  EXPECT_THROW(pool_output_size(1, {3, 1, 0, false}), ShapeError);
}

// AvgPool2d(2, 2, 0, ceil_mode=True) on
//   1 2 3
//   4 5 6
//   7 8 9
// windows {1,2,4,5}, {3,6}, {7,8}, {9}, each divided by its in-bounds size.
TYPED_TEST(PoolingTest, CeilModeAveragePoolAveragesPartialWindows) {
  using T = TypeParam;
  const FeatureMap<T> out = avg_pool2d(counting_map<T>(3, 3), {2, 2, 0, true});
  ASSERT_EQ(out.height, 2);
  ASSERT_EQ(out.width, 2);
  Matrix<T> expected(1, 4);
  expected << T(3), T(4.5), T(7.5), T(9);
  EXPECT_TRUE(all_close(out.data, expected, 1e-12));
}

TYPED_TEST(PoolingTest, AveragePoolPaddingCountsOnlyWhenAsked) {
  using T = TypeParam;
  // 2x2 input 1 2 / 3 4, kernel 3, stride 2, padding 1 -> one window covering everything
  // plus five padded zeros.
  PoolOptions options{3, 2, 1, false, true};
  EXPECT_TRUE(all_close(avg_pool2d(counting_map<T>(2, 2), options).data,
                        Matrix<T>::Constant(1, 1, T(10) / T(9)), 1e-6));
  options.count_include_pad = false;
  EXPECT_TRUE(all_close(avg_pool2d(counting_map<T>(2, 2), options).data,
                        Matrix<T>::Constant(1, 1, T(2.5)), 1e-12));
}

// MaxPool2d(3, 2, 1) on the 4x4 map 1..16: windows centred on even pixels.
TYPED_TEST(PoolingTest, MaxPoolIgnoresPadding) {
  using T = TypeParam;
  FeatureMap<T> input = counting_map<T>(4, 4);
  input.data = -input.data;  // all negative: a zero-padded max would return 0
  const FeatureMap<T> out = max_pool2d(input, {3, 2, 1});
  ASSERT_EQ(out.height, 2);
  ASSERT_EQ(out.width, 2);
  Matrix<T> expected(1, 4);
  expected << T(-1), T(-2), T(-5), T(-6);
  EXPECT_TRUE(all_close(out.data, expected, 0));
}

TYPED_TEST(PoolingTest, MaxPoolPropagatesNaN) {
  using T = TypeParam;
  FeatureMap<T> input = counting_map<T>(2, 2);
  input.at(0, 0, 1) = std::numeric_limits<T>::quiet_NaN();
  EXPECT_TRUE(std::isnan(max_pool2d(input, {2, 2, 0}).data(0, 0)));
}

TYPED_TEST(PoolingTest, PoolsEveryChannelSeparately) {
  using T = TypeParam;
  Matrix<T> values(2, 4);
  values << 1, 2, 3, 4, 10, 20, 30, 40;
  const FeatureMap<T> out = avg_pool2d(FeatureMap<T>(values, 2, 2), {2, 2, 0});
  Matrix<T> expected(2, 1);
  expected << T(2.5), T(25);
  EXPECT_TRUE(all_close(out.data, expected, 1e-12));
}

// The separable max pool against PyTorch's scan written out (every window position in
// raster order, a later value replacing a smaller best or any NaN), over odd and even sizes,
// kernels 1-3, strides 1-2, padding and both rounding modes; a NaN in one channel.
TYPED_TEST(PoolingTest, MaxPoolMatchesTheWindowScanOnManyShapes) {
  using T = TypeParam;
  for (Index k = 1; k <= 3; ++k)
    for (Index s = 1; s <= 2; ++s)
      for (Index p = 0; 2 * p <= k; ++p)
        for (bool ceil_mode : {false, true})
          for (Index h : {k, Index{5}, Index{8}})
            for (Index w : {k, Index{6}, Index{7}}) {
              const PoolOptions options{k, s, p, ceil_mode};
              FeatureMap<T> input(Matrix<T>::Random(2, h * w), h, w);
              input.at(1, h / 2, w / 2) = std::numeric_limits<T>::quiet_NaN();
              const FeatureMap<T> out = max_pool2d(input, options);
              ASSERT_EQ(out.height, pool_output_size(h, options));
              ASSERT_EQ(out.width, pool_output_size(w, options));
              for (Index c = 0; c < 2; ++c)
                for (Index oy = 0; oy < out.height; ++oy)
                  for (Index ox = 0; ox < out.width; ++ox) {
                    T best = -std::numeric_limits<T>::infinity();
                    for (Index y = std::max<Index>(oy * s - p, 0); y < std::min(oy * s - p + k, h);
                         ++y)
                      for (Index x = std::max<Index>(ox * s - p, 0);
                           x < std::min(ox * s - p + k, w); ++x) {
                        const T v = input.at(c, y, x);
                        if (v > best || std::isnan(v)) best = v;
                      }
                    const T got = out.at(c, oy, ox);
                    if (std::isnan(best))
                      EXPECT_TRUE(std::isnan(got)) << k << s << p << ceil_mode << h << w;
                    else
                      EXPECT_EQ(got, best) << k << s << p << ceil_mode << h << w;
                  }
            }
}

// A map whose public height x width disagrees with its data is refused, not read out of
// bounds.
TYPED_TEST(PoolingTest, RejectsMapWhoseSizeDisagreesWithItsData) {
  using T = TypeParam;
  FeatureMap<T> map(Matrix<T>::Zero(2, 16), 4, 4);
  map.height = map.width = 640;
  EXPECT_THROW(max_pool2d(map, PoolOptions{}), ShapeError);
  EXPECT_THROW(avg_pool2d(map, PoolOptions{}), ShapeError);
}

}  // namespace
}  // namespace eigenformer
