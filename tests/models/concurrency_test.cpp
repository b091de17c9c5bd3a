// One loaded tokenizer and model shared by several threads, as a server would use them:
// every call is const, so results must equal the single-threaded ones bit for bit, and
// ThreadSanitizer (the tsan stage of tests/run.sh) must see no data race.
#include <eigenformer/models/bert/model.hpp>
#include <eigenformer/models/bert/sentence_encoder.hpp>
#include <eigenformer/models/rtdetr/model.hpp>
#include <eigenformer/text/tokenizer_loader.hpp>

#include "fixture.hpp"

#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace eigenformer {
namespace {

using testing::data_path;

constexpr int kThreads = 4;
constexpr int kRepetitions = 4;

// Exactly equal, element by element: a race or shared scratch space changes some bits.
template <typename T>
bool bit_identical(const Matrix<T>& a, const Matrix<T>& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() &&
         std::memcmp(a.data(), b.data(), sizeof(T) * static_cast<std::size_t>(a.size())) == 0;
}

// Texts of different lengths and scripts, some with pairs of inputs and truncation, so the
// threads run different code paths at the same time.
std::vector<std::string> texts() {
  return {"Self-attention weighs every token against every other token.",
          "Hello, world!",
          "The QUICK brown fox jumps over the lazy dog's back...",
          "Caf\xc3\xa9 na\xc3\xafve r\xc3\xa9sum\xc3\xa9 \xe4\xbd\xa0\xe5\xa5\xbd [MASK] tokens",
          std::string(300, 'a') +
              " a very long word, then many short ones: " + std::string(200, ' ') + "x y z",
          "a",
          "Numbers 3.14159 and symbols #@! mixed with words",
          "Short."};
}

// What one text gives: its ids and the model's hidden states for it.
struct TextResult {
  std::vector<TokenId> ids;
  std::vector<TokenId> pair_ids;
  Matrix<float> hidden;
};

class ConcurrencyTest : public ::testing::Test {
 protected:
  static const BertTokenizer& tokenizer() {
    static const BertTokenizer instance = load_bert_tokenizer(data_path("bert"));
    return instance;
  }
  static const BertModel<float>& model() {
    static const BertModel<float> instance = BertModel<float>::load(data_path("bert"));
    return instance;
  }

  // Tokenizes and runs the model; `workspace` null uses the model's per-call buffers.
  static TextResult run(const std::string& text, BertWorkspace<float>* workspace) {
    EncodeOptions options;
    options.truncation.max_length = model().config().max_position_embeddings;
    TextResult result;
    const Encoding encoding = tokenizer().encode(text, options);
    result.ids = encoding.ids;
    result.pair_ids = tokenizer().encode_pair(text, "and a second segment", options).ids;
    const Eigen::Map<const TokenIdVector> ids(encoding.ids.data(), encoding.size());
    const Eigen::Map<const TokenIdVector> types(encoding.type_ids.data(), encoding.size());
    result.hidden =
        model()
            .forward_packed(ids, types, SequenceBatch::single(encoding.size()), false, workspace)
            .last_hidden_state;
    return result;
  }

  // Runs work(thread, repetition) on kThreads threads at once; work returns a description
  // of a mismatch, or nothing. Returns the mismatches.
  static std::vector<std::string> run_threads(const std::function<std::string(int, int)>& work,
                                              int repetitions = kRepetitions) {
    std::vector<std::string> failures(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&, t] {
        for (int rep = 0; rep < repetitions && failures[t].empty(); ++rep)
          failures[t] = work(t, rep);
      });
    for (auto& thread : threads) thread.join();
    std::vector<std::string> out;
    for (auto& failure : failures)
      if (!failure.empty()) out.push_back(failure);
    return out;
  }
};

