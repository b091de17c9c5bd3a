// A downstream program that sees eigenformer only through its CMake package (installed and
// found with find_package, or pulled in with FetchContent): the core, text and image parts
// must compile, link their dependencies (Eigen, nlohmann_json, utf8proc, stb) and run.
#include <eigenformer/attention/multi_head_attention.hpp>
#include <eigenformer/core/build_info.hpp>
#include <eigenformer/core/threading.hpp>
#include <eigenformer/image/image_file.hpp>
#include <eigenformer/text/bert_tokenizer.hpp>

#include <chrono>
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

// What a user's plain build gets: the kernels, the threads, and the time of a MiniLM-sized
// layer's products (printed, not checked: timing assertions have no place in tests).
void report_speed() {
  std::printf("build: %s\n", eigenformer::build_info_string().c_str());
  const Index rows = 8 * 128, width = 384;
  const Linear<float> up(Matrix<float>::Random(4 * width, width), Vector<float>::Random(4 * width));
  const Linear<float> down(Matrix<float>::Random(width, 4 * width), Vector<float>::Random(width));
  const Matrix<float> x = Matrix<float>::Random(rows, width);
  for (int threads : {1, 2}) {
    eigenformer::set_num_threads(threads);
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 6; ++i) {
      const Matrix<float> y = down.forward(up.forward(x));
      if (!y.allFinite()) std::printf("non-finite output\n");
    }
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    std::printf("6 feed-forward blocks of 8 x 128 tokens (MiniLM widths), %d thread(s): %.1f ms\n",
                threads, ms);
  }
}

}  // namespace

int main() {
  report_speed();
  const bool ok = attention_runs() & tokenizer_runs() & image_round_trips();
  return ok ? 0 : 1;
}
