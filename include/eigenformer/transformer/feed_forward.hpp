#pragma once
// The position-wise feed-forward block: second(activation(first(x))).

#include <eigenformer/nn/activations.hpp>
#include <eigenformer/nn/linear.hpp>

namespace eigenformer {

template <typename T>
class FeedForward {
 public:
  FeedForward() = default;
  FeedForward(Linear<T> first, Linear<T> second, Activation activation)
      : first_(std::move(first)), second_(std::move(second)), activation_(activation) {
    if (first_.out_features() != second_.in_features())
      throw ShapeError(detail::concat("FeedForward: first layer has ", first_.out_features(),
                                      " outputs but the second takes ", second_.in_features()));
  }

  Index in_features() const { return first_.in_features(); }
  Index hidden_features() const { return first_.out_features(); }
  Index out_features() const { return second_.out_features(); }

  Matrix<T> forward(const MatrixView<T>& x) const {
    return second_.forward(first_.forward(x, activation_));
  }

 private:
  Linear<T> first_, second_;
  Activation activation_ = Activation::ReLU;
};

}  // namespace eigenformer
