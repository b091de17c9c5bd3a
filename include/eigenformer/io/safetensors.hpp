#pragma once
// Reader for the safetensors format: 8-byte little-endian header length N, N bytes of
// JSON mapping tensor names to {dtype, shape, data_offsets}, then the raw data. The file
// is memory-mapped; a tensor whose dtype already matches the requested scalar type is a
// view into the mapping (no copy), any other is converted once.
//
// Everything in the header is validated before any tensor is touched, so a malformed or
// hostile file is an eigenformer::FormatError naming the file and the tensor.

#include <eigenformer/core/error.hpp>
#include <eigenformer/core/state_dict.hpp>
#include <eigenformer/core/tensor.hpp>
#include <eigenformer/io/dtype.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#if defined(__unix__) || defined(__APPLE__)
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#define EIGENFORMER_HAS_MMAP 1
#endif

namespace eigenformer {

struct SafeTensorsLimits {
  // The reference implementation refuses headers over 100 MB; so do we.
  std::uint64_t max_header_bytes = 100u * 1000u * 1000u;
  std::size_t max_tensors = 1u << 20;
  std::size_t max_rank = 16;
};

struct TensorInfo {
  std::string name;
  DType dtype;
  Shape shape;
  std::uint64_t begin;  // offsets into the data section, as in the header
  std::uint64_t end;
};

namespace detail {

// Bytes of a whole file: a read-only memory mapping where the platform has one, else a copy.
class FileBytes {
 public:
  explicit FileBytes(std::vector<unsigned char> bytes) : owned_(std::move(bytes)) {
    data_ = owned_.data();
    size_ = owned_.size();
  }

  explicit FileBytes(const std::string& path) {
#ifdef EIGENFORMER_HAS_MMAP
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw FormatError(concat(path, ": cannot open file: ", std::strerror(errno)));
    struct stat info {};
    if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
      ::close(fd);
      throw FormatError(concat(path, ": not a regular file"));
    }
    size_ = static_cast<std::size_t>(info.st_size);
    if (size_ > 0) {
      void* mapped = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (mapped == MAP_FAILED) {
        ::close(fd);
        throw FormatError(concat(path, ": cannot map file: ", std::strerror(errno)));
      }
      mapped_ = mapped;
      data_ = static_cast<const unsigned char*>(mapped);
    }
    ::close(fd);
#else
    std::ifstream in(path, std::ios::binary);
    if (!in) throw FormatError(concat(path, ": cannot open file"));
    owned_.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    data_ = owned_.data();
    size_ = owned_.size();
#endif
  }

  FileBytes(const FileBytes&) = delete;
  FileBytes& operator=(const FileBytes&) = delete;
  ~FileBytes() {
#ifdef EIGENFORMER_HAS_MMAP
    if (mapped_) ::munmap(mapped_, size_);
#endif
  }

  const unsigned char* data() const { return data_; }
  std::size_t size() const { return size_; }

 private:
  std::vector<unsigned char> owned_;
  void* mapped_ = nullptr;
  const unsigned char* data_ = nullptr;
  std::size_t size_ = 0;
};

// Rejects duplicate keys in the header's top-level object, which a JSON parser would
// otherwise resolve silently by keeping one of them.
class DuplicateKeyCheck {
 public:
  explicit DuplicateKeyCheck(std::string path) : path_(std::move(path)) {}
  bool operator()(int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    if (event == nlohmann::json::parse_event_t::key && depth == 1) {
      const auto& key = parsed.get_ref<const std::string&>();
      if (!keys_.insert(key).second)
        throw FormatError(concat(path_, ": duplicate tensor '", key, "' in the header"));
    }
    return true;
  }

 private:
  std::string path_;
  std::set<std::string> keys_;
};

inline bool multiply_overflows(std::uint64_t a, std::uint64_t b, std::uint64_t& out) {
  if (a != 0 && b > UINT64_MAX / a) return true;
  out = a * b;
  return false;
}

}  // namespace detail

class SafeTensorsFile : public std::enable_shared_from_this<SafeTensorsFile> {
 public:
  // `name` is used in messages (the path, for a file).
  static std::shared_ptr<const SafeTensorsFile> open(const std::string& path,
                                                     const SafeTensorsLimits& limits = {}) {
    return std::shared_ptr<const SafeTensorsFile>(
        new SafeTensorsFile(path, std::make_unique<detail::FileBytes>(path), limits));
  }

  static std::shared_ptr<const SafeTensorsFile> from_bytes(const std::string& name,
                                                           std::vector<unsigned char> bytes,
                                                           const SafeTensorsLimits& limits = {}) {
    return std::shared_ptr<const SafeTensorsFile>(
        new SafeTensorsFile(name, std::make_unique<detail::FileBytes>(std::move(bytes)), limits));
  }

