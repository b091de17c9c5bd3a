#pragma once
// The position-wise feed-forward block second(activation(first(x))) is a two-layer Mlp; the
// name stays for the transformer layers' signatures.

#include <eigenformer/nn/mlp.hpp>

namespace eigenformer {

template <typename T>
using FeedForward = Mlp<T>;

}  // namespace eigenformer
