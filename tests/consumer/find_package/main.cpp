// A downstream program that sees eigenformer only through its CMake package (installed and
// found with find_package, or pulled in with FetchContent): the core, text and image parts
// must compile, link their dependencies (Eigen, nlohmann_json, utf8proc, stb) and run.
#include <eigenformer/attention/multi_head_attention.hpp>
#include <eigenformer/text/bert_tokenizer.hpp>
#include <eigenformer/image/image_file.hpp>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

namespace {

using eigenformer::Index;
using eigenformer::Linear;
using eigenformer::Matrix;
using eigenformer::Vector;

bool check(bool ok, const char* what) {
  std::printf("%s: %s\n", ok ? "ok" : "FAILED", what);
  return ok;
}

bool attention_runs() {
  const Index embed = 16, heads = 4, tokens = 5;
  const auto projection = [&] {
    return Linear<float>(Matrix<float>::Random(embed, embed), Vector<float>::Random(embed));
  };
  const eigenformer::MultiHeadAttention<float> attention(projection(), projection(), projection(),
                                                         projection(), heads);
  const Matrix<float> x = Matrix<float>::Random(2 * tokens, embed);
  const Matrix<float> y = attention.forward(x, eigenformer::SequenceBatch{tokens, tokens});
  return check(y.rows() == 2 * tokens && y.cols() == embed && y.allFinite(),
               "MultiHeadAttention gives a finite 10 x 16 output");
}

bool tokenizer_runs() {  // lowercasing and accent stripping come from utf8proc
  const eigenformer::BertTokenizer tokenizer(eigenformer::Vocabulary::from_tokens(
      {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "cafe"}, "inline vocabulary"));
  const auto ids = tokenizer.encode("CAF\xc3\x89").ids;
  return check(ids == std::vector<eigenformer::TokenId>{2, 5, 3},
               "BertTokenizer encodes \"CAF\\u00c9\" as [CLS] cafe [SEP]");
}

bool image_round_trips() {
  eigenformer::Image image(3, 2);
  for (std::size_t i = 0; i < image.pixels.size(); ++i)
    image.pixels[i] = static_cast<std::uint8_t>(i * 13);
  const std::string path =
      (std::filesystem::temp_directory_path() / "eigenformer-consumer-test.png").string();
  eigenformer::write_png(path, image);
  const eigenformer::Image back = eigenformer::load_image(path);
  std::filesystem::remove(path);
  return check(back.width == 3 && back.height == 2 && back.pixels == image.pixels,
               "a PNG written and read back with stb is unchanged");
}

}  // namespace

int main() {
  const bool ok = attention_runs() & tokenizer_runs() & image_round_trips();
  return ok ? 0 : 1;
}
