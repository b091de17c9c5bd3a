#include <eigenformer/io/pickle.hpp>
#include <eigenformer/io/torch_checkpoint.hpp>
#include <eigenformer/io/zip_archive.hpp>

#include "fixture.hpp"
#include "io/test_files.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <string>
#include <vector>

namespace eigenformer {
namespace {

using testing::data_path;
using testing::TempDir;
using testing::throws_with;
using Bytes = std::vector<unsigned char>;

// ---------------------------------------------------------------------------------------
// Hand-built archives and pickles.

void put(Bytes& out, std::uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<unsigned char>(value >> (8 * i)));
}

struct ZipFile {
  std::string name;
  Bytes data;
  std::uint16_t method = 0;
};

struct ZipOptions {
  std::size_t prefix_bytes = 0;
  std::string comment;
  bool zip64 = false;
};

// A zip archive as torch's writer lays it out (local headers, central directory, end
// record), optionally with junk before it, a comment, or zip64 records.
Bytes make_zip(const std::vector<ZipFile>& files, const ZipOptions& options = {}) {
  Bytes out;
  std::vector<std::uint64_t> offsets;
  for (const auto& file : files) {
    offsets.push_back(out.size());
    put(out, 0x04034b50, 4);
    put(out, 20, 2);
    put(out, 0, 2);
    put(out, file.method, 2);
    put(out, 0, 4);
    put(out, detail::crc32(file.data.data(), file.data.size()), 4);
    put(out, file.data.size(), 4);
    put(out, file.data.size(), 4);
    // Data aligned to 64 bytes by a padding extra field, as torch's writer does.
    const std::size_t pad = (64 - (out.size() + 4 + file.name.size() + 4) % 64) % 64;
    put(out, file.name.size(), 2);
    put(out, 4 + pad, 2);
    out.insert(out.end(), file.name.begin(), file.name.end());
    put(out, 0x4246, 2);
    put(out, pad, 2);
    out.insert(out.end(), pad, 'Z');
    out.insert(out.end(), file.data.begin(), file.data.end());
  }
  const std::uint64_t directory = out.size();
  for (std::size_t i = 0; i < files.size(); ++i) {
    const auto& file = files[i];
    const std::uint64_t small = options.zip64 ? 0xffffffffu : file.data.size();
    put(out, 0x02014b50, 4);
    put(out, 45, 2);
    put(out, 45, 2);
    put(out, 0, 2);
    put(out, file.method, 2);
    put(out, 0, 4);
    put(out, detail::crc32(file.data.data(), file.data.size()), 4);
    put(out, small, 4);
    put(out, small, 4);
    put(out, file.name.size(), 2);
    put(out, options.zip64 ? 28 : 0, 2);
    put(out, 0, 2);
    put(out, 0, 2);
    put(out, 0, 2);
    put(out, 0, 4);
    put(out, options.zip64 ? 0xffffffffu : offsets[i], 4);
    out.insert(out.end(), file.name.begin(), file.name.end());
    if (options.zip64) {
      put(out, 0x0001, 2);
      put(out, 24, 2);
      put(out, file.data.size(), 8);
      put(out, file.data.size(), 8);
      put(out, offsets[i], 8);
    }
  }
  const std::uint64_t directory_size = out.size() - directory;
  if (options.zip64) {
    const std::uint64_t record = out.size();
    put(out, 0x06064b50, 4);
    put(out, 44, 8);
    put(out, 45, 2);
    put(out, 45, 2);
    put(out, 0, 4);
    put(out, 0, 4);
    put(out, files.size(), 8);
    put(out, files.size(), 8);
    put(out, directory_size, 8);
    put(out, directory, 8);
    put(out, 0x07064b50, 4);
    put(out, 0, 4);
    put(out, record, 8);
    put(out, 1, 4);
  }
  put(out, 0x06054b50, 4);
  put(out, 0, 2);
  put(out, 0, 2);
  put(out, options.zip64 ? 0xffff : files.size(), 2);
  put(out, options.zip64 ? 0xffff : files.size(), 2);
  put(out, options.zip64 ? 0xffffffffu : directory_size, 4);
  put(out, options.zip64 ? 0xffffffffu : directory, 4);
  put(out, options.comment.size(), 2);
  out.insert(out.end(), options.comment.begin(), options.comment.end());
  Bytes prefixed(options.prefix_bytes, 'x');
  prefixed.insert(prefixed.end(), out.begin(), out.end());
  return prefixed;
}

// Emits pickle opcodes (protocol 2, as torch.save writes).
class Pickle {
 public:
  Pickle() { raw({0x80, 2}); }
  Pickle& raw(std::initializer_list<int> bytes) {
    for (int b : bytes) out.push_back(static_cast<unsigned char>(b));
    return *this;
  }
  Pickle& op(char c) { return raw({static_cast<unsigned char>(c)}); }
  Pickle& str(const std::string& s) {
    op('X');
    put(out, s.size(), 4);
    out.insert(out.end(), s.begin(), s.end());
    return *this;
  }
  Pickle& integer(std::int32_t value) {
    op('J');
    put(out, static_cast<std::uint32_t>(value), 4);
    return *this;
  }
  Pickle& real(double value) {
    std::uint64_t bits;
    std::memcpy(&bits, &value, sizeof(bits));
    op('G');
    for (int i = 7; i >= 0; --i) out.push_back(static_cast<unsigned char>(bits >> (8 * i)));
    return *this;
  }
  Pickle& global(const std::string& module, const std::string& name) {
    op('c');
    out.insert(out.end(), module.begin(), module.end());
    out.push_back('\n');
    out.insert(out.end(), name.begin(), name.end());
    out.push_back('\n');
    return *this;
  }
  Pickle& ints(const std::vector<std::int64_t>& values) {
    op('(');
    for (auto v : values) integer(static_cast<std::int32_t>(v));
    return op('t');
  }
  Pickle& ordered_dict() { return global("collections", "OrderedDict").op(')').op('R'); }
  Bytes out;
};

struct TensorSpec {
  std::string name = "weight";
  std::string storage = "FloatStorage";
  std::string key = "0";
  std::int64_t numel = 6;
  std::int64_t offset = 0;
  std::vector<std::int64_t> sizes = {2, 3};
  std::vector<std::int64_t> strides = {3, 1};
};

Pickle& tensor(Pickle& p, const TensorSpec& t) {
  p.global("torch._utils", "_rebuild_tensor_v2").op('(');
  p.op('(')
      .str("storage")
      .global("torch", t.storage)
      .str(t.key)
      .str("cpu")
      .integer(static_cast<std::int32_t>(t.numel));
  p.op('t').op('Q');
  p.integer(static_cast<std::int32_t>(t.offset)).ints(t.sizes).ints(t.strides);
  p.raw({0x89}).ordered_dict().op('t').op('R');
  return p;
}

// {'epoch': 3, 'model': Linear with the given parameters and extra state entries}.
Bytes checkpoint_pickle(const std::vector<TensorSpec>& params,
                        const std::function<void(Pickle&)>& extra = {}) {
  Pickle p;
  p.op('}').op('(').str("epoch").integer(3).str("model");
  p.global("torch.nn.modules.linear", "Linear").op(')').raw({0x81});
  p.op('}').op('(');
  p.str("_parameters").ordered_dict().op('(');
  for (const auto& t : params) tensor(p.str(t.name), t);
  p.op('u');
  p.str("_buffers").ordered_dict().str("_modules").ordered_dict();
  p.str("_forward_hooks").ordered_dict().str("in_features").integer(3);
  if (extra) extra(p);
  p.op('u').op('b');
  p.op('u').op('.');
  return p.out;
}

Bytes float_bytes(const std::vector<float>& values) {
  Bytes out(values.size() * 4);
  std::memcpy(out.data(), values.data(), out.size());
  return out;
}

Bytes torch_zip(const Bytes& pkl, const std::map<std::string, Bytes>& storages,
                const ZipOptions& options = {}) {
  std::vector<ZipFile> files = {{"ckpt/data.pkl", pkl},
                                {"ckpt/byteorder", {'l', 'i', 't', 't', 'l', 'e'}}};
  for (const auto& [key, bytes] : storages) files.push_back({"ckpt/data/" + key, bytes});
  files.push_back({"ckpt/version", {'3', '\n'}});
  return make_zip(files, options);
}

TorchCheckpoint<float> load_bytes(const Bytes& bytes, const TorchCheckpointLimits& limits = {}) {
  return load_torch_checkpoint_bytes<float>("test.pt", bytes, limits);
}

const Bytes kSixFloats = float_bytes({1, 2, 3, 4, 5, 6});

// ---------------------------------------------------------------------------------------
// The ultralytics fixtures (tests/data/ultralytics/README.md).

const TorchCheckpoint<float>& released() {
  static const auto checkpoint =
      load_torch_checkpoint<float>(data_path("ultralytics/rtdetr-tiny.pt"));
  return checkpoint;
}

const TorchCheckpoint<float>& last() {
  static const auto checkpoint =
      load_torch_checkpoint<float>(data_path("ultralytics/rtdetr-tiny-last.pt"));
  return checkpoint;
}

TEST(TorchCheckpointFixture, ReleasedFormLoadsTheModel) {
  const auto& ckpt = released();
  EXPECT_EQ(ckpt.form, "model");
  EXPECT_EQ(ckpt.modules.at("").class_name, "ultralytics.nn.tasks.RTDETRDetectionModel");
  EXPECT_EQ(ckpt.modules.at("model.0").class_name, "ultralytics.nn.modules.block.HGStem");
  EXPECT_EQ(ckpt.modules.at("model.0.stem1.conv").class_name, "torch.nn.modules.conv.Conv2d");
  EXPECT_EQ(ckpt.modules.size(), 452u);
  // 557 tensors in the state_dict, of which 78 are num_batches_tracked (int64).
  EXPECT_EQ(ckpt.weights.size(), 479u);
  EXPECT_EQ(ckpt.weights.at("model.0.stem1.conv.weight").shape(), (Shape{8, 3, 3, 3}));
  EXPECT_EQ(ckpt.weights.at("model.12.ma.in_proj_weight").shape(), (Shape{96, 32}));
  EXPECT_EQ(ckpt.weights.at("model.29.decoder.layers.0.self_attn.in_proj_weight").shape(),
            (Shape{192, 64}));
  EXPECT_EQ(ckpt.weights.at("model.29.enc_score_head.weight").shape(), (Shape{80, 64}));
  EXPECT_TRUE(ckpt.weights.contains("model.0.stem1.bn.num_batches_tracked"));
  EXPECT_TRUE(throws_with<FormatError>(
      [&] { ckpt.weights.at("model.0.stem1.bn.num_batches_tracked"); }, {"integer dtype I64"}));
  EXPECT_EQ(ckpt.metadata.at("epoch"), -1);
  EXPECT_EQ(ckpt.metadata.at("version"), "8.3.166");
  EXPECT_EQ(ckpt.metadata.at("train_args").at("imgsz"), 640);
  EXPECT_FALSE(ckpt.metadata.contains("model"));
}

// Values read from the raw fp16 bytes of the storage entries with Python's zipfile and
// struct ('<e'), independently of this reader.
TEST(TorchCheckpointFixture, ValuesMatchTheRawStorageBytes) {
  const auto& w = released().weights;
  const auto& conv = w.at("model.0.stem1.conv.weight");
  EXPECT_EQ(conv[0], 0.0433349609375f);
  EXPECT_EQ(conv[1], 0.043182373046875f);
  EXPECT_EQ(conv[2], -0.5546875f);
  EXPECT_EQ(conv[100], 0.06829833984375f);
  const auto& in_proj = w.at("model.29.decoder.layers.0.self_attn.in_proj_weight");
  EXPECT_EQ(in_proj[0], -0.1685791015625f);
  EXPECT_EQ(in_proj[1], 0.11383056640625f);
  EXPECT_EQ(in_proj[64 * 191 + 63], -0.1922607421875f);
  const auto& head = w.at("model.29.enc_score_head.weight");
  EXPECT_EQ(head[0], -0.233642578125f);
  EXPECT_EQ(head[100], 0.113525390625f);
  // As integers, num_batches_tracked is 1234 (README: every BatchNorm).
  const auto ints = load_torch_checkpoint<std::int64_t>(data_path("ultralytics/rtdetr-tiny.pt"));
  EXPECT_EQ(ints.weights.at("model.0.stem1.bn.num_batches_tracked")[0], 1234);
  EXPECT_EQ(ints.weights.at("model.0.stem1.bn.num_batches_tracked").rank(), 0);
  // As double the same values (fp16 -> double is exact as well).
  const auto doubles = load_torch_checkpoint<double>(data_path("ultralytics/rtdetr-tiny.pt"));
  EXPECT_EQ(doubles.weights.at("model.0.stem1.conv.weight")[2], -0.5546875);
}

TEST(TorchCheckpointFixture, LastFormHoldsTheSameWeightsUnderEma) {
  const auto& a = released();
  const auto& b = last();
  EXPECT_EQ(b.form, "ema");
  EXPECT_EQ(b.metadata.at("epoch"), 71);
  const auto archive = detail::ZipArchive::open(data_path("ultralytics/rtdetr-tiny-last.pt"));
  EXPECT_EQ(archive->entries().front().name.rfind("archive/", 0), 0u);
  ASSERT_EQ(a.weights.names(), b.weights.names());
  for (const auto& name : a.weights.names()) {
    const auto& x = a.weights.at(name);
    const auto& y = b.weights.at(name);
    ASSERT_EQ(x.shape(), y.shape()) << name;
    for (Index i = 0; i < x.size(); ++i) ASSERT_EQ(x[i], y[i]) << name << " element " << i;
  }
  // last.pt's model.args is an IterableSimpleNamespace: an inert record with its state.
  const auto args = b.attributes().at("args");
  EXPECT_EQ(args.at("__class__"), "ultralytics.utils.IterableSimpleNamespace");
  EXPECT_EQ(args.at("imgsz"), 640);
  EXPECT_EQ(a.attributes().at("args").at("imgsz"), 640);
}

TEST(TorchCheckpointFixture, ModuleAttributesDescribeTheArchitecture) {
  const auto& ckpt = released();
  const auto root = ckpt.attributes();
  const auto& yaml = root.at("yaml");
  EXPECT_EQ(yaml.at("backbone").size(), 11u);
  EXPECT_EQ(yaml.at("head").size(), 19u);
  EXPECT_EQ(yaml.at("backbone")[0], nlohmann::json::parse(R"([-1, 1, "HGStem", [8, 16]])"));
  EXPECT_EQ(root.at("names").size(), 80u);
  EXPECT_EQ(root.at("names").at("0"), "person");
  EXPECT_EQ(root.at("names").at("79"), "toothbrush");
  EXPECT_TRUE(root.at("stride").is_array());  // a small tensor: its values
  EXPECT_FALSE(root.contains("_parameters"));
  EXPECT_FALSE(root.contains("_forward_hooks"));
  const auto& bn = ckpt.modules.at("model.0.stem1.bn");
  EXPECT_EQ(bn.class_name, "torch.nn.modules.batchnorm.BatchNorm2d");
  EXPECT_DOUBLE_EQ(bn.attributes.at("eps").get<double>(), 1e-3);
  const auto& conv = ckpt.modules.at("model.0.stem1.conv").attributes;
  EXPECT_EQ(conv.at("stride"), nlohmann::json::parse("[2, 2]"));
  EXPECT_TRUE(conv.contains("padding") && conv.contains("groups") && conv.contains("dilation"));
  const auto& upsample = ckpt.modules.at("model.14").attributes;
  EXPECT_EQ(upsample.at("mode"), "nearest");
  EXPECT_EQ(upsample.at("scale_factor"), 2.0);
  EXPECT_EQ(ckpt.modules.at("model.29.decoder.layers.0.self_attn").attributes.at("num_heads"), 4);
  EXPECT_EQ(ckpt.modules.at("model.29").attributes.at("num_queries"), 40);
}

TEST(TorchCheckpointFixture, LoadingIsFast) {
  const auto start = std::chrono::steady_clock::now();
  const auto ckpt = load_torch_checkpoint<float>(data_path("ultralytics/rtdetr-tiny.pt"));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(ckpt.weights.size(), 479u);
#ifdef NDEBUG
  EXPECT_LT(seconds, 0.5);
#else
  EXPECT_LT(seconds, 10.0);  // sanitizer builds
#endif
}

// Written by Python's own pickler (protocol 2, torch's zip layout) with stand-in classes
// registered under torch's names: the fuzz seed valid_tiny_linear.pt, and the same behind
// a shell-script prefix.
TEST(TorchCheckpointFixture, ReadsWhatPythonsPicklerWrites) {
  for (const char* file : {"valid_tiny_linear.pt", "valid_prefixed.pt"}) {
    const auto ckpt = load_torch_checkpoint<float>(
        data_path(std::string("../fuzz/corpus/torch_checkpoint_fuzz/") + file));
    EXPECT_EQ(ckpt.form, "model");
    const auto& w = ckpt.weights.at("fc.weight", {2, 3});
    EXPECT_EQ(std::vector<float>(w.data(), w.data() + 6),
              (std::vector<float>{1, -2, 0.5f, 3, 4, 5}));
    // offset 1, sizes (2, 2), strides (1, 2) over 1..6
    const auto& t = ckpt.weights.at("t", {2, 2});
    EXPECT_EQ(std::vector<float>(t.data(), t.data() + 4), (std::vector<float>{2, 4, 3, 5}));
    EXPECT_TRUE(throws_with<FormatError>([&] { ckpt.weights.at("fc.n"); }, {"integer dtype"}));
    EXPECT_FALSE(ckpt.weights.contains("fc.bias"));  // None
    EXPECT_FALSE(ckpt.modules.count("none"));
    EXPECT_EQ(ckpt.modules.at("fc").attributes.at("out_features"), 2);
    const auto a = ckpt.attributes();
    EXPECT_EQ(a.at("stride"), nlohmann::json::parse("[1.0, 2.0, 3.0]"));
    EXPECT_EQ(a.at("names").at("1"), "bicycle");
    const std::vector<std::uint8_t> b = ckpt.metadata.at("b").get_binary();
    EXPECT_EQ(b, (std::vector<std::uint8_t>{0, 255}));  // protocol 2 bytes: _codecs.encode
  }
}

// ---------------------------------------------------------------------------------------
// Hostile files (tests/data/ultralytics/hostile/README.md): refused, nothing executed.

TEST(TorchCheckpointHostile, EveryHostileFileIsRefusedWithoutRunningIt) {
  const char* marker = "/tmp/eigenformer-hostile-ran";
  std::remove(marker);
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
      {"os-system.pt", {"os.system", "must not load"}},
      {"builtins-eval.pt", {"builtins.eval", "must not load"}},
      {"posix-system-reduce.pt", {"posix.system", "must not load"}},
      {"truncated.pt", {"truncated", "zip"}},
      {"deep-nesting.pt", {"nesting depth", "1000"}},
      {"legacy.pt", {"legacy", "re-save", "torch >= 1.6"}},
      {"short-storage.pt",
       {"model.29.enc_score_head.weight", "storage size", "1280 bytes", "2560 bytes"}},
      {"state-dict.pt", {"state_dict", "architecture"}},
  };
  for (const auto& [file, words] : cases) {
    const std::string path = data_path("ultralytics/hostile/" + file);
    EXPECT_TRUE(throws_with<FormatError>([&] { load_torch_checkpoint<float>(path); }, words))
        << file;
    std::ifstream in(path, std::ios::binary);
    const Bytes bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_TRUE(throws_with<FormatError>([&] { load_bytes(bytes); }, words)) << file;
  }
  EXPECT_FALSE(std::filesystem::exists(marker));
}

