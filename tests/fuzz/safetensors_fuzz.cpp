// Arbitrary bytes as a safetensors file (SafeTensorsFile::from_bytes), then every tensor
// read as float, double and int64: each element is touched, so a view or conversion that
// reaches past the data section is an AddressSanitizer report.
#include <eigenformer/io/safetensors.hpp>

#include "fuzz_support.hpp"

#include <cstdint>
#include <vector>

namespace {

using eigenformer::Index;
using eigenformer::SafeTensorsFile;
using eigenformer::fuzz::require;

template <typename T>
void read_every_element(const SafeTensorsFile& file, const eigenformer::TensorInfo& info) {
  const auto tensor = file.tensor<T>(info.name);
  require(tensor.shape() == info.shape, "a tensor keeps the header's shape");
  const Index count = tensor.size();
  require(count >= 0, "element count is non-negative");
  T sum{};
  for (Index i = 0; i < count; ++i) sum += tensor[i];
  const auto matrix = tensor.matrix();
  require(matrix.size() == count, "matrix() views every element once");
  static volatile T sink;
  sink = sum;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  eigenformer::fuzz::expect_load_or_error([&] {
    const auto file = SafeTensorsFile::from_bytes("fuzz.safetensors",
                                                  std::vector<unsigned char>(data, data + size));
    for (const auto& info : file->tensors()) {
      require(file->contains(info.name), "every listed tensor can be looked up");
      require(info.begin <= info.end && 8 + info.end <= size, "offsets lie inside the file");
      read_every_element<float>(*file, info);
      read_every_element<double>(*file, info);
      // Floating-point data is refused as integers (a FormatError); integer data converts.
      eigenformer::fuzz::expect_load_or_error(
          [&] { read_every_element<std::int64_t>(*file, info); });
    }
  });
  return 0;
}
