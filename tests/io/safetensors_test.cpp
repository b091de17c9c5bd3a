#include <eigenformer/core/state_dict.hpp>
#include <eigenformer/io/safetensors.hpp>

#include "fixture.hpp"
#include "io/test_files.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace eigenformer {
namespace {

using testing::data_path;
using testing::TempDir;
using testing::throws_with;
using Bytes = std::vector<unsigned char>;

// Element bytes as the file stores them: little-endian, which is also this machine's order.
template <typename Raw>
Bytes raw_bytes(const std::vector<Raw>& values) {
  Bytes out(values.size() * sizeof(Raw));
  if (!out.empty()) std::memcpy(out.data(), values.data(), out.size());
  return out;
}

// The safetensors layout: `declared_length` as 8 little-endian bytes, the header text, the
// data section. The length is a parameter so tests can lie about it.
Bytes file_bytes(std::uint64_t declared_length, const std::string& header, const Bytes& data) {
  Bytes out;
  for (int byte = 0; byte < 8; ++byte)
    out.push_back(static_cast<unsigned char>(declared_length >> (8 * byte)));
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

// A well-formed file around `header`, padded with spaces to a multiple of 8 bytes as the
// reference writer does, so the data section is 8-byte aligned.
Bytes file_bytes(std::string header, const Bytes& data = {}) {
  header.append((8 - header.size() % 8) % 8, ' ');
  return file_bytes(header.size(), header, data);
}

// Builds valid files tensor by tensor, packing the data back to back.
class SafeTensorsBuilder {
 public:
  template <typename Raw>
  SafeTensorsBuilder& add(const std::string& name, const std::string& dtype,
                          const std::vector<std::int64_t>& shape, const std::vector<Raw>& values) {
    const Bytes bytes = raw_bytes(values);
    header_[name] = {{"dtype", dtype},
                     {"shape", shape},
                     {"data_offsets", {data_.size(), data_.size() + bytes.size()}}};
    data_.insert(data_.end(), bytes.begin(), bytes.end());
    return *this;
  }
  SafeTensorsBuilder& metadata(const nlohmann::json& fields) {
    header_["__metadata__"] = fields;
    return *this;
  }
  Bytes bytes() const { return file_bytes(header_.dump(), data_); }

 private:
  nlohmann::json header_ = nlohmann::json::object();
  Bytes data_;
};

class SafeTensorsTest : public ::testing::Test {
 protected:
  std::shared_ptr<const SafeTensorsFile> open(const Bytes& bytes,
                                              const SafeTensorsLimits& limits = {}) {
    return SafeTensorsFile::open(dir_.write("test.safetensors", bytes), limits);
  }

  // Expects opening `bytes` to throw a FormatError naming the file and every one of `parts`.
  ::testing::AssertionResult open_fails(const Bytes& bytes,
                                        std::initializer_list<std::string> parts,
                                        const SafeTensorsLimits& limits = {}) {
    const std::string path = dir_.write("bad.safetensors", bytes);
    std::vector<std::string> all{path};
    all.insert(all.end(), parts);
    return throws_with<FormatError>([&] { SafeTensorsFile::open(path, limits); }, all);
  }

  // A one-tensor header with the given raw JSON fields for tensor 'w'.
  ::testing::AssertionResult entry_fails(const std::string& fields, std::size_t data_bytes,
                                         std::initializer_list<std::string> parts) {
    return open_fails(file_bytes("{\"w\": {" + fields + "}}", Bytes(data_bytes)), parts);
  }

  TempDir dir_;
};

// ---------------------------------------------------------------- round trips

TEST_F(SafeTensorsTest, F32IsAZeroCopyViewAsFloatAndACopyAsDouble) {
  const std::vector<float> values{1.5f, -2.25f, 3.0e-8f, 1.0e30f, -0.0f, 7.0f};
  auto file = open(SafeTensorsBuilder().add("w", "F32", {2, 3}, values).bytes());

  const Tensor<float> view = file->tensor<float>("w");
  EXPECT_TRUE(view.is_view());
  EXPECT_EQ(view.shape(), (Shape{2, 3}));
  EXPECT_EQ(view.matrix().rows(), 2);
  EXPECT_EQ(view.matrix().cols(), 3);
  EXPECT_EQ(std::memcmp(view.data(), values.data(), values.size() * sizeof(float)), 0);
  EXPECT_EQ(view.matrix()(1, 0), 1.0e30f);
  EXPECT_TRUE(std::signbit(view.matrix()(1, 1)));

  const Tensor<double> copy = file->tensor<double>("w");
  EXPECT_FALSE(copy.is_view());
  for (std::size_t i = 0; i < values.size(); ++i)
    EXPECT_EQ(copy.data()[i], static_cast<double>(values[i])) << "element " << i;
}

TEST_F(SafeTensorsTest, ViewKeepsTheMappingAliveAfterTheFileHandleIsDropped) {
  auto file = open(SafeTensorsBuilder().add("w", "F32", {3}, std::vector<float>{4, 5, 6}).bytes());
  const Tensor<float> view = file->tensor<float>("w");
  file.reset();
  EXPECT_EQ(view.vector(), Eigen::Vector3f(4, 5, 6));
}

TEST_F(SafeTensorsTest, F64IsAViewAsDoubleAndRoundedAsFloat) {
  const std::vector<double> values{0.1, -1e-300, 12345.678901234567};
  auto file = open(SafeTensorsBuilder().add("w", "F64", {3}, values).bytes());
  const auto exact = file->tensor<double>("w");
  EXPECT_TRUE(exact.is_view());
  for (std::size_t i = 0; i < values.size(); ++i) EXPECT_EQ(exact[i], values[i]);
  const auto rounded = file->tensor<float>("w");
  EXPECT_FALSE(rounded.is_view());
  for (std::size_t i = 0; i < values.size(); ++i)
    EXPECT_EQ(rounded[i], static_cast<float>(values[i]));
}

TEST_F(SafeTensorsTest, FromBytesReadsTheSameLayout) {
  auto file = SafeTensorsFile::from_bytes(
      "in memory", SafeTensorsBuilder().add("w", "F32", {2}, std::vector<float>{1, 2}).bytes());
  EXPECT_EQ(file->path(), "in memory");
  EXPECT_TRUE(file->tensor<float>("w").is_view());
  EXPECT_EQ(file->tensor<float>("w")[1], 2.0f);
}

template <typename T>
class SafeTensorsFloatTest : public SafeTensorsTest {};
using FloatTypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(SafeTensorsFloatTest, FloatTypes);

// Expected values follow from the IEEE 754 binary16 layout: 1 sign, 5 exponent (bias 15),
// 10 mantissa bits; exponent 0 is subnormal (m * 2^-24), exponent 31 infinity / NaN.
TYPED_TEST(SafeTensorsFloatTest, F16DecodesNormalsSubnormalsAndSpecials) {
  using T = TypeParam;
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<std::pair<std::uint16_t, double>> cases{
      {0x3C00, 1.0},
      {0xC000, -2.0},
      {0x3555, (1.0 + 0x155 / 1024.0) / 4},   // 1/3 rounded to half precision
      {0x7BFF, 65504.0},                      // largest finite half
      {0x0400, std::ldexp(1.0, -14)},         // smallest normal
      {0x0001, std::ldexp(1.0, -24)},         // smallest subnormal
      {0x03FF, 1023 * std::ldexp(1.0, -24)},  // largest subnormal
      {0x8001, -std::ldexp(1.0, -24)},
      {0x0000, 0.0},
      {0x7C00, inf},
      {0xFC00, -inf}};
  std::vector<std::uint16_t> bits;
  for (const auto& entry : cases) bits.push_back(entry.first);
  bits.push_back(0x8000);  // -0
  bits.push_back(0x7E00);  // quiet NaN
  auto file = this->open(SafeTensorsBuilder().add("h", "F16", {13}, bits).bytes());
  const Tensor<T> tensor = file->template tensor<T>("h");
  EXPECT_FALSE(tensor.is_view());
  ASSERT_EQ(tensor.size(), 13);
  for (std::size_t i = 0; i < cases.size(); ++i)
    EXPECT_EQ(tensor[i], static_cast<T>(cases[i].second))
        << "bits 0x" << std::hex << cases[i].first;
  EXPECT_EQ(tensor[11], T(0));
  EXPECT_TRUE(std::signbit(tensor[11]));
  EXPECT_TRUE(std::isnan(tensor[12]));
}

// bfloat16 is the top half of a binary32: the value of bits b is the float with bits b << 16.
TYPED_TEST(SafeTensorsFloatTest, BF16DecodesAsTheUpperHalfOfAFloat) {
  using T = TypeParam;
  const std::vector<std::pair<std::uint16_t, double>> cases{
      {0x3F80, 1.0},
      {0xC040, -3.0},
      {0x4049, 3.140625},               // 1.5703125 * 2
      {0x0001, std::ldexp(1.0, -133)},  // float subnormal 2^16 * 2^-149
      {0x7F80, std::numeric_limits<double>::infinity()}};
  std::vector<std::uint16_t> bits;
  for (const auto& entry : cases) bits.push_back(entry.first);
  auto file = this->open(SafeTensorsBuilder().add("b", "BF16", {5}, bits).bytes());
  const Tensor<T> tensor = file->template tensor<T>("b");
  for (std::size_t i = 0; i < cases.size(); ++i)
    EXPECT_EQ(tensor[i], static_cast<T>(cases[i].second))
        << "bits 0x" << std::hex << cases[i].first;
}

TYPED_TEST(SafeTensorsFloatTest, IntegerDtypesConvertToFloatingPoint) {
  using T = TypeParam;
  auto file = this->open(SafeTensorsBuilder()
                             .add("i64", "I64", {2}, std::vector<std::int64_t>{-5, 1 << 20})
                             .add("i8", "I8", {2}, std::vector<std::int8_t>{-128, 127})
                             .add("u8", "U8", {2}, std::vector<std::uint8_t>{0, 255})
                             .bytes());
  EXPECT_EQ(file->template tensor<T>("i64").vector(), (Vector<T>(2) << -5, 1 << 20).finished());
  EXPECT_EQ(file->template tensor<T>("i8").vector(), (Vector<T>(2) << -128, 127).finished());
  EXPECT_EQ(file->template tensor<T>("u8").vector(), (Vector<T>(2) << 0, 255).finished());
}

TEST_F(SafeTensorsTest, IntegerDtypesReadAsIntegers) {
  const std::vector<std::int64_t> ids{-5, 0, std::int64_t{1} << 40,
                                      std::numeric_limits<std::int64_t>::max()};
  const std::vector<std::uint8_t> mask{0, 1, 255};
  auto file = open(SafeTensorsBuilder()
                       .add("ids", "I64", {2, 2}, ids)
                       .add("i32", "I32", {2}, std::vector<std::int32_t>{-7, 70000})
                       .add("i16", "I16", {1}, std::vector<std::int16_t>{-300})
                       .add("flags", "BOOL", {2}, std::vector<std::uint8_t>{1, 0})
                       .add("mask", "U8", {3}, mask)  // last: odd sizes would misalign the rest
                       .bytes());

  const auto id_view = file->tensor<std::int64_t>("ids");
  EXPECT_TRUE(id_view.is_view());
  EXPECT_EQ(std::vector<std::int64_t>(id_view.data(), id_view.data() + 4), ids);
  EXPECT_EQ(id_view.matrix()(1, 1), std::numeric_limits<std::int64_t>::max());

  const auto mask_view = file->tensor<std::uint8_t>("mask");
  EXPECT_TRUE(mask_view.is_view());
  EXPECT_EQ(std::vector<std::uint8_t>(mask_view.data(), mask_view.data() + 3), mask);
  const auto mask_wide = file->tensor<std::int64_t>("mask");
  EXPECT_FALSE(mask_wide.is_view());
  EXPECT_EQ(std::vector<std::int64_t>(mask_wide.data(), mask_wide.data() + 3),
            (std::vector<std::int64_t>{0, 1, 255}));

  EXPECT_TRUE(file->tensor<std::int32_t>("i32").is_view());
  EXPECT_EQ(file->tensor<std::int32_t>("i32")[1], 70000);
  EXPECT_EQ(file->tensor<std::int64_t>("i32")[0], -7);
  EXPECT_EQ(file->tensor<std::int64_t>("i16")[0], -300);
  EXPECT_EQ(file->tensor<std::uint8_t>("flags")[0], 1);
  EXPECT_EQ(file->tensor<std::uint8_t>("flags")[1], 0);
}

TEST_F(SafeTensorsTest, FloatDtypeRequestedAsIntegerIsAnError) {
  auto file = open(SafeTensorsBuilder()
                       .add("weight", "F32", {1}, std::vector<float>{1.5f})
                       .add("half", "F16", {1}, std::vector<std::uint16_t>{0x3C00})
                       .bytes());
  EXPECT_TRUE(
      throws_with<FormatError>([&] { file->tensor<std::int64_t>("weight"); },
                               {file->path(), "'weight'", "F32", "expected an integer dtype"}));
  EXPECT_TRUE(
      throws_with<FormatError>([&] { file->tensor<std::uint8_t>("half"); },
                               {file->path(), "'half'", "F16", "expected an integer dtype"}));
}

TEST_F(SafeTensorsTest, ValuesOutsideTheRequestedTypeAreAnError) {
  auto file = open(SafeTensorsBuilder()
                       .add("big", "I64", {2}, std::vector<std::int64_t>{1, std::int64_t{1} << 40})
                       .add("negative", "I32", {2}, std::vector<std::int32_t>{3, -5})
                       .add("huge", "F64", {2}, std::vector<double>{1.0, 1e300})
                       .add("inf", "F64", {1}, std::vector<double>{-HUGE_VAL})
                       .bytes());
  EXPECT_TRUE(throws_with<FormatError>([&] { file->tensor<std::int32_t>("big"); },
                                       {file->path(), "'big'", "I64", "element 1", "int32"}));
  EXPECT_TRUE(throws_with<FormatError>([&] { file->tensor<std::uint8_t>("negative"); },
                                       {file->path(), "'negative'", "element 1", "uint8"}));
  EXPECT_TRUE(throws_with<FormatError>([&] { file->tensor<float>("huge"); },
                                       {file->path(), "'huge'", "F64", "element 1", "float"}));
  EXPECT_EQ(file->tensor<double>("huge")[1], 1e300);
  EXPECT_EQ(file->tensor<float>("inf")[0], -std::numeric_limits<float>::infinity());
  EXPECT_EQ(file->tensor<std::int64_t>("big")[1], std::int64_t{1} << 40);
}

TEST_F(SafeTensorsTest, UnalignedDataIsCopiedNotViewed) {
  // A 1-byte tensor first puts the F32 data at offset 1 of an 8-aligned data section.
  const std::vector<float> values{0.25f, -8.0f};
  auto file = open(SafeTensorsBuilder()
                       .add("a", "U8", {1}, std::vector<std::uint8_t>{9})
                       .add("b", "F32", {2}, values)
                       .bytes());
  EXPECT_EQ(file->info("b").begin, 1u);
  const auto tensor = file->tensor<float>("b");
  EXPECT_FALSE(tensor.is_view());
  EXPECT_EQ(tensor[0], values[0]);
  EXPECT_EQ(tensor[1], values[1]);
}

TEST_F(SafeTensorsTest, EmptyAndScalarTensors) {
  auto file = open(SafeTensorsBuilder()
                       .add("a", "F32", {1}, std::vector<float>{1})
                       .add("empty", "F32", {0, 3}, std::vector<float>{})
                       .add("scalar", "F64", {}, std::vector<double>{2.5})
                       .bytes());
  // 'empty' spans [4, 4), the offset where 'scalar' begins: zero bytes overlap nothing.
  const auto empty = file->tensor<float>("empty");
  EXPECT_EQ(empty.shape(), (Shape{0, 3}));
  EXPECT_EQ(empty.size(), 0);
  EXPECT_EQ(empty.matrix().rows(), 0);
  EXPECT_EQ(empty.matrix().cols(), 3);
  const auto scalar = file->tensor<double>("scalar");
  EXPECT_EQ(scalar.rank(), 0);
  EXPECT_EQ(scalar.size(), 1);
  EXPECT_EQ(scalar[0], 2.5);
}

TEST_F(SafeTensorsTest, HeaderInfoAndMetadata) {
  auto file = open(SafeTensorsBuilder()
                       .metadata({{"format", "pt"}, {"note", "x"}})
                       .add("z", "F32", {1}, std::vector<float>{1})
                       .add("a", "I64", {1, 1}, std::vector<std::int64_t>{2})
                       .bytes());
  EXPECT_EQ(file->metadata(),
            (std::map<std::string, std::string>{{"format", "pt"}, {"note", "x"}}));
  ASSERT_EQ(file->tensors().size(), 2u);
  EXPECT_TRUE(file->contains("a"));
  EXPECT_FALSE(file->contains("__metadata__"));
  const TensorInfo& info = file->info("a");
  EXPECT_EQ(info.dtype, DType::I64);
  EXPECT_EQ(info.shape, (Shape{1, 1}));
  EXPECT_EQ(info.end - info.begin, 8u);
  EXPECT_TRUE(throws_with<FormatError>([&] { file->tensor<float>("absent"); },
                                       {file->path(), "no tensor named 'absent'"}));
  EXPECT_TRUE(throws_with<FormatError>([&] { file->info("__metadata__"); }, {file->path()}));
}

TEST_F(SafeTensorsTest, LoadStateDictConvertsEveryTensor) {
  const std::string path = dir_.write(
      "model.safetensors", SafeTensorsBuilder()
                               .add("f32", "F32", {2}, std::vector<float>{1, 2})
                               .add("f16", "F16", {1}, std::vector<std::uint16_t>{0xC000})
                               .add("ids", "I64", {1}, std::vector<std::int64_t>{7})
                               .bytes());
  const StateDict<double> dict = load_state_dict<double>(path);
  EXPECT_EQ(dict.source(), path);
  EXPECT_EQ(dict.names(), (std::vector<std::string>{"f16", "f32", "ids"}));
  EXPECT_EQ(dict.vector("f32", 2), Eigen::Vector2d(1, 2));
  EXPECT_EQ(dict.at("f16", {1})[0], -2.0);
  EXPECT_EQ(dict.at("ids")[0], 7.0);
}

TEST_F(SafeTensorsTest, LoadWeightsRefusesIntegerTensorsAsFloatingPointWeights) {
  const std::string path =
      dir_.write("model.safetensors",
                 SafeTensorsBuilder()
                     .add("dense.weight", "I8", {2}, std::vector<std::int8_t>{-3, 4})
                     .add("dense.bias", "F32", {1}, std::vector<float>{0.5f})
                     .add("norm.num_batches_tracked", "I64", {1}, std::vector<std::int64_t>{9})
                     .bytes());
  const StateDict<float> weights = load_weights<float>(path);
  EXPECT_EQ(weights.names(), (std::vector<std::string>{"dense.bias"}));
  EXPECT_TRUE(weights.contains("dense.weight"));
  EXPECT_TRUE(throws_with<FormatError>(
      [&] { weights.at("dense.weight", {2}); },
      {path, "'dense.weight'", "integer dtype I8", "expected a floating-point one"}));
  EXPECT_TRUE(throws_with<FormatError>([&] { weights.at("norm.num_batches_tracked"); },
                                       {"'norm.num_batches_tracked'", "I64"}));
  // Integer T takes integer parameters as they are, and floating-point ones not at all.
  EXPECT_TRUE(throws_with<FormatError>([&] { load_weights<std::int64_t>(path); },
                                       {"'dense.bias'", "expected an integer dtype"}));
}

// ---------------------------------------------------------------- malformed files

TEST_F(SafeTensorsTest, MissingFile) {
  const std::string path = dir_.file("absent.safetensors");
  EXPECT_TRUE(
      throws_with<FormatError>([&] { SafeTensorsFile::open(path); }, {path, "cannot open"}));
}

TEST_F(SafeTensorsTest, DirectoryIsNotARegularFile) {
  EXPECT_TRUE(throws_with<FormatError>([&] { SafeTensorsFile::open(dir_.path()); },
                                       {dir_.path(), "not a regular file"}));
}

TEST_F(SafeTensorsTest, FileShorterThanTheLengthField) {
  EXPECT_TRUE(open_fails(Bytes{1, 0, 0, 0, 0}, {"5 bytes", "8-byte header length"}));
  EXPECT_TRUE(open_fails(Bytes{}, {"0 bytes", "8-byte header length"}));
}

TEST_F(SafeTensorsTest, HeaderLengthPastEndOfFile) {
  EXPECT_TRUE(
      open_fails(file_bytes(100, "{}", {}), {"header length 100", "past the end", "at most 2"}));
}

TEST_F(SafeTensorsTest, HeaderLengthOverTheLimit) {
  SafeTensorsLimits small;
  small.max_header_bytes = 16;
  const Bytes bytes = SafeTensorsBuilder().add("w", "F32", {1}, std::vector<float>{1}).bytes();
  EXPECT_TRUE(open_fails(bytes, {"exceeds the limit of 16 bytes"}, small));
  // A hostile length near 2^64 must be refused before anything is allocated or read.
  EXPECT_TRUE(open_fails(file_bytes(std::uint64_t{1} << 63, "{}", {}), {"exceeds the limit"}));
}

TEST_F(SafeTensorsTest, HeaderNotValidJson) {
  EXPECT_TRUE(open_fails(file_bytes("{\"w\": {\"dtype\": "), {"header is not valid JSON"}));
  EXPECT_TRUE(open_fails(file_bytes("{} trailing"), {"header is not valid JSON"}));
}

TEST_F(SafeTensorsTest, HeaderNotAnObject) {
  EXPECT_TRUE(open_fails(file_bytes("[1, 2]"), {"header must be a JSON object", "array"}));
}

TEST_F(SafeTensorsTest, EntryNotAnObject) {
  EXPECT_TRUE(open_fails(file_bytes(R"({"w": [1]})"), {"tensor 'w'", "must be an object"}));
}

TEST_F(SafeTensorsTest, MissingDtype) {
  EXPECT_TRUE(entry_fails(R"("shape": [1], "data_offsets": [0, 4])", 4,
                          {"tensor 'w'", "missing string field 'dtype'"}));
}

TEST_F(SafeTensorsTest, UnknownDtype) {
  EXPECT_TRUE(entry_fails(R"("dtype": "F8_E4M3", "shape": [1], "data_offsets": [0, 1])", 1,
                          {"tensor 'w'", "'F8_E4M3'", "expected one of F64, F32"}));
}

TEST_F(SafeTensorsTest, ShapeTimesDtypeSizeDisagreesWithByteSpan) {
  EXPECT_TRUE(entry_fails(R"("dtype": "F32", "shape": [2, 3], "data_offsets": [0, 20])", 20,
                          {"tensor 'w'", "F32", "needs 24 bytes", "span 20"}));
}

TEST_F(SafeTensorsTest, OffsetsPastTheDataSection) {
  EXPECT_TRUE(entry_fails(R"("dtype": "F32", "shape": [2], "data_offsets": [0, 8])", 7,
                          {"tensor 'w'", "[0, 8]", "out of range", "7 bytes"}));
}

TEST_F(SafeTensorsTest, OffsetsEndBeforeTheyBegin) {
  EXPECT_TRUE(entry_fails(R"("dtype": "F32", "shape": [1], "data_offsets": [8, 4])", 8,
                          {"tensor 'w'", "[8, 4]", "end before they begin"}));
}

TEST_F(SafeTensorsTest, MalformedOffsets) {
  for (const char* offsets : {"[0]", "[-1, 3]", "[0, 4.0]", "\"0, 4\"", "[0, 2, 4]"})
    EXPECT_TRUE(
        entry_fails(std::string(R"("dtype": "F32", "shape": [1], "data_offsets": )") + offsets, 4,
                    {"tensor 'w'", "'data_offsets' must be [begin, end]"}))
        << offsets;
  EXPECT_TRUE(entry_fails(R"("dtype": "F32", "shape": [1])", 4, {"tensor 'w'", "data_offsets"}));
}

TEST_F(SafeTensorsTest, OverlappingTensors) {
  const std::string header = R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                                 "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})";
  EXPECT_TRUE(open_fails(file_bytes(header, Bytes(12)), {"'a' [0, 8)", "'b' [4, 12)", "overlap"}));
  // Containment is overlap too, whichever order the header lists them in.
  const std::string nested = R"({"a": {"dtype": "U8", "shape": [2], "data_offsets": [3, 5]},
                                 "b": {"dtype": "U8", "shape": [8], "data_offsets": [0, 8]}})";
  EXPECT_TRUE(open_fails(file_bytes(nested, Bytes(8)), {"'a'", "'b'", "overlap"}));
}

