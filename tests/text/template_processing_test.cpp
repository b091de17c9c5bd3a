#include <eigenformer/text/template_processing.hpp>

#include <gtest/gtest.h>

#include <vector>

namespace eigenformer {
namespace {

struct Applied {
  std::vector<TokenId> ids, type_ids;
};

Applied apply(const TemplateProcessing& processing, const std::vector<TokenId>& first,
              const std::vector<TokenId>* second, bool add_special_tokens = true) {
  Applied out;
  processing.apply(first, second, add_special_tokens, out.ids, out.type_ids);
  return out;
}

TEST(TemplateProcessing, BertWrapsSequencesInClsAndSep) {
  const auto bert = TemplateProcessing::bert("[CLS]", 101, "[SEP]", 102);
  EXPECT_EQ(bert.added_tokens(false), 2u);
  EXPECT_EQ(bert.added_tokens(true), 3u);
  const std::vector<TokenId> a{7, 8}, b{9};
  const auto single = apply(bert, a, nullptr);
  EXPECT_EQ(single.ids, (std::vector<TokenId>{101, 7, 8, 102}));
  EXPECT_EQ(single.type_ids, (std::vector<TokenId>{0, 0, 0, 0}));
  const auto pair = apply(bert, a, &b);
  EXPECT_EQ(pair.ids, (std::vector<TokenId>{101, 7, 8, 102, 9, 102}));
  EXPECT_EQ(pair.type_ids, (std::vector<TokenId>{0, 0, 0, 0, 1, 1}));
  const auto bare = apply(bert, a, &b, false);  // sequences keep their type ids
  EXPECT_EQ(bare.ids, (std::vector<TokenId>{7, 8, 9}));
  EXPECT_EQ(bare.type_ids, (std::vector<TokenId>{0, 0, 1}));
}

TEST(TemplateProcessing, NoneConcatenates) {
  const auto none = TemplateProcessing::none();
  EXPECT_EQ(none.added_tokens(true), 0u);
  const std::vector<TokenId> a{7}, b{8, 9};
  EXPECT_EQ(apply(none, a, &b).ids, (std::vector<TokenId>{7, 8, 9}));
  // HF encodes the second sequence with type id 1 and default_process keeps it.
  EXPECT_EQ(apply(none, a, &b).type_ids, (std::vector<TokenId>{0, 1, 1}));
}

TEST(TemplateProcessing, MultiIdSpecialTokensAndCustomOrder) {
  using Kind = TemplatePiece::Kind;
  TemplatePiece prompt{Kind::SpecialToken, 2, "prompt", {5, 6}, {"<p>", "</p>"}};
  const TemplateProcessing custom({prompt, TemplatePiece::sequence(Kind::SequenceA, 3)},
                                  {TemplatePiece::sequence(Kind::SequenceB, 1), prompt,
                                   TemplatePiece::sequence(Kind::SequenceA, 0)});
  EXPECT_EQ(custom.added_tokens(false), 2u);
  const std::vector<TokenId> a{7}, b{8};
  EXPECT_EQ(apply(custom, a, nullptr).ids, (std::vector<TokenId>{5, 6, 7}));
  EXPECT_EQ(apply(custom, a, nullptr).type_ids, (std::vector<TokenId>{2, 2, 3}));
  EXPECT_EQ(apply(custom, a, &b).ids, (std::vector<TokenId>{8, 5, 6, 7}));
  EXPECT_EQ(apply(custom, a, &b).type_ids, (std::vector<TokenId>{1, 2, 2, 0}));
}

}  // namespace
}  // namespace eigenformer
