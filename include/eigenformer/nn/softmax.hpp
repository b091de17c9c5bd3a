#pragma once
// Row softmax. The row maximum is subtracted before exponentiating, so logits in the
// hundreds do not overflow. A row whose every entry is -inf (every key masked) becomes all
// zeros, as F.scaled_dot_product_attention's softmax does since PyTorch 2.5 (_safe_softmax,
// pytorch#133882); plain torch.softmax, and SDPA before 2.5, give NaN there. An empty row is
// left as it is.

#include <eigenformer/core/types.hpp>
#include <eigenformer/kernels/rows_x86.hpp>

#include <cmath>
#include <limits>
#include <type_traits>

namespace eigenformer {

// exp(x - max) and its sum are taken in one pass, then the row is multiplied by 1 / sum, as
// PyTorch's vectorised CPU softmax multiplies (aten/src/ATen/native/cpu/SoftMaxKernel.cpp,
// _vec_softmax_lastdim, which sums in a pass of its own); docs/performance.md has its timing.
// Float rows run the run-time AVX2 / AVX-512 kernel of the same passes when one is chosen.
template <typename Row>
void softmax_row(Row&& row) {
  using RowType = std::decay_t<Row>;
  using T = typename RowType::Scalar;
  using Packet = typename Eigen::internal::packet_traits<T>::type;
  constexpr Index kPacketSize = Eigen::internal::packet_traits<T>::size;
  static_assert(RowType::InnerStrideAtCompileTime == 1, "softmax_row reads the row contiguously");
  const Index size = row.size();
  if (size == 0) return;  // maxCoeff() of an empty row is undefined
  if constexpr (std::is_same_v<T, float>)
    if (kernels::softmax_row(kernel_variant(), row.data(), size)) return;
  const T max = row.maxCoeff();
  if (max == -std::numeric_limits<T>::infinity()) {
    row.setZero();
    return;
  }
  using namespace Eigen::internal;
  T* data = row.data();
  const Packet packet_max = pset1<Packet>(max);
  Packet packet_sum = pset1<Packet>(T(0));
  Index i = 0;
  for (; i + kPacketSize <= size; i += kPacketSize) {
    const Packet e = pexp(psub(ploadu<Packet>(data + i), packet_max));
    pstoreu(data + i, e);
    packet_sum = padd(packet_sum, e);
  }
  T sum = predux(packet_sum);
  for (; i < size; ++i) sum += data[i] = std::exp(data[i] - max);
  row *= T(1) / sum;
}

template <typename T>
void softmax_rows(MutableMatrixView<T> x) {
  for (Index r = 0; r < x.rows(); ++r) softmax_row(x.row(r));
}

}  // namespace eigenformer