TEST_F(SafeTensorsTest, DuplicateTensorNames) {
  const std::string header = R"({"w": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]},
                                 "w": {"dtype": "U8", "shape": [1], "data_offsets": [1, 2]}})";
  EXPECT_TRUE(open_fails(file_bytes(header, Bytes(2)), {"duplicate tensor 'w'"}));
}

TEST_F(SafeTensorsTest, ShapeEntriesMustBeNonNegativeIntegers) {
  for (const char* shape : {"[-1]", "[2.0]", "[\"2\"]", "[null]", "[true]"})
    EXPECT_TRUE(
        entry_fails(std::string(R"("dtype": "U8", "data_offsets": [0, 2], "shape": )") + shape, 2,
                    {"tensor 'w'", "shape entries must be non-negative integers"}))
        << shape;
  EXPECT_TRUE(entry_fails(R"("dtype": "U8", "data_offsets": [0, 2], "shape": 2)", 2,
                          {"tensor 'w'", "missing array field 'shape'"}));
}

TEST_F(SafeTensorsTest, DeeplyNestedShapeEntryIsAnErrorNotACrash) {
  // A 2 MB header nesting arrays a million deep: the message must not recurse into it.
  const int depth = 1000000;
  const std::string nested = std::string(depth, '[') + std::string(depth, ']');
  EXPECT_TRUE(
      entry_fails(R"("dtype": "U8", "data_offsets": [0, 0], "shape": [1, )" + nested + "]", 0,
                  {"tensor 'w'", "shape entries must be non-negative integers, got array"}));
}

