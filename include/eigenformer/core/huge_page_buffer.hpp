#pragma once
// Storage for large arrays that are read over and over (packed weights): on Linux, memory of
// its own, 2 MiB-aligned and advised to the kernel as a candidate for transparent huge pages.
//
// Why: a forward pass streams every packed weight (340 MB for BERT-base). On 4 KiB pages a
// weight panel crosses a page every 4 KiB: a TLB miss, which under a hypervisor is a
// two-dimensional page walk, and a restart of the hardware prefetcher, which stops at page
// boundaries. Linux's default THP mode is "madvise": only memory that asks gets huge pages,
// and malloc'ed memory does not ask (measurements: docs/performance.md, "Packed weights on huge
// pages"). Elsewhere, and below one huge page, the buffer is ordinary aligned heap memory.

#include <eigenformer/core/types.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>
#include <utility>

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif
#if defined(__linux__) && defined(MADV_HUGEPAGE)
#define EIGENFORMER_HUGE_PAGE_MAPPING 1
#endif

namespace eigenformer::detail {

// Implementation storage of PackedWeight.
template <typename T>
class HugePageBuffer {
  static_assert(std::is_trivially_copyable_v<T>, "HugePageBuffer holds plain numbers");

 public:
  static constexpr std::size_t kHugePageBytes = std::size_t{2} << 20;

  HugePageBuffer() = default;
  HugePageBuffer(const HugePageBuffer& other) {
    resize(other.size_);
    std::copy_n(other.data_, other.size_, data_);
  }
  HugePageBuffer(HugePageBuffer&& other) noexcept { swap(other); }
  HugePageBuffer& operator=(HugePageBuffer other) noexcept {
    swap(other);
    return *this;
  }
  ~HugePageBuffer() { release(); }

  // n elements, contents unspecified. The memory is kept when it is large enough, so a
  // workspace packed again at the same or a smaller size does not allocate.
  void resize(Index n) {
    const auto count = static_cast<std::size_t>(n);
    if (count > capacity_) {
      release();
      allocate(count);
    }
    size_ = count;
  }

  T* data() { return data_; }
  const T* data() const { return data_; }
  Index size() const { return static_cast<Index>(size_); }

  // Whether the memory was mapped with the huge-page advice (the kernel may still decline).
  bool advised_huge_pages() const { return mapped_bytes_ > 0; }

  void swap(HugePageBuffer& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
    std::swap(capacity_, other.capacity_);
    std::swap(mapped_bytes_, other.mapped_bytes_);
  }

 private:
  void allocate(std::size_t count) {
    if (count == 0) return;
    if (count > std::size_t(-1) / sizeof(T)) throw std::bad_alloc();
    const std::size_t bytes = count * sizeof(T);
#ifdef EIGENFORMER_HUGE_PAGE_MAPPING
    if (bytes >= kHugePageBytes) {
      map_huge_page_aligned(bytes);
      capacity_ = count;
      return;
    }
#endif
    data_ = static_cast<T*>(Eigen::internal::aligned_malloc(bytes));
    capacity_ = count;
  }

#ifdef EIGENFORMER_HUGE_PAGE_MAPPING
  // Maps one huge page more than needed, then unmaps the unaligned head and the rest of the
  // tail: what is left starts on a 2 MiB boundary, so every whole 2 MiB of it can be a huge
  // page, and the last partial one stays on small pages instead of wasting memory.
  void map_huge_page_aligned(std::size_t bytes) {
    const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    const std::size_t length = (bytes + page - 1) / page * page;
    if (length > std::size_t(-1) - kHugePageBytes) throw std::bad_alloc();
    const std::size_t mapped = length + kHugePageBytes;
    void* raw = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) throw std::bad_alloc();
    const auto start = reinterpret_cast<std::uintptr_t>(raw);
    const std::uintptr_t aligned = (start + kHugePageBytes - 1) & ~(kHugePageBytes - 1);
    const std::size_t head = aligned - start;
    if (head > 0) munmap(raw, head);
    munmap(reinterpret_cast<void*>(aligned + length), mapped - head - length);
    // Advice only: with THP off ("never") the memory is simply small pages.
    madvise(reinterpret_cast<void*>(aligned), length, MADV_HUGEPAGE);
    data_ = reinterpret_cast<T*>(aligned);
    mapped_bytes_ = length;
  }
#endif

  void release() noexcept {
#ifdef EIGENFORMER_HUGE_PAGE_MAPPING
    if (mapped_bytes_ > 0)
      munmap(data_, mapped_bytes_);
    else
#endif
      Eigen::internal::aligned_free(data_);
    data_ = nullptr;
    size_ = capacity_ = mapped_bytes_ = 0;
  }

  T* data_ = nullptr;
  std::size_t size_ = 0, capacity_ = 0;
  std::size_t mapped_bytes_ = 0;  // > 0: data_ is an mmap of this length, else aligned_malloc
};

}  // namespace eigenformer::detail