// ---------------------------------------------------------------------------------------
// Hand-built archives: the zip layer.

TEST(TorchCheckpointZip, PrefixBytesCommentAndZip64AreRead) {
  const Bytes pkl = checkpoint_pickle({TensorSpec{}});
  for (const ZipOptions& options :
       {ZipOptions{}, ZipOptions{300, "", false}, ZipOptions{0, "a comment PK", false},
        ZipOptions{0, "", true}, ZipOptions{77, "zip64 and a comment", true}}) {
    const auto ckpt = load_bytes(torch_zip(pkl, {{"0", kSixFloats}}, options));
    EXPECT_EQ(ckpt.form, "model");
    const auto& w = ckpt.weights.at("weight", {2, 3});
    EXPECT_EQ(w[5], 6.0f);
    EXPECT_EQ(ckpt.metadata.at("epoch"), 3);
    EXPECT_EQ(ckpt.modules.at("").attributes.at("in_features"), 3);
  }
}

TEST(TorchCheckpointZip, CompressedEntriesAreRefused) {
  std::vector<ZipFile> files = {{"ckpt/data.pkl", checkpoint_pickle({TensorSpec{}}), 8}};
  EXPECT_TRUE(throws_with<FormatError>([&] { load_bytes(make_zip(files)); },
                                       {"ckpt/data.pkl", "compression method 8", "stored"}));
}

