#pragma once
// A pickle interpreter that never executes: it reads protocols 2-5 as torch.save writes
// them and builds inert values. GLOBAL references resolve through an allow-list; nothing
// named in a pickle is ever called. Code-execution entry points (os.system, builtins.eval,
// subprocess, ...) are refused as soon as they are named, other unknown globals too; classes
// of model code (torch.nn, ultralytics, ...) become inert records of their arguments and
// state. Tensors are recorded as storage references to be read from the archive later.
//
// Values live in an arena owned by the Document and point at each other without
// ownership, so a hostile pickle can build cycles or deep chains without leaking or
// recursing on destruction; every consumer that recurses bounds its own depth.

#include <eigenformer/core/error.hpp>
#include <eigenformer/io/dtype.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace eigenformer {

// The interpreter's bounds, as TorchCheckpointLimits::pickle sets them.
struct PickleLimits {
  // Each opcode builds at most one value (~200 bytes), so this also bounds memory.
  std::uint64_t max_opcodes = 1u << 24;
  std::size_t max_stack = 1u << 20;
  std::size_t max_memo = 1u << 22;
  std::size_t max_depth = 1000;
  std::uint64_t max_string_bytes = 1u << 28;
  std::size_t max_tensors = 1u << 20;
  std::size_t max_rank = 64;  // torch's own limit
};

// The interpreter itself is internal: users read checkpoints with load_torch_checkpoint.
namespace detail::pickle {

using Limits = PickleLimits;

enum class Kind {
  None,
  Bool,
  Int,
  Float,
  Str,
  Bytes,
  List,
  Tuple,
  Dict,
  Set,
  Global,   // a named class or function, never called
  Record,   // an instance of an inert class: its constructor arguments and BUILD state
  Storage,  // a torch storage in the archive (persistent id)
  Tensor,   // a view of a storage: offset, sizes, strides
};

inline const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::None:
      return "None";
    case Kind::Bool:
      return "bool";
    case Kind::Int:
      return "int";
    case Kind::Float:
      return "float";
    case Kind::Str:
      return "str";
    case Kind::Bytes:
      return "bytes";
    case Kind::List:
      return "list";
    case Kind::Tuple:
      return "tuple";
    case Kind::Dict:
      return "dict";
    case Kind::Set:
      return "set";
    case Kind::Global:
      return "global";
    case Kind::Record:
      return "object";
    case Kind::Storage:
      return "storage";
    case Kind::Tensor:
      return "tensor";
  }
  return "?";
}

// What an allowed global stands for.
enum class Role {
  None,
  RebuildTensor,     // torch._utils._rebuild_tensor_v2
  RebuildParameter,  // torch._utils._rebuild_parameter(_with_state)
  Dict,              // collections.OrderedDict, builtins.dict
  Set,
  FrozenSet,
  List,
  Tuple,    // builtins.tuple, torch.Size
  Storage,  // torch.HalfStorage, ...: only as a persistent id's type
  Encode,   // _codecs.encode: how protocol 2 writes bytes
  Record,   // an inert class or name
};

struct Value {
  Kind kind = Kind::None;
  Role role = Role::None;  // Global
  // Bool: the value; Set: frozen; Record: made by NEWOBJ; Storage: dtype known; Tensor:
  // requires_grad.
  bool flag = false;
  std::uint32_t depth = 1;
  std::int64_t integer = 0;  // Int; Storage: element count; Tensor: storage offset
  double number = 0;         // Float
  // Str (UTF-8), Bytes; Global, Record: "module.name"; Storage: the archive key.
  std::string text;
  std::vector<Value*> items;                     // List, Tuple, Set; Record: arguments
  std::vector<std::pair<Value*, Value*>> pairs;  // Dict (in order, repeats kept); Record: kwargs
  Value* state = nullptr;                        // Record: BUILD state; Tensor: its Storage
  Value* type = nullptr;                         // Storage: its type (a Global)
  DType dtype = DType::U8;                       // Storage, when flag
  std::vector<std::int64_t> sizes, strides;      // Tensor

  bool is(Kind k) const { return kind == k; }
  bool is_str(const char* s) const { return kind == Kind::Str && text == s; }
};

// The entries of a dict with string keys, the last one winning for a repeated key as in
// Python; other keys are skipped.
inline std::map<std::string, const Value*> string_items(const Value& dict) {
  std::map<std::string, const Value*> out;
  for (const auto& [key, value] : dict.pairs)
    if (key->kind == Kind::Str) out[key->text] = value;
  return out;
}

inline bool starts_with(const std::string& s, const char* prefix) {
  return s.compare(0, std::strlen(prefix), prefix) == 0;
}

