#pragma once
// A batch of variable-length sequences stacked as rows of one matrix: sequence i occupies
// rows [offset(i), offset(i) + length(i)). Stacking lets every projection be one GEMM.

#include <eigenformer/core/error.hpp>
#include <eigenformer/core/types.hpp>

#include <algorithm>
#include <initializer_list>
#include <limits>
#include <vector>

namespace eigenformer {

class SequenceBatch {
 public:
  SequenceBatch() = default;
  explicit SequenceBatch(std::vector<Index> lengths) : lengths_(std::move(lengths)) {
    offsets_.reserve(lengths_.size() + 1);
    for (Index length : lengths_) {
      if (length < 0)
        throw InvalidArgument(detail::concat("sequence length ", length, " is negative"));
      if (length > std::numeric_limits<Index>::max() - offsets_.back())
        throw InvalidArgument(detail::concat("sequence lengths add up to more than ",
                                             std::numeric_limits<Index>::max(), " rows"));
      offsets_.push_back(offsets_.back() + length);
    }
  }
  SequenceBatch(std::initializer_list<Index> lengths)
      : SequenceBatch(std::vector<Index>(lengths)) {}

  static SequenceBatch uniform(Index count, Index length) {
    if (count < 0) throw InvalidArgument(detail::concat("sequence count ", count, " is negative"));
    return SequenceBatch(std::vector<Index>(static_cast<std::size_t>(count), length));
  }
  // One sequence of `length` rows.
  static SequenceBatch single(Index length) { return uniform(1, length); }

  Index size() const { return static_cast<Index>(lengths_.size()); }
  Index length(Index i) const { return lengths_[static_cast<std::size_t>(i)]; }
  Index offset(Index i) const { return offsets_[static_cast<std::size_t>(i)]; }
  Index total_rows() const { return offsets_.empty() ? 0 : offsets_.back(); }
  Index max_length() const {
    return lengths_.empty() ? 0 : *std::max_element(lengths_.begin(), lengths_.end());
  }
  const std::vector<Index>& lengths() const { return lengths_; }

  void check_rows(Index rows, const char* what) const {
    if (rows != total_rows())
      throw ShapeError(detail::concat(what, " has ", rows,
                                      " rows but the sequence lengths add up to ", total_rows()));
  }

 private:
  std::vector<Index> lengths_;
  std::vector<Index> offsets_{0};
};

}  // namespace eigenformer