TEST(TorchCheckpointZip, CorruptArchivesAreRefused) {
  Bytes good = torch_zip(checkpoint_pickle({TensorSpec{}}), {{"0", kSixFloats}});
  // A flipped data byte: the CRC-32 catches it.
  Bytes flipped = good;
  flipped[64 + 10] ^= 0x20;  // inside data.pkl
  EXPECT_TRUE(throws_with<FormatError>([&] { load_bytes(flipped); }, {"CRC-32"}));
  // Cut anywhere: no end record (or a directory pointing past the end).
  for (std::size_t cut : {std::size_t{0}, std::size_t{10}, good.size() / 2, good.size() - 1})
    EXPECT_TRUE(throws_with<FormatError>(
        [&] { load_bytes(Bytes(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(cut))); },
        {"test.pt"}))
        << cut;
  EXPECT_TRUE(throws_with<FormatError>(
      [&] {
        load_bytes(Bytes{'n', 'o', 't', ' ', 'z', 'i', 'p'});
      },
      {"truncated or not a zip archive"}));
  // Duplicate names, a missing data.pkl, a TorchScript archive, a big-endian file.
  EXPECT_TRUE(throws_with<FormatError>(
      [&] {
        load_bytes(make_zip({{"a/data.pkl", {}}, {"a/data.pkl", {}}}));
      },
      {"duplicate entry"}));
  EXPECT_TRUE(throws_with<FormatError>(
      [&] {
        load_bytes(make_zip({{"a/x", {}}}));
      },
      {"no data.pkl entry"}));
  EXPECT_TRUE(throws_with<FormatError>(
      [&] {
        load_bytes(make_zip({{"a/constants.pkl", {}}, {"a/code/x.py", {}}}));
      },
      {"TorchScript"}));
  EXPECT_TRUE(throws_with<FormatError>(
      [&] {
        load_bytes(
            make_zip({{"a/data.pkl", checkpoint_pickle({})}, {"a/byteorder", {'b', 'i', 'g'}}}));
      },
      {"byteorder", "big"}));
}

