#include <eigenformer/text/bert_tokenizer.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "io/test_files.hpp"
#include "text/bert_cases.hpp"

namespace eigenformer {
namespace {

using testing::BertCase;
using testing::BertCaseFile;
using testing::throws_with;

const BertCaseFile& small_vocab() { return testing::bert_case_files()[0]; }

const BertTokenizer& tokenizer_for(const BertCaseFile& file) {
  static std::map<std::string, BertTokenizer> cache;
  auto found = cache.find(file.name);
  if (found == cache.end())
    found =
        cache
            .emplace(file.name, BertTokenizer::from_vocab_file(testing::data_path(file.vocab_file)))
            .first;
  return found->second;
}

std::vector<TokenId> concat_ids(std::initializer_list<std::vector<TokenId>> parts) {
  std::vector<TokenId> out;
  for (const auto& part : parts) out.insert(out.end(), part.begin(), part.end());
  return out;
}

// Fixture ids without the leading [CLS] and the trailing [SEP].
std::vector<TokenId> content_ids(const BertCase& entry) {
  return {entry.ids.begin() + 1, entry.ids.end() - 1};
}

class BertTokenizerCases : public ::testing::TestWithParam<BertCaseFile> {};

TEST_P(BertTokenizerCases, EncodeGivesTheReferenceIdsAndTokens) {
  const auto& tokenizer = tokenizer_for(GetParam());
  for (const auto& entry : testing::bert_cases(GetParam())) {
    SCOPED_TRACE("text: \"" + entry.text + "\"");
    const Encoding encoding = tokenizer.encode(entry.text);
    EXPECT_EQ(encoding.ids, entry.ids);
    EXPECT_EQ(encoding.tokens, entry.tokens);
    EXPECT_EQ(encoding.type_ids, std::vector<TokenId>(entry.ids.size(), 0));
    EXPECT_EQ(encoding.attention_mask, std::vector<TokenId>(entry.ids.size(), 1));
  }
}

TEST_P(BertTokenizerCases, TokenizeGivesTheTokensWithoutSpecialTokens) {
  const auto& tokenizer = tokenizer_for(GetParam());
  for (const auto& entry : testing::bert_cases(GetParam())) {
    SCOPED_TRACE("text: \"" + entry.text + "\"");
    EXPECT_EQ(tokenizer.tokenize(entry.text),
              std::vector<std::string>(entry.tokens.begin() + 1, entry.tokens.end() - 1));
  }
}

TEST_P(BertTokenizerCases, IdsAndTokensMapBothWays) {
  const auto& tokenizer = tokenizer_for(GetParam());
  for (const auto& entry : testing::bert_cases(GetParam()))
    for (std::size_t i = 0; i < entry.ids.size(); ++i) {
      EXPECT_EQ(tokenizer.token_to_id(entry.tokens[i]), entry.ids[i]) << entry.tokens[i];
      EXPECT_EQ(tokenizer.id_to_token(entry.ids[i]), entry.tokens[i]) << entry.ids[i];
    }
  EXPECT_EQ(tokenizer.token_to_id("no-such-token-in-any-vocab"), std::nullopt);
  EXPECT_EQ(tokenizer.id_to_token(-1), std::nullopt);
  EXPECT_EQ(tokenizer.id_to_token(static_cast<TokenId>(tokenizer.vocabulary().size())),
            std::nullopt);
}

TEST_P(BertTokenizerCases, BatchRowsAreTheReferenceIdsPaddedOnTheRight) {
  const auto& tokenizer = tokenizer_for(GetParam());
  const auto cases = testing::bert_cases(GetParam());
  std::vector<std::string> texts;
  std::size_t longest = 0;
  for (const auto& entry : cases) {
    texts.push_back(entry.text);
    longest = std::max(longest, entry.ids.size());
  }
  const BatchEncoding batch = tokenizer.encode_batch(texts);
  ASSERT_EQ(batch.batch(), static_cast<Index>(cases.size()));
  ASSERT_EQ(batch.length(), static_cast<Index>(longest));
  const TokenId pad = *tokenizer.token_to_id("[PAD]");
  EXPECT_EQ(tokenizer.pad_id(), pad);
  for (Index row = 0; row < batch.batch(); ++row) {
    const auto& expected = cases[static_cast<std::size_t>(row)].ids;
    for (Index col = 0; col < batch.length(); ++col) {
      const bool real = col < static_cast<Index>(expected.size());
      EXPECT_EQ(batch.ids(row, col), real ? expected[static_cast<std::size_t>(col)] : pad)
          << "row " << row << " col " << col;
      EXPECT_EQ(batch.attention_mask(row, col), real ? 1 : 0);
      EXPECT_EQ(batch.type_ids(row, col), 0);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, BertTokenizerCases,
                         ::testing::ValuesIn(testing::bert_case_files()),
                         [](const auto& info) { return info.param.name; });

struct PairCase {
  std::string first, second;
  std::vector<TokenId> ids, type_ids;
};

PairCase reference_pair() {
  const auto pair = testing::read_json(small_vocab().cases_file).at("pair");
  return {pair.at("a").get<std::string>(), pair.at("b").get<std::string>(),
          pair.at("input_ids").get<std::vector<TokenId>>(),
          pair.at("token_type_ids").get<std::vector<TokenId>>()};
}

TEST(BertTokenizerPair, EncodePairGivesTheReferenceIdsAndTypeIds) {
  const auto pair = reference_pair();
  const Encoding encoding = tokenizer_for(small_vocab()).encode_pair(pair.first, pair.second);
  EXPECT_EQ(encoding.ids, pair.ids);
  EXPECT_EQ(encoding.type_ids, pair.type_ids);
  EXPECT_EQ(encoding.attention_mask, std::vector<TokenId>(pair.ids.size(), 1));
}

TEST(BertTokenizerPair, PairBatchRowsMatchEncodePair) {
  const auto pair = reference_pair();
  const auto& tokenizer = tokenizer_for(small_vocab());
  const auto batch = tokenizer.encode_pair_batch({pair.first, "x"}, {pair.second, "y"});
  ASSERT_EQ(batch.batch(), 2);
  ASSERT_EQ(batch.length(), static_cast<Index>(pair.ids.size()));
  for (Index col = 0; col < batch.length(); ++col) {
    EXPECT_EQ(batch.ids(0, col), pair.ids[static_cast<std::size_t>(col)]);
    EXPECT_EQ(batch.type_ids(0, col), pair.type_ids[static_cast<std::size_t>(col)]);
  }
  const Encoding short_pair = tokenizer.encode_pair("x", "y");
  for (Index col = 0; col < short_pair.size(); ++col) {
    EXPECT_EQ(batch.ids(1, col), short_pair.ids[static_cast<std::size_t>(col)]);
    EXPECT_EQ(batch.type_ids(1, col), short_pair.type_ids[static_cast<std::size_t>(col)]);
  }
  EXPECT_TRUE(throws_with<InvalidArgument>(
      [&] {
        tokenizer.encode_pair_batch({"a", "b"}, {"c"});
      },
      {"2 first texts", "1 second texts"}));
}

// HF's longest_first with budget 6 for lengths (5, 4): n1 = 4 <= 6/2 fails (4 + 4 > 6), so
// both get 3 (truncation.rs, case 3).
TEST(BertTokenizerPair, LongestFirstTruncationSharesTheBudget) {
  const auto pair = reference_pair();
  const auto& tokenizer = tokenizer_for(small_vocab());
  const std::vector<TokenId> a(pair.ids.begin() + 1, pair.ids.begin() + 6);  // 5 tokens
  const std::vector<TokenId> b(pair.ids.begin() + 7, pair.ids.end() - 1);    // 4 tokens
  ASSERT_EQ(b.size(), 4u);
  const TokenId cls = pair.ids.front(), sep = pair.ids.back();
  EncodeOptions options;
  options.truncation.max_length = 9;
  const Encoding encoding = tokenizer.encode_pair(pair.first, pair.second, options);
  EXPECT_EQ(
      encoding.ids,
      concat_ids({{cls}, {a.begin(), a.begin() + 3}, {sep}, {b.begin(), b.begin() + 3}, {sep}}));
  EXPECT_EQ(encoding.type_ids, (std::vector<TokenId>{0, 0, 0, 0, 0, 1, 1, 1, 1}));

  options.truncation.strategy = TruncationStrategy::OnlySecond;  // b absorbs all 3
  EXPECT_EQ(tokenizer.encode_pair(pair.first, pair.second, options).ids,
            concat_ids({{cls}, a, {sep}, {b.begin(), b.begin() + 1}, {sep}}));
  options.truncation.strategy = TruncationStrategy::OnlyFirst;
  EXPECT_EQ(tokenizer.encode_pair(pair.first, pair.second, options).ids,
            concat_ids({{cls}, {a.begin(), a.begin() + 2}, {sep}, b, {sep}}));
}

TEST(BertTokenizerTruncation, LongTextIsCutToMaxLengthKeepingTheSpecialTokens) {
  const auto& tokenizer = tokenizer_for(small_vocab());
  const BertCase entry = testing::bert_case(
      small_vocab(), "Unbelievably, tokenization-handling isn't trivial: e.g. U.S.A. & co.");
  const auto content = content_ids(entry);
  const TokenId cls = entry.ids.front(), sep = entry.ids.back();
  EncodeOptions options;
  options.truncation.max_length = 10;
  EXPECT_EQ(tokenizer.encode(entry.text, options).ids,
            concat_ids({{cls}, {content.begin(), content.begin() + 8}, {sep}}));
  EXPECT_EQ(tokenizer.encode(entry.text, options).tokens.size(), 10u);
  options.truncation.side = TruncationSide::Left;
  EXPECT_EQ(tokenizer.encode(entry.text, options).ids,
            concat_ids({{cls}, {content.end() - 8, content.end()}, {sep}}));
  // Exactly fitting text is left alone.
  options.truncation.max_length = static_cast<Index>(entry.ids.size());
  EXPECT_EQ(tokenizer.encode(entry.text, options).ids, entry.ids);
}

TEST(BertTokenizerTruncation, DefaultMaxLengthIsTheModelMaximum) {
  const auto& tokenizer = tokenizer_for(small_vocab());
  EXPECT_EQ(tokenizer.model_max_length(), 512);
  std::string text;
  for (int i = 0; i < 600; ++i) text += "token ";
  const Encoding encoding = tokenizer.encode(text);
  EXPECT_EQ(encoding.size(), 512);
  EXPECT_EQ(encoding.ids.back(), *tokenizer.token_to_id("[SEP]"));
}

TEST(BertTokenizerTruncation, DisabledTruncationRejectsTooLongInput) {
  const auto& tokenizer = tokenizer_for(small_vocab());
  const BertCase entry = testing::bert_case(small_vocab(), "Hello, world!");  // 8 ids
  EncodeOptions options;
  options.truncation.enabled = false;
  options.truncation.max_length = 7;
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { tokenizer.encode(entry.text, options); },
                                           {"8 tokens", "max_length 7", "truncation"}));
  EXPECT_TRUE(throws_with<InvalidArgument>(
      [&] {
        tokenizer.encode_batch({"a", entry.text}, options);
      },
      {"8 tokens", "max_length 7"}));
  options.truncation.max_length = 8;
  EXPECT_EQ(tokenizer.encode(entry.text, options).ids, entry.ids);
}

TEST(BertTokenizerTruncation, MaxLengthMustHoldTheSpecialTokens) {
  const auto& tokenizer = tokenizer_for(small_vocab());
  EncodeOptions options;
  options.truncation.max_length = 2;
  EXPECT_EQ(tokenizer.encode("hello", options).size(), 2);  // [CLS] [SEP]
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { tokenizer.encode_pair("a", "b", options); },
                                           {"max_length 2", "3 special tokens"}));
  options.truncation.max_length = -1;
  EXPECT_TRUE(
      throws_with<InvalidArgument>([&] { tokenizer.encode("a", options); }, {"max_length"}));
}

