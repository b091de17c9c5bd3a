#pragma once
// Shared helpers for the RT-DETR tests that read tests/data/rtdetr/io.safetensors.

#include <eigenformer/core/state_dict.hpp>
#include <eigenformer/models/rtdetr/query_selection.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace eigenformer::testing {

// Image `image`'s rows of a (batch, rows, cols) reference tensor.
template <typename T>
auto image_rows(const StateDict<T>& io, const std::string& name, Index rows, Index cols,
                Index image) {
  const Tensor<T>& tensor = io.at(name);
  return tensor.matrix(tensor.size() / cols, cols).middleRows(image * rows, rows);
}

// The tokens HF's top-k picked for `image`, in its order: the rows of
// out.enc_outputs_coord_logits that out.init_reference_points gathered (each query must match
// exactly one row). Derived from the reference run, so tests can replay its choice among
// tied scores.
template <typename T>
std::vector<Index> reference_selection(const StateDict<T>& io, Index image) {
  const Tensor<T>& chosen_tensor = io.at("out.init_reference_points");
  const Index queries = chosen_tensor.dim(1), tokens = io.at("out.enc_outputs_coord_logits").dim(1);
  const auto coords = image_rows(io, "out.enc_outputs_coord_logits", tokens, 4, image);
  const auto chosen = image_rows(io, "out.init_reference_points", queries, 4, image);
  std::vector<Index> selection;
  for (Index q = 0; q < queries; ++q) {
    std::vector<Index> matches;
    for (Index t = 0; t < tokens; ++t)
      if (coords.row(t) == chosen.row(q)) matches.push_back(t);
    EXPECT_EQ(matches.size(), 1u) << "image " << image << " query " << q;
    selection.push_back(matches.empty() ? 0 : matches.front());
  }
  return selection;
}

// Forward options that replay the reference run's top-k choice for `image`, recording into
// `trace` when given.
template <typename T>
RTDetrForwardOptions<T> replay_selection(const StateDict<T>& io, Index image,
                                         Trace<T>* trace = nullptr) {
  RTDetrForwardOptions<T> options;
  options.trace = trace;
  options.selected_tokens = reference_selection(io, image);
  return options;
}

}  // namespace eigenformer::testing
