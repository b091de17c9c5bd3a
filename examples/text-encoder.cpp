// text-encoder: sentence embeddings (or token ids, or a similarity matrix) from a HF BERT
// model folder. See `text-encoder --help`.

#include <eigenformer/core/build_info.hpp>
#include <eigenformer/core/threading.hpp>
#include <eigenformer/models/bert/sentence_encoder.hpp>

#include "common/cli.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

namespace {

using eigenformer::Index;
using eigenformer::Matrix;
using Clock = std::chrono::steady_clock;

const char* const kUsage = R"(usage: text-encoder --model DIR [options] [TEXT ...]

Encodes each TEXT (or each line of standard input when no TEXT is given) with the BERT
model in DIR (config.json, model.safetensors, vocab.txt or tokenizer.json; the pooling and
normalisation of a sentence-transformers folder are used by default).

  --pooling auto|cls|mean|max|none   sentence pooling (none: one row per token)
  --normalize | --no-normalize       L2-normalise the embeddings (default: as the folder says)
  --max-length N                     truncate to N tokens, [CLS] and [SEP] included
  --no-truncate                      error out on over-long texts instead of truncating
  --threads N                        threads (default: one per core)
  --version                          print the kernels and threads this build uses
  --format jsonl|tsv                 one JSON array (or tab-separated line) per text
  --similarity                       print the cosine-similarity matrix instead
  --ids                              print each text's token ids, without running the model
  --reference-dir DIR --dump-hidden OUT
                                     run the padded batch described by DIR/reference.json
                                     (raw int64 input_ids, attention_mask, token_type_ids)
                                     and write last_hidden_state to OUT as raw float32
                                     (used by bench/compare to check agreement)
)";

struct Options {
  std::string model_dir;
  std::string pooling = "auto";
  std::string format = "jsonl";
  bool similarity = false;
  bool ids_only = false;
};

// %.9g: nine significant digits make every float round-trip exactly.
std::string format_row(const float* values, Index count, const std::string& format) {
  std::string line = format == "jsonl" ? "[" : "";
  char buffer[32];
  for (Index i = 0; i < count; ++i) {
    std::snprintf(buffer, sizeof buffer, "%.9g", static_cast<double>(values[i]));
    if (i) line += format == "jsonl" ? ", " : "\t";
    line += buffer;
  }
  if (format == "jsonl") line += "]";
  return line;
}

void print_matrix_rows(const Matrix<float>& m, const std::string& format) {
  for (Index r = 0; r < m.rows(); ++r)
    std::cout << format_row(m.row(r).data(), m.cols(), format) << '\n';
}

