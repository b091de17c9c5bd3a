// PackedWeight's blocked micro-kernel product against Eigen's x * W^T (+ bias, then an
// activation): every row-tail and column-tail size, depths that split into several blocks,
// strided views in and out, and threaded against one thread.
#include <eigenformer/core/threading.hpp>
#include <eigenformer/nn/packed_weight.hpp>

#include "fixture.hpp"

namespace eigenformer {
namespace {

using testing::all_close;
using testing::random_matrix;

template <typename T>
class PackedWeightTest : public ::testing::Test {
 protected:
  // Relative to the size of a dot product of `depth` N(0, 1) terms: only rounding differs.
  static double tolerance(Index depth) {
    return (std::is_same_v<T, float> ? 2e-6 : 1e-14) * static_cast<double>(depth);
  }

  static void expect_matches_eigen(Index rows, Index depth, Index outputs, unsigned seed) {
    const Matrix<T> x = random_matrix<T>(rows, depth, seed);
    const Matrix<T> w = random_matrix<T>(outputs, depth, seed + 1);
    Matrix<T> out(rows, outputs);
    PackedWeight<T>(w).multiply(x, out);
    const Matrix<T> expected = x * w.transpose();
    EXPECT_TRUE(all_close(out, expected, tolerance(depth)))
        << rows << " x " << depth << " times (" << outputs << " x " << depth << ")^T";
  }

