#pragma once
// y = x W^T + b with W in PyTorch's (out_features, in_features) layout, optionally followed
// by an activation. The weight and bias are kept only in the form packed once at
// construction for the products (nn/packed_weight.hpp), shared between copies of the layer,
// so nothing is copied or repacked per call, and a memory-mapped weight costs no resident
// memory once packed. The product adds the bias and applies the activation as it writes
// each block of the output, not in passes of their own.

#include <eigenformer/core/state_dict.hpp>
#include <eigenformer/core/tensor.hpp>
#include <eigenformer/core/types.hpp>
#include <eigenformer/nn/activations.hpp>
#include <eigenformer/nn/packed_weight.hpp>

#include <memory>
#include <string>
#include <vector>

namespace eigenformer {

template <typename T>
class Linear {
 public:
  Linear() = default;
  Linear(const Tensor<T>& weight, const Tensor<T>& bias) {
    if (weight.rank() != 2)
      throw ShapeError(detail::concat("Linear: weight must be (out, in), got ",
                                      detail::shape_string(weight.shape())));
    if (!bias.empty() && bias.shape() != Shape{weight.dim(0)})
      throw ShapeError(detail::concat("Linear: bias shape ", detail::shape_string(bias.shape()),
                                      " does not match ", weight.dim(0), " outputs"));
    packed_ = bias.empty()
                  ? std::make_shared<const PackedWeight<T>>(weight.matrix())
                  : std::make_shared<const PackedWeight<T>>(weight.matrix(), bias.vector());
    weight.release_resident_pages();  // the mapped file's pages are not read again
  }
  explicit Linear(const Matrix<T>& weight, const Vector<T>& bias = Vector<T>())
      : Linear(Tensor<T>::from_matrix(weight),
               bias.size() ? Tensor<T>({bias.size()},
                                       std::vector<T>(bias.data(), bias.data() + bias.size()))
                           : Tensor<T>()) {}

  // Binds `<prefix>weight` (out, in) and, when `has_bias`, `<prefix>bias` (out).
  static Linear load(const StateDict<T>& weights, const std::string& prefix, Index in_features,
                     Index out_features, bool has_bias = true) {
    return Linear(weights.at(prefix + "weight", {out_features, in_features}),
                  has_bias ? weights.at(prefix + "bias", {out_features}) : Tensor<T>());
  }

  Index in_features() const { return packed_->in_features(); }
  Index out_features() const { return packed_->out_features(); }
  bool has_bias() const { return packed_->has_bias(); }
  // A copy of W (out, in) rebuilt from the packed form, for inspection and for building
  // other layers at load time; products never need it.
  Matrix<T> weight() const { return packed_->unpack(); }
  ConstVectorMap<T> bias() const { return packed_->bias(); }

  // out = activation(x W^T + b), written into `out` (rows x out_features) without
  // allocating. PackedWeight::multiply checks the shapes (a default-constructed layer has a
  // 0 x 0 one).
  void forward(const MatrixView<T>& x, MutableMatrixView<T> out,
               Activation activation = Activation::Identity) const {
    packed_->multiply(x, out, activation);
  }

  Matrix<T> forward(const MatrixView<T>& x, Activation activation = Activation::Identity) const {
    Matrix<T> out(x.rows(), out_features());
    forward(x, out, activation);
    return out;
  }

 private:
  std::shared_ptr<const PackedWeight<T>> packed_ = std::make_shared<const PackedWeight<T>>();
};

// One Linear whose outputs are those of `parts` stacked in order (for example query, key and
// value fused into one (3E x E) product). Copies the weights once, at load time.
template <typename T>
Linear<T> stack_outputs(const std::vector<Linear<T>>& parts) {
  Index rows = 0;
  const Index in = parts.empty() ? 0 : parts.front().in_features();
  const bool biased = !parts.empty() && parts.front().has_bias();
  for (const auto& part : parts) {
    if (part.in_features() != in || part.has_bias() != biased)
      throw ShapeError("stack_outputs: the parts must share input width and bias presence");
    rows += part.out_features();
  }
  Matrix<T> weight(rows, in);
  Vector<T> bias(biased ? rows : 0);
  Index row = 0;
  for (const auto& part : parts) {
    weight.middleRows(row, part.out_features()) = part.weight();
    if (biased) bias.segment(row, part.out_features()) = part.bias();
    row += part.out_features();
  }
  return Linear<T>(weight, bias);
}

}  // namespace eigenformer