  const std::string& path() const { return path_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  bool contains(const std::string& name) const { return index_.count(name) != 0; }

  const TensorInfo& info(const std::string& name) const {
    auto found = index_.find(name);
    if (found == index_.end())
      throw FormatError(detail::concat(path_, ": no tensor named '", name, "'"));
    return tensors_[found->second];
  }

  // The tensor as T: a view into the file when the dtype is T's and the data is aligned
  // for T, otherwise a converted copy. Floating-point data is not converted to integers,
  // and a value that does not fit T is an error rather than a wrapped or undefined one.
  template <typename T>
  Tensor<T> tensor(const std::string& name) const {
    const TensorInfo& meta = info(name);
    if (std::is_integral_v<T> && is_floating_dtype(meta.dtype))
      throw FormatError(detail::concat(path_, ": tensor '", name, "' has dtype ",
                                       dtype_name(meta.dtype), ", expected an integer dtype"));
    const unsigned char* bytes = data_section() + meta.begin;
    if (dtype_matches<T>(meta.dtype) && reinterpret_cast<std::uintptr_t>(bytes) % alignof(T) == 0)
      return Tensor<T>(meta.shape, reinterpret_cast<const T*>(bytes), shared_from_this());
    const std::size_t count = static_cast<std::size_t>(shape_numel(meta.shape));
    const std::size_t width = dtype_size(meta.dtype);
    std::vector<T> values(count);
    for (std::size_t i = 0; i < count; ++i)
      if (!detail::convert_element<T>(meta.dtype, bytes + i * width, values[i]))
        throw FormatError(detail::concat(path_, ": tensor '", name, "' (", dtype_name(meta.dtype),
                                         "): element ", i, " is out of range for ",
                                         scalar_type_name<T>()));
    return Tensor<T>(meta.shape, std::move(values));
  }

 private:
  SafeTensorsFile(std::string path, std::unique_ptr<detail::FileBytes> bytes,
                  const SafeTensorsLimits& limits)
      : path_(std::move(path)), bytes_(std::move(bytes)) {
    parse_header(limits);
  }

  const unsigned char* data_section() const { return bytes_->data() + 8 + header_size_; }

  template <typename... Parts>
  [[noreturn]] void fail(const Parts&... parts) const {
    throw FormatError(detail::concat(path_, ": ", parts...));
  }

  void parse_header(const SafeTensorsLimits& limits) {
    const std::uint64_t file_size = bytes_->size();
    if (file_size < 8)
      fail("file has ", file_size, " bytes, too short for the 8-byte header length");
    header_size_ = detail::load_unaligned<std::uint64_t>(bytes_->data());
    if (header_size_ > limits.max_header_bytes)
      fail("header length ", header_size_, " exceeds the limit of ", limits.max_header_bytes,
           " bytes");
    if (header_size_ > file_size - 8)
      fail("header length ", header_size_, " runs past the end of the file (", file_size,
           " bytes in all, so at most ", file_size - 8, ")");
    const auto* begin = reinterpret_cast<const char*>(bytes_->data() + 8);
    nlohmann::json header;
    try {
      header = nlohmann::json::parse(begin, begin + header_size_, detail::DuplicateKeyCheck(path_));
    } catch (const nlohmann::json::exception& e) {
      fail("header is not valid JSON: ", e.what());
    }
    if (!header.is_object()) fail("header must be a JSON object, got ", header.type_name());
    const std::size_t tensor_count = header.size() - header.count("__metadata__");
    if (tensor_count > limits.max_tensors)
      fail("header lists ", tensor_count, " tensors, more than the limit of ", limits.max_tensors);

    const std::uint64_t data_size = file_size - 8 - header_size_;
    for (auto& [name, entry] : header.items()) {
      if (name == "__metadata__") {
        parse_metadata(entry);
        continue;
      }
      tensors_.push_back(parse_entry(name, entry, data_size, limits));
      index_.emplace(name, tensors_.size() - 1);
    }
    check_overlaps();
  }

  void parse_metadata(const nlohmann::json& entry) {
    if (!entry.is_object()) fail("__metadata__ must be an object of strings");
    for (auto& [key, value] : entry.items()) {
      if (!value.is_string()) fail("__metadata__ field '", key, "' must be a string");
      metadata_[key] = value.get<std::string>();
    }
  }

  TensorInfo parse_entry(const std::string& name, const nlohmann::json& entry,
                         std::uint64_t data_size, const SafeTensorsLimits& limits) const {
    if (!entry.is_object()) fail("tensor '", name, "': entry must be an object");
    TensorInfo info{name, DType::F32, {}, 0, 0};

    auto dtype = entry.find("dtype");
    if (dtype == entry.end() || !dtype->is_string())
      fail("tensor '", name, "': missing string field 'dtype'");
    if (!parse_dtype(dtype->get<std::string>(), info.dtype))
      fail("tensor '", name, "': unknown or unsupported dtype '", dtype->get<std::string>(),
           "' (expected one of F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL)");

    auto shape = entry.find("shape");
    if (shape == entry.end() || !shape->is_array())
      fail("tensor '", name, "': missing array field 'shape'");
    if (shape->size() > limits.max_rank)
      fail("tensor '", name, "': rank ", shape->size(), " exceeds the limit of ", limits.max_rank);
    // Every entry is checked before any message dumps the shape, and a non-scalar entry is
    // never dumped: dump() recurses, so a deeply nested entry would overflow the stack.
    for (const auto& extent : *shape)
      if (!extent.is_number_unsigned())
        fail("tensor '", name, "': shape entries must be non-negative integers, got ",
             extent.is_primitive() ? extent.dump() : std::string(extent.type_name()));
    // Every partial product must fit in Index too: shape_numel() multiplies in the same
    // order, so [2^62, 3, 0] (zero elements) would otherwise overflow it.
    std::uint64_t numel = 1;
    for (const auto& extent : *shape) {
      const auto value = extent.get<std::uint64_t>();
      if (value > static_cast<std::uint64_t>(PTRDIFF_MAX) ||
          detail::multiply_overflows(numel, value, numel) ||
          numel > static_cast<std::uint64_t>(PTRDIFF_MAX))
        fail("tensor '", name, "': shape ", shape->dump(), " overflows");
      info.shape.push_back(static_cast<Index>(value));
    }

    auto offsets = entry.find("data_offsets");
    if (offsets == entry.end() || !offsets->is_array() || offsets->size() != 2 ||
        !(*offsets)[0].is_number_unsigned() || !(*offsets)[1].is_number_unsigned())
      fail("tensor '", name, "': 'data_offsets' must be [begin, end] with non-negative integers");
    info.begin = (*offsets)[0].get<std::uint64_t>();
    info.end = (*offsets)[1].get<std::uint64_t>();
    if (info.begin > info.end)
      fail("tensor '", name, "': data_offsets [", info.begin, ", ", info.end,
           "] end before they begin");
    if (info.end > data_size)
      fail("tensor '", name, "': data_offsets [", info.begin, ", ", info.end,
           "] out of range: the data section has ", data_size, " bytes");
    std::uint64_t expected_bytes = 0;
    if (detail::multiply_overflows(numel, dtype_size(info.dtype), expected_bytes))
      fail("tensor '", name, "': shape ", shape->dump(), " overflows");
    if (expected_bytes != info.end - info.begin)
      fail("tensor '", name, "': shape ", shape->dump(), " x ", dtype_name(info.dtype), " (",
           dtype_size(info.dtype), " bytes) needs ", expected_bytes,
           " bytes, but data_offsets span ", info.end - info.begin);
    return info;
  }

  void check_overlaps() const {
    std::vector<const TensorInfo*> by_offset;
    for (const auto& info : tensors_)
      if (info.end > info.begin) by_offset.push_back(&info);
    std::sort(by_offset.begin(), by_offset.end(),
              [](const TensorInfo* a, const TensorInfo* b) { return a->begin < b->begin; });
    for (std::size_t i = 1; i < by_offset.size(); ++i)
      if (by_offset[i]->begin < by_offset[i - 1]->end)
        fail("tensors '", by_offset[i - 1]->name, "' [", by_offset[i - 1]->begin, ", ",
             by_offset[i - 1]->end, ") and '", by_offset[i]->name, "' [", by_offset[i]->begin, ", ",
             by_offset[i]->end, ") overlap");
  }

  std::string path_;
  std::unique_ptr<detail::FileBytes> bytes_;
  std::uint64_t header_size_ = 0;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, std::size_t> index_;
  std::map<std::string, std::string> metadata_;
};

// Every tensor of a safetensors file as T, by name; integer data (masks, ids) converted too.
template <typename T>
StateDict<T> load_state_dict(const std::string& path, const SafeTensorsLimits& limits = {}) {
  auto file = SafeTensorsFile::open(path, limits);
  StateDict<T> dict(path);
  for (const auto& info : file->tensors())
    dict.insert(info.name, file->template tensor<T>(info.name));
  return dict;
}

// Adds model parameter `name` of `file` to `weights` as `key`. For a floating-point T an
// integer tensor is recorded as unusable instead: a buffer such as num_batches_tracked is
// never asked for, and a quantized weight read as its raw integers would give a model that
// runs and answers wrongly.
template <typename T>
void insert_weight(StateDict<T>& weights, const SafeTensorsFile& file, const std::string& name,
                   const std::string& key) {
  const DType dtype = file.info(name).dtype;
  if (std::is_floating_point_v<T> && !is_floating_dtype(dtype))
    weights.insert_unusable(key,
                            detail::concat("has integer dtype ", dtype_name(dtype),
                                           ", expected a floating-point one (F32, F16, "
                                           "BF16 or F64); quantized weights are not supported"));
  else
    weights.insert(key, file.tensor<T>(name));
}

// A checkpoint's parameters as T, by name (see insert_weight).
template <typename T>
StateDict<T> load_weights(const std::string& path, const SafeTensorsLimits& limits = {}) {
  auto file = SafeTensorsFile::open(path, limits);
  StateDict<T> weights(path);
  for (const auto& info : file->tensors()) insert_weight(weights, *file, info.name, info.name);
  return weights;
}

}  // namespace eigenformer
