#pragma once
// Fixed sinusoidal position encodings. Angles are computed in double and rounded to T once,
// so float and double results differ only by that rounding.

#include <eigenformer/core/error.hpp>
#include <eigenformer/core/types.hpp>

#include <cmath>

namespace eigenformer {

// The 1-D encoding of Vaswani et al. (2017), "Attention Is All You Need", section 3.5:
// a `length x dim` matrix whose row p holds, for i = 0, 1, ...,
//   column 2i     = sin(p / base^(2i / dim))
//   column 2i + 1 = cos(p / base^(2i / dim))
// i.e. sine and cosine interleaved per frequency (an odd `dim` ends on a sine column).
template <typename T>
Matrix<T> sinusoidal_position_encoding(Index length, Index dim, double base = 10000.0) {
  if (length < 0 || dim <= 0)
    throw InvalidArgument(detail::concat("sinusoidal_position_encoding: length ", length,
                                         " and dim ", dim, " must be >= 0 and > 0"));
  if (!(base > 0.0))
    throw InvalidArgument(
        detail::concat("sinusoidal_position_encoding: base ", base, " must be positive"));
  Matrix<T> encoding(length, dim);
  for (Index column = 0; column < dim; ++column) {
    const double even_index = static_cast<double>(column - column % 2);
    const double inverse_wavelength = std::pow(base, -even_index / static_cast<double>(dim));
    for (Index p = 0; p < length; ++p) {
      const double angle = static_cast<double>(p) * inverse_wavelength;
      encoding(p, column) = static_cast<T>(column % 2 == 0 ? std::sin(angle) : std::cos(angle));
    }
  }
  return encoding;
}

// The 2-D sin-cos embedding of RT-DETR's hybrid encoder (HF transformers'
// build_2d_sincos_position_embedding / RTDetrSinePositionEmbedding), argument order as there.
// Row r = y * width + x is the raster position of pixel (y, x), as a flattened NCHW feature
// map's tokens are ordered. With q = embed_dim / 4 and omega_i = temperature^(-i / q), the
// row is four blocks of q columns:
//   [sin(y * omega), cos(y * omega), sin(x * omega), cos(x * omega)].
template <typename T>
Matrix<T> sincos_position_embedding_2d(Index width, Index height, Index embed_dim,
                                       double temperature = 10000.0) {
  if (embed_dim <= 0 || embed_dim % 4 != 0)
    throw InvalidArgument(detail::concat("sincos_position_embedding_2d: embed_dim ", embed_dim,
                                         " must be a positive multiple of 4"));
  if (width < 0 || height < 0)
    throw InvalidArgument(detail::concat("sincos_position_embedding_2d: width ", width,
                                         " and height ", height, " must not be negative"));
  if (!(temperature > 0.0))
    throw InvalidArgument(detail::concat("sincos_position_embedding_2d: temperature ", temperature,
                                         " must be positive"));
  const Index quarter = embed_dim / 4;
  Matrix<T> embedding(height * width, embed_dim);
  for (Index i = 0; i < quarter; ++i) {
    const double omega =
        std::pow(temperature, -static_cast<double>(i) / static_cast<double>(quarter));
    for (Index y = 0; y < height; ++y) {
      for (Index x = 0; x < width; ++x) {
        const Index row = y * width + x;
        const double angle_y = static_cast<double>(y) * omega;
        const double angle_x = static_cast<double>(x) * omega;
        embedding(row, i) = static_cast<T>(std::sin(angle_y));
        embedding(row, quarter + i) = static_cast<T>(std::cos(angle_y));
        embedding(row, 2 * quarter + i) = static_cast<T>(std::sin(angle_x));
        embedding(row, 3 * quarter + i) = static_cast<T>(std::cos(angle_x));
      }
    }
  }
  return embedding;
}

}  // namespace eigenformer
