#pragma once
// Embedding lookup with bounds checks: an id outside the table is an InvalidArgument, never
// an out-of-bounds read.

#include <eigenformer/core/state_dict.hpp>
#include <eigenformer/core/tensor.hpp>
#include <eigenformer/core/types.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace eigenformer {

template <typename T>
class Embedding {
 public:
  Embedding() = default;
  Embedding(Tensor<T> table, std::string name = "embedding")
      : table_(std::move(table)), name_(std::move(name)) {
    if (table_.rank() != 2)
      throw ShapeError(detail::concat(name_, ": table must be (num_embeddings, dim), got ",
                                      detail::shape_string(table_.shape())));
  }

  static Embedding load(const StateDict<T>& weights, const std::string& name, Index count,
                        Index dim) {
    return Embedding(weights.at(name, {count, dim}), name);
  }

  Index count() const { return table_.dim(0); }
  Index dim() const { return table_.dim(1); }
  ConstMatrixMap<T> table() const { return table_.matrix(); }

  // Row `id` of the table.
  auto row(std::int64_t id) const {
    check(id);
    return table().row(static_cast<Index>(id));
  }

  void check(std::int64_t id) const {
    if (id < 0 || id >= count())
      throw InvalidArgument(detail::concat(name_, ": id ", id, " out of range [0, ", count(), ")"));
  }

  // out.row(i) = table[ids[i]]; `out` must have ids.size() rows.
  template <typename Ids>
  void lookup(const Ids& ids, MutableMatrixView<T> out) const {
    for (Index i = 0; i < static_cast<Index>(ids.size()); ++i) out.row(i) = row(ids[i]);
  }

  Matrix<T> lookup(const std::vector<std::int64_t>& ids) const {
    Matrix<T> out(static_cast<Index>(ids.size()), dim());
    lookup(ids, out);
    return out;
  }

 private:
  Tensor<T> table_;
  std::string name_;
};

}  // namespace eigenformer
