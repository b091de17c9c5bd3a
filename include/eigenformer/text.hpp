#pragma once
// The WordPiece tokenizer and the sentence encoder built on it; needs utf8proc
// (link eigenformer::text).

#include <eigenformer/eigenformer.hpp>

#include <eigenformer/models/bert/sentence_encoder.hpp>
#include <eigenformer/text/bert_tokenizer.hpp>
#include <eigenformer/text/encoding.hpp>
#include <eigenformer/text/tokenizer_loader.hpp>
