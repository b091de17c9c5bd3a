#pragma once
// Element types of safetensors files and their conversion to the caller's scalar type.

#include <eigenformer/core/error.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>

namespace eigenformer {

enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL };

inline std::size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::F64:
    case DType::I64:
      return 8;
    case DType::F32:
    case DType::I32:
      return 4;
    case DType::F16:
    case DType::BF16:
    case DType::I16:
      return 2;
    case DType::I8:
    case DType::U8:
    case DType::BOOL:
      return 1;
  }
  return 0;
}

inline const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::F64:
      return "F64";
    case DType::F32:
      return "F32";
    case DType::F16:
      return "F16";
    case DType::BF16:
      return "BF16";
    case DType::I64:
      return "I64";
    case DType::I32:
      return "I32";
    case DType::I16:
      return "I16";
    case DType::I8:
      return "I8";
    case DType::U8:
      return "U8";
    case DType::BOOL:
      return "BOOL";
  }
  return "?";
}

// Returns false for a name this library does not read (F8 variants, U16..U64, complex).
inline bool parse_dtype(const std::string& name, DType& out) {
  static const DType all[] = {DType::F64, DType::F32, DType::F16, DType::BF16, DType::I64,
                              DType::I32, DType::I16, DType::I8,  DType::U8,   DType::BOOL};
  for (DType dtype : all)
    if (name == dtype_name(dtype)) {
      out = dtype;
      return true;
    }
  return false;
}

inline bool is_floating_dtype(DType dtype) {
  return dtype == DType::F64 || dtype == DType::F32 || dtype == DType::F16 || dtype == DType::BF16;
}

template <typename T>
constexpr bool dtype_matches(DType dtype) {
  if constexpr (std::is_same_v<T, double>) return dtype == DType::F64;
  if constexpr (std::is_same_v<T, float>) return dtype == DType::F32;
  if constexpr (std::is_same_v<T, std::int64_t>) return dtype == DType::I64;
  if constexpr (std::is_same_v<T, std::int32_t>) return dtype == DType::I32;
  if constexpr (std::is_same_v<T, std::uint8_t>) return dtype == DType::U8;
  return false;
}

// T as error messages name it.
template <typename T>
constexpr const char* scalar_type_name() {
  if constexpr (std::is_same_v<T, double>) return "double";
  if constexpr (std::is_same_v<T, float>) return "float";
  if constexpr (std::is_same_v<T, std::int64_t>) return "int64";
  if constexpr (std::is_same_v<T, std::int32_t>) return "int32";
  if constexpr (std::is_same_v<T, std::uint8_t>) return "uint8";
  return "the requested type";
}

namespace detail {

template <typename Raw>
Raw load_unaligned(const unsigned char* bytes) {
  Raw value;
  std::memcpy(&value, bytes, sizeof(Raw));
  return value;
}

// IEEE 754 binary16 to binary32, including subnormals, infinities and NaN.
inline float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  std::uint32_t exponent = (h >> 10) & 0x1fu;
  std::uint32_t mantissa = h & 0x3ffu;
  std::uint32_t bits;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000u | (mantissa << 13);
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;
  } else {
    exponent = 113;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      --exponent;
    }
    bits = sign | (exponent << 23) | ((mantissa & 0x3ffu) << 13);
  }
  float out;
  std::memcpy(&out, &bits, sizeof(out));
  return out;
}

inline float bfloat16_to_float(std::uint16_t b) {
  const std::uint32_t bits = static_cast<std::uint32_t>(b) << 16;
  float out;
  std::memcpy(&out, &bits, sizeof(out));
  return out;
}

template <typename T>
bool fits_integer(std::int64_t value) {
  if constexpr (std::is_signed_v<T>)
    return value >= std::numeric_limits<T>::min() && value <= std::numeric_limits<T>::max();
  else
    return value >= 0 && static_cast<std::uint64_t>(value) <= std::numeric_limits<T>::max();
}

inline std::int64_t integer_element(DType dtype, const unsigned char* bytes) {
  switch (dtype) {
    case DType::I64:
      return load_unaligned<std::int64_t>(bytes);
    case DType::I32:
      return load_unaligned<std::int32_t>(bytes);
    case DType::I16:
      return load_unaligned<std::int16_t>(bytes);
    case DType::I8:
      return load_unaligned<std::int8_t>(bytes);
    default:  // U8, BOOL
      return bytes[0];
  }
}

// One element of `dtype` at `bytes` (little-endian, possibly unaligned) into `out`. False
// when the value does not fit T: an integer outside T's range would wrap silently, and a
// finite double beyond float's range makes the conversion undefined behaviour. Callers
// reject floating-point data for integer T before converting.
template <typename T>
bool convert_element(DType dtype, const unsigned char* bytes, T& out) {
  switch (dtype) {
    case DType::F64: {
      const double value = load_unaligned<double>(bytes);
      const auto largest = static_cast<double>(std::numeric_limits<T>::max());
      if (std::isfinite(value) && std::abs(value) > largest) return false;
      out = static_cast<T>(value);
      return true;
    }
    case DType::F32:
      out = static_cast<T>(load_unaligned<float>(bytes));
      return true;
    case DType::F16:
      out = static_cast<T>(half_to_float(load_unaligned<std::uint16_t>(bytes)));
      return true;
    case DType::BF16:
      out = static_cast<T>(bfloat16_to_float(load_unaligned<std::uint16_t>(bytes)));
      return true;
    default: {
      const std::int64_t value = integer_element(dtype, bytes);
      if constexpr (std::is_integral_v<T>)
        if (!fits_integer<T>(value)) return false;
      out = static_cast<T>(value);
      return true;
    }
  }
}

}  // namespace detail
}  // namespace eigenformer
