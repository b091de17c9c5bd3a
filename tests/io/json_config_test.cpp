#include <eigenformer/io/json_config.hpp>

#include "fixture.hpp"
#include "io/test_files.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

namespace eigenformer {
namespace {

using testing::data_path;
using testing::TempDir;
using testing::throws_with;

// Writes `text` as config.json in a fresh directory and loads it.
class JsonConfigTest : public ::testing::Test {
 protected:
  JsonConfig load(const std::string& text) { return JsonConfig::load(write(text)); }
  std::string write(const std::string& text) { return path_ = dir_.write("config.json", text); }

  // Expects `call` to throw a FormatError naming this test's file and every one of `parts`.
  template <typename Call>
  ::testing::AssertionResult fails(Call&& call, std::initializer_list<std::string> parts) {
    std::vector<std::string> all{path_};
    all.insert(all.end(), parts);
    return throws_with<FormatError>(call, all);
  }

  TempDir dir_;
  std::string path_;
};

TEST_F(JsonConfigTest, ReadsBertConfigFixture) {
  const auto config = JsonConfig::load(data_path("bert/config.json"));
  EXPECT_EQ(config.source(), data_path("bert/config.json"));
  EXPECT_EQ(config.get<int>("hidden_size"), 64);
  EXPECT_EQ(config.get_positive("num_hidden_layers"), 2);
  EXPECT_EQ(config.get_positive("num_attention_heads"), 4);
  EXPECT_EQ(config.get<Index>("intermediate_size"), 96);
  EXPECT_EQ(config.get<std::int64_t>("vocab_size"), 3000);
  EXPECT_DOUBLE_EQ(config.get<double>("layer_norm_eps"), 1e-12);
  EXPECT_EQ(config.get<std::string>("hidden_act"), "gelu");
  EXPECT_FALSE(config.get<bool>("is_decoder"));
  EXPECT_EQ(config.get<std::vector<std::string>>("architectures"),
            std::vector<std::string>{"BertModel"});
  // HF writes unset options as null: absent for has()/get_or, not a value.
  EXPECT_FALSE(config.has("bos_token_id"));
  EXPECT_EQ(config.get_or<std::int64_t>("bos_token_id", -1), -1);
  EXPECT_FALSE(config.has("no_such_field"));
}

TEST_F(JsonConfigTest, ReadsRtDetrNestedConfigAndLabels) {
  const auto config = JsonConfig::load(data_path("rtdetr/config.json"));
  const auto backbone = config.child("backbone_config");
  EXPECT_EQ(backbone.source(), config.source());
  EXPECT_EQ(backbone.path(), "backbone_config.");
  EXPECT_EQ(backbone.get<std::vector<std::int64_t>>("hidden_sizes"),
            (std::vector<std::int64_t>{32, 64, 128, 256}));
  EXPECT_EQ(backbone.get<std::vector<std::string>>("out_features"),
            (std::vector<std::string>{"stage2", "stage3", "stage4"}));
  EXPECT_EQ(config.get<std::vector<double>>("feat_strides"), (std::vector<double>{8, 16, 32}));
  EXPECT_FALSE(config.has("anchor_image_size"));
  const auto labels = config.get_id_map("id2label");
  ASSERT_EQ(labels.size(), 12u);
  EXPECT_EQ(labels.begin()->first, 0);
  EXPECT_EQ(labels.rbegin()->first, 11);
  EXPECT_EQ(labels.at(10), "LABEL_10");
}

TEST_F(JsonConfigTest, ReadsEveryScalarType) {
  const auto config = load(R"({"b": true, "i": -7, "big": 9007199254740993, "d": 2.5,
                               "whole": 3, "s": "x", "f": 0.1, "v": [1.5, 2]})");
  EXPECT_TRUE(config.get<bool>("b"));
  EXPECT_EQ(config.get<int>("i"), -7);
  EXPECT_EQ(config.get<std::int64_t>("big"), 9007199254740993);  // exact: not via double
  EXPECT_EQ(config.get<Index>("big"), 9007199254740993);
  EXPECT_DOUBLE_EQ(config.get<double>("d"), 2.5);
  EXPECT_DOUBLE_EQ(config.get<double>("whole"), 3.0);  // an integer is a valid double
  EXPECT_FLOAT_EQ(config.get<float>("f"), 0.1f);
  EXPECT_EQ(config.get<std::string>("s"), "x");
  EXPECT_EQ(config.get<std::vector<double>>("v"), (std::vector<double>{1.5, 2.0}));
  EXPECT_EQ(config.get_or("absent", 4), 4);
  EXPECT_EQ(config.get_or("i", 4), -7);
  EXPECT_EQ(config.get_or<std::string>("absent", "fallback"), "fallback");
}

TEST_F(JsonConfigTest, BuildsFromJsonValue) {
  const JsonConfig config(nlohmann::json{{"n", 5}}, "inline config");
  EXPECT_EQ(config.get_positive("n"), 5);  // a signed integer, as nlohmann builds it
  EXPECT_EQ(config.json().at("n"), 5);
  EXPECT_TRUE(throws_with<FormatError>([] { JsonConfig(nlohmann::json::array(), "inline config"); },
                                       {"inline config", "top level", "JSON object", "array"}));
}

TEST_F(JsonConfigTest, MissingFileNamesPath) {
  path_ = dir_.file("absent.json");
  EXPECT_TRUE(fails([&] { JsonConfig::load(path_); }, {"cannot open"}));
}

TEST_F(JsonConfigTest, DirectoryIsNotAFile) {
  path_ = dir_.path();
  EXPECT_TRUE(fails([&] { JsonConfig::load(path_); }, {"cannot"}));
}

TEST_F(JsonConfigTest, InvalidJsonNamesPathAndBytePosition) {
  write("{\"a\": 1,\n \"b\": }");
  EXPECT_TRUE(fails([&] { JsonConfig::load(path_); }, {"invalid JSON at byte 16"}));
}

TEST_F(JsonConfigTest, EmptyFileIsInvalidJson) {
  write("");
  EXPECT_TRUE(fails([&] { JsonConfig::load(path_); }, {"invalid JSON"}));
}

TEST_F(JsonConfigTest, TopLevelMustBeObject) {
  write("[1, 2]");
  EXPECT_TRUE(fails([&] { JsonConfig::load(path_); }, {"top level", "JSON object", "array"}));
}

TEST_F(JsonConfigTest, MissingRequiredFieldNamesFieldAndType) {
  const auto config = load(R"({"a": 1})");
  EXPECT_TRUE(fails([&] { config.get<int>("hidden_size"); },
                    {"missing required field 'hidden_size'", "expected an integer"}));
  EXPECT_TRUE(fails([&] { config.get_positive("layers"); },
                    {"missing required field 'layers'", "positive integer"}));
  EXPECT_TRUE(fails([&] { config.child("backbone_config"); },
                    {"missing required field 'backbone_config'", "object"}));
  EXPECT_TRUE(fails([&] { config.get_id_map("id2label"); },
                    {"missing required field 'id2label'", "decimal integers"}));
}

TEST_F(JsonConfigTest, NullRequiredFieldIsAnError) {
  const auto config = load(R"({"eps": null})");
  EXPECT_TRUE(fails([&] { config.get<double>("eps"); }, {"field 'eps'", "a number", "got null"}));
}

TEST_F(JsonConfigTest, WrongTypesNameFieldExpectedAndActual) {
  const auto config = load(R"({"n": "12", "flag": 1, "name": 3, "eps": "small", "list": 4})");
  EXPECT_TRUE(fails([&] { config.get<int>("n"); }, {"field 'n'", "an integer", "string \"12\""}));
  EXPECT_TRUE(fails([&] { config.get<bool>("flag"); }, {"field 'flag'", "a boolean", "number 1"}));
  EXPECT_TRUE(fails([&] { config.get<std::string>("name"); }, {"field 'name'", "a string"}));
  EXPECT_TRUE(fails([&] { config.get<double>("eps"); }, {"field 'eps'", "a number"}));
  EXPECT_TRUE(fails([&] { config.get<std::vector<std::int64_t>>("list"); },
                    {"field 'list'", "an array", "integer"}));
}

TEST_F(JsonConfigTest, IntegerFieldsRejectNonIntegers) {
  const auto config = load(R"({"half": 2.5, "whole_float": 3.0})");
  EXPECT_TRUE(
      fails([&] { config.get<std::int64_t>("half"); }, {"field 'half'", "an integer", "2.5"}));
  EXPECT_TRUE(
      fails([&] { config.get<int>("whole_float"); }, {"field 'whole_float'", "an integer"}));
}

TEST_F(JsonConfigTest, IntegerFieldsRejectOutOfRange) {
  const auto config =
      load(R"({"over_int": 3000000000, "under_int": -3000000000, "over_int64": 18446744073709551615,
               "negative": -1, "byte": 256})");
  EXPECT_EQ(config.get<std::int64_t>("over_int"), 3000000000);
  EXPECT_TRUE(fails([&] { config.get<int>("over_int"); }, {"field 'over_int'", "2147483647"}));
  EXPECT_TRUE(fails([&] { config.get<int>("under_int"); }, {"field 'under_int'", "-2147483648"}));
  EXPECT_TRUE(fails([&] { config.get<std::int64_t>("over_int64"); },
                    {"field 'over_int64'", "9223372036854775807"}));
  EXPECT_TRUE(fails([&] { config.get<Index>("over_int64"); }, {"field 'over_int64'"}));
  EXPECT_EQ(config.get<std::uint64_t>("over_int64"), std::numeric_limits<std::uint64_t>::max());
  EXPECT_TRUE(fails([&] { config.get<std::uint64_t>("negative"); }, {"field 'negative'", "[0, "}));
  EXPECT_TRUE(fails([&] { config.get<std::uint8_t>("byte"); }, {"field 'byte'", "[0, 255]"}));
}

