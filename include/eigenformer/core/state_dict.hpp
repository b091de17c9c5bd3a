#pragma once
// Named tensors, as PyTorch's `state_dict()` names them. Blocks bind their weights from a
// StateDict by name and prefix ("layers.0." + "self_attn.in_proj_weight"); every lookup
// checks presence and shape and says which tensor and what was expected.

#include <eigenformer/core/error.hpp>
#include <eigenformer/core/tensor.hpp>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace eigenformer {

template <typename T>
class StateDict {
 public:
  explicit StateDict(std::string source = "state dict") : source_(std::move(source)) {}

  const std::string& source() const { return source_; }
  std::size_t size() const { return tensors_.size(); }
  // True for unusable tensors too, so that a block asking for an optional one learns why
  // it cannot have it instead of silently going without.
  bool contains(const std::string& name) const {
    return tensors_.count(name) != 0 || unusable_.count(name) != 0;
  }

  void insert(const std::string& name, Tensor<T> tensor) {
    if (unusable_.count(name) != 0 || !tensors_.emplace(name, std::move(tensor)).second)
      throw FormatError(detail::concat(source_, ": duplicate tensor '", name, "'"));
  }

  // A tensor the source holds but that cannot serve as T, `reason` saying why (an integer
  // tensor in a floating-point model: a buffer such as position_ids, which nothing asks
  // for, or a quantized weight, which must not be read as its raw integers).
  void insert_unusable(const std::string& name, std::string reason) {
    if (tensors_.count(name) != 0 || !unusable_.emplace(name, std::move(reason)).second)
      throw FormatError(detail::concat(source_, ": duplicate tensor '", name, "'"));
  }

  std::vector<std::string> names() const {
    std::vector<std::string> out;
    out.reserve(tensors_.size());
    for (const auto& entry : tensors_) out.push_back(entry.first);
    return out;
  }

  const Tensor<T>& at(const std::string& name) const {
    auto found = tensors_.find(name);
    if (found != tensors_.end()) return found->second;
    auto unusable = unusable_.find(name);
    if (unusable != unusable_.end())
      throw FormatError(detail::concat(source_, ": tensor '", name, "' ", unusable->second));
    throw FormatError(detail::concat(source_, ": missing tensor '", name, "'", nearby(name)));
  }

  const Tensor<T>& at(const std::string& name, const Shape& expected) const {
    const Tensor<T>& tensor = at(name);
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
  std::map<std::string, Tensor<T>> tensors_;
  std::map<std::string, std::string> unusable_;
};

}  // namespace eigenformer
