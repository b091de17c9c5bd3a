#pragma once
// Reader for PyTorch checkpoints in torch.save's zip format (torch >= 1.6), as ultralytics
// writes them (`rtdetr-l.pt`, a trainer's `last.pt`), without running any code from the
// file: the pickle is interpreted by io/pickle.hpp (allow-list, inert records), tensors
// are read from the archive's stored entries with every offset, size and stride checked.
//
// The module tree is walked the way `state_dict()` names it ("model.0.conv.weight"), and
// each module's plain attributes (Conv2d's stride, BatchNorm2d's eps, the root's yaml,
// names, args) are kept as JSON, so a model can be built from the checkpoint alone.
//
// JSON conventions: None -> null; list, tuple, set -> array; dict -> object whose non-string
// keys become their Python str() text (ultralytics' names {0: "person"} -> {"0": "person"});
// bytes -> a JSON binary; an inert object -> {"__class__": "module.Class", <its state's
// entries>} (plus "__args__" / "__kwargs__" / "__state__" when it has constructor arguments
// or a non-dict state); a pathlib path -> its string; a class or function named as a value ->
// {"__global__": "module.name"}; a tensor of at most 1024 elements -> its values as nested
// arrays (a scalar for rank 0), a larger one -> {"__tensor__": {"dtype": "F16", "shape": [...]}}.

#include <eigenformer/core/error.hpp>
#include <eigenformer/core/state_dict.hpp>
#include <eigenformer/core/tensor.hpp>
#include <eigenformer/io/dtype.hpp>
#include <eigenformer/io/pickle.hpp>
#include <eigenformer/io/zip_archive.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

namespace eigenformer {

struct TorchCheckpointLimits {
  PickleLimits pickle;  // opcodes, stack, memo, nesting depth, string sizes, tensors
  ZipLimits zip;        // entries; CRC-32 verification
  std::size_t max_modules = 1u << 20;
  // JSON values built for attributes and metadata: shared values in a pickle could
  // otherwise expand exponentially when written out as a tree.
  std::size_t max_json_values = 1u << 24;
};

struct TorchModule {
  std::string class_name;  // "torch.nn.modules.conv.Conv2d", "ultralytics.nn.modules.block.HGStem"
  nlohmann::json attributes = nlohmann::json::object();
};

template <typename T>
struct TorchCheckpoint {
  std::string source;  // the file path (or the name given for bytes), for messages
  std::string form;    // "model" (released form) or "ema" (trainer's last.pt form)
  // Parameters and persistent buffers by state_dict() name. Integer buffers
  // (num_batches_tracked) are recorded as unusable for a floating-point T.
  StateDict<T> weights;
  // Every module by dotted path; "" is the root model object.
  std::map<std::string, TorchModule> modules;
  nlohmann::json attributes() const { return modules.at("").attributes; }
  // The top-level checkpoint dict's entries other than model / ema (epoch, date, ...).
  nlohmann::json metadata = nlohmann::json::object();
};

namespace detail {

template <typename T>
class TorchCheckpointReader {
 public:
  TorchCheckpointReader(const std::string& source, std::shared_ptr<const FileBytes> bytes,
                        const TorchCheckpointLimits& limits)
      : source_(source), limits_(limits) {
    const unsigned char* data = bytes->data();
    // torch < 1.6 wrote a bare pickle stream (protocol 2, then the magic number as LONG1).
    if (bytes->size() >= 2 && data[0] == 0x80 && data[1] <= 5)
      fail(
          "legacy (pre-1.6) torch.save format (a pickle stream, not a zip archive), which this "
          "reader does not read; re-save it with torch >= 1.6: torch.save(torch.load(f), f) "
          "(only for a file you trust)");
    archive_ = detail::ZipArchive::from_file_bytes(source, std::move(bytes), limits.zip);
  }