// Modules whose every name is code a checkpoint never needs: naming one is an attack.
inline bool is_forbidden(const std::string& module, const std::string& full) {
  static const char* const roots[] = {"os",
                                      "posix",
                                      "nt",
                                      "subprocess",
                                      "_posixsubprocess",
                                      "sys",
                                      "importlib",
                                      "imp",
                                      "shutil",
                                      "socket",
                                      "pickle",
                                      "_pickle",
                                      "cPickle",
                                      "runpy",
                                      "marshal",
                                      "ctypes",
                                      "code",
                                      "codeop",
                                      "pty",
                                      "webbrowser",
                                      "multiprocessing",
                                      "threading",
                                      "_thread",
                                      "asyncio",
                                      "signal",
                                      "io",
                                      "_io",
                                      "tempfile",
                                      "copyreg",
                                      "copy_reg",
                                      "functools",
                                      "operator",
                                      "codecs",
                                      "inspect",
                                      "gc",
                                      "pdb",
                                      "bdb",
                                      "timeit",
                                      "trace",
                                      "profile",
                                      "cProfile",
                                      "doctest",
                                      "unittest",
                                      "setuptools",
                                      "distutils",
                                      "pip",
                                      "site",
                                      "pkgutil",
                                      "zipimport",
                                      "platform",
                                      "ssl",
                                      "http",
                                      "urllib",
                                      "requests",
                                      "ftplib",
                                      "smtplib",
                                      "telnetlib",
                                      "xmlrpc",
                                      "socketserver",
                                      "select",
                                      "selectors",
                                      "mmap",
                                      "fcntl",
                                      "resource",
                                      "dill",
                                      "joblib",
                                      "cffi",
                                      "posixpath",
                                      "ntpath",
                                      "glob",
                                      "commands",
                                      "popen2"};
  const std::string root = module.substr(0, module.find('.'));
  for (const char* r : roots)
    if (root == r) return true;
  static const char* const prefixes[] = {"builtins.",
                                         "__builtin__.",
                                         "types.",
                                         "_codecs.",
                                         "torch.load",
                                         "torch.hub",
                                         "torch.jit",
                                         "torch._C",
                                         "torch.ops",
                                         "torch.package",
                                         "torch.serialization",
                                         "torch.utils",
                                         "torch.storage._load_from_bytes",
                                         "torch.classes",
                                         "torch.distributed",
                                         "torch.multiprocessing",
                                         "torch._dynamo",
                                         "torch.compile",
                                         "torch.fx",
                                         "torch.testing",
                                         "numpy.load",
                                         "numpy.lib",
                                         "numpy.testing",
                                         "numpy.f2py",
                                         "numpy.distutils",
                                         "numpy.ctypeslib"};
  for (const char* p : prefixes)
    if (starts_with(full, p)) return true;
  return false;
}

inline bool multiply_overflows(std::uint64_t a, std::uint64_t b, std::uint64_t& out) {
  if (a != 0 && b > UINT64_MAX / a) return true;
  out = a * b;
  return false;
}

inline bool is_identifier(const std::string& s) {
  if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
      return false;
  return true;
}

inline bool storage_dtype(const std::string& name, DType& out) {
  static const std::pair<const char*, DType> table[] = {
      {"HalfStorage", DType::F16},      {"FloatStorage", DType::F32}, {"DoubleStorage", DType::F64},
      {"BFloat16Storage", DType::BF16}, {"LongStorage", DType::I64},  {"IntStorage", DType::I32},
      {"ShortStorage", DType::I16},     {"CharStorage", DType::I8},   {"ByteStorage", DType::U8},
      {"BoolStorage", DType::BOOL}};
  for (const auto& [storage, dtype] : table)
    if (name == storage) {
      out = dtype;
      return true;
    }
  return false;
}

