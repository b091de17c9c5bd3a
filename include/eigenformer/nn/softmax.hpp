#pragma once
// Row softmax. The row maximum is subtracted before exponentiating, so logits in the
// hundreds do not overflow. A row whose every entry is -inf (every key masked) becomes all
// zeros, as F.scaled_dot_product_attention's softmax does since PyTorch 2.5 (_safe_softmax,
// pytorch#133882); plain torch.softmax, and SDPA before 2.5, give NaN there. An empty row is
// left as it is.

#include <eigenformer/core/types.hpp>

#include <cmath>
#include <limits>

namespace eigenformer {

template <typename Row>
void softmax_row(Row&& row) {
  using T = typename std::decay_t<Row>::Scalar;
  if (row.size() == 0) return;  // maxCoeff() of an empty row is undefined
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