TEST(TorchCheckpointZip, StorageEntriesMustExistAndMatchTheirDeclaredSize) {
  const Bytes pkl = checkpoint_pickle({TensorSpec{}});
  EXPECT_TRUE(throws_with<FormatError>([&] { load_bytes(torch_zip(pkl, {})); },
                                       {"tensor 'weight'", "ckpt/data/0", "missing"}));
  EXPECT_TRUE(throws_with<FormatError>(
      [&] {
        load_bytes(torch_zip(pkl, {{"0", float_bytes({1, 2, 3, 4, 5, 6, 7})}}));
      },
      {"tensor 'weight'", "storage size mismatch", "28 bytes", "24 bytes"}));
}

// ---------------------------------------------------------------------------------------
// Tensors: dtypes, offsets and strides.

TEST(TorchCheckpointTensors, StridesAndOffsetsAreGathered) {
  TensorSpec transposed;  // a (3, 2) view of a row-major (2, 3) storage, from offset 0
  transposed.name = "t";
  transposed.sizes = {3, 2};
  transposed.strides = {1, 3};
  TensorSpec offset;  // elements 2..5 as (2, 2)
  offset.name = "o";
  offset.offset = 2;
  offset.sizes = {2, 2};
  offset.strides = {2, 1};
  TensorSpec broadcast;  // stride 0: one element repeated
  broadcast.name = "b";
  broadcast.offset = 4;
  broadcast.sizes = {3};
  broadcast.strides = {0};
  TensorSpec empty;
  empty.name = "e";
  empty.offset = 1000;  // never read
  empty.sizes = {0, 5};
  empty.strides = {5, 1};
  const auto ckpt = load_bytes(
      torch_zip(checkpoint_pickle({transposed, offset, broadcast, empty}), {{"0", kSixFloats}}));
  const auto& t = ckpt.weights.at("t", {3, 2});
  EXPECT_EQ(std::vector<float>(t.data(), t.data() + 6), (std::vector<float>{1, 4, 2, 5, 3, 6}));
  const auto& o = ckpt.weights.at("o", {2, 2});
  EXPECT_EQ(std::vector<float>(o.data(), o.data() + 4), (std::vector<float>{3, 4, 5, 6}));
  const auto& b = ckpt.weights.at("b", {3});
  EXPECT_EQ(std::vector<float>(b.data(), b.data() + 3), (std::vector<float>{5, 5, 5}));
  EXPECT_EQ(ckpt.weights.at("e").size(), 0);
  // A contiguous float32 tensor in an aligned entry is a view into the file.
  TensorSpec plain;
  const auto views = load_bytes(torch_zip(checkpoint_pickle({plain}), {{"0", kSixFloats}}));
  EXPECT_TRUE(views.weights.at("weight").is_view());
}