// The allow-list. Returns the role, or an empty `refusal` text filled in with why not.
inline Role classify_global(const std::string& module, const std::string& name,
                            std::string& refusal) {
  const std::string full = module + "." + name;
  if (full == "torch._utils._rebuild_tensor_v2") return Role::RebuildTensor;
  if (full == "torch._utils._rebuild_parameter" ||
      full == "torch._utils._rebuild_parameter_with_state")
    return Role::RebuildParameter;
  if (full == "collections.OrderedDict" || full == "builtins.dict" || full == "__builtin__.dict")
    return Role::Dict;
  if (full == "builtins.set" || full == "__builtin__.set") return Role::Set;
  if (full == "builtins.frozenset" || full == "__builtin__.frozenset") return Role::FrozenSet;
  if (full == "builtins.list" || full == "__builtin__.list") return Role::List;
  if (full == "builtins.tuple" || full == "__builtin__.tuple" || full == "torch.Size")
    return Role::Tuple;
  if (full == "_codecs.encode") return Role::Encode;
  if (module == "torch" && name.size() > 7 && name.compare(name.size() - 7, 7, "Storage") == 0 &&
      is_identifier(name))
    return Role::Storage;
  if (is_forbidden(module, full) && full != "types.SimpleNamespace") {
    refusal = "which a checkpoint reader must not load";
    return Role::None;
  }
  if (starts_with(full, "torch._utils._rebuild_")) {
    refusal = "a tensor kind this reader does not support (only dense CPU-storable tensors)";
    return Role::None;
  }
  // Classes of model code and plain data holders; recorded, never called. A dotted or
  // dunder name would be an attribute walk (Class.__init__.__globals__), not a class.
  static const char* const inert_prefixes[] = {"torch.nn.",
                                               "ultralytics.",
                                               "collections.",
                                               "numpy.core.multiarray.",
                                               "numpy._core.multiarray.",
                                               "numpy.dtypes."};
  static const char* const inert_names[] = {"types.SimpleNamespace",
                                            "argparse.Namespace",
                                            "pathlib.Path",
                                            "pathlib.PosixPath",
                                            "pathlib.WindowsPath",
                                            "pathlib.PurePath",
                                            "pathlib.PurePosixPath",
                                            "pathlib.PureWindowsPath",
                                            "numpy.dtype",
                                            "numpy.ndarray",
                                            "torch.device",
                                            "torch.dtype",
                                            "torch.float16",
                                            "torch.float32",
                                            "torch.float64",
                                            "torch.bfloat16",
                                            "torch.int64",
                                            "torch.int32",
                                            "torch.int16",
                                            "torch.int8",
                                            "torch.uint8",
                                            "torch.bool",
                                            "torch.half",
                                            "torch.float",
                                            "torch.double",
                                            "torch.long",
                                            "torch.int"};
  bool inert = false;
  for (const char* p : inert_prefixes) inert = inert || starts_with(full, p);
  for (const char* n : inert_names) inert = inert || full == n;
  if (inert && is_identifier(name) && !starts_with(name, "__")) return Role::Record;
  refusal = "which is not on the checkpoint reader's allow-list";
  return Role::None;
}

// Python decodes BINUNICODE as strict UTF-8; so do we (JSON output needs it too).
inline bool valid_utf8(const unsigned char* s, std::size_t n) {
  for (std::size_t i = 0; i < n;) {
    const unsigned char c = s[i];
    std::size_t len;
    std::uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      len = 2;
      cp = c & 0x1fu;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3;
      cp = c & 0x0fu;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4;
      cp = c & 0x07u;
    } else {
      return false;
    }
    if (n - i < len) return false;
    for (std::size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (s[i + k] & 0x3fu);
    }
    static const std::uint32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < smallest[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += len;
  }
  return true;
}

// The result of unpickling: the root value and the arena that owns every value.
class Document {
 public:
  const Value& root() const { return *root_; }
  std::size_t tensor_count() const { return tensors_; }

 private:
  friend class Unpickler;
  std::unique_ptr<std::deque<Value>> arena_ = std::make_unique<std::deque<Value>>();
  const Value* root_ = nullptr;
  std::size_t tensors_ = 0;
};

class Unpickler {
 public:
  // `name` prefixes every message (e.g. "model.pt: archive/data.pkl").
  Unpickler(const unsigned char* data, std::size_t size, std::string name, const Limits& limits)
      : data_(data), size_(size), name_(std::move(name)), limits_(limits) {}

  Document run() {
    none_ = make(Kind::None);
    true_ = make(Kind::Bool);
    true_->flag = true;
    false_ = make(Kind::Bool);
    std::uint64_t opcodes = 0;
    while (true) {
      if (pos_ >= size_) fail_at(size_, "pickle ends without STOP (truncated)");
      if (++opcodes > limits_.max_opcodes)
        fail("more than ", limits_.max_opcodes, " opcodes (limit max_opcodes)");
      op_ = pos_;
      const unsigned char op = data_[pos_++];
      if (step(op)) break;
    }
    return std::move(doc_);
  }

 private:
  template <typename... Parts>
  [[noreturn]] void fail(const Parts&... parts) const {
    fail_at(op_, parts...);
  }
  template <typename... Parts>
  [[noreturn]] void fail_at(std::size_t at, const Parts&... parts) const {
    throw FormatError(eigenformer::detail::concat(name_, ": ", parts..., " (byte ", at, ")"));
  }

  Value* make(Kind kind) {
    doc_.arena_->emplace_back();
    Value* v = &doc_.arena_->back();
    v->kind = kind;
    return v;
  }

