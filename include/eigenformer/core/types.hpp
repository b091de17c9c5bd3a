#pragma once
// Matrix conventions used throughout eigenformer: activations are row-major
// `tokens x features`; a batch is several sequences stacked as rows.

// GCC 12's AVX-512 header trips -W(maybe-)uninitialized inside its own _mm512_undefined_*
// helpers wherever Eigen's kernels inline them (GCC bug 105593, fixed in GCC 13): hundreds of
// warnings about the compiler's header, none about this code. Included first, under a pragma
// that covers only the intrinsics headers' lines. The price, with GCC 12 only: an
// uninitialized vector passed to an intrinsic is reported at such a line, so it goes
// unreported too, in any file that includes eigenformer before <immintrin.h> or Eigen. On
// any x86 build: the run-time AVX-512 kernels (kernels/) use that header without -mavx512f.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ == 12 && \
    (defined(__x86_64__) || defined(__i386__))
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#endif

#include <Eigen/Core>
#include <cstdint>
#include <vector>

namespace eigenformer {

using Index = Eigen::Index;

template <typename T>
using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename T>
using Vector = Eigen::Matrix<T, Eigen::Dynamic, 1>;
template <typename T>
using RowVector = Eigen::Matrix<T, 1, Eigen::Dynamic>;

using BoolMatrix = Eigen::Matrix<bool, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using BoolVector = Eigen::Matrix<bool, Eigen::Dynamic, 1>;

// Read-only and writable views of a row-major matrix or of a column block of one
// (a head's slice of a fused projection): the outer stride may exceed the width.
template <typename T>
using MatrixView = Eigen::Ref<const Matrix<T>, 0, Eigen::OuterStride<>>;
template <typename T>
using MutableMatrixView = Eigen::Ref<Matrix<T>, 0, Eigen::OuterStride<>>;
template <typename T>
using VectorView = Eigen::Ref<const Vector<T>>;

template <typename T>
using ConstMatrixMap = Eigen::Map<const Matrix<T>>;
template <typename T>
using ConstVectorMap = Eigen::Map<const Vector<T>>;

}  // namespace eigenformer