TEST_F(SafeTensorsTest, ShapeProductOverflow) {
  // 2^32 * 2^32 elements overflows 64 bits; 2^62 F64 elements fit, their 2^65 bytes do not;
  // one extent of 2^63 exceeds the signed Index range.
  for (const char* shape : {"[4294967296, 4294967296]", "[9223372036854775808]"})
    EXPECT_TRUE(
        entry_fails(std::string(R"("dtype": "U8", "data_offsets": [0, 1], "shape": )") + shape, 1,
                    {"tensor 'w'", "overflows"}))
        << shape;
  EXPECT_TRUE(
      entry_fails(R"("dtype": "F64", "data_offsets": [0, 8], "shape": [4611686018427387904])", 8,
                  {"tensor 'w'", "overflows"}));
}

TEST_F(SafeTensorsTest, RankOverTheLimit) {
  SafeTensorsLimits small;
  small.max_rank = 2;
  const Bytes bytes =
      SafeTensorsBuilder().add("w", "U8", {1, 1, 1}, std::vector<std::uint8_t>{0}).bytes();
  EXPECT_TRUE(open_fails(bytes, {"tensor 'w'", "rank 3", "limit of 2"}, small));
}

TEST_F(SafeTensorsTest, TooManyTensors) {
  SafeTensorsLimits small;
  small.max_tensors = 1;
  const Bytes bytes = SafeTensorsBuilder()
                          .add("a", "U8", {1}, std::vector<std::uint8_t>{0})
                          .add("b", "U8", {1}, std::vector<std::uint8_t>{0})
                          .bytes();
  EXPECT_TRUE(open_fails(bytes, {"2 tensors", "limit of 1"}, small));
  // __metadata__ is not a tensor and does not count against the limit.
  const Bytes one_tensor = SafeTensorsBuilder()
                               .metadata({{"format", "pt"}})
                               .add("a", "U8", {1}, std::vector<std::uint8_t>{0})
                               .bytes();
  EXPECT_EQ(open(one_tensor, small)->tensors().size(), 1u);
}

