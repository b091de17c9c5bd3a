#pragma once
// Element-wise activations, applied in place to a matrix of activations.

#include <eigenformer/core/error.hpp>
#include <eigenformer/core/types.hpp>
#include <eigenformer/kernels/rows_x86.hpp>

#include <unsupported/Eigen/SpecialFunctions>

#include <cmath>
#include <string>
#include <type_traits>

namespace eigenformer {

enum class Activation { Identity, ReLU, GELU, GELUTanh, SiLU, Sigmoid };

// Names as PyTorch modules and HF configs spell them ("gelu" is the erf form; "gelu_new"
// and "gelu_pytorch_tanh" are the tanh approximation; "swish" is SiLU).
inline Activation parse_activation(const std::string& name) {
  if (name == "relu") return Activation::ReLU;
  if (name == "gelu") return Activation::GELU;
  if (name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "gelu_fast" ||
      name == "tanh_gelu")
    return Activation::GELUTanh;
  if (name == "silu" || name == "swish") return Activation::SiLU;
  if (name == "sigmoid") return Activation::Sigmoid;
  if (name == "identity" || name == "linear") return Activation::Identity;
  throw InvalidArgument(
      "unsupported activation '" + name +
      "' (expected relu, gelu, gelu_new, gelu_pytorch_tanh, silu, swish, sigmoid)");
}

template <typename T>
T relu(T x) {
  return x > T(0) ? x : T(0);
}

// 0.5 x (1 + erf(x / sqrt 2)): PyTorch's F.gelu(approximate="none").
template <typename T>
T gelu(T x) {
  return T(0.5) * x * (T(1) + std::erf(x * T(0.70710678118654752440)));
}

// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))): F.gelu(approximate="tanh"), HF "gelu_new".
template <typename T>
T gelu_tanh(T x) {
  const T inner = T(0.79788456080286535588) * (x + T(0.044715) * x * x * x);
  return T(0.5) * x * (T(1) + std::tanh(inner));
}

template <typename T>
T sigmoid(T x) {
  return T(1) / (T(1) + std::exp(-x));
}

template <typename T>
T silu(T x) {
  return x * sigmoid(x);
}

template <typename T>
T activate(Activation activation, T x) {
  switch (activation) {
    case Activation::Identity:
      return x;
    case Activation::ReLU:
      return relu(x);
    case Activation::GELU:
      return gelu(x);
    case Activation::GELUTanh:
      return gelu_tanh(x);
    case Activation::SiLU:
      return silu(x);
    case Activation::Sigmoid:
      return sigmoid(x);
  }
  return x;
}

// Applies `activation` to every element of `x` in place. Written as Eigen array
// expressions so that erf, tanh and exp run on SIMD packets (Eigen's float erf and tanh
// are rational approximations accurate to a few ulp). Float GELU on memory with unit inner
// stride runs the run-time AVX2 / AVX-512 kernel when one is chosen (the feed-forward's).
template <typename Derived>
void apply_activation(Activation activation, Eigen::DenseBase<Derived>& x) {
  using T = typename Derived::Scalar;
  constexpr bool kDirect =
      (int(Derived::Flags) & Eigen::DirectAccessBit) && (int(Derived::Flags) & Eigen::LvalueBit);
  if constexpr (std::is_same_v<T, float> && kDirect) {
    Derived& d = x.derived();
    if (activation == Activation::GELU && d.innerStride() == 1 &&
        kernels::gelu_rows(kernel_variant(), d.data(), d.outerSize(), d.innerSize(),
                           d.outerStride()))
      return;
  }
  auto a = x.derived().array();
  switch (activation) {
    case Activation::Identity:
      return;
    case Activation::ReLU:
      a = a.max(T(0));
      return;
    case Activation::GELU:
      a = T(0.5) * a * (T(1) + (a * T(0.70710678118654752440)).erf());
      return;
    case Activation::GELUTanh:
      a = T(0.5) * a * (T(1) + (T(0.79788456080286535588) * (a + T(0.044715) * a.cube())).tanh());
      return;
    case Activation::SiLU:
      a = a / (T(1) + (-a).exp());
      return;
    case Activation::Sigmoid:
      a = T(1) / (T(1) + (-a).exp());
      return;
  }
}

}  // namespace eigenformer