  const unsigned char* take(std::uint64_t n) {
    if (n > size_ - pos_) fail("opcode argument runs past the end of the pickle (truncated)");
    const unsigned char* p = data_ + pos_;
    pos_ += static_cast<std::size_t>(n);
    return p;
  }
  std::uint64_t take_uint(int bytes) {
    const unsigned char* p = take(static_cast<std::uint64_t>(bytes));
    std::uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
    return v;
  }
  std::string take_line() {
    const std::size_t begin = pos_;
    while (pos_ < size_ && data_[pos_] != '\n') {
      if (pos_ - begin > 4096) fail("GLOBAL name longer than 4096 bytes");
      ++pos_;
    }
    if (pos_ >= size_) fail("GLOBAL name runs past the end of the pickle (truncated)");
    std::string line(reinterpret_cast<const char*>(data_ + begin), pos_ - begin);
    ++pos_;
    return line;
  }

  void push(Value* v) {
    if (stack_.size() >= limits_.max_stack)
      fail("stack deeper than ", limits_.max_stack, " values (limit max_stack)");
    stack_.push_back(v);
  }
  Value* pop() {
    if (stack_.size() <= floor()) fail("pop from an empty stack");
    Value* v = stack_.back();
    stack_.pop_back();
    return v;
  }
  Value* top() {
    if (stack_.size() <= floor()) fail("read from an empty stack");
    return stack_.back();
  }
  std::size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
  std::vector<Value*> pop_mark() {
    if (marks_.empty()) fail("no MARK to pop to");
    std::vector<Value*> items(stack_.begin() + static_cast<std::ptrdiff_t>(marks_.back()),
                              stack_.end());
    stack_.resize(marks_.back());
    marks_.pop_back();
    return items;
  }

  // Records `child` inside `parent`: nesting depth is checked as the value is built.
  void attach(Value* parent, const Value* child) {
    parent->depth = std::max(parent->depth, child->depth + 1);
    if (parent->depth > limits_.max_depth)
      fail("nesting depth exceeds the limit of ", limits_.max_depth, " levels (limit max_depth)");
  }
  Value* sequence(Kind kind, std::vector<Value*> items) {
    Value* v = make(kind);
    for (Value* item : items) attach(v, item);
    v->items = std::move(items);
    return v;
  }

  Value* string_value(Kind kind, std::uint64_t length, bool utf8) {
    if (length > limits_.max_string_bytes)
      fail(kind_name(kind), " of ", length, " bytes exceeds the limit of ",
           limits_.max_string_bytes, " (limit max_string_bytes)");
    const unsigned char* p = take(length);
    if (utf8 && !valid_utf8(p, static_cast<std::size_t>(length))) fail("string is not valid UTF-8");
    Value* v = make(kind);
    v->text.assign(reinterpret_cast<const char*>(p), static_cast<std::size_t>(length));
    return v;
  }

  Value* integer(std::int64_t i) {
    Value* v = make(Kind::Int);
    v->integer = i;
    return v;
  }

  // LONG1 / LONG4: little-endian two's complement of `n` bytes.
  Value* long_value(std::uint64_t n) {
    if (n > 8) fail("integer of ", n, " bytes does not fit 64 bits");
    const unsigned char* p = take(n);
    std::uint64_t bits = 0;
    for (std::uint64_t i = n; i-- > 0;) bits = (bits << 8) | p[i];
    if (n > 0 && n < 8 && (p[n - 1] & 0x80u)) bits |= ~std::uint64_t{0} << (8 * n);
    std::int64_t value;
    std::memcpy(&value, &bits, sizeof(value));
    return integer(value);
  }

  Value* memo_get(std::uint64_t index) {
    auto found = memo_.find(index);
    if (found == memo_.end()) fail("memo entry ", index, " was never stored");
    return found->second;
  }
  void memo_put(std::uint64_t index) {
    Value* v = top();
    if (memo_.size() >= limits_.max_memo && memo_.count(index) == 0)
      fail("more than ", limits_.max_memo, " memo entries (limit max_memo)");
    memo_[index] = v;
  }

  Value* global(const std::string& module, const std::string& name) {
    std::string refusal;
    const Role role = classify_global(module, name, refusal);
    if (role == Role::None) fail("pickle references ", module, ".", name, ", ", refusal);
    Value* v = make(Kind::Global);
    v->role = role;
    v->text = module + "." + name;
    return v;
  }