  TorchCheckpoint<T> read() {
    find_prefix();
    const detail::ZipEntry* pkl = archive_->find(prefix_ + "data.pkl");
    const unsigned char* pickle_bytes = archive_->data(*pkl);
    const pickle::Document doc = pickle::load(pickle_bytes, static_cast<std::size_t>(pkl->size),
                                              concat(source_, ": ", pkl->name), limits_.pickle);
    TorchCheckpoint<T> out{source_, "", StateDict<T>(source_), {}, nlohmann::json::object()};
    const pickle::Value& root = doc.root();
    const pickle::Value* model = nullptr;
    if (is_module(root)) {
      // torch.save(model): the module itself, no checkpoint dict around it.
      model = &root;
      out.form = "model";
    } else if (root.is(pickle::Kind::Dict)) {
      if (is_state_dict(root)) fail(bare_state_dict("the file"));
      const auto items = pickle::string_items(root);
      auto get = [&](const char* key) -> const pickle::Value* {
        auto found = items.find(key);
        return found == items.end() || found->second->is(pickle::Kind::None) ? nullptr
                                                                             : found->second;
      };
      // As ultralytics loads it: ckpt.get("ema") or ckpt["model"].
      if ((model = get("ema")) != nullptr)
        out.form = "ema";
      else if ((model = get("model")) != nullptr)
        out.form = "model";
      else
        fail(
            "holds no model object: neither 'ema' nor 'model' is set (ultralytics loads "
            "ckpt['ema'] or ckpt['model'])");
      if (!is_module(*model)) {
        if (is_state_dict(*model)) fail(bare_state_dict(concat("'", out.form, "'")));
        fail("'", out.form, "' is a ", pickle::kind_name(model->kind), ", not a module object");
      }
      for (const auto& [key, value] : root.pairs) {
        if (key->is_str("model") || key->is_str("ema")) continue;
        out.metadata[key_text(*key)] = to_json(*value, 1);
      }
    } else {
      fail("the pickle holds a ", pickle::kind_name(root.kind),
           ", not a checkpoint dict or a module");
    }
    walk(*model, "", 1, out);
    return out;
  }

 private:
  template <typename... Parts>
  [[noreturn]] void fail(const Parts&... parts) const {
    throw FormatError(concat(source_, ": ", parts...));
  }

  static std::string bare_state_dict(const std::string& what) {
    return concat(what,
                  " holds a bare state_dict (tensors only), which carries no architecture; save "
                  "the whole model / use the checkpoint ultralytics writes");
  }

  // The archive's directory: torch names it after the file stem, or "archive".
  void find_prefix() {
    const detail::ZipEntry* found = nullptr;
    bool torchscript = false;
    for (const auto& entry : archive_->entries()) {
      const std::string& name = entry.name;
      const auto slash = name.find('/');
      const std::string rest = slash == std::string::npos ? name : name.substr(slash + 1);
      if (rest == "constants.pkl" || rest.compare(0, 5, "code/") == 0) torchscript = true;
      if (rest != "data.pkl" || rest.find('/') != std::string::npos) continue;
      if (found) fail("several data.pkl entries ('", found->name, "', '", name, "')");
      found = &entry;
    }
    if (!found)
      fail(torchscript ? "a TorchScript archive (torch.jit.save), not a torch.save checkpoint"
                       : "no data.pkl entry: not a torch.save checkpoint");
    prefix_ = found->name.substr(0, found->name.size() - 8);
    if (const detail::ZipEntry* order = archive_->find(prefix_ + "byteorder")) {
      const unsigned char* text = archive_->data(*order);
      const std::string value(reinterpret_cast<const char*>(text),
                              static_cast<std::size_t>(std::min<std::uint64_t>(order->size, 16)));
      if (value != "little")
        fail("byteorder is '", value, "'; only little-endian checkpoints are supported");
    }
  }

  static bool is_module(const pickle::Value& v) {
    if (!v.is(pickle::Kind::Record) || !v.state || !v.state->is(pickle::Kind::Dict)) return false;
    for (const auto& pair : v.state->pairs)
      if (pair.first->is_str("_modules")) return true;
    return false;
  }

  static bool is_state_dict(const pickle::Value& v) {
    if (!v.is(pickle::Kind::Dict) || v.pairs.empty()) return false;
    for (const auto& pair : v.pairs)
      if (!pair.second->is(pickle::Kind::Tensor)) return false;
    return true;
  }

  // Private bookkeeping of nn.Module that is not configuration.
  static bool is_bookkeeping(const std::string& key) {
    return key == "_parameters" || key == "_buffers" || key == "_modules" ||
           key == "_non_persistent_buffers_set" ||
           (!key.empty() && key[0] == '_' && key.find("hook") != std::string::npos);
  }