TEST_F(SafeTensorsTest, MetadataMustMapStringsToStrings) {
  EXPECT_TRUE(open_fails(file_bytes(R"({"__metadata__": {"format": "pt", "epoch": 3}})"),
                         {"__metadata__ field 'epoch' must be a string"}));
  EXPECT_TRUE(open_fails(file_bytes(R"({"__metadata__": ["pt"]})"),
                         {"__metadata__ must be an object of strings"}));
}

// ---------------------------------------------------------------- StateDict

StateDict<float> dict_with(const std::vector<std::string>& names) {
  StateDict<float> dict("weights.safetensors");
  for (const auto& name : names) dict.insert(name, Tensor<float>({2, 3}, {1, 2, 3, 4, 5, 6}));
  return dict;
}

TEST(StateDictTest, LooksUpByNameAndShape) {
  const auto dict = dict_with({"b", "a"});
  EXPECT_EQ(dict.size(), 2u);
  EXPECT_EQ(dict.names(), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(dict.contains("a"));
  EXPECT_FALSE(dict.contains("c"));
  EXPECT_EQ(dict.matrix("a", 2, 3)(1, 0), 4.0f);
  EXPECT_EQ(dict.at("a", {2, 3}).shape(), (Shape{2, 3}));
}

TEST(StateDictTest, MissingTensorListsItsNeighbours) {
  const auto dict =
      dict_with({"encoder.layer.0.attention.query.weight", "encoder.layer.0.attention.query.bias",
                 "encoder.layer.0.output.weight", "pooler.dense.weight"});
  const auto result = throws_with<FormatError>(
      [&] { dict.at("encoder.layer.0.attention.query.wieght"); },
      {"weights.safetensors", "missing tensor 'encoder.layer.0.attention.query.wieght'",
       "under 'encoder.layer.0.attention.query.'", "encoder.layer.0.attention.query.weight",
       "encoder.layer.0.attention.query.bias"});
  EXPECT_TRUE(result);
  EXPECT_EQ(std::string(result.message()).find("pooler"), std::string::npos) << result.message();
  // A wrong prefix falls back to the longest prefix that does exist.
  EXPECT_TRUE(
      throws_with<FormatError>([&] { dict.at("encoder.layer.7.output.weight"); },
                               {"under 'encoder.layer.'", "encoder.layer.0.output.weight"}));
}

TEST(StateDictTest, MissingTensorWithNoSharedPrefix) {
  EXPECT_TRUE(throws_with<FormatError>(
      [&] {
        dict_with({"a.x", "b.y"}).at("decoder.w");
      },
      {"missing tensor 'decoder.w'", "tensors present: a.x b.y"}));
  std::vector<std::string> many;
  for (int i = 0; i < 12; ++i) many.push_back("t" + std::to_string(i));
  EXPECT_TRUE(throws_with<FormatError>([&] { dict_with(many).at("decoder.w"); },
                                       {"missing tensor 'decoder.w'", "holds 12 tensors"}));
  EXPECT_TRUE(throws_with<FormatError>([&] { dict_with({}).at("w"); }, {"holds 0 tensors"}));
}

TEST(StateDictTest, LongNeighbourListsAreCut) {
  std::vector<std::string> many;
  for (int i = 0; i < 10; ++i) many.push_back("layer." + std::to_string(i));
  EXPECT_TRUE(throws_with<FormatError>([&] { dict_with(many).at("layer.x"); },
                                       {"under 'layer.'", "... (10 in all)"}));
}

TEST(StateDictTest, MissingNamesWithUnusualDotsStillThrow) {
  const auto dict = dict_with({"a.b", "c"});
  for (const char* name : {".", ".x", "..", "x.", "a..b", ""})
    EXPECT_TRUE(throws_with<FormatError>([&] { dict.at(name); },
                                         {std::string("missing tensor '") + name + "'"}))
        << name;
}

TEST(StateDictTest, ShapeMismatchNamesBothShapes) {
  StateDict<float> dict("weights.safetensors");
  dict.insert("w", Tensor<float>({2, 3}, {1, 2, 3, 4, 5, 6}));
  dict.insert("b", Tensor<float>({3}, {1, 2, 3}));
  EXPECT_TRUE(throws_with<ShapeError>(
      [&] {
        dict.at("w", {3, 2});
      },
      {"weights.safetensors", "'w'", "shape [2, 3]", "expected [3, 2]"}));
  EXPECT_TRUE(throws_with<ShapeError>([&] { dict.matrix("w", 6, 1); }, {"'w'", "expected [6, 1]"}));
  EXPECT_TRUE(
      throws_with<ShapeError>([&] { dict.vector("b", 4); }, {"'b'", "shape [3]", "expected [4]"}));
  EXPECT_TRUE(throws_with<FormatError>([&] { dict.matrix("x", 2, 3); }, {"missing tensor 'x'"}));
}

TEST(StateDictTest, DuplicateInsertIsAnError) {
  StateDict<float> dict("weights.safetensors");
  dict.insert("w", Tensor<float>({1}, {1}));
  EXPECT_TRUE(throws_with<FormatError>([&] { dict.insert("w", Tensor<float>({1}, {2})); },
                                       {"weights.safetensors", "duplicate tensor 'w'"}));
  EXPECT_EQ(dict.at("w")[0], 1.0f);
}

// ---------------------------------------------------------------- reference fixture

// The attention fixture as written by Python's safetensors, checked against an independent
// parse of its header: 8-byte little-endian length, JSON, then the data.
class AttentionFixtureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = data_path("attention/cases.safetensors");
    std::ifstream in(path_, std::ios::binary);
    bytes_.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    ASSERT_GE(bytes_.size(), 8u);
    std::uint64_t length = 0;
    for (int byte = 7; byte >= 0; --byte) length = (length << 8) | bytes_[byte];
    ASSERT_LE(length, bytes_.size() - 8);
    header_ = nlohmann::json::parse(bytes_.begin() + 8, bytes_.begin() + 8 + length);
    data_begin_ = 8 + length;
  }

  std::string path_;
  Bytes bytes_;
  nlohmann::json header_;
  std::size_t data_begin_ = 0;
};