  // BINPERSID: torch's ('storage', StorageType, key, location, numel). The same key always
  // names the same storage, as torch's loader caches it.
  Value* persistent(const Value* id) {
    if (!id->is(Kind::Tuple) || id->items.size() != 5 || !id->items[0]->is_str("storage"))
      fail("persistent id is not torch's ('storage', type, key, location, numel)");
    const Value* type = id->items[1];
    const Value* key = id->items[2];
    const Value* numel = id->items[4];
    if (!type->is(Kind::Global) || type->role != Role::Storage)
      fail("persistent id's storage type is not a torch storage class");
    if (!key->is(Kind::Str) || key->text.empty() || key->text.size() > 64 ||
        !std::all_of(key->text.begin(), key->text.end(), [](char c) {
          return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 c == '_';
        }))
      fail("persistent id's storage key must be a short alphanumeric string");
    if (!id->items[3]->is(Kind::Str)) fail("persistent id's location must be a string");
    if (!numel->is(Kind::Int) || numel->integer < 0)
      fail("persistent id's element count must be a non-negative integer");
    auto found = storages_.find(key->text);
    if (found != storages_.end()) {
      if (found->second->type->text != type->text || found->second->integer != numel->integer)
        fail("storage '", key->text, "' is declared twice with different types or sizes");
      return found->second;
    }
    Value* v = make(Kind::Storage);
    v->text = key->text;
    v->type = const_cast<Value*>(type);
    v->integer = numel->integer;
    const std::string short_name = type->text.substr(type->text.rfind('.') + 1);
    v->flag = storage_dtype(short_name, v->dtype);
    storages_.emplace(key->text, v);
    return v;
  }

  static bool int_tuple(const Value* v, std::vector<std::int64_t>& out) {
    if (!v->is(Kind::Tuple) && !v->is(Kind::List)) return false;
    out.clear();
    for (const Value* item : v->items) {
      if (!item->is(Kind::Int)) return false;
      out.push_back(item->integer);
    }
    return true;
  }

  // _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata]):
  // every element it addresses must lie inside the storage, computed without overflow.
  Value* rebuild_tensor(const Value* args) {
    if (args->items.size() != 6 && args->items.size() != 7)
      fail("_rebuild_tensor_v2 takes 6 or 7 arguments, got ", args->items.size());
    const Value* storage = args->items[0];
    if (!storage->is(Kind::Storage))
      fail("_rebuild_tensor_v2's first argument is a ", kind_name(storage->kind),
           ", not a storage");
    if (++doc_.tensors_ > limits_.max_tensors)
      fail("more than ", limits_.max_tensors, " tensors (limit max_tensors)");
    Value* v = make(Kind::Tensor);
    v->state = const_cast<Value*>(storage);
    if (!args->items[1]->is(Kind::Int) || args->items[1]->integer < 0)
      fail("tensor storage offset must be a non-negative integer");
    v->integer = args->items[1]->integer;
    if (!int_tuple(args->items[2], v->sizes) || !int_tuple(args->items[3], v->strides))
      fail("tensor size and stride must be tuples of integers");
    if (v->sizes.size() != v->strides.size())
      fail("tensor has ", v->sizes.size(), " sizes but ", v->strides.size(), " strides");
    if (v->sizes.size() > limits_.max_rank)
      fail("tensor rank ", v->sizes.size(), " exceeds the limit of ", limits_.max_rank);
    v->flag = args->items[4]->is(Kind::Bool) && args->items[4]->flag;
    std::uint64_t numel = 1, last = static_cast<std::uint64_t>(v->integer);
    for (std::size_t i = 0; i < v->sizes.size(); ++i) {
      const std::int64_t size = v->sizes[i], stride = v->strides[i];
      if (size < 0 || stride < 0) fail("tensor sizes and strides must be non-negative");
      std::uint64_t span = 0;
      if (multiply_overflows(numel, static_cast<std::uint64_t>(size), numel) ||
          numel > static_cast<std::uint64_t>(PTRDIFF_MAX) ||
          (size > 0 && multiply_overflows(static_cast<std::uint64_t>(size - 1),
                                          static_cast<std::uint64_t>(stride), span)) ||
          span > UINT64_MAX - last)
        fail("tensor size ", eigenformer::detail::shape_string(v->sizes), " with stride ",
             eigenformer::detail::shape_string(v->strides), " overflows");
      last += span;
    }
    if (numel > 0 && last >= static_cast<std::uint64_t>(storage->integer))
      fail("tensor of size ", eigenformer::detail::shape_string(v->sizes), ", stride ",
           eigenformer::detail::shape_string(v->strides), " and offset ", v->integer,
           " reads element ", last, " of storage '", storage->text, "', which holds ",
           storage->integer, " elements (stride out of bounds)");
    return v;
  }

