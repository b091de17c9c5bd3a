#pragma once
// Width checks for layers assembled from parts. A residual layer adds every sublayer's output
// to its d-wide input, and Eigen checks such sums only with eigen_assert (off in release
// builds), so a part of another width would read and write out of bounds: constructors check
// each part against the layer's model width d instead, naming the part.

#include <eigenformer/attention/multi_head_attention.hpp>
#include <eigenformer/core/error.hpp>
#include <eigenformer/nn/layer_norm.hpp>
#include <eigenformer/nn/linear.hpp>
#include <eigenformer/transformer/feed_forward.hpp>

#include <string>

namespace eigenformer {
namespace detail {

inline void check_part_width(const std::string& layer, const std::string& part, Index actual,
                             Index expected) {
  if (actual != expected)
    throw ShapeError(concat(layer, ": ", part, " is ", actual, " wide, expected ", expected));
}

// `attention` reads d-wide queries and writes d-wide outputs; for self-attention the keys and
// values are d wide too (cross-attention keys and values may have other widths).
template <typename T>
void check_attention_widths(const std::string& layer, const std::string& part,
                            const MultiHeadAttention<T>& attention, Index d, bool self_attention) {
  check_part_width(layer, part + " query input", attention.query_projection().in_features(), d);
  if (self_attention) {
    check_part_width(layer, part + " key input", attention.key_projection().in_features(), d);
    check_part_width(layer, part + " value input", attention.value_projection().in_features(), d);
  }
  check_part_width(layer, part + " output", attention.output_projection().out_features(), d);
}

template <typename T>
void check_feed_forward_widths(const std::string& layer, const FeedForward<T>& feed_forward,
                               Index d) {
  check_part_width(layer, "feed-forward input", feed_forward.in_features(), d);
  check_part_width(layer, "feed-forward output", feed_forward.out_features(), d);
}

template <typename T>
void check_norm_width(const std::string& layer, const std::string& part, const LayerNorm<T>& norm,
                      Index d) {
  check_part_width(layer, part, norm.features(), d);
}

}  // namespace detail
}  // namespace eigenformer