TEST_F(AttentionFixtureTest, AgreesWithAnIndependentHeaderParse) {
  const auto file = SafeTensorsFile::open(path_);
  EXPECT_EQ(file->tensors().size(), 109u);
  EXPECT_EQ(file->tensors().size(), header_.size() - header_.count("__metadata__"));
  std::uint64_t covered = 0;
  for (const auto& info : file->tensors()) {
    SCOPED_TRACE(info.name);
    const auto& entry = header_.at(info.name);
    EXPECT_EQ(dtype_name(info.dtype), entry.at("dtype").get<std::string>());
    EXPECT_EQ(info.shape, entry.at("shape").get<Shape>());
    EXPECT_EQ(info.begin, entry.at("data_offsets")[0].get<std::uint64_t>());
    EXPECT_EQ(info.end, entry.at("data_offsets")[1].get<std::uint64_t>());
    covered += info.end - info.begin;
  }
  // The reference writer packs tensors back to back: they cover the data section exactly.
  EXPECT_EQ(covered, bytes_.size() - data_begin_);
}

TEST_F(AttentionFixtureTest, FloatTensorsAreAlignedViewsOfTheRawBytes) {
  const auto file = SafeTensorsFile::open(path_);
  int float_tensors = 0;
  for (const auto& info : file->tensors()) {
    if (info.dtype != DType::F32) continue;
    SCOPED_TRACE(info.name);
    ++float_tensors;
    const auto tensor = file->tensor<float>(info.name);
    EXPECT_TRUE(tensor.is_view());  // the writer pads the header to 8 bytes
    ASSERT_EQ(static_cast<std::uint64_t>(tensor.size()) * 4, info.end - info.begin);
    EXPECT_EQ(
        std::memcmp(tensor.data(), bytes_.data() + data_begin_ + info.begin, info.end - info.begin),
        0);
  }
  EXPECT_EQ(float_tensors, 104);
}

