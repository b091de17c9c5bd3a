#pragma once
// An ultralytics checkpoint's tensors together with what its pickled modules say about
// themselves (a BatchNorm's eps, an activation's class), for binding its blocks. ultralytics'
// initialize_weights sets every BatchNorm2d's eps to 1e-3, the default used when a module's
// attributes are not at hand.

#include <eigenformer/cnn/conv2d.hpp>
#include <eigenformer/cnn/conv_norm.hpp>
#include <eigenformer/core/error.hpp>
#include <eigenformer/core/state_dict.hpp>
#include <eigenformer/io/torch_checkpoint.hpp>
#include <eigenformer/nn/activations.hpp>

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>
#include <utility>

namespace eigenformer {

template <typename T>
class UltralyticsWeights {
 public:
  static constexpr double kBatchNormEps = 1e-3;

  UltralyticsWeights(const StateDict<T>& tensors, std::map<std::string, TorchModule> modules = {})
      : tensors_(tensors), modules_(std::move(modules)) {}

  const StateDict<T>& tensors() const { return tensors_; }
  const std::string& source() const { return tensors_.source(); }

  // `prefix` as a weight prefix ("model.0.stem1.bn."): the module at that dotted path.
  const TorchModule* module(const std::string& prefix) const {
    std::string path = prefix;
    if (!path.empty() && path.back() == '.') path.pop_back();
    auto found = modules_.find(path);
    return found == modules_.end() ? nullptr : &found->second;
  }

  double norm_eps(const std::string& prefix, double fallback) const {
    const TorchModule* info = module(prefix);
    if (!info || !info->attributes.is_object() || !info->attributes.contains("eps"))
      return fallback;
    const auto& eps = info->attributes["eps"];
    if (!eps.is_number() || !(eps.get<double>() >= 0.0) || !(eps.get<double>() < 1.0))
      throw FormatError(detail::concat(source(), ": module '", prefix, "' has eps ", eps.dump(),
                                       ", expected a small non-negative number"));
    return eps.get<double>();
  }

  // The activation module at `prefix` ("model.0.stem1.act."), when the checkpoint names its
  // class; `expected` otherwise. A class eigenformer does not know is refused.
  Activation activation(const std::string& prefix, Activation expected) const {
    const TorchModule* info = module(prefix);
    if (!info) return expected;
    const std::string& name = info->class_name;
    const std::string leaf = name.substr(name.rfind('.') + 1);
    if (leaf == "SiLU") return Activation::SiLU;
    if (leaf == "ReLU") return Activation::ReLU;
    if (leaf == "Identity") return Activation::Identity;
    if (leaf == "GELU") return Activation::GELU;
    if (leaf == "Sigmoid") return Activation::Sigmoid;
    throw FormatError(detail::concat(source(), ": module '", prefix, "' is a ", name,
                                     ", an activation eigenformer does not implement"));
  }

  // ultralytics' Conv at `prefix`: conv (bias-free, `groups`), BatchNorm `bn` folded in, act.
  Conv2d<T> conv_norm_act(const std::string& prefix, Index in_channels, Index out_channels,
                          Index kernel, Index stride, Index padding, Index groups,
                          Activation activation) const {
    if (groups < 1 || in_channels % groups != 0 || out_channels % groups != 0)
      throw FormatError(detail::concat(source(), ": '", prefix, "' has groups ", groups, " for ",
                                       in_channels, " -> ", out_channels, " channels"));
    const Conv2d<T> conv(
        tensors_.at(prefix + "conv.weight", {out_channels, in_channels / groups, kernel, kernel}),
        Tensor<T>(), stride, padding, this->activation(prefix + "act.", activation), groups);
    return fold_batch_norm(conv, tensors_, prefix + "bn.", norm_eps(prefix + "bn.", kBatchNormEps));
  }

 private:
  const StateDict<T>& tensors_;
  std::map<std::string, TorchModule> modules_;
};

}  // namespace eigenformer