  void walk(const pickle::Value& module, const std::string& path, std::size_t depth,
            TorchCheckpoint<T>& out) {
    if (depth > limits_.pickle.max_depth)
      fail("module '", path, "': nesting depth exceeds the limit of ", limits_.pickle.max_depth);
    if (out.modules.size() >= limits_.max_modules)
      fail("more than ", limits_.max_modules, " modules (limit max_modules)");
    TorchModule& entry = out.modules[path];
    entry.class_name = module.text;
    entry.attributes = nlohmann::json::object();
    const auto state = pickle::string_items(*module.state);
    std::set<std::string> non_persistent;
    if (auto found = state.find("_non_persistent_buffers_set"); found != state.end())
      for (const pickle::Value* name : found->second->items)
        if (name->is(pickle::Kind::Str)) non_persistent.insert(name->text);
    const std::string prefix = path.empty() ? path : path + ".";
    for (const char* group : {"_parameters", "_buffers"}) {
      auto found = state.find(group);
      if (found == state.end()) continue;
      if (!found->second->is(pickle::Kind::Dict))
        fail("module '", path, "': ", group, " is a ", pickle::kind_name(found->second->kind));
      for (const auto& [name, tensor] : pickle::string_items(*found->second)) {
        // As state_dict(): None entries and non-persistent buffers are not listed.
        if (tensor->is(pickle::Kind::None) || non_persistent.count(name)) continue;
        insert_tensor(out.weights, prefix + name, *tensor);
      }
    }
    for (const auto& [key, value] : state)
      if (!is_bookkeeping(key)) entry.attributes[key] = to_json(*value, 1);
    auto children = state.find("_modules");
    if (!children->second->is(pickle::Kind::Dict))
      fail("module '", path, "': _modules is a ", pickle::kind_name(children->second->kind));
    for (const auto& [name, child] : pickle::string_items(*children->second)) {
      if (child->is(pickle::Kind::None)) continue;
      if (!is_module(*child))
        fail("module '", prefix + name, "' is a ", pickle::kind_name(child->kind),
             ", not a module object");
      walk(*child, prefix + name, depth + 1, out);
    }
  }

  // The bytes of a tensor's storage, checked once per storage against its declared size.
  const unsigned char* storage_bytes(const std::string& tensor, const pickle::Value& storage) {
    auto cached = storages_.find(storage.text);
    if (cached != storages_.end()) return cached->second;
    if (!storage.flag)
      fail("tensor '", tensor, "': storage type ", storage.type->text,
           " is not supported (F16, BF16, F32, F64 and integer storages are)");
    const std::string entry_name = prefix_ + "data/" + storage.text;
    const detail::ZipEntry* entry = archive_->find(entry_name);
    if (!entry) fail("tensor '", tensor, "': storage entry '", entry_name, "' is missing");
    std::uint64_t expected = 0;
    if (multiply_overflows(static_cast<std::uint64_t>(storage.integer), dtype_size(storage.dtype),
                           expected) ||
        entry->size != expected)
      fail("tensor '", tensor, "': storage size mismatch: entry '", entry_name, "' holds ",
           entry->size, " bytes, but the pickle declares ", storage.integer, " elements of ",
           dtype_name(storage.dtype), " (", expected, " bytes)");
    const unsigned char* bytes = archive_->data(*entry);
    storages_.emplace(storage.text, bytes);
    return bytes;
  }

  // The tensor's elements in row-major order as U, gathered through its strides.
  template <typename U>
  std::vector<U> gather(const std::string& name, const pickle::Value& tensor) {
    const pickle::Value& storage = *tensor.state;
    const unsigned char* bytes = storage_bytes(name, storage);
    const std::size_t width = dtype_size(storage.dtype);
    const std::size_t rank = tensor.sizes.size();
    std::uint64_t count = 1;
    for (std::int64_t size : tensor.sizes) count *= static_cast<std::uint64_t>(size);
    std::vector<U> values(static_cast<std::size_t>(count));
    if (count == 0) return values;
    std::vector<std::int64_t> index(rank, 0);
    std::uint64_t offset = static_cast<std::uint64_t>(tensor.integer);
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (!convert_element<U>(storage.dtype, bytes + offset * width, values[i]))
        fail("tensor '", name, "' (", dtype_name(storage.dtype), "): element ", i,
             " is out of range for ", scalar_type_name<U>());
      // Odometer over the dimensions; offsets stay inside the storage (checked by the
      // unpickler: offset + sum((size - 1) * stride) < numel).
      for (std::size_t d = rank; d-- > 0;) {
        if (++index[d] < tensor.sizes[d]) {
          offset += static_cast<std::uint64_t>(tensor.strides[d]);
          break;
        }
        offset -= static_cast<std::uint64_t>(tensor.strides[d]) *
                  static_cast<std::uint64_t>(tensor.sizes[d] - 1);
        index[d] = 0;
      }
    }
    return values;
  }