TEST_F(AttentionFixtureTest, KnownShapesAndMask) {
  const auto file = SafeTensorsFile::open(path_);
  EXPECT_EQ(file->info("fn.x").shape, (Shape{3, 50}));
  EXPECT_EQ(file->info("sdpa_long.q").shape, (Shape{1, 2, 333, 32}));  // L = 333 per README
  // nn.MultiheadAttention(16, 4) packs q, k, v projections: (3 * 16, 16).
  EXPECT_EQ(file->info("mha_self.in_proj_weight").shape, (Shape{48, 16}));
  const auto mask = file->tensor<std::uint8_t>("mha_self.key_padding_mask");
  EXPECT_EQ(file->info("mha_self.key_padding_mask").dtype, DType::U8);
  EXPECT_TRUE(mask.is_view());
  EXPECT_EQ(mask.shape(), (Shape{2, 5}));
  for (Index i = 0; i < mask.size(); ++i) EXPECT_LE(mask[i], 1) << "element " << i;
  const auto mask_as_float = file->tensor<float>("mha_self.key_padding_mask");
  EXPECT_EQ(mask_as_float.matrix(), mask.matrix().cast<float>());
}

TEST_F(AttentionFixtureTest, StateDictInFloatAndDoubleAgree) {
  const auto& single = testing::fixture<float>("attention/cases.safetensors");
  const auto& twice = testing::fixture<double>("attention/cases.safetensors");
  ASSERT_EQ(single.size(), 109u);
  EXPECT_EQ(single.names(), twice.names());
  const auto x = single.matrix("fn.x", 3, 50);
  EXPECT_EQ(twice.matrix("fn.x", 3, 50), x.cast<double>());
}

}  // namespace
}  // namespace eigenformer
