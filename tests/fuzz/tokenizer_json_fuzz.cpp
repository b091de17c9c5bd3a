// Arbitrary bytes as a tokenizer.json (load_tokenizer_json), then the tokenizer, when the
// file makes one, on fixed texts and on the same bytes as text.
#include <eigenformer/text/tokenizer_loader.hpp>

#include "tokenizer_checks.hpp"

#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static eigenformer::fuzz::MemoryFile file;
  const std::string& path = file.write(data, size);
  eigenformer::fuzz::expect_load_or_error([&] {
    const auto tokenizer = eigenformer::load_tokenizer_json(path);
    eigenformer::fuzz::exercise_loaded_tokenizer(
        tokenizer, std::string_view(reinterpret_cast<const char*>(data), size));
  });
  return 0;
}
