#pragma once
// Element counts of images and feature maps from their public size fields, computed without
// signed overflow: callers then check the storage against the count before indexing it.

#include <eigenformer/core/types.hpp>

#include <limits>
#include <optional>

namespace eigenformer {
namespace detail {

// height * width * per_pixel, or nothing when a factor is negative or the product overflows.
inline std::optional<Index> element_count(Index height, Index width, Index per_pixel) {
  if (height < 0 || width < 0 || per_pixel < 0) return std::nullopt;
  Index count = 1;
  for (Index factor : {height, width, per_pixel}) {
    if (factor != 0 && count > std::numeric_limits<Index>::max() / factor) return std::nullopt;
    count *= factor;
  }
  return count;
}

}  // namespace detail
}  // namespace eigenformer
