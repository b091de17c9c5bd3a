// Over-long input end to end: the tokenizer truncates (or, with truncation off, refuses) a
// text far beyond the model's positions, and BertModel refuses sequences longer than
// max_position_embeddings, so no input makes the model index past its position table.
#include <eigenformer/models/bert/model.hpp>
#include <eigenformer/models/bert/sentence_encoder.hpp>
#include <eigenformer/text/tokenizer_loader.hpp>

#include "fixture.hpp"

#include <string>
#include <vector>

namespace eigenformer {
namespace {

using testing::data_path;

// About 256 KB of ordinary words: tens of thousands of tokens.
std::string long_text() {
  std::string text;
  while (text.size() < (256u << 10)) text += "the quick brown fox jumps over the lazy dog. ";
  return text;
}

const BertTokenizer& tokenizer() {
  static const BertTokenizer instance = load_bert_tokenizer(data_path("bert"));
  return instance;
}

TEST(InputLimitsTest, TokenizerTruncatesAVeryLongTextToModelMaxLength) {
  const Encoding encoding = tokenizer().encode(long_text());
  ASSERT_EQ(encoding.size(), tokenizer().model_max_length());
  EXPECT_EQ(encoding.tokens.front(), "[CLS]");
  EXPECT_EQ(encoding.tokens.back(), "[SEP]");
}

TEST(InputLimitsTest, TokenizerWithoutTruncationRefusesAVeryLongText) {
  EncodeOptions options;
  options.truncation.enabled = false;
  EXPECT_THROW(tokenizer().encode(long_text(), options), InvalidArgument);
}

TEST(InputLimitsTest, AVeryLongWordIsOneUnknownToken) {
  const Encoding encoding = tokenizer().encode(std::string(256u << 10, 'x'));
  EXPECT_EQ(encoding.tokens, (std::vector<std::string>{"[CLS]", "[UNK]", "[SEP]"}));
}

TEST(InputLimitsTest, SentenceEncoderCutsAVeryLongTextToTheModelsPositions) {
  const auto encoder = SentenceEncoder<float>::load(data_path("bert"));
  ASSERT_EQ(encoder.max_length(), encoder.model().config().max_position_embeddings);
  EXPECT_EQ(encoder.tokenize(long_text()).size(), encoder.max_length());
  const Matrix<float> embedding = encoder.encode({long_text()});
  EXPECT_EQ(embedding.rows(), 1);
  EXPECT_TRUE(embedding.allFinite());

  SentenceEncoderOptions strict;
  strict.truncate = false;
  const auto refusing = SentenceEncoder<float>::load(data_path("bert"), strict);
  EXPECT_THROW(refusing.encode({long_text()}), InvalidArgument);
}

TEST(InputLimitsTest, BertModelRefusesSequencesBeyondMaxPositionEmbeddings) {
  const auto model = BertModel<float>::load(data_path("bert"));
  const Index limit = model.config().max_position_embeddings;
  const TokenIdVector fits = TokenIdVector::Constant(limit, 5);
  EXPECT_EQ(model.forward_packed(fits, TokenIdVector(), SequenceBatch::single(limit))
                .last_hidden_state.rows(),
            limit);
  const TokenIdVector too_long = TokenIdVector::Constant(limit + 1, 5);
  EXPECT_THROW(model.forward_packed(too_long, TokenIdVector(), SequenceBatch::single(limit + 1)),
               InvalidArgument);
  // The padded form checks the same limit: a batch row as long as the limit plus one.
  const TokenIdMatrix ids = TokenIdMatrix::Constant(2, limit + 1, 5);
  EXPECT_THROW(model.forward(ids, TokenIdMatrix::Ones(2, limit + 1)), InvalidArgument);
}

}  // namespace
}  // namespace eigenformer
