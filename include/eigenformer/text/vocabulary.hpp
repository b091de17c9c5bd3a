#pragma once
// A WordPiece vocabulary: token string <-> id, loaded from a `vocab.txt` or from the
// `model.vocab` object of a `tokenizer.json`.
//
// vocab.txt follows HF tokenizers' WordPiece::read_file: line i (0-based) is token i, each
// line stripped of trailing white space (Rust's trim_end, which also removes a '\r'), a
// final newline does not start another token. A token listed twice keeps its LAST id (a
// hash-map insert, as in read_file and transformers' load_vocab); the earlier id then maps
// back to no token. Blank lines are tokens too (the empty string), exactly as in HF.
//
// The data is immutable and shared: copying a Vocabulary is cheap, and string_views handed
// out by it stay valid while any copy lives.

#include <eigenformer/core/error.hpp>
#include <eigenformer/io/json_config.hpp>
#include <eigenformer/text/unicode.hpp>
#include <eigenformer/text/utf8.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace eigenformer {

using TokenId = std::int64_t;

namespace detail {

// Token string -> id with open addressing (linear probing) over one flat array, so a lookup
// touches a cache line or two: WordPiece's longest-match search does millions of lookups,
// most of them misses. Keys are views; their storage must outlive the map.
class StringIdMap {
 public:
  std::size_t size() const { return size_; }

  void insert_or_assign(std::string_view key, TokenId id) {
    if (2 * (size_ + 1) > slots_.size()) grow(std::max<std::size_t>(16, 2 * slots_.size()));
    const std::uint64_t h = hash(key);
    Slot& slot = slots_[index_of(key, h)];
    if (slot.id < 0) ++size_;
    slot = {h, key, id};
  }

  std::optional<TokenId> find(std::string_view key) const {
    if (slots_.empty()) return std::nullopt;
    const Slot& slot = slots_[index_of(key, hash(key))];
    if (slot.id < 0) return std::nullopt;
    return slot.id;
  }

  template <typename Visit>
  void for_each(Visit&& visit) const {
    for (const auto& slot : slots_)
      if (slot.id >= 0) visit(slot.key, slot.id);
  }

 private:
  struct Slot {
    std::uint64_t hash = 0;
    std::string_view key;
    TokenId id = -1;  // -1: empty
  };

  // FNV-1a, with the high half folded in since the table is indexed by the low bits.
  static std::uint64_t hash(std::string_view key) {
    std::uint64_t h = 14695981039346656037ULL;
    for (char byte : key) h = (h ^ static_cast<unsigned char>(byte)) * 1099511628211ULL;
    return h ^ (h >> 32);
  }

  // The slot holding `key`, or the empty slot where it would go. The table is never full.
  std::size_t index_of(std::string_view key, std::uint64_t h) const {
    const std::size_t mask = slots_.size() - 1;
    std::size_t i = h & mask;
    while (slots_[i].id >= 0 && !(slots_[i].hash == h && slots_[i].key == key)) i = (i + 1) & mask;
    return i;
  }

  void grow(std::size_t capacity) {  // capacity: a power of two
    std::vector<Slot> old(capacity);
    old.swap(slots_);
    for (const auto& slot : old)
      if (slot.id >= 0) slots_[index_of(slot.key, slot.hash)] = slot;
  }

  std::vector<Slot> slots_;
  std::size_t size_ = 0;
};

}  // namespace detail

class Vocabulary {
 public:
  // Ids above this are refused: HF stores ids as u32, and no real vocabulary comes close.
  static constexpr TokenId kMaxId = (TokenId{1} << 31) - 1;

  // Tokens in id order: tokens[i] gets id i.
  static Vocabulary from_tokens(std::vector<std::string> tokens, std::string source) {
    std::vector<TokenId> ids(tokens.size());
    for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<TokenId>(i);
    return Vocabulary(std::move(tokens), ids, std::move(source));
  }