TEST(BertTokenizerSpecialTokens, EmptyTextIsClsSep) {
  const auto& tokenizer = tokenizer_for(small_vocab());
  const auto cls = *tokenizer.token_to_id("[CLS]"), sep = *tokenizer.token_to_id("[SEP]");
  EXPECT_EQ(tokenizer.encode("").ids, (std::vector<TokenId>{cls, sep}));
  EXPECT_EQ(tokenizer.encode("").tokens, (std::vector<std::string>{"[CLS]", "[SEP]"}));
  EXPECT_EQ(tokenizer.encode(" \t\n\u200b").ids, (std::vector<TokenId>{cls, sep}));
  EXPECT_EQ(tokenizer.encode_pair("", "").ids, (std::vector<TokenId>{cls, sep, sep}));
  EXPECT_TRUE(tokenizer.tokenize("").empty());
}

TEST(BertTokenizerSpecialTokens, WithoutSpecialTokensOnlyTheWordPiecesRemain) {
  const auto& tokenizer = tokenizer_for(small_vocab());
  const BertCase entry = testing::bert_case(small_vocab(), "Hello, world!");
  EncodeOptions options;
  options.add_special_tokens = false;
  EXPECT_EQ(tokenizer.encode(entry.text, options).ids, content_ids(entry));
  options.truncation.max_length = 3;  // no room to reserve
  EXPECT_EQ(tokenizer.encode(entry.text, options).ids,
            std::vector<TokenId>(entry.ids.begin() + 1, entry.ids.begin() + 4));
}

