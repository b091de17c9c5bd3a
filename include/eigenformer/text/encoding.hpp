#pragma once
// What the tokenizer hands to a model. Names and conventions are HF's: input ids, token
// type ids (0 = first segment, 1 = second), attention mask (1 = real token, 0 = padding).
// A batch is padded on the right to its longest row and stored row-major, batch x length,
// so row b is sequence b and the matrices feed a model's embedding lookup directly.

#include <eigenformer/core/types.hpp>
#include <eigenformer/text/vocabulary.hpp>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace eigenformer {

// One encoded text (or text pair), special tokens included.
struct Encoding {
  std::vector<TokenId> ids;
  std::vector<TokenId> type_ids;
  std::vector<TokenId> attention_mask;  // all 1: a single encoding has no padding
  std::vector<std::string> tokens;      // the vocabulary string of each id

  Index size() const { return static_cast<Index>(ids.size()); }
};

// Several encodings padded to a common length: each matrix is batch x length.
struct BatchEncoding {
  Matrix<TokenId> ids;
  Matrix<TokenId> type_ids;
  Matrix<TokenId> attention_mask;

  Index batch() const { return ids.rows(); }
  Index length() const { return ids.cols(); }
};

// Right padding to the longest encoding with `pad_id` (type id 0, attention 0), as HF's
// BatchLongest padding does. An empty batch gives 0 x 0 matrices.
inline BatchEncoding pad_to_longest(const std::vector<Encoding>& encodings, TokenId pad_id) {
  Index length = 0;
  for (const auto& encoding : encodings) length = std::max(length, encoding.size());
  const auto batch = static_cast<Index>(encodings.size());
  BatchEncoding out{Matrix<TokenId>::Constant(batch, length, pad_id),
                    Matrix<TokenId>::Zero(batch, length), Matrix<TokenId>::Zero(batch, length)};
  for (Index row = 0; row < batch; ++row) {
    const Encoding& encoding = encodings[static_cast<std::size_t>(row)];
    for (Index col = 0; col < encoding.size(); ++col) {
      const auto i = static_cast<std::size_t>(col);
      out.ids(row, col) = encoding.ids[i];
      out.type_ids(row, col) = encoding.type_ids[i];
      out.attention_mask(row, col) = encoding.attention_mask[i];
    }
  }
  return out;
}

}  // namespace eigenformer
