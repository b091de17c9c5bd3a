#pragma once
// Post-processing as HF tokenizers' TemplateProcessing (src/processors/template.rs) does it:
// a template per input kind (one sequence, or a pair) lists the pieces of the final
// encoding, each either an input sequence (A or B) or a special token (one or more ids),
// with the token type id its tokens get. BERT's templates are
//   single: [CLS]:0 $A:0 [SEP]:0        pair: [CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1
// which is also what BertProcessing produces.

#include <eigenformer/text/vocabulary.hpp>

#include <string>
#include <utility>
#include <vector>

namespace eigenformer {

struct TemplatePiece {
  enum class Kind { SequenceA, SequenceB, SpecialToken };
  Kind kind = Kind::SequenceA;
  TokenId type_id = 0;
  // Kind::SpecialToken only: its name in the template, ids and token strings (same length).
  std::string name;
  std::vector<TokenId> ids;
  std::vector<std::string> tokens;

  static TemplatePiece sequence(Kind which, TokenId type_id) {
    return {which, type_id, {}, {}, {}};
  }
  static TemplatePiece special(std::string token, TokenId id, TokenId type_id) {
    return {Kind::SpecialToken, type_id, token, {id}, {token}};
  }
};

class TemplateProcessing {
 public:
  using Kind = TemplatePiece::Kind;

  TemplateProcessing(std::vector<TemplatePiece> single, std::vector<TemplatePiece> pair)
      : single_(std::move(single)), pair_(std::move(pair)) {}

  static TemplateProcessing bert(const std::string& cls, TokenId cls_id, const std::string& sep,
                                 TokenId sep_id) {
    return TemplateProcessing(
        {TemplatePiece::special(cls, cls_id, 0), TemplatePiece::sequence(Kind::SequenceA, 0),
         TemplatePiece::special(sep, sep_id, 0)},
        {TemplatePiece::special(cls, cls_id, 0), TemplatePiece::sequence(Kind::SequenceA, 0),
         TemplatePiece::special(sep, sep_id, 0), TemplatePiece::sequence(Kind::SequenceB, 1),
         TemplatePiece::special(sep, sep_id, 1)});
  }

  // No post-processor (tokenizer.json's null): sequences are concatenated, keeping the type
  // ids HF's encode gives them (0 for the first sequence, 1 for the second).
  static TemplateProcessing none() {
    return TemplateProcessing(
        {TemplatePiece::sequence(Kind::SequenceA, 0)},
        {TemplatePiece::sequence(Kind::SequenceA, 0), TemplatePiece::sequence(Kind::SequenceB, 1)});
  }

  const std::vector<TemplatePiece>& single() const { return single_; }
  const std::vector<TemplatePiece>& pair() const { return pair_; }

  // How many ids the template adds around the sequences; truncation reserves room for them.
  std::size_t added_tokens(bool is_pair) const {
    std::size_t count = 0;
    for (const auto& piece : is_pair ? pair_ : single_) count += piece.ids.size();
    return count;
  }

  // Appends the final ids and type ids; `second` is null for a single sequence. Without
  // special tokens only the sequence pieces are used (HF's add_special_tokens = false).
  void apply(const std::vector<TokenId>& first, const std::vector<TokenId>* second,
             bool add_special_tokens, std::vector<TokenId>& ids,
             std::vector<TokenId>& type_ids) const {
    for (const auto& piece : second ? pair_ : single_) {
      const std::vector<TokenId>* source = &piece.ids;
      if (piece.kind == Kind::SequenceA) source = &first;
      if (piece.kind == Kind::SequenceB) source = second;
      if (!source || (piece.kind == Kind::SpecialToken && !add_special_tokens)) continue;
      ids.insert(ids.end(), source->begin(), source->end());
      type_ids.insert(type_ids.end(), source->size(), piece.type_id);
    }
  }

 private:
  std::vector<TemplatePiece> single_, pair_;
};

}  // namespace eigenformer
