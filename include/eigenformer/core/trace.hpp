#pragma once
// One way of looking inside a forward pass: a model's forward hands an optional Trace sink its
// intermediate values, each under the upstream module name that computed it (HF's
// "model.encoder.aifi.0", ultralytics' "model.12"), what a PyTorch forward hook on that module
// would see. A value that is no module's output (a kernel's input) is named
// "<module>:<argument>", the module that receives it and the argument's upstream name.

// FeatureMap is a plain struct over core (a matrix and its height and width), so core may
// record it without depending on any convolution code.
#include <eigenformer/cnn/feature_map.hpp>
#include <eigenformer/core/error.hpp>
#include <eigenformer/core/types.hpp>

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace eigenformer {

// Called on the thread that runs forward, in computation order; a sink shared by concurrent
// forward calls must do its own locking.
template <typename T>
class Trace {
 public:
  virtual ~Trace() = default;
  // Activations, rows as the recording block documents (tokens x features for sequences).
  virtual void record(const std::string& module, const MatrixView<T>& value) = 0;
  // A convolutional stage's output map.
  virtual void record(const std::string& module, const FeatureMap<T>& value) = 0;
  // Whether `module` and its submodules' values are wanted at all: a block skips work done
  // only for the trace (deformable attention's value projection) when not.
  virtual bool wants(const std::string& module) const {
    (void)module;
    return true;
  }
};

namespace detail {

// `module` + "." + `child`, or `child` alone under an unnamed (default-constructed) module.
inline std::string module_path(const std::string& module, const std::string& child) {
  return module.empty() ? child : module + "." + child;
}

// The module path a load `prefix` names: "model.decoder.layers.0." -> "model.decoder.layers.0".
inline std::string module_of_prefix(const std::string& prefix) {
  return !prefix.empty() && prefix.back() == '.' ? prefix.substr(0, prefix.size() - 1) : prefix;
}

}  // namespace detail

// A sink that keeps a copy of every recorded value (or of those `keep` accepts), call after
// call: a module that runs several times in one pass records once per call.
template <typename T>
class TraceRecorder : public Trace<T> {
 public:
  using Filter = std::function<bool(const std::string& module)>;

  TraceRecorder() = default;
  explicit TraceRecorder(Filter keep) : keep_(std::move(keep)) {}

  void record(const std::string& module, const MatrixView<T>& value) override {
    if (keep_ && !keep_(module)) return;
    matrices_[module].emplace_back(value);
    order_.push_back(module);
  }
  void record(const std::string& module, const FeatureMap<T>& value) override {
    if (keep_ && !keep_(module)) return;
    maps_[module].push_back(value);
    order_.push_back(module);
  }

  // Names in recording order, once per call.
  const std::vector<std::string>& names() const { return order_; }
  bool contains(const std::string& module) const {
    return matrices_.count(module) != 0 || maps_.count(module) != 0;
  }
  std::size_t calls(const std::string& module) const {
    auto m = matrices_.find(module);
    if (m != matrices_.end()) return m->second.size();
    auto f = maps_.find(module);
    return f != maps_.end() ? f->second.size() : 0;
  }

  // The value of `module`'s call number `call` (0 = first).
  const Matrix<T>& matrix(const std::string& module, std::size_t call = 0) const {
    return find(matrices_, module, call, "matrix");
  }
  const FeatureMap<T>& map(const std::string& module, std::size_t call = 0) const {
    return find(maps_, module, call, "feature map");
  }

 private:
  template <typename Value>
  const Value& find(const std::map<std::string, std::vector<Value>>& values,
                    const std::string& module, std::size_t call, const char* kind) const {
    auto found = values.find(module);
    if (found == values.end())
      throw InvalidArgument(detail::concat("trace: no ", kind, " recorded for '", module, "' (",
                                           order_.size(), " values recorded",
                                           contains(module) ? ", of the other kind" : "", ")"));
    if (call >= found->second.size())
      throw InvalidArgument(detail::concat("trace: '", module, "' was recorded ",
                                           found->second.size(), " times, call ", call,
                                           " asked for"));
    return found->second[call];
  }

  Filter keep_;
  std::map<std::string, std::vector<Matrix<T>>> matrices_;
  std::map<std::string, std::vector<FeatureMap<T>>> maps_;
  std::vector<std::string> order_;
};

}  // namespace eigenformer