TEST_F(JsonConfigTest, FloatRejectsValuesBeyondFloatRange) {
  const auto config = load(R"({"huge": 1e300})");
  EXPECT_DOUBLE_EQ(config.get<double>("huge"), 1e300);
  EXPECT_TRUE(fails([&] { config.get<float>("huge"); }, {"field 'huge'", "a number within"}));
}

TEST_F(JsonConfigTest, GetPositiveEnforcesRange) {
  const auto config = load(R"({"one": 1, "limit": 1073741824, "zero": 0, "negative": -4,
                              "absurd": 1073741825, "float": 2.0, "text": "8", "null": null})");
  EXPECT_EQ(config.get_positive("one"), 1);
  EXPECT_EQ(config.get_positive("limit"), JsonConfig::kMaxSize);
  for (const char* key : {"zero", "negative", "absurd", "float", "text", "null"})
    EXPECT_TRUE(
        fails([&] { config.get_positive(key); },
              {std::string("field '") + key + "'", "a positive integer at most 1073741824"}));
  EXPECT_EQ(config.get_positive_or("null", 7), 7);
  EXPECT_EQ(config.get_positive_or("absent", 7), 7);
  EXPECT_EQ(config.get_positive_or("one", 7), 1);
  EXPECT_TRUE(fails([&] { config.get_positive_or("zero", 7); }, {"field 'zero'"}));
}

