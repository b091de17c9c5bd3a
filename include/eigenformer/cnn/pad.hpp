#pragma once
// Zero padding of a feature map's sides, as F.pad(x, [left, right, top, bottom]) pads the
// last two dimensions of an NCHW tensor (HGNetv2's stem pads right and bottom by one).

#include <eigenformer/cnn/feature_map.hpp>
#include <eigenformer/core/error.hpp>

#include <limits>

namespace eigenformer {

template <typename T>
FeatureMap<T> pad2d(const FeatureMap<T>& input, Index left, Index right, Index top, Index bottom) {
  input.check("pad2d input");
  if (left < 0 || right < 0 || top < 0 || bottom < 0)
    throw InvalidArgument(detail::concat("pad2d: padding ", left, ", ", right, ", ", top, ", ",
                                         bottom, " must not be negative"));
  constexpr Index limit = std::numeric_limits<Index>::max() / 4;
  if (input.height > limit || input.width > limit || left > limit || right > limit || top > limit ||
      bottom > limit)
    throw ShapeError(
        detail::concat("pad2d: padded size of ", input.height, " x ", input.width, " overflows"));
  FeatureMap<T> output(input.channels(), input.height + top + bottom, input.width + left + right);
  output.data.setZero();
  for (Index c = 0; c < input.channels(); ++c)
    for (Index y = 0; y < input.height; ++y)
      for (Index x = 0; x < input.width; ++x) output.at(c, y + top, x + left) = input.at(c, y, x);
  return output;
}

}  // namespace eigenformer
