// Inputs found mishandled while fuzzing (tests/fuzz), kept as unit tests so the normal and
// sanitizer builds check the fixes. The same inputs are in the seed corpora.
#include <eigenformer/io/json_config.hpp>
#include <eigenformer/io/safetensors.hpp>
#include <eigenformer/models/rtdetr/config.hpp>

#include "io/test_files.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace eigenformer {
namespace {

using testing::TempDir;
using testing::throws_with;

std::vector<unsigned char> safetensors_bytes(const std::string& header) {
  std::vector<unsigned char> out;
  for (int byte = 0; byte < 8; ++byte)
    out.push_back(static_cast<unsigned char>(std::uint64_t{header.size()} >> (8 * byte)));
  out.insert(out.end(), header.begin(), header.end());
  return out;
}

// safetensors_fuzz: [2^62, 3, 0] holds no element and its uint64 product does not
// overflow, but the partial product 2^62 * 3 overflowed Index in shape_numel() (undefined
// behaviour, reported by UBSan) when the tensor was read.
TEST(FuzzRegressionTest, ShapeWhosePartialProductOverflowsIndexIsRejected) {
  const auto bytes = safetensors_bytes(
      R"({"w":{"dtype":"F32","shape":[4611686018427387904,3,0],"data_offsets":[0,0]}})");
  EXPECT_TRUE(
      throws_with<FormatError>([&] { SafeTensorsFile::from_bytes("odd.safetensors", bytes); },
                               {"odd.safetensors", "tensor 'w'", "overflows"}));
}

// The largest partial product that fits is still accepted: an empty tensor.
TEST(FuzzRegressionTest, EmptyTensorWithLargeLeadingDimensionStillLoads) {
  const auto bytes = safetensors_bytes(
      R"({"w":{"dtype":"F32","shape":[4611686018427387904,0],"data_offsets":[0,0]}})");
  const auto file = SafeTensorsFile::from_bytes("empty.safetensors", bytes);
  EXPECT_EQ(file->tensor<double>("w").size(), 0);
}

// json_config_fuzz: a number beyond double's range makes nlohmann throw out_of_range, not
// parse_error; it escaped JsonConfig::load as a non-eigenformer exception.
TEST(FuzzRegressionTest, NumberOutOfDoubleRangeIsAFormatError) {
  TempDir dir;
  const std::string path = dir.write("config.json", R"({"layer_norm_eps": 1e400})");
  EXPECT_TRUE(
      throws_with<FormatError>([&] { JsonConfig::load(path); }, {path, "invalid JSON", "1e400"}));
}

// Found writing json_config_fuzz: "num_labels": 1073741824 without id2label made
// RTDetrConfig build 2^30 label strings (about a minute and tens of GB, then bad_alloc).
// One past the cap fails fast either way, so the test stays cheap if the check regresses.
TEST(FuzzRegressionTest, NumLabelsBeyondTheCapIsAFormatError) {
  const JsonConfig config(nlohmann::json{{"num_labels", (Index{1} << 20) + 1}}, "config.json");
  EXPECT_TRUE(throws_with<FormatError>([&] { RTDetrConfig::from_json(config); },
                                       {"config.json", "num_labels", "1048577"}));
}

}  // namespace
}  // namespace eigenformer