TEST_F(JsonConfigTest, GetPositiveNumberRejectsZeroNegativeAndNonNumbers) {
  const auto config =
      load(R"({"eps": 1e-12, "scale": 3, "zero": 0.0, "negative": -1e-5, "text": "1e-5",
               "null": null})");
  EXPECT_EQ(config.get_positive_number_or("eps", 1.0), 1e-12);
  EXPECT_EQ(config.get_positive_number_or("scale", 1.0), 3.0);
  EXPECT_EQ(config.get_positive_number_or("null", 0.5), 0.5);
  EXPECT_EQ(config.get_positive_number_or("absent", 0.5), 0.5);
  for (const char* key : {"zero", "negative"})
    EXPECT_TRUE(fails([&] { config.get_positive_number_or(key, 1.0); },
                      {std::string("field '") + key + "'", "a positive finite number"}));
  EXPECT_TRUE(fails([&] { config.get_positive_number_or("text", 1.0); }, {"field 'text'"}));
}

TEST_F(JsonConfigTest, NestedFieldsUseDottedPaths) {
  const auto config =
      load(R"({"backbone_config": {"depth": "deep", "sizes": [1, 2, "x"], "inner": {"k": false}},
               "scalar": 5, "none": null})");
  const auto backbone = config.child("backbone_config");
  EXPECT_TRUE(
      fails([&] { backbone.get<int>("depth"); }, {"field 'backbone_config.depth'", "integer"}));
  EXPECT_TRUE(fails([&] { backbone.get<std::vector<int>>("sizes"); },
                    {"field 'backbone_config.sizes[2]'", "an integer", "string \"x\""}));
  EXPECT_TRUE(fails([&] { backbone.child("inner").get<int>("k"); },
                    {"field 'backbone_config.inner.k'", "an integer", "boolean false"}));
  EXPECT_TRUE(fails([&] { backbone.get<int>("missing"); },
                    {"missing required field 'backbone_config.missing'"}));
  EXPECT_TRUE(fails([&] { config.child("scalar"); }, {"field 'scalar'", "JSON object", "number"}));
  EXPECT_TRUE(fails([&] { config.child("none"); }, {"field 'none'", "JSON object", "null"}));
}

