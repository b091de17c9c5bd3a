#pragma once
// Named tensors, as PyTorch's `state_dict()` names them. Blocks bind their weights from a
// StateDict by name and prefix ("layers.0." + "self_attn.in_proj_weight"); every lookup
// checks presence and shape and says which tensor and what was expected.
//
// A generating StateDict (benchmarks, tests) makes each tensor a loader asks for with its
// shape on the first at(name, shape), so a model's loader is the only statement of its layout.

#include <eigenformer/core/error.hpp>
#include <eigenformer/core/tensor.hpp>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace eigenformer {

template <typename T>
class StateDict {
 public:
  // Makes the tensor `name` of `shape` for a generating StateDict.
  using Generator = std::function<Tensor<T>(const std::string& name, const Shape& shape)>;

  explicit StateDict(std::string source = "state dict") : source_(std::move(source)) {}

  // Missing tensors are made by `generate` on the first at(name, shape), then kept. It runs
  // under a lock, so const lookups stay thread-safe; it must not call back into the dict.
  StateDict(std::string source, Generator generate)
      : source_(std::move(source)),
        generate_(std::move(generate)),
        mutex_(generate_ ? std::make_shared<std::mutex>() : nullptr) {}

  const std::string& source() const { return source_; }
  bool generates() const { return static_cast<bool>(generate_); }
  std::size_t size() const {
    const auto lock = lock_generated();
    return tensors_.size();
  }
  // True for unusable tensors too, so that a block asking for an optional one learns why
  // it cannot have it instead of silently going without. Generating dicts hold only what was
  // asked for, so optional tensors stay absent and loaders keep their default structure.
  bool contains(const std::string& name) const {
    const auto lock = lock_generated();
    return tensors_.count(name) != 0 || unusable_.count(name) != 0;
  }

  void insert(const std::string& name, Tensor<T> tensor) {
    const auto lock = lock_generated();
    if (unusable_.count(name) != 0 || !tensors_.emplace(name, std::move(tensor)).second)
      throw FormatError(detail::concat(source_, ": duplicate tensor '", name, "'"));
  }

  // A tensor the source holds but that cannot serve as T, `reason` saying why (an integer
  // tensor in a floating-point model: a buffer such as position_ids, which nothing asks
  // for, or a quantized weight, which must not be read as its raw integers).
  void insert_unusable(const std::string& name, std::string reason) {
    const auto lock = lock_generated();
    if (tensors_.count(name) != 0 || !unusable_.emplace(name, std::move(reason)).second)
      throw FormatError(detail::concat(source_, ": duplicate tensor '", name, "'"));
  }

  std::vector<std::string> names() const {
    const auto lock = lock_generated();
    std::vector<std::string> out;
    out.reserve(tensors_.size());
    for (const auto& entry : tensors_) out.push_back(entry.first);
    return out;
  }

  // Without a shape nothing can be generated: a missing tensor is an error in any dict.
  const Tensor<T>& at(const std::string& name) const {
    const auto lock = lock_generated();
    return find(name, nullptr);
  }

  const Tensor<T>& at(const std::string& name, const Shape& expected) const {
    const auto lock = lock_generated();
    const Tensor<T>& tensor = find(name, &expected);
    if (tensor.shape() != expected)
      throw ShapeError(detail::concat(source_, ": tensor '", name, "' has shape ",
                                      detail::shape_string(tensor.shape()), ", expected ",
                                      detail::shape_string(expected)));
    return tensor;
  }

  ConstMatrixMap<T> matrix(const std::string& name, Index rows, Index cols) const {
    return at(name, {rows, cols}).matrix();
  }
  ConstVectorMap<T> vector(const std::string& name, Index size) const {
    return at(name, {size}).vector();
  }

 private:
  // Locks only a generating dict: only there do the const lookups modify tensors_.
  std::unique_lock<std::mutex> lock_generated() const {
    return mutex_ ? std::unique_lock<std::mutex>(*mutex_) : std::unique_lock<std::mutex>();
  }

  // The tensor `name`, generated when missing if `shape` is given; the caller holds the lock.
  // std::map keeps references to its elements valid across later insertions.
  const Tensor<T>& find(const std::string& name, const Shape* shape) const {
    auto found = tensors_.find(name);
    if (found != tensors_.end()) return found->second;
    auto unusable = unusable_.find(name);
    if (unusable != unusable_.end())
      throw FormatError(detail::concat(source_, ": tensor '", name, "' ", unusable->second));
    if (generate_ && shape) {
      Tensor<T> made = generate_(name, *shape);
      if (made.shape() != *shape)
        throw ShapeError(detail::concat(source_, ": the generator made tensor '", name,
                                        "' with shape ", detail::shape_string(made.shape()),
                                        ", expected ", detail::shape_string(*shape)));
      return tensors_.emplace(name, std::move(made)).first->second;
    }
    throw FormatError(
        detail::concat(source_, ": missing tensor '", name, "'", nearby(name),
                       generate_ ? " (generated only when asked for with a shape)" : ""));
  }

  // For a missing name, list the tensors that share its longest dotted prefix: typos and
  // wrong prefixes are the usual cause.
  std::string nearby(const std::string& name) const {
    std::string prefix = name;
    while (!prefix.empty()) {
      // The guard matters for prefix ".": size() - 2 would wrap and find that dot forever.
      const auto dot =
          prefix.size() < 2 ? std::string::npos : prefix.find_last_of('.', prefix.size() - 2);
      prefix = dot == std::string::npos ? std::string() : prefix.substr(0, dot + 1);
      std::vector<std::string> similar;
      for (auto it = tensors_.lower_bound(prefix);
           it != tensors_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it)
        similar.push_back(it->first);
      if (!similar.empty() && (!prefix.empty() || similar.size() <= 8)) {
        std::string out = "; tensors";
        out += prefix.empty() ? std::string(" present") : " under '" + prefix + "'";
        out += ":";
        for (std::size_t i = 0; i < similar.size() && i < 8; ++i) out += " " + similar[i];
        if (similar.size() > 8) out += detail::concat(" ... (", similar.size(), " in all)");
        return out;
      }
    }
    return detail::concat("; the file holds ", tensors_.size(), " tensors");
  }

  std::string source_;
  Generator generate_;
  // Shared so that the dict stays copyable and movable; null unless generate_ is set.
  std::shared_ptr<std::mutex> mutex_;
  mutable std::map<std::string, Tensor<T>> tensors_;
  std::map<std::string, std::string> unusable_;
};

}  // namespace eigenformer