// Special tokens are matched in the raw text (HF registers them as non-normalized added
// tokens), so a literal [SEP] is one token while the rest is tokenized around it.
TEST(BertTokenizerSpecialTokens, SpecialTokensInTheTextAreKept) {
  const auto& tokenizer = tokenizer_for(small_vocab());
  const BertCase entry = testing::bert_case(small_vocab(), "Hello, world!");
  const TokenId sep = entry.ids.back(), mask = *tokenizer.token_to_id("[MASK]");
  // [CLS] hel ##lo , | wor ##ld ! [SEP]
  std::vector<TokenId> expected(entry.ids.begin(), entry.ids.begin() + 4);
  expected.push_back(sep);
  expected.insert(expected.end(), entry.ids.begin() + 4, entry.ids.end());
  EXPECT_EQ(tokenizer.encode("Hello,[SEP] world!").ids, expected);
  expected[4] = mask;
  EXPECT_EQ(tokenizer.encode("Hello, [MASK]world!").ids, expected);
  // Lowercase is not the special token: it is split like text.
  const auto ids = tokenizer.encode("Hello, [sep] world!").ids;
  EXPECT_EQ(std::count(ids.begin(), ids.end(), sep), 1);
}

TEST(BertTokenizerUtf8, InvalidUtf8ThrowsByDefaultNamingTheByte) {
  const auto& tokenizer = tokenizer_for(small_vocab());
  const std::string text = "Hello, \xff world!";
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { tokenizer.encode(text); },
                                           {"invalid UTF-8 at byte 7", "Utf8Errors::Replace"}));
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { tokenizer.encode_pair("ok", text); },
                                           {"invalid UTF-8 at byte 7", "second text"}));
  EXPECT_TRUE(throws_with<InvalidArgument>(
      [&] {
        tokenizer.encode_batch({"ok", "ok", text});
      },
      {"invalid UTF-8 at byte 7", "text 2 of the batch"}));
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { tokenizer.encode("caf\xc3"); },
                                           {"invalid UTF-8 at byte 3"}));
}

