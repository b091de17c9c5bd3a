// eigenformer-bench: times one model's forward pass as a user's program runs it and prints one
// JSON line (median_ms, min_ms, ...), the eigenformer side of bench/compare.
//   eigenformer-bench text   --model DIR --batch B --seq L [--threads T] [--runs N]
//   eigenformer-bench detect --model PATH --input-tensor FILE [--threads T] [--runs N] [--stages]
//                            [--direct-conv] [--winograd-tile 2|4]
// PATH is a HF RT-DETR folder or an ultralytics .pt; FILE a safetensors file holding
// `pixel_values` or `images` (1, 3, H, W). Times exclude loading and pre-processing; one
// untimed warm-up run comes first.

#include <eigenformer/core/build_info.hpp>
#include <eigenformer/core/threading.hpp>
#include <eigenformer/io/safetensors.hpp>
#include <eigenformer/models/bert/model.hpp>
#include <eigenformer/models/rtdetr/model.hpp>
#include <eigenformer/models/ultralytics/rtdetr_model.hpp>

#include <nlohmann/json.hpp>

#include "../examples/common/cli.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace {

using eigenformer::FeatureMap;
using eigenformer::Index;
using Clock = std::chrono::steady_clock;

const char* const kUsage =
    R"(usage: eigenformer-bench text --model DIR --batch B --seq L [--threads T] [--runs N]
       eigenformer-bench detect --model PATH --input-tensor FILE [--threads T] [--runs N]
                                [--stages] [--direct-conv] [--winograd-tile 2|4]

text    a BERT-family encoder (HF folder) on B random sequences of L tokens
detect  an RT-DETR detector (HF folder, or ultralytics .pt) on the 4-D tensor pixel_values
        or images of FILE; --stages adds per-stage medians (backbone, encoder, decoder);
        --direct-conv turns the Winograd 3x3 convolutions off (cnn/winograd.hpp);
        --winograd-tile 4 runs them as F(4x4, 3x3), 2 as F(2x2, 3x3)

Prints one JSON line: {"median_ms": ..., "min_ms": ..., "runs": N, "threads": T, ...}.
)";