TEST(TorchCheckpointTensors, StridesOutOfBoundsAreRefused) {
  TensorSpec past;
  past.strides = {4, 1};  // last element at 1*4 + 2 = 6 of 6
  EXPECT_TRUE(throws_with<FormatError>(
      [&] {
        load_bytes(torch_zip(checkpoint_pickle({past}), {{"0", kSixFloats}}));
      },
      {"stride out of bounds", "element 6", "holds 6 elements"}));
  TensorSpec offset;
  offset.offset = 1;
  EXPECT_TRUE(throws_with<FormatError>(
      [&] {
        load_bytes(torch_zip(checkpoint_pickle({offset}), {{"0", kSixFloats}}));
      },
      {"out of bounds"}));
  TensorSpec huge;
  huge.sizes = {1 << 30, 1 << 30, 1 << 30};
  huge.strides = {0, 0, 0};
  EXPECT_TRUE(throws_with<FormatError>(
      [&] {
        load_bytes(torch_zip(checkpoint_pickle({huge}), {{"0", kSixFloats}}));
      },
      {"overflows"}));
  TensorSpec negative;
  negative.strides = {-3, 1};
  EXPECT_TRUE(throws_with<FormatError>(
      [&] {
        load_bytes(torch_zip(checkpoint_pickle({negative}), {{"0", kSixFloats}}));
      },
      {"non-negative"}));
  TensorSpec ranks;
  ranks.strides = {1};
  EXPECT_TRUE(throws_with<FormatError>(
      [&] {
        load_bytes(torch_zip(checkpoint_pickle({ranks}), {{"0", kSixFloats}}));
      },
      {"2 sizes but 1 strides"}));
}