std::vector<std::string> read_texts(const std::vector<std::string>& arguments) {
  if (!arguments.empty()) return arguments;
  std::vector<std::string> lines;
  for (std::string line; std::getline(std::cin, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  return lines;
}

double milliseconds_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Reads one raw little-endian int64 array that reference.json describes.
eigenformer::TokenIdMatrix read_reference_ids(const std::string& dir, const nlohmann::json& index,
                                              const std::string& name) {
  const auto& entry = index.at(name);
  const auto shape = entry.at("shape").get<std::vector<Index>>();
  if (shape.size() != 2 || shape[0] < 0 || shape[1] < 0)
    throw eigenformer::FormatError(dir + "/reference.json: " + name + " must have a 2-d shape");
  const std::string path = dir + "/" + entry.at("file").get<std::string>();
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw eigenformer::FormatError(path + ": cannot open");
  eigenformer::TokenIdMatrix ids(shape[0], shape[1]);
  const auto bytes = static_cast<std::streamoff>(ids.size() * sizeof(std::int64_t));
  if (in.tellg() != bytes)
    throw eigenformer::FormatError(path + ": expected " + std::to_string(bytes) +
                                   " bytes for shape [" + std::to_string(shape[0]) + ", " +
                                   std::to_string(shape[1]) + "]");
  in.seekg(0);
  in.read(reinterpret_cast<char*>(ids.data()), bytes);
  return ids;
}

int run_reference(const cli::Arguments& args, const std::string& model_dir) {
  const std::string dir = args.get_or("reference-dir", "");
  const auto output = args.get("dump-hidden");
  if (!output) throw cli::UsageError("--reference-dir needs --dump-hidden OUT");
  const auto reference = eigenformer::JsonConfig::load(dir + "/reference.json");
  const nlohmann::json& index = reference.json();
  const auto model = eigenformer::BertModel<float>::load(model_dir);
  const auto result = model.forward(read_reference_ids(dir, index, "input_ids"),
                                    read_reference_ids(dir, index, "attention_mask"),
                                    read_reference_ids(dir, index, "token_type_ids"));
  std::ofstream out(*output, std::ios::binary);
  out.write(reinterpret_cast<const char*>(result.last_hidden_state.data()),
            static_cast<std::streamsize>(result.last_hidden_state.size() * sizeof(float)));
  if (!out) throw eigenformer::FormatError(*output + ": cannot write");
  return 0;
}

eigenformer::SentenceEncoderOptions encoder_options(const cli::Arguments& args,
                                                    const Options& options) {
  eigenformer::SentenceEncoderOptions out;
  if (options.pooling != "auto" && options.pooling != "none")
    out.pooling = eigenformer::parse_pooling(options.pooling);
  if (args.has("normalize") && args.has("no-normalize"))
    throw cli::UsageError("--normalize and --no-normalize exclude each other");
  if (args.has("normalize")) out.normalize = true;
  if (args.has("no-normalize")) out.normalize = false;
  if (args.has("max-length")) out.max_length = args.get_int("max-length", 0, 2, 1 << 20);
  out.truncate = !args.has("no-truncate");
  return out;
}

int run(int argc, char** argv) {
  const cli::Arguments args(
      argc, argv,
      {"model", "pooling", "max-length", "threads", "format", "batch", "seq", "runs",
       "reference-dir", "dump-hidden"},
      {"normalize", "no-normalize", "no-truncate", "similarity", "ids", "help", "version"});
  if (args.has("help")) {
    std::cout << kUsage;
    return 0;
  }
  if (args.has("version")) {
    eigenformer::set_num_threads(static_cast<int>(args.get_int("threads", 0, 0, 1024)));
    std::cout << "text-encoder: " << eigenformer::build_info_string() << '\n';
    return 0;
  }
  Options options;
  options.model_dir = args.get_or("model", "");
  if (options.model_dir.empty()) throw cli::UsageError("--model DIR is required");
  const int threads = static_cast<int>(args.get_int("threads", 0, 0, 1024));
  eigenformer::set_num_threads(threads);
  if (args.has("reference-dir")) return run_reference(args, options.model_dir);

  options.pooling = args.get_or("pooling", "auto");
  options.format = args.get_or("format", "jsonl");
  options.similarity = args.has("similarity");
  options.ids_only = args.has("ids");
  if (options.format != "jsonl" && options.format != "tsv")
    throw cli::UsageError("--format must be jsonl or tsv");
  const std::set<std::string> poolings{"auto", "cls", "mean", "max", "none"};
  if (!poolings.count(options.pooling))
    throw cli::UsageError("--pooling must be auto, cls, mean, max or none");
  if (options.similarity && options.pooling == "none")
    throw cli::UsageError("--similarity needs sentence embeddings, not --pooling none");

  const auto start = Clock::now();
  const auto encoder =
      eigenformer::SentenceEncoder<float>::load(options.model_dir, encoder_options(args, options));
  const std::vector<std::string> texts = read_texts(args.positional());
  std::cerr << "loaded " << options.model_dir << " in " << milliseconds_since(start) << " ms\n";

  if (options.ids_only) {
    for (const auto& text : texts) {
      const auto ids = encoder.tokenize(text).ids;
      std::string line = "[";
      for (std::size_t i = 0; i < ids.size(); ++i) line += (i ? ", " : "") + std::to_string(ids[i]);
      std::cout << line << "]\n";
    }
    return 0;
  }

  const auto encode_start = Clock::now();
  auto progress = [&](std::size_t done) {
    if (texts.size() >= 256) std::cerr << "\rencoded " << done << "/" << texts.size() << std::flush;
  };
  if (options.pooling == "none") {
    for (const auto& tokens : encoder.encode_tokens(texts, progress)) {
      if (options.format == "jsonl") {
        std::cout << "[";
        for (Index r = 0; r < tokens.rows(); ++r)
          std::cout << (r ? ", " : "") << format_row(tokens.row(r).data(), tokens.cols(), "jsonl");
        std::cout << "]\n";
      } else {
        print_matrix_rows(tokens, options.format);
        std::cout << '\n';
      }
    }
  } else {
    Matrix<float> embeddings = encoder.encode(texts, progress);
    if (options.similarity) {
      Matrix<float> unit = embeddings;
      eigenformer::l2_normalize_rows(unit);
      embeddings = unit * unit.transpose();
    }
    print_matrix_rows(embeddings, options.format);
  }
  if (texts.size() >= 256) std::cerr << '\n';
  std::cerr << "encoded " << texts.size() << " texts in " << milliseconds_since(encode_start)
            << " ms\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const cli::UsageError& e) {
    std::cerr << "text-encoder: " << e.what() << "\n\n" << kUsage;
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "text-encoder: error: " << e.what() << '\n';
    return 1;
  }
}
