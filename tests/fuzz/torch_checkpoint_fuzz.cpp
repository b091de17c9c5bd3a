// Arbitrary bytes as a torch.save checkpoint (load_torch_checkpoint_bytes), read as float
// and as int64: the zip reader, the pickle interpreter, the module walk, tensor gathering
// and the JSON conversion all run on the input. CRC-32 checks are off so that mutations
// of the pickle reach the interpreter instead of stopping at the checksum.
// Seeds: the small hostile files of tests/data/ultralytics/hostile, lists nested 2000 deep,
// and a tiny checkpoint written by Python's own pickler with stand-in classes under torch's
// names (valid_tiny_linear.pt; valid_prefixed.pt is it behind a shell-script prefix).
#include <eigenformer/io/torch_checkpoint.hpp>

#include "fuzz_support.hpp"

#include <cstdint>
#include <vector>

namespace {

using eigenformer::Index;
using eigenformer::fuzz::require;

template <typename T>
void load_and_touch(const std::uint8_t* data, std::size_t size) {
  eigenformer::TorchCheckpointLimits limits;
  limits.zip.verify_checksums = false;
  // Small enough that a hostile input cannot exhaust the fuzzer's memory or time.
  limits.pickle.max_opcodes = 1u << 20;
  limits.max_json_values = 1u << 20;
  const auto ckpt = eigenformer::load_torch_checkpoint_bytes<T>(
      "fuzz.pt", std::vector<unsigned char>(data, data + size), limits);
  require(ckpt.form == "model" || ckpt.form == "ema", "form is model or ema");
  require(ckpt.modules.count("") == 1, "the root module is listed");
  for (const auto& name : ckpt.weights.names()) {
    const auto& tensor = ckpt.weights.at(name);
    const Index count = tensor.size();
    require(count >= 0, "element count is non-negative");
    // Every element read (a gather past the storage is an AddressSanitizer report); no
    // arithmetic, which could overflow on fuzzed integers.
    static volatile T sink;
    for (Index i = 0; i < count; ++i) sink = tensor[i];
  }
  require(!ckpt.metadata.dump().empty(), "metadata serialises");
  for (const auto& [path, module] : ckpt.modules)
    require(!module.attributes.dump().empty(), "attributes serialise");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  eigenformer::fuzz::expect_load_or_error([&] { load_and_touch<float>(data, size); });
  eigenformer::fuzz::expect_load_or_error([&] { load_and_touch<std::int64_t>(data, size); });
  return 0;
}