double milliseconds(Clock::time_point start, Clock::time_point end) {
  return std::chrono::duration<double, std::milli>(end - start).count();
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

// Runs `body` once untimed, then `runs` times; the JSON line gets median and min.
nlohmann::ordered_json time_runs(long runs, const std::function<void()>& body) {
  body();
  std::vector<double> times;
  for (long r = 0; r < runs; ++r) {
    const auto start = Clock::now();
    body();
    times.push_back(milliseconds(start, Clock::now()));
  }
  return {{"median_ms", median(times)},
          {"min_ms", *std::min_element(times.begin(), times.end())},
          {"runs", runs}};
}

int run_text(const cli::Arguments& args) {
  const std::string model_dir = args.get_or("model", "");
  if (model_dir.empty()) throw cli::UsageError("--model DIR is required");
  const long batch = args.get_int("batch", 1, 1, 4096);
  const long seq = args.get_int("seq", 128, 1, 1 << 20);
  const long runs = args.get_int("runs", 10, 1, 100000);
  const auto model = eigenformer::BertModel<float>::load(model_dir);
  if (seq > model.config().max_position_embeddings)
    throw cli::UsageError("--seq exceeds the model's max_position_embeddings");
  const Index vocab = model.config().vocab_size;
  // Ids from 1000 on skip BERT's [PAD], special and [unused] tokens where the vocabulary has
  // them; a smaller one is sampled whole.
  std::mt19937 rng(1234);
  std::uniform_int_distribution<std::int64_t> token(std::min<Index>(1000, vocab - 1), vocab - 1);
  eigenformer::TokenIdVector ids(batch * seq);
  for (Index i = 0; i < ids.size(); ++i) ids[i] = token(rng);
  const eigenformer::TokenIdVector types = eigenformer::TokenIdVector::Zero(ids.size());
  const auto sequences = eigenformer::SequenceBatch::uniform(batch, seq);
  eigenformer::BertWorkspace<float> workspace;
  nlohmann::ordered_json line = {{"task", "text"}, {"batch", batch}, {"seq", seq}};
  line.update(
      time_runs(runs, [&] { model.forward_packed(ids, types, sequences, false, &workspace); }));
  line["threads"] = eigenformer::num_threads();
  line["kernels"] = eigenformer::build_info().kernels;
  std::cout << line.dump() << '\n';
  return 0;
}

FeatureMap<float> read_image_tensor(const std::string& path) {
  const auto file = eigenformer::SafeTensorsFile::open(path);
  const char* name = file->contains("images") ? "images" : "pixel_values";
  const auto tensor = file->tensor<float>(name);
  if (tensor.rank() != 4 || tensor.dim(0) != 1)
    throw eigenformer::ShapeError(path + ": '" + name + "' must be (1, 3, height, width)");
  return FeatureMap<float>::from_nchw(tensor, 0);
}

int run_detect(const cli::Arguments& args) {
  const std::string model_path = args.get_or("model", "");
  const std::string input = args.get_or("input-tensor", "");
  if (model_path.empty() || input.empty())
    throw cli::UsageError("--model PATH and --input-tensor FILE are required");
  const long runs = args.get_int("runs", 10, 1, 100000);
  const FeatureMap<float> pixels = read_image_tensor(input);
  nlohmann::ordered_json line = {
      {"task", "detect"}, {"height", pixels.height}, {"width", pixels.width}};
  if (std::filesystem::is_directory(model_path)) {
    const auto model = eigenformer::RTDetrModel<float>::load(model_path);
    line["model"] = "hf";
    line.update(time_runs(runs, [&] { model.forward(pixels); }));
  } else {
    const auto model = eigenformer::UltralyticsRTDetr<float>::load(model_path);
    line["model"] = "ultralytics";
    if (args.has("stages")) {
      // Per stage: the backbone (layers up to the last HGBlock), the neck with AIFI, and
      // the decoder; each layer's end is seen through the trace.
      std::map<std::string, std::vector<double>> stages;
      const auto& layers = model.config().layers;
      Index last_backbone = 0;
      for (const auto& layer : layers)
        if (layer.module == "HGBlock" || layer.module == "HGStem" || layer.module == "DWConv")
          last_backbone = layer.index;
      // Notes when the last backbone layer and the last neck layer end; wants nothing inside
      // the decoder, so tracing adds no work there.
      struct StageClock : eigenformer::Trace<float> {
        std::string backbone_layer, neck_layer;
        Clock::time_point backbone_end, neck_end;
        void record(const std::string&, const eigenformer::MatrixView<float>&) override {}
        void record(const std::string& module, const FeatureMap<float>&) override {
          if (module == backbone_layer) backbone_end = Clock::now();
          if (module == neck_layer) neck_end = Clock::now();
        }
        bool wants(const std::string& module) const override {
          return module == backbone_layer || module == neck_layer;
        }
      } clock;
      clock.backbone_layer = "model." + std::to_string(last_backbone);
      clock.neck_layer = "model." + std::to_string(layers.size() - 2);
      eigenformer::RTDetrForwardOptions<float> options;
      options.trace = &clock;
      for (long r = 0; r <= runs; ++r) {
        const auto start = Clock::now();
        clock.backbone_end = clock.neck_end = start;
        model.forward(pixels, options);
        const auto end = Clock::now();
        if (r == 0) continue;  // warm-up
        stages["backbone_ms"].push_back(milliseconds(start, clock.backbone_end));
        stages["neck_ms"].push_back(milliseconds(clock.backbone_end, clock.neck_end));
        stages["decoder_ms"].push_back(milliseconds(clock.neck_end, end));
      }
      for (const auto& [name, times] : stages) line[name] = median(times);
    }
    line.update(time_runs(runs, [&] { model.forward(pixels); }));
  }
  line["threads"] = eigenformer::num_threads();
  line["kernels"] = eigenformer::build_info().kernels;
  line["winograd"] = eigenformer::detail::winograd_enabled.load();
  line["winograd_tile"] = eigenformer::detail::winograd_tile.load();
  std::cout << line.dump() << '\n';
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc < 2 || std::string(argv[1]) == "--help") {
      std::cout << kUsage;
      return argc < 2 ? 2 : 0;
    }
    const std::string task = argv[1];
    const cli::Arguments args(
        argc - 1, argv + 1,
        {"model", "batch", "seq", "threads", "runs", "input-tensor", "winograd-tile"},
        {"stages", "direct-conv", "help"});
    if (args.has("direct-conv")) eigenformer::detail::winograd_enabled = false;
    eigenformer::detail::winograd_tile = static_cast<int>(
        args.get_int("winograd-tile", eigenformer::detail::winograd_tile.load(), 2, 4));
    eigenformer::set_num_threads(static_cast<int>(args.get_int("threads", 0, 0, 1024)));
    if (task == "text") return run_text(args);
    if (task == "detect") return run_detect(args);
    throw cli::UsageError("the first argument is text or detect, got '" + task + "'");
  } catch (const cli::UsageError& e) {
    std::cerr << "eigenformer-bench: " << e.what() << "\n\n" << kUsage;
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "eigenformer-bench: error: " << e.what() << '\n';
    return 1;
  }
}
