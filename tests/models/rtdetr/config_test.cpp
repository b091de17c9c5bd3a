#include <eigenformer/models/rtdetr/config.hpp>

#include "fixture.hpp"
#include "io/test_files.hpp"

#include <nlohmann/json.hpp>

#include <fstream>
#include <string>

namespace eigenformer {
namespace {

using testing::data_path;
using testing::TempDir;
using testing::throws_with;

nlohmann::json fixture_json() {
  std::ifstream in(data_path("rtdetr/config.json"));
  return nlohmann::json::parse(in);
}

RTDetrConfig parse(const nlohmann::json& json) {
  return RTDetrConfig::from_json(JsonConfig(json, "test-config.json"));
}

// `edit` applied to the fixture's config must fail naming the file and `parts`.
template <typename Edit>
::testing::AssertionResult rejects(Edit&& edit, std::vector<std::string> parts) {
  nlohmann::json json = fixture_json();
  edit(json);
  parts.push_back("test-config.json");
  return throws_with<FormatError>([&] { parse(json); }, parts);
}

TEST(RTDetrConfigTest, ReadsTheFixtureConfig) {
  const RTDetrConfig c = RTDetrConfig::load(data_path("rtdetr"));  // a directory
  EXPECT_EQ(c.source, data_path("rtdetr/config.json"));
  EXPECT_EQ(c.d_model, 64);
  EXPECT_EQ(c.encoder_hidden_dim, 64);
  EXPECT_EQ(c.encoder_in_channels, (std::vector<Index>{64, 128, 256}));
  EXPECT_EQ(c.feat_strides, (std::vector<Index>{8, 16, 32}));
  EXPECT_EQ(c.encode_proj_layers, (std::vector<Index>{2}));
  EXPECT_EQ(c.encoder_layers, 1);
  EXPECT_EQ(c.encoder_attention_heads, 4);
  EXPECT_EQ(c.encoder_ffn_dim, 128);
  EXPECT_EQ(c.encoder_activation, Activation::GELU);
  EXPECT_EQ(c.activation, Activation::SiLU);
  EXPECT_EQ(c.positional_encoding_temperature, 10000.0);
  EXPECT_EQ(c.hidden_expansion, 1.0);
  EXPECT_FALSE(c.eval_size);
  EXPECT_EQ(c.num_queries, 30);
  EXPECT_EQ(c.decoder_in_channels, (std::vector<Index>{64, 64, 64}));
  EXPECT_EQ(c.num_feature_levels, 3);
  EXPECT_EQ(c.decoder_layers, 3);
  EXPECT_EQ(c.decoder_attention_heads, 4);
  EXPECT_EQ(c.decoder_ffn_dim, 128);
  EXPECT_EQ(c.decoder_n_points, 4);
  EXPECT_EQ(c.decoder_activation, Activation::ReLU);
  EXPECT_FALSE(c.learn_initial_query);
  EXPECT_FALSE(c.anchor_image_size);
  EXPECT_TRUE(c.with_box_refine);
  EXPECT_EQ(c.layer_norm_eps, 1e-5);
  EXPECT_EQ(c.batch_norm_eps, 1e-5);
  EXPECT_TRUE(c.use_focal_loss);
  ASSERT_EQ(c.num_labels(), 12);
  EXPECT_EQ(c.id2label[10], "LABEL_10");
  ASSERT_TRUE(c.backbone_config);
  EXPECT_EQ(c.backbone_config->get<std::string>("layer_type"), "basic");
  EXPECT_EQ(c.backbone_config->path(), "backbone_config.");
}

TEST(RTDetrConfigTest, DerivedLayerConfigs) {
  const RTDetrConfig c = RTDetrConfig::load(data_path("rtdetr/config.json"));
  const TransformerLayerConfig encoder = c.encoder_layer_config();
  EXPECT_EQ(encoder.d_model, 64);
  EXPECT_EQ(encoder.num_heads, 4);
  EXPECT_EQ(encoder.dim_feedforward, 128);
  EXPECT_EQ(encoder.activation, Activation::GELU);
  EXPECT_FALSE(encoder.norm_first);
  const RTDetrDecoderConfig decoder = c.decoder_config();
  EXPECT_EQ(decoder.d_model, 64);
  EXPECT_EQ(decoder.num_heads, 4);
  EXPECT_EQ(decoder.ffn_dim, 128);
  EXPECT_EQ(decoder.num_layers, 3);
  EXPECT_EQ(decoder.num_points, 4);
  EXPECT_EQ(decoder.num_levels, 3);
  EXPECT_EQ(decoder.num_labels, 12);
  EXPECT_EQ(decoder.activation, Activation::ReLU);
  EXPECT_EQ(decoder.layer_norm_eps, 1e-5);
}

TEST(RTDetrConfigTest, AcceptsOldFieldNamesAndOptionalSizes) {
  nlohmann::json json = fixture_json();
  json.erase("positional_encoding_temperature");
  json.erase("learn_initial_query");
  json.erase("encoder_hidden_dim");  // older configs: d_model throughout
  json["pe_temperature"] = 20;
  json["learnt_init_query"] = true;
  json["anchor_image_size"] = {96, 128};
  json["eval_size"] = {640, 480};
  const RTDetrConfig c = parse(json);
  EXPECT_EQ(c.positional_encoding_temperature, 20.0);
  EXPECT_TRUE(c.learn_initial_query);
  EXPECT_EQ(c.encoder_hidden_dim, 64);
  ASSERT_TRUE(c.anchor_image_size);
  EXPECT_EQ((*c.anchor_image_size)[0], 96);
  EXPECT_EQ((*c.anchor_image_size)[1], 128);
  ASSERT_TRUE(c.eval_size);
  EXPECT_EQ((*c.eval_size)[1], 480);
}

TEST(RTDetrConfigTest, NewNameWinsOverOldOne) {
  nlohmann::json json = fixture_json();
  json["pe_temperature"] = 20;
  EXPECT_EQ(parse(json).positional_encoding_temperature, 10000.0);
}

TEST(RTDetrConfigTest, LabelsFromNumLabelsWithoutId2Label) {
  nlohmann::json json = fixture_json();
  json.erase("id2label");
  json["num_labels"] = 3;
  const RTDetrConfig c = parse(json);
  EXPECT_EQ(c.id2label, (std::vector<std::string>{"LABEL_0", "LABEL_1", "LABEL_2"}));
}

TEST(RTDetrConfigTest, RejectsUnsupportedOrInconsistentSettings) {
  EXPECT_TRUE(rejects([](auto& j) { j["num_feature_levels"] = 4; }, {"num_feature_levels", "4"}));
  EXPECT_TRUE(rejects(
      [](auto& j) {
        j["decoder_in_channels"] = {64, 64};
      },
      {"decoder_in_channels", "2 entries"}));
  EXPECT_TRUE(rejects(
      [](auto& j) {
        j["decoder_in_channels"] = {64, 32, 64};
      },
      {"decoder_in_channels[1]", "32"}));
  EXPECT_TRUE(rejects([](auto& j) { j["feat_strides"] = {8, 16}; }, {"feat_strides"}));
  EXPECT_TRUE(rejects([](auto& j) { j["encode_proj_layers"] = {3}; }, {"encode_proj_layers[0]"}));
  EXPECT_TRUE(rejects([](auto& j) { j["encoder_attention_heads"] = 5; },
                      {"encoder_hidden_dim", "encoder_attention_heads"}));
  EXPECT_TRUE(rejects([](auto& j) { j["decoder_attention_heads"] = 7; }, {"d_model", "7"}));
  EXPECT_TRUE(rejects([](auto& j) { j["encoder_activation_function"] = "mish"; },
                      {"encoder_activation_function", "mish"}));
  EXPECT_TRUE(rejects([](auto& j) { j["anchor_image_size"] = {640}; }, {"anchor_image_size"}));
  EXPECT_TRUE(rejects([](auto& j) { j["eval_size"] = {640, 0}; }, {"eval_size"}));
  EXPECT_TRUE(rejects([](auto& j) { j["num_queries"] = 0; }, {"num_queries"}));
  // HF's pre-norm RTDetrEncoderLayer differs from TransformerEncoderLayer's pre-norm.
  EXPECT_TRUE(rejects([](auto& j) { j["normalize_before"] = true; }, {"normalize_before"}));
  EXPECT_TRUE(rejects([](auto& j) { j["layer_norm_eps"] = -1; }, {"layer_norm_eps"}));
  EXPECT_TRUE(rejects([](auto& j) { j["d_model"] = "64"; }, {"d_model"}));
  EXPECT_TRUE(rejects([](auto& j) { j["model_type"] = "rt_detr_v2"; }, {"model_type"}));
  EXPECT_TRUE(rejects([](auto& j) { j["id2label"].erase("4"); }, {"id2label", "id 4"}));
  EXPECT_TRUE(rejects([](auto& j) { j["num_labels"] = 11; }, {"num_labels", "12 classes"}));
  EXPECT_TRUE(rejects(
      [](auto& j) {
        j.erase("positional_encoding_temperature");
        j["pe_temperature"] = 0;
      },
      {"pe_temperature"}));
}

TEST(RTDetrConfigTest, MissingFileIsAFormatError) {
  TempDir dir;
  EXPECT_TRUE(throws_with<FormatError>([&] { RTDetrConfig::load(dir.path()); },
                                       {dir.path(), "no config.json in the folder"}));
  EXPECT_TRUE(throws_with<FormatError>([&] { RTDetrConfig::load(dir.file("config.json")); },
                                       {dir.file("config.json"), "cannot open file"}));
}

}  // namespace
}  // namespace eigenformer
