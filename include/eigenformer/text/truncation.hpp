#pragma once
// Truncation as HF tokenizers does it (src/utils/truncation.rs, truncate_encodings). The
// tokenizer first subtracts the special tokens the template will add from max_length, then
// shortens the sequences to the remaining budget:
//   - LongestFirst (the default): a single sequence is cut to the budget; for a pair, with
//     n1 <= n2 the lengths, the shorter one is kept whole when it fits in half the budget
//     (the longer gets the rest), otherwise both get half (the longer one the odd token).
//   - OnlyFirst / OnlySecond: only that sequence is shortened; if it cannot absorb the whole
//     excess that is an error.
// Right truncation keeps the beginning of a sequence, Left its end. Overflowing tokens and
// stride are not produced.

#include <eigenformer/core/error.hpp>
#include <eigenformer/core/types.hpp>
#include <eigenformer/text/vocabulary.hpp>

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

namespace eigenformer {

enum class TruncationStrategy { LongestFirst, OnlyFirst, OnlySecond };
enum class TruncationSide { Right, Left };

struct Truncation {
  // When false, an input longer than max_length is an InvalidArgument rather than cut.
  bool enabled = true;
  // Length of the final encoding, special tokens included; unset = the tokenizer's
  // model_max_length.
  std::optional<Index> max_length;
  TruncationStrategy strategy = TruncationStrategy::LongestFirst;
  TruncationSide side = TruncationSide::Right;
};

namespace detail {

inline void truncate_sequence(std::vector<TokenId>& ids, std::size_t length, TruncationSide side) {
  if (ids.size() <= length) return;
  if (side == TruncationSide::Left)
    ids.erase(ids.begin(), ids.end() - static_cast<std::ptrdiff_t>(length));
  else
    ids.resize(length);
}

}  // namespace detail

// Shortens `first` and `second` (null for a single sequence) to at most `budget` ids in all.
inline void truncate_sequences(std::vector<TokenId>& first, std::vector<TokenId>* second,
                               std::size_t budget, TruncationStrategy strategy,
                               TruncationSide side) {
  if (budget == 0) {  // HF empties both, whatever the strategy
    first.clear();
    if (second) second->clear();
    return;
  }
  const std::size_t total = first.size() + (second ? second->size() : 0);
  if (total <= budget) return;
  const std::size_t excess = total - budget;

  if (strategy == TruncationStrategy::LongestFirst) {
    if (!second) {
      detail::truncate_sequence(first, budget, side);
      return;
    }
    std::size_t shorter = std::min(first.size(), second->size());
    std::size_t longer = shorter > budget ? shorter : std::max(shorter, budget - shorter);
    if (shorter + longer > budget) {
      shorter = budget / 2;
      longer = shorter + budget % 2;
    }
    const bool first_is_longer = first.size() > second->size();
    detail::truncate_sequence(first, first_is_longer ? longer : shorter, side);
    detail::truncate_sequence(*second, first_is_longer ? shorter : longer, side);
    return;
  }

  if (strategy == TruncationStrategy::OnlySecond && !second)
    throw InvalidArgument("truncation strategy OnlySecond needs a pair of sequences");
  std::vector<TokenId>& target = strategy == TruncationStrategy::OnlyFirst ? first : *second;
  if (target.size() <= excess)
    throw InvalidArgument(detail::concat(
        "cannot truncate to the requested max_length: the ",
        strategy == TruncationStrategy::OnlyFirst ? "first" : "second", " sequence has ",
        target.size(), " tokens but ", excess, " must go; use TruncationStrategy::LongestFirst"));
  detail::truncate_sequence(target, target.size() - excess, side);
}

}  // namespace eigenformer