  // Builds a container from an optional iterable argument, as calling the type would.
  Value* container(Role role, const Value* args) {
    const Kind kind = role == Role::Dict    ? Kind::Dict
                      : role == Role::List  ? Kind::List
                      : role == Role::Tuple ? Kind::Tuple
                                            : Kind::Set;
    Value* v = make(kind);
    v->flag = role == Role::FrozenSet;
    if (args->items.empty()) return v;
    const Value* source = args->items[0];
    if (args->items.size() != 1 ||
        !(source->is(Kind::List) || source->is(Kind::Tuple) || source->is(Kind::Set) ||
          (kind == Kind::Dict && source->is(Kind::Dict))))
      fail(kind_name(kind), "() called with arguments other than one list, tuple or set");
    if (kind == Kind::Dict) {
      if (source->is(Kind::Dict)) {
        v->pairs = source->pairs;
      } else {
        for (const Value* pair : source->items) {
          if (!(pair->is(Kind::Tuple) || pair->is(Kind::List)) || pair->items.size() != 2)
            fail("dict() called with an item that is not a key-value pair");
          v->pairs.emplace_back(pair->items[0], pair->items[1]);
        }
      }
    } else {
      v->items = source->items;
    }
    attach(v, source);
    return v;
  }

  // _codecs.encode(text, 'latin1'): protocol 2's spelling of a bytes object.
  Value* encode(const Value* args) {
    if (args->items.size() != 2 || !args->items[0]->is(Kind::Str) ||
        !(args->items[1]->is_str("latin1") || args->items[1]->is_str("latin-1")))
      fail("_codecs.encode is only read as encode(str, 'latin1')");
    Value* v = make(Kind::Bytes);
    const std::string& s = args->items[0]->text;
    for (std::size_t i = 0; i < s.size(); ++i) {
      const auto c = static_cast<unsigned char>(s[i]);
      if (c < 0x80) {
        v->text.push_back(static_cast<char>(c));
      } else if ((c == 0xc2 || c == 0xc3) && i + 1 < s.size()) {
        v->text.push_back(static_cast<char>(((c & 0x03u) << 6) | (s[++i] & 0x3fu)));
      } else {
        fail("_codecs.encode: character outside latin-1");
      }
    }
    return v;
  }

  Value* reduce(Value* callable, Value* args) {
    if (!callable->is(Kind::Global))
      fail("REDUCE applied to a ", kind_name(callable->kind), ", not to an allowed callable");
    if (!args->is(Kind::Tuple)) fail("REDUCE arguments are a ", kind_name(args->kind));
    switch (callable->role) {
      case Role::RebuildTensor:
        return rebuild_tensor(args);
      case Role::RebuildParameter:
        if (args->items.empty() || !args->items[0]->is(Kind::Tensor))
          fail(callable->text, " expects a tensor as its first argument");
        return args->items[0];
      case Role::Dict:
      case Role::Set:
      case Role::FrozenSet:
      case Role::List:
      case Role::Tuple:
        return container(callable->role, args);
      case Role::Encode:
        return encode(args);
      case Role::Record: {
        Value* v = make(Kind::Record);
        v->text = callable->text;
        for (Value* item : args->items) attach(v, item);
        v->items = args->items;
        return v;
      }
      default:
        fail(callable->text, " cannot be called");
    }
  }

  Value* new_object(Value* cls, Value* args, Value* kwargs) {
    if (!cls->is(Kind::Global)) fail("NEWOBJ of a ", kind_name(cls->kind), ", not of a class");
    if (!args->is(Kind::Tuple)) fail("NEWOBJ arguments are a ", kind_name(args->kind));
    switch (cls->role) {
      case Role::Dict:
        return make(Kind::Dict);
      case Role::List:
        return make(Kind::List);
      case Role::Set:
      case Role::FrozenSet: {
        Value* v = make(Kind::Set);
        v->flag = cls->role == Role::FrozenSet;
        return v;
      }
      case Role::Record: {
        Value* v = make(Kind::Record);
        v->text = cls->text;
        v->flag = true;
        for (Value* item : args->items) attach(v, item);
        v->items = args->items;
        if (kwargs) {
          if (!kwargs->is(Kind::Dict)) fail("NEWOBJ_EX keyword arguments are not a dict");
          attach(v, kwargs);
          v->pairs = kwargs->pairs;
        }
        return v;
      }
      default:
        fail("NEWOBJ of ", cls->text, ", which is not a class this reader records");
    }
  }

  void build(Value* object, Value* state) {
    if (state->is(Kind::None)) return;
    // Attributes of a dict or list subclass (a state_dict's _metadata): not kept.
    if (object->is(Kind::Dict) || object->is(Kind::List) || object->is(Kind::Set)) return;
    if (!object->is(Kind::Record))
      fail("BUILD (setting the state) of a ", kind_name(object->kind),
           ", not of a recorded object");
    attach(object, state);
    if (object->state && object->state->is(Kind::Dict) && state->is(Kind::Dict)) {
      object->state->pairs.insert(object->state->pairs.end(), state->pairs.begin(),
                                  state->pairs.end());
      attach(object->state, state);
    } else {
      object->state = state;
    }
  }