  static bool is_contiguous(const pickle::Value& tensor) {
    std::int64_t expected = 1;
    for (std::size_t d = tensor.sizes.size(); d-- > 0;) {
      if (tensor.sizes[d] != 1 && tensor.strides[d] != expected) return false;
      expected *= tensor.sizes[d];
    }
    return true;
  }

  void insert_tensor(StateDict<T>& weights, const std::string& name, const pickle::Value& tensor) {
    if (!tensor.is(pickle::Kind::Tensor))
      fail("'", name, "' is a ", pickle::kind_name(tensor.kind), ", not a tensor");
    const pickle::Value& storage = *tensor.state;
    if (!storage.flag)
      fail("tensor '", name, "': storage type ", storage.type->text,
           " is not supported (F16, BF16, F32, F64 and integer storages are)");
    const bool floating = is_floating_dtype(storage.dtype);
    if (std::is_floating_point_v<T> != floating) {
      weights.insert_unusable(
          name, concat("has ", floating ? "floating-point" : "integer", " dtype ",
                       dtype_name(storage.dtype), ", expected ",
                       std::is_floating_point_v<T> ? "a floating-point one" : "an integer one",
                       " (a buffer such as num_batches_tracked, or quantized weights)"));
      return;
    }
    Shape shape(tensor.sizes.begin(), tensor.sizes.end());
    // An empty tensor's offset is never checked against its storage (torch does not either).
    if (shape_numel(shape) == 0) {
      weights.insert(name, Tensor<T>(std::move(shape), std::vector<T>()));
      return;
    }
    const unsigned char* bytes = storage_bytes(name, storage);
    const unsigned char* first =
        bytes + static_cast<std::uint64_t>(tensor.integer) * dtype_size(storage.dtype);
    if (dtype_matches<T>(storage.dtype) && is_contiguous(tensor) &&
        reinterpret_cast<std::uintptr_t>(first) % alignof(T) == 0) {
      weights.insert(
          name, Tensor<T>(std::move(shape), reinterpret_cast<const T*>(first), archive_->file()));
      return;
    }
    weights.insert(name, Tensor<T>(std::move(shape), gather<T>(name, tensor)));
  }

  void count_json() {
    if (++json_values_ > limits_.max_json_values)
      fail("attributes and metadata expand to more than ", limits_.max_json_values,
           " JSON values (limit max_json_values)");
  }

  std::string key_text(const pickle::Value& key) {
    switch (key.kind) {
      case pickle::Kind::Str:
        return key.text;
      case pickle::Kind::Int:
        return std::to_string(key.integer);
      case pickle::Kind::Bool:
        return key.flag ? "True" : "False";
      case pickle::Kind::None:
        return "None";
      case pickle::Kind::Float:
        return concat(key.number);
      default:
        return to_json(key, 1).dump();
    }
  }

  nlohmann::json tensor_json(const pickle::Value& tensor) {
    const pickle::Value& storage = *tensor.state;
    std::uint64_t count = 1;
    for (std::int64_t size : tensor.sizes) count *= static_cast<std::uint64_t>(size);
    if (!storage.flag || count > 1024) {
      nlohmann::json shape = tensor.sizes;
      return {{"__tensor__",
               {{"dtype", storage.flag ? dtype_name(storage.dtype) : storage.type->text.c_str()},
                {"shape", shape}}}};
    }
    std::vector<nlohmann::json> flat;
    if (is_floating_dtype(storage.dtype))
      for (double v : gather<double>("(attribute)", tensor)) flat.emplace_back(v);
    else if (storage.dtype == DType::BOOL)
      for (std::int64_t v : gather<std::int64_t>("(attribute)", tensor)) flat.emplace_back(v != 0);
    else
      for (std::int64_t v : gather<std::int64_t>("(attribute)", tensor)) flat.emplace_back(v);
    for (std::size_t i = 0; i < flat.size(); ++i) count_json();
    if (tensor.sizes.empty()) return flat.at(0);
    // Group the flat values by the innermost dimension first.
    for (std::size_t d = tensor.sizes.size(); d-- > 1;) {
      const auto size = static_cast<std::size_t>(tensor.sizes[d]);
      std::vector<nlohmann::json> grouped;
      for (std::size_t i = 0; i < flat.size(); i += size)
        grouped.emplace_back(
            std::vector<nlohmann::json>(flat.begin() + i, flat.begin() + i + size));
      flat = std::move(grouped);
    }
    return flat;
  }

