#pragma once
// Sentence embeddings from token embeddings, as sentence-transformers' Pooling and
// Normalize modules compute them. Only rows marked valid count (padding is ignored).

#include <eigenformer/core/error.hpp>
#include <eigenformer/core/sequence_batch.hpp>
#include <eigenformer/core/types.hpp>

#include <algorithm>
#include <limits>
#include <string>

namespace eigenformer {

enum class Pooling { CLS, Mean, Max };

inline Pooling parse_pooling(const std::string& name) {
  if (name == "cls") return Pooling::CLS;
  if (name == "mean") return Pooling::Mean;
  if (name == "max") return Pooling::Max;
  throw InvalidArgument("unknown pooling '" + name + "' (expected cls, mean or max)");
}

// One row per sequence. `valid`, when non-empty, flags each row of `tokens` (false =
// padding); sentence-transformers' mean divides by max(count, 1e-9).
template <typename T>
Matrix<T> pool(const MatrixView<T>& tokens, const SequenceBatch& batch, Pooling pooling,
               const BoolVector& valid = BoolVector()) {
  batch.check_rows(tokens.rows(), "pooling input");
  if (valid.size() && valid.size() != tokens.rows())
    throw ShapeError(
        detail::concat("pooling: ", valid.size(), " validity flags for ", tokens.rows(), " rows"));
  auto is_valid = [&](Index row) { return valid.size() == 0 || valid(row); };
  Matrix<T> out(batch.size(), tokens.cols());
  for (Index b = 0; b < batch.size(); ++b) {
    const Index begin = batch.offset(b), length = batch.length(b);
    auto row = out.row(b);
    switch (pooling) {
      case Pooling::CLS:
        if (length == 0) throw InvalidArgument("CLS pooling of an empty sequence");
        row = tokens.row(begin);
        break;
      case Pooling::Mean: {
        row.setZero();
        T count = 0;
        for (Index r = begin; r < begin + length; ++r)
          if (is_valid(r)) row += tokens.row(r), count += 1;
        row /= std::max(count, T(1e-9));
        break;
      }
      case Pooling::Max: {
        // sentence-transformers sets padded tokens to -1e9 before the max.
        row.setConstant(T(-1e9));
        for (Index r = begin; r < begin + length; ++r)
          if (is_valid(r)) row = row.cwiseMax(tokens.row(r));
        break;
      }
    }
  }
  return out;
}

// Each row divided by its L2 norm (torch.nn.functional.normalize: norm clamped at 1e-12).
template <typename T>
void l2_normalize_rows(Matrix<T>& x) {
  for (Index r = 0; r < x.rows(); ++r) x.row(r) /= std::max(x.row(r).norm(), T(1e-12));
}

}  // namespace eigenformer