  // A vocab.txt file.
  static Vocabulary read_vocab_txt(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
      throw FormatError(detail::concat(path, ": cannot open vocab file: ", std::strerror(errno)));
    std::vector<std::string> tokens;
    std::string line;
    while (std::getline(in, line)) {
      const std::size_t bad = find_invalid_utf8(line);
      if (bad != std::string::npos)
        throw FormatError(detail::concat(path, ": line ", tokens.size() + 1,
                                         " is not valid UTF-8 (byte ", bad, " of the line)"));
      tokens.push_back(trim_end(line));
    }
    if (in.bad()) throw FormatError(detail::concat(path, ": cannot read vocab file"));
    if (tokens.empty())
      throw FormatError(detail::concat(path, ": empty vocabulary (expected one token per line)"));
    return from_tokens(std::move(tokens), path);
  }

  // The `model.vocab` object of a tokenizer.json: {"[PAD]": 0, "[UNK]": 1, ...}.
  static Vocabulary from_json(const nlohmann::json& vocab, const std::string& source) {
    if (!vocab.is_object() || vocab.empty())
      throw FormatError(detail::concat(source,
                                       ": field 'model.vocab' must be a non-empty object "
                                       "mapping tokens to ids"));
    std::vector<std::string> tokens;
    std::vector<TokenId> ids;
    tokens.reserve(vocab.size());
    ids.reserve(vocab.size());
    for (const auto& [token, id] : vocab.items()) {
      if (!id.is_number_integer() || id.get<std::int64_t>() < 0 || id.get<std::int64_t>() > kMaxId)
        throw FormatError(detail::concat(source, ": field 'model.vocab' maps '", token, "' to ",
                                         detail::describe_json(id), ", expected an integer in [0, ",
                                         kMaxId, "]"));
      tokens.push_back(token);
      ids.push_back(id.get<TokenId>());
    }
    return Vocabulary(std::move(tokens), ids, source);
  }

  const std::string& source() const { return data_->source; }
  // Number of distinct tokens (HF's get_vocab_size).
  std::size_t size() const { return data_->ids.size(); }

  std::optional<TokenId> find(std::string_view token) const { return data_->ids.find(token); }
  bool contains(std::string_view token) const { return find(token).has_value(); }

  std::optional<std::string_view> find_token(TokenId id) const {
    const auto found = data_->tokens.find(id);
    if (found == data_->tokens.end()) return std::nullopt;
    return found->second;
  }

  // The id of a token the tokenizer cannot work without; `role` says why it is needed.
  TokenId require(std::string_view token, std::string_view role) const {
    if (auto id = find(token)) return *id;
    throw FormatError(detail::concat(source(), ": the vocabulary has no ", role, " '", token,
                                     "' (expected it among the ", size(), " tokens)"));
  }

  // Calls visit(token, id) for every token.
  template <typename Visit>
  void for_each(Visit&& visit) const {
    data_->ids.for_each(visit);
  }

 private:
  struct Data {
    std::string source;
    std::vector<std::string> storage;  // never resized after the maps are built
    detail::StringIdMap ids;
    std::unordered_map<TokenId, std::string_view> tokens;
  };

  Vocabulary(std::vector<std::string> tokens, const std::vector<TokenId>& ids, std::string source) {
    auto data = std::make_shared<Data>();
    data->source = std::move(source);
    data->storage = std::move(tokens);
    for (std::size_t i = 0; i < data->storage.size(); ++i)
      data->ids.insert_or_assign(std::string_view(data->storage[i]), ids[i]);  // last one wins
    data->tokens.reserve(data->ids.size());
    data->ids.for_each([&](std::string_view token, TokenId id) {
      const auto [slot, inserted] = data->tokens.emplace(id, token);
      if (!inserted)
        throw FormatError(detail::concat(data->source, ": id ", id, " is given to both '",
                                         slot->second, "' and '", token, "'"));
    });
    data_ = std::move(data);
  }

  static std::string trim_end(const std::string& line) {
    const auto last = line.empty() ? 0u : static_cast<unsigned char>(line.back());
    if (last < 0x80 && !unicode::is_white_space(last)) return line;  // the usual line
    const std::u32string decoded = decode_utf8(line);
    std::size_t end = decoded.size();
    while (end > 0 && unicode::is_white_space(decoded[end - 1])) --end;
    return encode_utf8(std::u32string_view(decoded).substr(0, end));
  }

  std::shared_ptr<const Data> data_;
};

}  // namespace eigenformer