TEST(TorchCheckpointTensors, DtypesConvertAndUnsupportedOnesAreNamed) {
  TensorSpec half{"h", "HalfStorage", "0", 2, 0, {2}, {1}};
  TensorSpec bf16{"b", "BFloat16Storage", "1", 2, 0, {2}, {1}};
  TensorSpec f64{"d", "DoubleStorage", "2", 1, 0, {}, {}};
  TensorSpec i64{"i", "LongStorage", "3", 1, 0, {}, {}};
  const Bytes half_bytes = {0x00, 0x3c, 0x00, 0xc0};  // 1.0, -2.0
  const Bytes bf16_bytes = {0x80, 0x3f, 0x40, 0x40};  // 1.0, 3.0
  Bytes f64_bytes(8), i64_bytes(8);
  const double pi = 3.25;
  const std::int64_t seven = 7;
  std::memcpy(f64_bytes.data(), &pi, 8);
  std::memcpy(i64_bytes.data(), &seven, 8);
  const Bytes zip =
      torch_zip(checkpoint_pickle({half, bf16, f64, i64}),
                {{"0", half_bytes}, {"1", bf16_bytes}, {"2", f64_bytes}, {"3", i64_bytes}});
  const auto ckpt = load_bytes(zip);
  EXPECT_EQ(ckpt.weights.at("h")[0], 1.0f);
  EXPECT_EQ(ckpt.weights.at("h")[1], -2.0f);
  EXPECT_EQ(ckpt.weights.at("b")[1], 3.0f);
  EXPECT_EQ(ckpt.weights.at("d")[0], 3.25f);
  EXPECT_TRUE(
      throws_with<FormatError>([&] { ckpt.weights.at("i"); }, {"'i'", "integer dtype I64"}));
  EXPECT_EQ(load_torch_checkpoint_bytes<std::int64_t>("t.pt", zip).weights.at("i")[0], 7);

  TensorSpec complex{"c", "ComplexFloatStorage", "0", 6, 0, {2, 3}, {3, 1}};
  EXPECT_TRUE(throws_with<FormatError>(
      [&] {
        load_bytes(torch_zip(checkpoint_pickle({complex}), {{"0", kSixFloats}}));
      },
      {"tensor 'c'", "torch.ComplexFloatStorage", "not supported"}));
}

// ---------------------------------------------------------------------------------------
// The pickle interpreter: allow-list, inert records, limits.