  nlohmann::json record_json(const pickle::Value& v, std::size_t depth) {
    // pathlib paths pickle as their parts: ('/', 'home', 'runs') -> "/home/runs".
    if (v.text.compare(0, 8, "pathlib.") == 0 && !v.state) {
      std::string path;
      bool parts_are_strings = true;
      for (const pickle::Value* part : v.items) {
        parts_are_strings = parts_are_strings && part->is(pickle::Kind::Str);
        if (!path.empty() && path.back() != '/') path += '/';
        path += part->text;
      }
      if (parts_are_strings) return path;
    }
    nlohmann::json out = nlohmann::json::object();
    out["__class__"] = v.text;
    if (!v.items.empty()) {
      nlohmann::json args = nlohmann::json::array();
      for (const pickle::Value* item : v.items) args.push_back(to_json(*item, depth + 1));
      out["__args__"] = std::move(args);
    }
    if (!v.pairs.empty()) {
      nlohmann::json kwargs = nlohmann::json::object();
      for (const auto& [key, value] : v.pairs) kwargs[key_text(*key)] = to_json(*value, depth + 1);
      out["__kwargs__"] = std::move(kwargs);
    }
    if (v.state) {
      if (v.state->is(pickle::Kind::Dict)) {
        for (const auto& [key, value] : v.state->pairs)
          out[key_text(*key)] = to_json(*value, depth + 1);
      } else {
        out["__state__"] = to_json(*v.state, depth + 1);
      }
    }
    return out;
  }

  // Recursion is bounded by the nesting limit, which also stops reference cycles.
  nlohmann::json to_json(const pickle::Value& v, std::size_t depth) {
    if (depth > limits_.pickle.max_depth)
      fail("attribute nesting depth exceeds the limit of ", limits_.pickle.max_depth,
           " levels (or a value contains itself)");
    count_json();
    switch (v.kind) {
      case pickle::Kind::None:
        return nullptr;
      case pickle::Kind::Bool:
        return v.flag;
      case pickle::Kind::Int:
        return v.integer;
      case pickle::Kind::Float:
        return v.number;
      case pickle::Kind::Str:
        return v.text;
      case pickle::Kind::Bytes:
        return nlohmann::json::binary(std::vector<std::uint8_t>(v.text.begin(), v.text.end()));
      case pickle::Kind::List:
      case pickle::Kind::Tuple:
      case pickle::Kind::Set: {
        nlohmann::json out = nlohmann::json::array();
        for (const pickle::Value* item : v.items) out.push_back(to_json(*item, depth + 1));
        return out;
      }
      case pickle::Kind::Dict: {
        nlohmann::json out = nlohmann::json::object();
        for (const auto& [key, value] : v.pairs) out[key_text(*key)] = to_json(*value, depth + 1);
        return out;
      }
      case pickle::Kind::Global:
        return {{"__global__", v.text}};
      case pickle::Kind::Record:
        return record_json(v, depth);
      case pickle::Kind::Storage:
        return {{"__storage__", v.text}};
      case pickle::Kind::Tensor:
        return tensor_json(v);
    }
    return nullptr;
  }

  std::string source_;
  TorchCheckpointLimits limits_;
  std::shared_ptr<const detail::ZipArchive> archive_;
  std::string prefix_;
  std::map<std::string, const unsigned char*> storages_;
  std::size_t json_values_ = 0;
};

}  // namespace detail

// Reads a torch.save checkpoint (zip format) without executing anything from it; see the
// top of this file for what is read and how values become JSON.
template <typename T>
TorchCheckpoint<T> load_torch_checkpoint(const std::string& path,
                                         const TorchCheckpointLimits& limits = {}) {
  return detail::TorchCheckpointReader<T>(path, std::make_shared<detail::FileBytes>(path), limits)
      .read();
}

// The same from bytes in memory; `name` is used in messages.
template <typename T>
TorchCheckpoint<T> load_torch_checkpoint_bytes(const std::string& name,
                                               std::vector<unsigned char> bytes,
                                               const TorchCheckpointLimits& limits = {}) {
  return detail::TorchCheckpointReader<T>(
             name, std::make_shared<detail::FileBytes>(std::move(bytes)), limits)
      .read();
}

}  // namespace eigenformer