  // activation(x W^T + bias), the activation applied by the product to finished sums only.
  static void expect_biased_matches_eigen(Index rows, Index depth, Index outputs, unsigned seed,
                                          Activation activation) {
    const Matrix<T> x = random_matrix<T>(rows, depth, seed);
    const Matrix<T> w = random_matrix<T>(outputs, depth, seed + 1);
    const Vector<T> bias = random_matrix<T>(outputs, 1, seed + 2);
    Matrix<T> out(rows, outputs);
    PackedWeight<T>(w, bias).multiply(x, out, activation);
    Matrix<T> expected = (x * w.transpose()).rowwise() + bias.transpose();
    apply_activation(activation, expected);
    EXPECT_TRUE(all_close(out, expected, tolerance(depth)))
        << rows << " x " << depth << " times (" << outputs << " x " << depth << ")^T, "
        << static_cast<int>(activation);
  }
};

using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(PackedWeightTest, Scalars);

TYPED_TEST(PackedWeightTest, EveryRowAndColumnTailMatchesEigen) {
  const Index width = PackedWeight<TypeParam>().panel_width();  // the current variant's
  constexpr Index kRows = PackedWeight<TypeParam>::kRows;
  unsigned seed = 1;
  for (Index rows = 1; rows <= 2 * kRows + 1; ++rows)
    for (Index outputs : {Index{1}, width - 1, width, width + 1, 3 * width + 5})
      this->expect_matches_eigen(rows, 37, outputs, seed += 2);
}

TYPED_TEST(PackedWeightTest, BiasAndActivationOnEveryTailMatchEigen) {
  const Index width = PackedWeight<TypeParam>().panel_width();  // the current variant's
  constexpr Index kRows = PackedWeight<TypeParam>::kRows;
  unsigned seed = 101;
  // ReLU of a partial sum would differ from ReLU of the whole one: depth 600 makes three
  // depth blocks, and the activation must wait for the last.
  for (const Activation activation : {Activation::Identity, Activation::ReLU, Activation::GELU,
                                      Activation::GELUTanh, Activation::SiLU})
    for (Index depth : {Index{37}, Index{600}})
      for (Index rows : {Index{1}, kRows - 1, kRows, kRows + 1, 2 * kRows + 1})
        for (Index outputs : {Index{1}, width - 1, width, 3 * width + 5})
          this->expect_biased_matches_eigen(rows, depth, outputs, seed += 3, activation);
  // More rows than one row block, more panels than one panel block.
  this->expect_biased_matches_eigen(300, 300, 300, 7, Activation::GELU);
}

TYPED_TEST(PackedWeightTest, PackingAgainDropsTheBias) {
  using T = TypeParam;
  const Matrix<T> x = random_matrix<T>(4, 10, 61);
  const Matrix<T> w = random_matrix<T>(7, 10, 62);
  PackedWeight<T> packed(random_matrix<T>(7, 10, 63), Vector<T>::Constant(7, T(100)));
  EXPECT_TRUE(packed.has_bias());
  packed.pack(w);
  EXPECT_FALSE(packed.has_bias());
  Matrix<T> out(4, 7);
  packed.multiply(x, out);
  EXPECT_TRUE(all_close(out, x * w.transpose(), this->tolerance(10)));
}

TYPED_TEST(PackedWeightTest, UnpackReturnsThePackedWeightExactly) {
  const Index width = PackedWeight<TypeParam>().panel_width();  // the current variant's
  for (Index outputs : {Index{1}, width - 1, width, 3 * width + 5}) {
    const Matrix<TypeParam> w = random_matrix<TypeParam>(outputs, 300, 51);
    EXPECT_TRUE((PackedWeight<TypeParam>(w).unpack().array() == w.array()).all()) << outputs;
  }
  EXPECT_EQ(PackedWeight<TypeParam>().unpack().size(), 0);
}

TYPED_TEST(PackedWeightTest, DeepAndTallProductsSplitIntoBlocksMatchEigen) {
  // Depths beyond one depth block (equal splits that are not multiples of anything) and
  // more rows than one row block.
  this->expect_matches_eigen(130, 385, 70, 11);
  this->expect_matches_eigen(200, 1537, 48, 13);
  this->expect_matches_eigen(7, 3072, 33, 15);
  // Three row blocks, two depth blocks, panel blocks of 8 and 5 panels: every case of the
  // next slice that is prefetched (the short block wraps to the first for the next rows).
  this->expect_matches_eigen(300, 300, 200, 19);
  // Weights of more than one huge page (2 MiB): packed into memory mapped for huge pages.
  this->expect_matches_eigen(20, 1100, 500, 17);
}

TYPED_TEST(PackedWeightTest, ReadsAndWritesColumnBlocksOfWiderMatrices) {
  using T = TypeParam;
  const Matrix<T> wide_x = random_matrix<T>(9, 50, 21);
  const Matrix<T> w = random_matrix<T>(19, 20, 22);
  Matrix<T> wide_out = Matrix<T>::Constant(9, 40, T(7));
  PackedWeight<T>(w).multiply(wide_x.middleCols(5, 20), wide_out.middleCols(11, 19));
  const Matrix<T> expected = wide_x.middleCols(5, 20) * w.transpose();
  EXPECT_TRUE(all_close(wide_out.middleCols(11, 19), expected, this->tolerance(20)));
  // Columns outside the block are untouched.
  EXPECT_TRUE((wide_out.leftCols(11).array() == T(7)).all());
  EXPECT_TRUE((wide_out.rightCols(10).array() == T(7)).all());
  // The same with a bias and an activation, which must not spill outside the block either.
  const Vector<T> bias = random_matrix<T>(19, 1, 23);
  wide_out.setConstant(T(7));
  PackedWeight<T>(w, bias).multiply(wide_x.middleCols(5, 20), wide_out.middleCols(11, 19),
                                    Activation::GELU);
  Matrix<T> activated = expected.rowwise() + bias.transpose();
  apply_activation(Activation::GELU, activated);
  EXPECT_TRUE(all_close(wide_out.middleCols(11, 19), activated, this->tolerance(20)));
  EXPECT_TRUE((wide_out.leftCols(11).array() == T(7)).all());
  EXPECT_TRUE((wide_out.rightCols(10).array() == T(7)).all());
}

TYPED_TEST(PackedWeightTest, ThreadedProductEqualsSingleThreadedBitForBit) {
  using T = TypeParam;
  const int threads = num_threads();
  // Many panels (shrinking chunks), and fewer panels than twice the threads (every chunk at
  // its minimum size, some threads without one).
  for (const Index outputs : {Index{1000}, Index{40}}) {
    const Index rows = outputs == 1000 ? 128 : 2048;  // enough work to go parallel
    const Matrix<T> x = random_matrix<T>(rows, 384, 31);
    const Matrix<T> w = random_matrix<T>(outputs, 384, 32);
    const PackedWeight<T> packed(w, random_matrix<T>(outputs, 1, 33));
    Matrix<T> serial(rows, outputs);
    set_num_threads(1);
    packed.multiply(x, serial, Activation::GELU);
    for (const int parallel : {2, 3, 4}) {
      Matrix<T> threaded = Matrix<T>::Constant(rows, outputs, T(-1));
      set_num_threads(parallel);
      packed.multiply(x, threaded, Activation::GELU);
      // Each output column is computed by one thread in the same order either way.
      EXPECT_TRUE((serial.array() == threaded.array()).all())
          << outputs << " outputs, " << parallel;
    }
  }
  set_num_threads(threads);
}

TYPED_TEST(PackedWeightTest, EmptyProductsAndShapeMismatches) {
  using T = TypeParam;
  const PackedWeight<T> packed(random_matrix<T>(5, 4, 41));
  Matrix<T> none(0, 5);
  EXPECT_NO_THROW(packed.multiply(Matrix<T>(0, 4), none));
  Matrix<T> out(2, 5);
  EXPECT_THROW(packed.multiply(Matrix<T>::Zero(2, 3), out), ShapeError);
  Matrix<T> wrong(2, 6);
  EXPECT_THROW(packed.multiply(Matrix<T>::Zero(2, 4), wrong), ShapeError);
  // No inputs at all: every output is an empty sum, plus the bias.
  Matrix<T> zeros = Matrix<T>::Constant(3, 5, T(1));
  PackedWeight<T>(Matrix<T>(5, 0)).multiply(Matrix<T>(3, 0), zeros);
  EXPECT_TRUE(zeros.isZero());
  const Vector<T> bias = Vector<T>::LinSpaced(5, T(-2), T(2));
  Matrix<T> relu_of_bias(3, 5);
  PackedWeight<T>(Matrix<T>(5, 0), bias).multiply(Matrix<T>(3, 0), relu_of_bias, Activation::ReLU);
  for (Index r = 0; r < 3; ++r)
    EXPECT_TRUE((relu_of_bias.row(r).transpose().array() == bias.array().max(T(0))).all());
  EXPECT_THROW(PackedWeight<T>(Matrix<T>(5, 4), Vector<T>(4)), ShapeError);
}

}  // namespace
}  // namespace eigenformer