TEST(TorchCheckpointPickle, InertRecordsBecomeJsonAndNothingIsCalled) {
  const Bytes pkl = checkpoint_pickle({TensorSpec{}}, [](Pickle& p) {
    // save_dir = PosixPath('/runs', 'detect'); cfg = SimpleNamespace(...) via NEWOBJ + BUILD;
    // names = {0: 'person', 1: 'bicycle'}; a set; a REDUCE of an ultralytics function.
    p.str("save_dir").global("pathlib", "PosixPath").op('(').str("/").str("runs").str("detect");
    p.op('t').op('R');
    p.str("cfg").global("types", "SimpleNamespace").op(')').raw({0x81});
    p.op('}').str("imgsz").integer(640).op('s').op('b');
    p.str("names").op('}').op('(').integer(0).str("person").integer(1).str("bicycle").op('u');
    p.str("tags").global("builtins", "set").op(']').str("a").op('a').raw({0x85}).op('R');
    p.str("fn").global("ultralytics.utils", "colorstr").op('(').str("x").op('t').op('R');
    p.str("blob")
        .global("_codecs", "encode")
        .op('(')
        .str(
            "\xc3\xbf"
            "A")
        .str("latin1")
        .op('t');
    p.op('R');
  });
  const auto ckpt = load_bytes(torch_zip(pkl, {{"0", kSixFloats}}));
  const auto a = ckpt.attributes();
  EXPECT_EQ(a.at("save_dir"), "/runs/detect");
  EXPECT_EQ(a.at("cfg").at("__class__"), "types.SimpleNamespace");
  EXPECT_EQ(a.at("cfg").at("imgsz"), 640);
  EXPECT_EQ(a.at("names").at("1"), "bicycle");
  EXPECT_EQ(a.at("tags"), nlohmann::json::parse(R"(["a"])"));
  EXPECT_EQ(a.at("fn").at("__class__"), "ultralytics.utils.colorstr");
  EXPECT_EQ(a.at("fn").at("__args__"), nlohmann::json::parse(R"(["x"])"));
  const std::vector<std::uint8_t> blob = a.at("blob").get_binary();
  EXPECT_EQ(blob, (std::vector<std::uint8_t>{0xff, 'A'}));
}

TEST(TorchCheckpointPickle, GlobalsOutsideTheAllowListAreRefusedByName) {
  const std::vector<std::pair<std::pair<std::string, std::string>, std::string>> cases = {
      {{"subprocess", "Popen"}, "subprocess.Popen, which a checkpoint reader must not load"},
      {{"builtins", "getattr"}, "builtins.getattr, which a checkpoint reader must not load"},
      {{"__builtin__", "open"}, "__builtin__.open, which a checkpoint reader must not load"},
      {{"nt", "system"}, "nt.system, which a checkpoint reader must not load"},
      {{"torch", "load"}, "torch.load, which a checkpoint reader must not load"},
      {{"torch.storage", "_load_from_bytes"}, "must not load"},
      {{"importlib", "import_module"}, "must not load"},
      {{"mymodule", "Thing"}, "mymodule.Thing, which is not on the checkpoint reader's allow-list"},
      {{"torch.nn.modules.conv", "Conv2d.__init__.__globals__"}, "allow-list"},
      {{"torch._utils", "_rebuild_qtensor"}, "not support"},
  };
  for (const auto& [global, words] : cases) {
    Pickle p;
    p.op('}').str("x").global(global.first, global.second).op('s').op('.');
    EXPECT_TRUE(throws_with<FormatError>([&] { load_bytes(torch_zip(p.out, {})); },
                                         {"ckpt/data.pkl", words}))
        << global.first << "." << global.second;
  }
  // STACK_GLOBAL (protocol 4) goes through the same allow-list.
  Pickle p;
  p.raw({0x8c, 2, 'o', 's', 0x8c, 6, 's', 'y', 's', 't', 'e', 'm', 0x93}).op('.');
  EXPECT_TRUE(throws_with<FormatError>([&] { load_bytes(torch_zip(p.out, {})); }, {"os.system"}));
}

TEST(TorchCheckpointPickle, MisusedOpcodesAreErrors) {
  const std::vector<std::pair<std::function<void(Pickle&)>, std::string>> cases = {
      {[](Pickle& p) { p.op('.'); }, "empty stack"},
      {[](Pickle& p) { p.op('}'); }, "without STOP"},
      {[](Pickle& p) { p.op('h').raw({5}); }, "memo entry 5"},
      {[](Pickle& p) {
         p.raw({0x8a, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9});
       },
       "64 bits"},
      {[](Pickle& p) { p.op('}').integer(1).op('a'); }, "APPEND on a dict"},
      {[](Pickle& p) { p.op(']').op('(').integer(1).op('u'); }, "SETITEMS on a list"},
      {[](Pickle& p) { p.integer(1).op(')').op('R'); }, "REDUCE applied to a int"},
      {[](Pickle& p) {
         p.global("torch.nn.modules.conv", "Conv2d").op(')').op('R').op(')').op('R');
       },
       "REDUCE applied to a object"},
      {[](Pickle& p) { tensor(p, TensorSpec{}).op('}').op('b'); },
       "BUILD (setting the state) of a tensor"},
      {[](Pickle& p) {
         p.op('X').raw({0xff, 0xff, 0xff, 0x00});
       },
       "runs past the end"},
      {[](Pickle& p) {
         p.op('X').raw({2, 0, 0, 0, 0xc3, 0x28});
       },
       "UTF-8"},
      {[](Pickle& p) {
         p.raw({0x80, 6});
       },
       "protocol 6"},
      {[](Pickle& p) { p.op('I'); }, "unsupported pickle opcode 0x49"},
      {[](Pickle& p) { p.op('(').op('t').op('Q'); }, "persistent id"},
  };
  for (const auto& [emit, words] : cases) {
    Pickle p;
    emit(p);
    EXPECT_TRUE(throws_with<FormatError>([&] { load_bytes(torch_zip(p.out, {})); }, {words}))
        << words;
  }
}

