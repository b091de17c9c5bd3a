#pragma once
// An N-d, row-major (C order), read-only tensor as safetensors and PyTorch store it.
// Storage is shared: a tensor is either a view into a memory-mapped file (kept alive by
// `owner`) or owns a converted copy. Copying a Tensor never copies the data.

#include <eigenformer/core/error.hpp>
#include <eigenformer/core/types.hpp>

#include <cstdint>
#include <memory>
#include <numeric>
#include <utility>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

namespace eigenformer {

using Shape = std::vector<Index>;

inline Index shape_numel(const Shape& shape) {
  return std::accumulate(shape.begin(), shape.end(), Index{1}, std::multiplies<Index>());
}

template <typename T>
class Tensor {
 public:
  Tensor() = default;

  Tensor(Shape shape, std::vector<T> values) : shape_(std::move(shape)) {
    if (shape_numel(shape_) != static_cast<Index>(values.size()))
      throw ShapeError(detail::concat("Tensor: shape ", detail::shape_string(shape_), " holds ",
                                      shape_numel(shape_), " values, got ", values.size()));
    auto storage = std::make_shared<std::vector<T>>(std::move(values));
    data_ = storage->data();
    owner_ = std::move(storage);
  }

  // A view of `data`, valid while `owner` lives.
  Tensor(Shape shape, const T* data, std::shared_ptr<const void> owner)
      : shape_(std::move(shape)), data_(data), owner_(std::move(owner)), is_view_(true) {}

  static Tensor from_matrix(const Matrix<T>& m) {
    return Tensor({m.rows(), m.cols()}, std::vector<T>(m.data(), m.data() + m.size()));
  }

  const Shape& shape() const { return shape_; }
  Index rank() const { return static_cast<Index>(shape_.size()); }
  Index dim(Index i) const { return shape_.at(static_cast<std::size_t>(i)); }
  Index size() const { return shape_numel(shape_); }
  bool empty() const { return data_ == nullptr; }
  const T* data() const { return data_; }
  T operator[](Index i) const { return data_[i]; }
  // True when this tensor shares memory with a mapped file rather than owning a copy.
  bool is_view() const { return is_view_; }

  // A hint, for a view into a mapped file whose values were copied elsewhere (a layer that
  // repacked its weight): the whole pages it covers leave this process's resident memory
  // (MADV_PAGEOUT). The data stays valid; a later read brings the pages back from the
  // file. Does nothing for owned tensors, or where the hint is not available.
  void release_resident_pages() const {
#if defined(__linux__) && defined(MADV_PAGEOUT)
    if (!is_view_ || data_ == nullptr) return;
    const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
    const auto begin = reinterpret_cast<std::uintptr_t>(data_);
    const auto end = begin + static_cast<std::uintptr_t>(size()) * sizeof(T);
    // Only pages that hold nothing but this tensor: neighbours may still be in use.
    const std::uintptr_t first = (begin + page - 1) / page * page, last = end / page * page;
    if (first < last) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_PAGEOUT);
#endif
  }

  // All leading dimensions flattened into rows, the last one as columns: (B, L, D) -> (B*L, D).
  // A rank-1 tensor is one row.
  ConstMatrixMap<T> matrix() const {
    const Index cols = shape_.empty() ? 1 : shape_.back();
    return ConstMatrixMap<T>(data_, cols == 0 ? 0 : size() / cols, cols);
  }
  ConstMatrixMap<T> matrix(Index rows, Index cols) const {
    if (rows * cols != size())
      throw ShapeError(detail::concat("Tensor of shape ", detail::shape_string(shape_),
                                      " cannot be viewed as ", rows, " x ", cols));
    return ConstMatrixMap<T>(data_, rows, cols);
  }
  ConstVectorMap<T> vector() const { return ConstVectorMap<T>(data_, size()); }

  // Rows [begin, begin + count) of the first dimension, sharing this tensor's storage
  // (a packed `in_proj_weight` split into its query, key and value parts).
  Tensor slice_rows(Index begin, Index count) const {
    if (rank() < 1 || begin < 0 || count < 0 || begin + count > dim(0))
      throw ShapeError(detail::concat("Tensor of shape ", detail::shape_string(shape_), ": rows [",
                                      begin, ", ", begin + count, ") out of range"));
    Shape shape = shape_;
    shape[0] = count;
    const Index row_size = dim(0) == 0 ? 0 : size() / dim(0);
    Tensor view(std::move(shape), data_ + begin * row_size, owner_);
    view.is_view_ = is_view_;
    return view;
  }

 private:
  Shape shape_;
  const T* data_ = nullptr;
  std::shared_ptr<const void> owner_;
  bool is_view_ = false;
};

}  // namespace eigenformer