// Nested a million deep: copying or printing the value would recurse and overflow the stack,
// so the file is refused while it is parsed, naming the limit.
TEST_F(JsonConfigTest, DeeplyNestedFilesAreErrorsNotCrashes) {
  const int depth = 1000000;
  write(R"({"backbone_config": {"depth": )" + std::string(depth, '[') + std::string(depth, ']') +
        "}}");
  EXPECT_TRUE(fails([&] { JsonConfig::load(path_); }, {"nested deeper than", "512 levels"}));
  write(std::string(depth, '[') + std::string(depth, ']'));
  EXPECT_TRUE(fails([&] { JsonConfig::load_objects(path_); }, {"nested deeper than"}));
}

TEST_F(JsonConfigTest, NestingUpToTheLimitIsRead) {
  const int inner = detail::kMaxJsonDepth - 2;  // inside the top object and "depth"'s array
  const auto config =
      load(R"({"depth": [)" + std::string(inner, '[') + std::string(inner, ']') + "]}");
  EXPECT_TRUE(fails([&] { config.get<int>("depth"); },
                    {"field 'depth'", "an integer", "got an array of size 1"}));
}

TEST_F(JsonConfigTest, ObjectsOfAnArrayShareTheDocument) {
  const auto config = load(R"({"list": [{"a": 1}, {"a": 2}], "bad": [{"a": 1}, 3], "one": {}})");
  const auto list = config.objects("list");
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[1].get<int>("a"), 2);
  EXPECT_EQ(list[1].path(), "list[1].");
  EXPECT_TRUE(fails([&] { list[0].get<std::string>("a"); }, {"field 'list[0].a'", "a string"}));
  EXPECT_TRUE(fails([&] { config.objects("bad"); }, {"field 'bad[1]'", "JSON object", "number"}));
  EXPECT_TRUE(fails([&] { config.objects("one"); }, {"field 'one'", "an array of objects"}));
  EXPECT_TRUE(fails([&] { config.objects("none"); }, {"missing required field 'none'"}));
}

TEST_F(JsonConfigTest, LoadObjectsReadsATopLevelArray) {
  write(R"([{"type": "x"}, {"type": "y"}])");
  const auto modules = JsonConfig::load_objects(path_);
  ASSERT_EQ(modules.size(), 2u);
  EXPECT_EQ(modules[1].get<std::string>("type"), "y");
  EXPECT_TRUE(fails([&] { modules[0].get<int>("type"); }, {"field '[0].type'"}));
  write(R"({"type": "x"})");
  EXPECT_TRUE(fails([&] { JsonConfig::load_objects(path_); },
                    {"top level must be an array of objects", "an object of size 1"}));
  write(R"([1])");
  EXPECT_TRUE(fails([&] { JsonConfig::load_objects(path_); }, {"field '[0]'", "JSON object"}));
}

TEST_F(JsonConfigTest, IdMapParsesDecimalKeys) {
  const auto config =
      load(R"({"id2label": {"2": "cat", "0": "person", "10": "dog", "-1": "none"}})");
  const std::map<std::int64_t, std::string> expected{
      {-1, "none"}, {0, "person"}, {2, "cat"}, {10, "dog"}};
  EXPECT_EQ(config.get_id_map("id2label"), expected);
}

TEST_F(JsonConfigTest, IdMapRejectsBadKeysValuesAndDuplicates) {
  const auto config = load(R"({"letters": {"0": "a", "one": "b"}, "spaced": {" 1": "a"},
                               "empty": {"": "a"}, "numbers": {"0": "a", "3": 3},
                               "twice": {"1": "a", "01": "b"}, "list": ["a"],
                               "huge": {"99999999999999999999": "a"}})");
  EXPECT_TRUE(fails([&] { config.get_id_map("letters"); },
                    {"field 'letters'", "decimal integers", "key 'one'"}));
  EXPECT_TRUE(fails([&] { config.get_id_map("spaced"); }, {"field 'spaced'", "key ' 1'"}));
  EXPECT_TRUE(fails([&] { config.get_id_map("empty"); }, {"field 'empty'", "key ''"}));
  EXPECT_TRUE(fails([&] { config.get_id_map("huge"); }, {"field 'huge'", "decimal integers"}));
  EXPECT_TRUE(fails([&] { config.get_id_map("numbers"); }, {"field 'numbers.3'", "a string"}));
  EXPECT_TRUE(fails([&] { config.get_id_map("twice"); }, {"field 'twice'", "id 1 twice"}));
  EXPECT_TRUE(fails([&] { config.get_id_map("list"); }, {"field 'list'", "an object", "array"}));
}

}  // namespace
}  // namespace eigenformer
