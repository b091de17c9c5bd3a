#pragma once
// Row softmax. The row maximum is subtracted before exponentiating, so logits in the
// hundreds do not overflow. A row whose every entry is -inf (every key masked) becomes all
// zeros rather than NaN: eigenformer's documented convention for fully masked rows.

#include <eigenformer/core/types.hpp>

#include <cmath>
#include <limits>

namespace eigenformer {

template <typename Row>
void softmax_row(Row&& row) {
  using T = typename std::decay_t<Row>::Scalar;
  const T max = row.maxCoeff();
  if (max == -std::numeric_limits<T>::infinity()) {
    row.setZero();
    return;
  }
  row = (row.array() - max).exp();
  row /= row.sum();
}

template <typename T>
void softmax_rows(MutableMatrixView<T> x) {
  for (Index r = 0; r < x.rows(); ++r) softmax_row(x.row(r));
}

}  // namespace eigenformer