TEST_F(ConcurrencyTest, TokenizerAndModelSharedByFourThreadsGiveSerialResults) {
  const auto inputs = texts();
  std::vector<TextResult> serial;
  for (const auto& text : inputs) serial.push_back(run(text, nullptr));

  // Each thread starts at a different text and cycles through all of them, so at any moment
  // the threads work on different inputs.
  const auto failures = run_threads([&](int thread, int rep) -> std::string {
    BertWorkspace<float> workspace;  // one per thread: a workspace is not shareable
    for (std::size_t k = 0; k < inputs.size(); ++k) {
      const std::size_t i = (k + static_cast<std::size_t>(thread * 2 + rep)) % inputs.size();
      const TextResult result = run(inputs[i], rep % 2 ? &workspace : nullptr);
      if (result.ids != serial[i].ids || result.pair_ids != serial[i].pair_ids)
        return detail::concat("thread ", thread, ": ids of text ", i, " differ");
      if (!bit_identical(result.hidden, serial[i].hidden))
        return detail::concat("thread ", thread, ": hidden states of text ", i, " differ");
    }
    return {};
  });
  EXPECT_TRUE(failures.empty()) << failures.front();
}

TEST_F(ConcurrencyTest, PaddedBatchesSharedByFourThreadsGiveSerialResults) {
  const auto inputs = texts();
  EncodeOptions options;
  options.truncation.max_length = model().config().max_position_embeddings;
  // Batch t holds texts t, t+1, t+2: overlapping batches of different padded lengths.
  std::vector<BatchEncoding> batches;
  std::vector<Matrix<float>> serial;
  for (int t = 0; t < kThreads; ++t) {
    std::vector<std::string> batch;
    for (int k = 0; k < 3; ++k)
      batch.push_back(inputs[static_cast<std::size_t>(t + k) % inputs.size()]);
    batches.push_back(tokenizer().encode_batch(batch, options));
    serial.push_back(
        model()
            .forward(batches.back().ids, batches.back().attention_mask, batches.back().type_ids)
            .last_hidden_state);
  }

  const auto failures = run_threads([&](int thread, int) -> std::string {
    const auto& batch = batches[static_cast<std::size_t>(thread)];
    const auto out = model().forward(batch.ids, batch.attention_mask, batch.type_ids);
    if (!bit_identical(out.last_hidden_state, serial[static_cast<std::size_t>(thread)]))
      return detail::concat("thread ", thread, ": padded batch differs from the serial run");
    return {};
  });
  EXPECT_TRUE(failures.empty()) << failures.front();
}

TEST_F(ConcurrencyTest, SentenceEncoderSharedByFourThreadsGivesSerialEmbeddings) {
  const auto encoder = SentenceEncoder<float>::load(data_path("bert"));
  const auto inputs = texts();
  const Matrix<float> serial = encoder.encode(inputs);

  const auto failures = run_threads([&](int thread, int) -> std::string {
    if (!bit_identical(encoder.encode(inputs), serial))
      return detail::concat("thread ", thread, ": embeddings differ from the serial run");
    return {};
  });
  EXPECT_TRUE(failures.empty()) << failures.front();
}

TEST_F(ConcurrencyTest, RTDetrModelSharedByFourThreadsGivesSerialDetections) {
  const auto model = RTDetrModel<float>::load(data_path("rtdetr"));
  const Tensor<float>& pixels = testing::fixture<float>("rtdetr/io.safetensors").at("pixel_values");
  std::vector<RTDetrDetections<float>> serial;
  for (Index n = 0; n < pixels.dim(0); ++n)
    serial.push_back(model.forward(FeatureMap<float>::from_nchw(pixels, n)));

  // Threads t and t + 2 run the same image, the other two the other image.
  const auto failures = run_threads(
      [&](int thread, int) -> std::string {
        const Index n = thread % pixels.dim(0);
        const auto out = model.forward(FeatureMap<float>::from_nchw(pixels, n));
        const auto& expected = serial[static_cast<std::size_t>(n)];
        if (!bit_identical(out.logits, expected.logits) ||
            !bit_identical(out.pred_boxes, expected.pred_boxes))
          return detail::concat("thread ", thread, ": detections for image ", n, " differ");
        return {};
      },
      1);
  EXPECT_TRUE(failures.empty()) << failures.front();
}

}  // namespace
}  // namespace eigenformer