  void add_items(Value* target, Kind kind, const std::vector<Value*>& items, const char* what) {
    if (!target->is(kind))
      fail(what, " on a ", kind_name(target->kind), " (only a ", kind_name(kind), " is accepted)");
    if (kind == Kind::Set && target->flag) fail(what, " on a frozenset");
    for (Value* item : items) attach(target, item);
    target->items.insert(target->items.end(), items.begin(), items.end());
  }

  void set_items(Value* target, const std::vector<Value*>& items) {
    if (!target->is(Kind::Dict))
      fail("SETITEMS on a ", kind_name(target->kind), " (only a dict is accepted)");
    if (items.size() % 2 != 0) fail("SETITEMS with an odd number of values");
    for (std::size_t i = 0; i < items.size(); i += 2) {
      attach(target, items[i]);
      attach(target, items[i + 1]);
      target->pairs.emplace_back(items[i], items[i + 1]);
    }
  }

  // One opcode; true at STOP.
  bool step(unsigned char op) {
    switch (op) {
      case 0x80: {  // PROTO
        const auto version = take_uint(1);
        if (version > 5) fail("pickle protocol ", version, " is newer than 5");
        return false;
      }
      case 0x95:  // FRAME: a length prefix only
        if (take_uint(8) > size_ - pos_) fail("FRAME runs past the end of the pickle");
        return false;
      case '.':  // STOP
        doc_.root_ = top();
        return true;
      case '}':
        push(make(Kind::Dict));
        return false;
      case ']':
        push(make(Kind::List));
        return false;
      case ')':
        push(make(Kind::Tuple));
        return false;
      case 0x8f:  // EMPTY_SET
        push(make(Kind::Set));
        return false;
      case '(':  // MARK
        if (marks_.size() >= limits_.max_stack)
          fail("more than ", limits_.max_stack, " open MARKs (limit max_stack)");
        marks_.push_back(stack_.size());
        return false;
      case '0':  // POP
        if (stack_.size() > floor())
          stack_.pop_back();
        else
          pop_mark();
        return false;
      case '1':  // POP_MARK
        pop_mark();
        return false;
      case '2':  // DUP
        push(top());
        return false;
      case 'J': {  // BININT
        const auto bits = static_cast<std::uint32_t>(take_uint(4));
        std::int32_t value;
        std::memcpy(&value, &bits, sizeof(value));
        push(integer(value));
        return false;
      }
      case 'K':  // BININT1
        push(integer(static_cast<std::int64_t>(take_uint(1))));
        return false;
      case 'M':  // BININT2
        push(integer(static_cast<std::int64_t>(take_uint(2))));
        return false;
      case 0x8a:  // LONG1
        push(long_value(take_uint(1)));
        return false;
      case 0x8b: {  // LONG4
        const auto bits = static_cast<std::uint32_t>(take_uint(4));
        if (bits & 0x80000000u) fail("LONG4 with a negative length");
        push(long_value(bits));
        return false;
      }
      case 'G': {  // BINFLOAT: big-endian
        const unsigned char* p = take(8);
        std::uint64_t bits = 0;
        for (int i = 0; i < 8; ++i) bits = (bits << 8) | p[i];
        Value* v = make(Kind::Float);
        std::memcpy(&v->number, &bits, sizeof(bits));
        push(v);
        return false;
      }
      case 'X':  // BINUNICODE
        push(string_value(Kind::Str, take_uint(4), true));
        return false;
      case 0x8c:  // SHORT_BINUNICODE
        push(string_value(Kind::Str, take_uint(1), true));
        return false;
      case 0x8d:  // BINUNICODE8
        push(string_value(Kind::Str, take_uint(8), true));
        return false;
      case 'T': {  // BINSTRING: Python 2 str, which torch.load decodes as UTF-8
        const auto bits = static_cast<std::uint32_t>(take_uint(4));
        if (bits & 0x80000000u) fail("BINSTRING with a negative length");
        push(string_value(Kind::Str, bits, true));
        return false;
      }
      case 'U':  // SHORT_BINSTRING
        push(string_value(Kind::Str, take_uint(1), true));
        return false;
      case 'B':  // BINBYTES
        push(string_value(Kind::Bytes, take_uint(4), false));
        return false;
      case 'C':  // SHORT_BINBYTES
        push(string_value(Kind::Bytes, take_uint(1), false));
        return false;
      case 0x8e:  // BINBYTES8
      case 0x96:  // BYTEARRAY8
        push(string_value(Kind::Bytes, take_uint(8), false));
        return false;
      case 'N':
        push(none_);
        return false;
      case 0x88:
        push(true_);
        return false;
      case 0x89:
        push(false_);
        return false;
      case 't':  // TUPLE
        push(sequence(Kind::Tuple, pop_mark()));
        return false;
      case 0x85:
      case 0x86:
      case 0x87: {  // TUPLE1..3
        const std::size_t n = op - 0x84u;
        if (stack_.size() < floor() + n) fail("TUPLE", n, " with fewer than ", n, " values");
        std::vector<Value*> items(stack_.end() - static_cast<std::ptrdiff_t>(n), stack_.end());
        stack_.resize(stack_.size() - n);
        push(sequence(Kind::Tuple, std::move(items)));
        return false;
      }
      case 'l':  // LIST
        push(sequence(Kind::List, pop_mark()));
        return false;
      case 'a': {  // APPEND
        Value* item = pop();
        add_items(top(), Kind::List, {item}, "APPEND");
        return false;
      }
      case 'e': {  // APPENDS
        auto items = pop_mark();
        add_items(top(), Kind::List, items, "APPENDS");
        return false;
      }
      case 'd': {  // DICT
        Value* dict = make(Kind::Dict);
        set_items(dict, pop_mark());
        push(dict);
        return false;
      }
      case 's': {  // SETITEM
        Value* value = pop();
        Value* key = pop();
        set_items(top(), {key, value});
        return false;
      }
      case 'u': {  // SETITEMS
        auto items = pop_mark();
        set_items(top(), items);
        return false;
      }
      case 0x90: {  // ADDITEMS
        auto items = pop_mark();
        add_items(top(), Kind::Set, items, "ADDITEMS");
        return false;
      }
      case 0x91: {  // FROZENSET
        Value* set = sequence(Kind::Set, pop_mark());
        set->flag = true;
        push(set);
        return false;
      }
      case 'q':  // BINPUT
        memo_put(take_uint(1));
        return false;
      case 'r':  // LONG_BINPUT
        memo_put(take_uint(4));
        return false;
      case 0x94:  // MEMOIZE
        memo_put(memo_.size());
        return false;
      case 'h':  // BINGET
        push(memo_get(take_uint(1)));
        return false;
      case 'j':  // LONG_BINGET
        push(memo_get(take_uint(4)));
        return false;
      case 'c': {  // GLOBAL
        const std::string module = take_line();
        const std::string name = take_line();
        push(global(module, name));
        return false;
      }
      case 0x93: {  // STACK_GLOBAL
        Value* name = pop();
        Value* module = pop();
        if (!name->is(Kind::Str) || !module->is(Kind::Str)) fail("STACK_GLOBAL needs two strings");
        push(global(module->text, name->text));
        return false;
      }
      case 'R': {  // REDUCE
        Value* args = pop();
        Value* callable = pop();
        push(reduce(callable, args));
        return false;
      }
      case 0x81: {  // NEWOBJ
        Value* args = pop();
        Value* cls = pop();
        push(new_object(cls, args, nullptr));
        return false;
      }
      case 0x92: {  // NEWOBJ_EX
        Value* kwargs = pop();
        Value* args = pop();
        Value* cls = pop();
        push(new_object(cls, args, kwargs));
        return false;
      }
      case 'b': {  // BUILD
        Value* state = pop();
        build(top(), state);
        return false;
      }
      case 'Q':  // BINPERSID
        push(persistent(pop()));
        return false;
      default:
        fail("unsupported pickle opcode 0x", "0123456789abcdef"[op >> 4],
             "0123456789abcdef"[op & 15],
             " (protocol 0/1 text opcodes, extensions and out-of-band buffers are not read)");
    }
  }

  const unsigned char* data_;
  std::size_t size_;
  std::string name_;
  Limits limits_;
  std::size_t pos_ = 0;
  std::size_t op_ = 0;
  Document doc_;
  std::vector<Value*> stack_;
  std::vector<std::size_t> marks_;
  std::unordered_map<std::uint64_t, Value*> memo_;
  std::map<std::string, Value*> storages_;
  Value* none_ = nullptr;
  Value* true_ = nullptr;
  Value* false_ = nullptr;
};

// Unpickles `size` bytes at `data`; `name` prefixes every message.
inline Document load(const unsigned char* data, std::size_t size, const std::string& name,
                     const Limits& limits = {}) {
  return Unpickler(data, size, name, limits).run();
}

}  // namespace detail::pickle
}  // namespace eigenformer