// U+FFFD replaces the bad bytes and clean_text drops it: what is left is "Hello,  world!".
TEST(BertTokenizerUtf8, ReplacePolicyDropsTheInvalidBytes) {
  const auto& tokenizer = tokenizer_for(small_vocab());
  const BertCase entry = testing::bert_case(small_vocab(), "Hello, world!");
  EncodeOptions options;
  options.utf8_errors = Utf8Errors::Replace;
  EXPECT_EQ(tokenizer.encode("Hello, \xff world!", options).ids, entry.ids);
  EXPECT_EQ(tokenizer.encode("Hel\xed\xa0\x80lo, world!", options).ids, entry.ids);  // a surrogate
  EXPECT_EQ(tokenizer.encode("Hello, world!\xf0\x9f", options).ids, entry.ids);      // cut short
  const BatchEncoding batch = tokenizer.encode_batch({"Hello, world!\xc0\xaf"}, options);
  EXPECT_EQ(std::vector<TokenId>(batch.ids.data(), batch.ids.data() + batch.ids.size()), entry.ids);
}

TEST(BertTokenizerBatch, EmptyBatchIsZeroByZero) {
  const BatchEncoding batch = tokenizer_for(small_vocab()).encode_batch({});
  EXPECT_EQ(batch.batch(), 0);
  EXPECT_EQ(batch.length(), 0);
  EXPECT_EQ(batch.ids.size(), 0);
  EXPECT_EQ(batch.attention_mask.size(), 0);
}

TEST(BertTokenizerVocabulary, MissingVocabFileIsAFormatErrorNamingIt) {
  const std::string path = testing::data_path("bert/no-such-vocab.txt");
  EXPECT_TRUE(throws_with<FormatError>([&] { BertTokenizer::from_vocab_file(path); },
                                       {path, "cannot open"}));
}

// Each required special token removed in turn from the fixture vocabulary.
TEST(BertTokenizerVocabulary, MissingSpecialTokenNamesTheFileAndTheToken) {
  testing::TempDir dir;
  for (const std::string missing : {"[UNK]", "[CLS]", "[SEP]", "[PAD]"}) {
    std::ifstream in(testing::data_path("bert/vocab.txt"));
    std::string line, text;
    while (std::getline(in, line)) text += (line == missing ? "unused" : line) + "\n";
    const std::string path = dir.write("vocab-without-" + missing.substr(1, 3) + ".txt", text);
    EXPECT_TRUE(throws_with<FormatError>([&] { BertTokenizer::from_vocab_file(path); },
                                         {path, "'" + missing + "'"}))
        << missing;
  }
}

// PreTrainedTokenizerFast.__init__ adds the special tokens missing from the added tokens;
// tokenizers' AddedVocabulary::add_tokens gives [MASK], absent from the vocabulary, the id
// after the vocabulary (its size, 5), and it is then matched as a whole in the text.
TEST(BertTokenizerVocabulary, MissingMaskTokenGetsTheNextId) {
  testing::TempDir dir;
  const auto path = dir.write("vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n");
  const auto tokenizer = BertTokenizer::from_vocab_file(path);
  EXPECT_EQ(tokenizer.encode("Hello [MASK]").ids, (std::vector<TokenId>{2, 4, 5, 3}));
  EXPECT_EQ(tokenizer.id_to_token(5), "[MASK]");
}

}  // namespace
}  // namespace eigenformer