TEST(TorchCheckpointPickle, LimitsAreEnforced) {
  const Bytes zip = torch_zip(checkpoint_pickle({TensorSpec{}}), {{"0", kSixFloats}});
  TorchCheckpointLimits few_opcodes;
  few_opcodes.pickle.max_opcodes = 20;
  EXPECT_TRUE(throws_with<FormatError>([&] { load_bytes(zip, few_opcodes); }, {"max_opcodes"}));
  TorchCheckpointLimits small_stack;
  small_stack.pickle.max_stack = 3;
  EXPECT_TRUE(throws_with<FormatError>([&] { load_bytes(zip, small_stack); }, {"max_stack"}));
  TorchCheckpointLimits no_tensors;
  no_tensors.pickle.max_tensors = 0;
  EXPECT_TRUE(throws_with<FormatError>([&] { load_bytes(zip, no_tensors); }, {"max_tensors"}));
  TorchCheckpointLimits short_strings;
  short_strings.pickle.max_string_bytes = 4;
  EXPECT_TRUE(
      throws_with<FormatError>([&] { load_bytes(zip, short_strings); }, {"max_string_bytes"}));
  TorchCheckpointLimits shallow;
  shallow.pickle.max_depth = 2;
  EXPECT_TRUE(throws_with<FormatError>([&] { load_bytes(zip, shallow); }, {"nesting depth"}));

  Pickle memo;
  memo.op(']');
  for (int i = 0; i < 10; ++i) memo.op('q').raw({i});
  memo.op('.');
  TorchCheckpointLimits small_memo;
  small_memo.pickle.max_memo = 4;
  EXPECT_TRUE(throws_with<FormatError>([&] { load_bytes(torch_zip(memo.out, {}), small_memo); },
                                       {"max_memo"}));
}

TEST(TorchCheckpointPickle, CyclesAndDeepValuesNeitherRecurseNorLeak) {
  // A list that contains itself, stored as a module attribute: built fine (Python allows
  // it), refused when written out as JSON.
  const Bytes cyclic = checkpoint_pickle(
      {}, [](Pickle& p) { p.str("loop").op(']').op('q').raw({200}).op('h').raw({200}).op('a'); });
  EXPECT_TRUE(throws_with<FormatError>([&] { load_bytes(torch_zip(cyclic, {})); },
                                       {"nesting depth", "contains itself"}));
  // Lists nested 200000 deep with the depth limit lifted: freeing them must not recurse.
  Pickle deep;
  for (int i = 0; i < 200000; ++i) deep.op(']');
  for (int i = 0; i < 199999; ++i) deep.op('a');
  deep.op('.');
  PickleLimits lifted;
  lifted.max_depth = 1u << 20;
  const auto doc = detail::pickle::load(deep.out.data(), deep.out.size(), "deep", lifted);
  EXPECT_EQ(doc.root().depth, 200000u);
}

TEST(TorchCheckpointForms, TopLevelShapesOtherThanAModelAreExplained) {
  Pickle none;
  none.op('}').op('(').str("model").op('N').str("ema").op('N').op('u').op('.');
  EXPECT_TRUE(throws_with<FormatError>([&] { load_bytes(torch_zip(none.out, {})); },
                                       {"neither 'ema' nor 'model'"}));
  Pickle nested;  // {'model': {'weight': tensor}}: DETR-style
  nested.op('}').str("model").op('}');
  tensor(nested.str("weight"), TensorSpec{}).op('s').op('s').op('.');
  EXPECT_TRUE(throws_with<FormatError>(
      [&] {
        load_bytes(torch_zip(nested.out, {{"0", kSixFloats}}));
      },
      {"'model' holds a bare state_dict", "architecture"}));
  Pickle list;
  list.op(']').op('.');
  EXPECT_TRUE(
      throws_with<FormatError>([&] { load_bytes(torch_zip(list.out, {})); }, {"holds a list"}));
  // ema wins over model when both are set, as ultralytics picks it.
  Pickle both;
  both.op('}').op('(').str("ema");
  both.global("torch.nn.modules.linear", "Identity").op(')').raw({0x81});
  both.op('}').str("_modules").op('}').op('s').op('b');
  both.str("model").integer(5).op('u').op('.');
  const auto ckpt = load_bytes(torch_zip(both.out, {}));
  EXPECT_EQ(ckpt.form, "ema");
  EXPECT_EQ(ckpt.modules.at("").class_name, "torch.nn.modules.linear.Identity");
  EXPECT_EQ(ckpt.weights.size(), 0u);
}

}  // namespace
}  // namespace eigenformer
