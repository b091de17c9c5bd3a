#pragma once
// Shared test helpers: fixture loading and element-wise comparison with the reference.

#include <eigenformer/io/safetensors.hpp>
#include <eigenformer/nn/layer_norm.hpp>
#include <eigenformer/nn/linear.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <string>

namespace eigenformer::testing {

inline std::string data_path(const std::string& relative) {
  return std::string(EIGENFORMER_TEST_DATA) + "/" + relative;
}

template <typename T>
const StateDict<T>& fixture(const std::string& relative) {
  static std::map<std::string, StateDict<T>> cache;
  auto found = cache.find(relative);
  if (found == cache.end())
    found = cache.emplace(relative, load_state_dict<T>(data_path(relative))).first;
  return found->second;
}

// rows x cols entries ~ N(0, scale^2), reproducible from `seed`.
template <typename T>
Matrix<T> random_matrix(Index rows, Index cols, unsigned seed, double scale = 1.0) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal(0.0, scale);
  Matrix<T> m(rows, cols);
  for (Index i = 0; i < m.size(); ++i) m.data()[i] = static_cast<T>(normal(rng));
  return m;
}

// A Linear of the given widths with random weights and zero bias, for shape checks.
template <typename T>
Linear<T> random_linear(Index in, Index out) {
  return Linear<T>(random_matrix<T>(out, in, 1), Vector<T>::Zero(out));
}

// A LayerNorm of width d with unit weight and zero bias.
template <typename T>
LayerNorm<T> identity_layer_norm(Index d) {
  return LayerNorm<T>(Tensor<T>({d}, std::vector<T>(static_cast<std::size_t>(d), T(1))),
                      Tensor<T>({d}, std::vector<T>(static_cast<std::size_t>(d), T(0))), T(1e-5));
}

// Largest absolute difference, with a message naming where it occurs.
template <typename A, typename B>
::testing::AssertionResult all_close(const Eigen::MatrixBase<A>& actual,
                                     const Eigen::MatrixBase<B>& expected, double tolerance) {
  if (actual.rows() != expected.rows() || actual.cols() != expected.cols())
    return ::testing::AssertionFailure()
           << "shape " << actual.rows() << "x" << actual.cols() << " != expected "
           << expected.rows() << "x" << expected.cols();
  double worst = 0;
  Index worst_row = 0, worst_col = 0;
  for (Index r = 0; r < actual.rows(); ++r)
    for (Index c = 0; c < actual.cols(); ++c) {
      const double diff =
          std::abs(static_cast<double>(actual(r, c)) - static_cast<double>(expected(r, c)));
      if (!(diff <= worst)) {  // also catches NaN
        worst = std::isnan(diff) ? INFINITY : diff;
        worst_row = r;
        worst_col = c;
      }
    }
  if (worst <= tolerance) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "max abs diff " << worst << " > " << tolerance << " at (" << worst_row << ", "
         << worst_col << "): actual " << actual(worst_row, worst_col) << ", expected "
         << expected(worst_row, worst_col);
}

}  // namespace eigenformer::testing
