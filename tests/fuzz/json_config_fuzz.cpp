// Arbitrary bytes as a config.json: JsonConfig::load, BertConfig::from_json,
// RTDetrConfig::from_json with its backbone_config (RTDetrResNetConfig::from_json),
// RTDetrImageProcessor::from_json (preprocessor_config.json), and JsonConfig's typed
// getters on every top-level field, whatever its JSON type.
#include <eigenformer/io/json_config.hpp>
#include <eigenformer/models/bert/config.hpp>
#include <eigenformer/models/rtdetr/backbone.hpp>
#include <eigenformer/models/rtdetr/config.hpp>
#include <eigenformer/models/rtdetr/image_processor.hpp>

#include "fuzz_support.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace {

using eigenformer::Index;
using eigenformer::JsonConfig;
using eigenformer::fuzz::expect_load_or_error;

void read_field_every_way(const JsonConfig& config, const std::string& key) {
  expect_load_or_error([&] { config.get<bool>(key); });
  expect_load_or_error([&] { config.get<Index>(key); });
  expect_load_or_error([&] { config.get<std::uint8_t>(key); });
  expect_load_or_error([&] { config.get<double>(key); });
  expect_load_or_error([&] { config.get<float>(key); });
  expect_load_or_error([&] { config.get<std::string>(key); });
  expect_load_or_error([&] { config.get<std::vector<Index>>(key); });
  expect_load_or_error([&] { config.get<std::vector<std::vector<double>>>(key); });
  expect_load_or_error([&] { config.get_positive(key); });
  expect_load_or_error([&] { config.get_id_map(key); });
  expect_load_or_error([&] { config.child(key); });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static eigenformer::fuzz::MemoryFile file;
  const std::string& path = file.write(data, size);
  expect_load_or_error([&] {
    const JsonConfig config = JsonConfig::load(path);
    for (const auto& entry : config.json().items()) read_field_every_way(config, entry.key());
    read_field_every_way(config, "absent field");
    expect_load_or_error([&] { eigenformer::BertConfig::from_json(config); });
    expect_load_or_error([&] { eigenformer::RTDetrImageProcessor::from_json(config); });
    expect_load_or_error([&] {
      const auto rtdetr = eigenformer::RTDetrConfig::from_json(config);
      if (rtdetr.backbone_config)
        eigenformer::RTDetrResNetConfig::from_json(*rtdetr.backbone_config);
    });
  });
  return 0;
}
