#pragma once
// Channel concatenation of feature maps of equal size: torch.concat([a, b, ...], dim=1) for
// one image. FeatureMap rows are channels, so this stacks rows.

#include <eigenformer/cnn/feature_map.hpp>
#include <eigenformer/core/error.hpp>

#include <initializer_list>
#include <vector>

namespace eigenformer {

template <typename T>
FeatureMap<T> concat_channels(const std::vector<const FeatureMap<T>*>& parts) {
  if (parts.size() == 0) throw InvalidArgument("concat_channels: nothing to concatenate");
  const FeatureMap<T>& first = **parts.begin();
  Index channels = 0;
  for (const FeatureMap<T>* part : parts) {
    part->check("concat_channels input");
    if (part->height != first.height || part->width != first.width)
      throw ShapeError(detail::concat("concat_channels: feature maps of ", first.height, " x ",
                                      first.width, " and ", part->height, " x ", part->width,
                                      " cannot be concatenated"));
    channels += part->channels();
  }
  FeatureMap<T> output(channels, first.height, first.width);
  Index row = 0;
  for (const FeatureMap<T>* part : parts) {
    output.data.middleRows(row, part->channels()) = part->data;
    row += part->channels();
  }
  return output;
}

template <typename T>
FeatureMap<T> concat_channels(std::initializer_list<const FeatureMap<T>*> parts) {
  return concat_channels<T>(std::vector<const FeatureMap<T>*>(parts));
}

template <typename T>
FeatureMap<T> concat_channels(const FeatureMap<T>& a, const FeatureMap<T>& b) {
  return concat_channels<T>({&a, &b});
}

}  // namespace eigenformer
