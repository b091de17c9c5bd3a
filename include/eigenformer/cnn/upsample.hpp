#pragma once
// Nearest-neighbour upsampling by an integer factor, as
// F.interpolate(x, scale_factor=factor, mode="nearest") computes it: output pixel (y, x)
// copies input pixel (y / factor, x / factor), rounding down.

#include <eigenformer/cnn/feature_map.hpp>
#include <eigenformer/core/error.hpp>

namespace eigenformer {

template <typename T>
FeatureMap<T> upsample_nearest(const FeatureMap<T>& input, Index factor = 2) {
  if (factor < 1)
    throw InvalidArgument(detail::concat("upsample_nearest: factor ", factor, " must be >= 1"));
  input.check("upsample_nearest input");
  // The output sides must not overflow (FeatureMap then checks their product).
  if (!detail::element_count(input.height, factor, 1) ||
      !detail::element_count(input.width, factor, 1))
    throw ShapeError(detail::concat("upsample_nearest: ", input.height, " x ", input.width,
                                    " times ", factor, " is too large"));
  const Index out_h = input.height * factor, out_w = input.width * factor;
  FeatureMap<T> output(input.channels(), out_h, out_w);
  for (Index c = 0; c < input.channels(); ++c) {
    const T* source = input.data.row(c).data();
    T* destination = output.data.row(c).data();
    for (Index y = 0; y < out_h; ++y) {
      const T* source_row = source + (y / factor) * input.width;
      for (Index x = 0; x < out_w; ++x) *destination++ = source_row[x / factor];
    }
  }
  return output;
}

}  // namespace eigenformer
