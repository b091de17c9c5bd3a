// HugePageBuffer: sizes on both sides of one huge page, the 2 MiB alignment that lets Linux back
// the memory with huge pages, reuse of the memory on shrinking, and copies that own their data.
#include <eigenformer/core/huge_page_buffer.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <numeric>

namespace eigenformer {
namespace {

constexpr Index kFloatsPerHugePage =
    static_cast<Index>(detail::HugePageBuffer<float>::kHugePageBytes / sizeof(float));

template <typename T>
void fill_with_index(detail::HugePageBuffer<T>& buffer) {
  std::iota(buffer.data(), buffer.data() + buffer.size(), T(0));
}

template <typename T>
bool holds_index(const detail::HugePageBuffer<T>& buffer) {
  for (Index i = 0; i < buffer.size(); ++i)
    if (buffer.data()[i] != static_cast<T>(i)) return false;
  return true;
}

std::uintptr_t address(const void* pointer) { return reinterpret_cast<std::uintptr_t>(pointer); }

TEST(HugePageBufferTest, EmptyByDefaultAndAfterResizingToZero) {
  detail::HugePageBuffer<float> buffer;
  EXPECT_EQ(buffer.size(), 0);
  EXPECT_EQ(buffer.data(), nullptr);
  buffer.resize(0);
  EXPECT_EQ(buffer.size(), 0);
}

TEST(HugePageBufferTest, SmallBuffersAreAlignedForEigenPackets) {
  detail::HugePageBuffer<float> buffer;
  buffer.resize(1000);
  EXPECT_EQ(buffer.size(), 1000);
  EXPECT_EQ(address(buffer.data()) % EIGEN_MAX_ALIGN_BYTES, 0u);
  EXPECT_FALSE(buffer.advised_huge_pages());
  fill_with_index(buffer);
  EXPECT_TRUE(holds_index(buffer));
}

TEST(HugePageBufferTest, BuffersOfAHugePageOrMoreStartOnAHugePageBoundary) {
  // One huge page and a bit: the first 2 MiB can be a huge page, the rest stays small pages.
  detail::HugePageBuffer<float> buffer;
  buffer.resize(kFloatsPerHugePage + 123);
  fill_with_index(buffer);
  EXPECT_TRUE(holds_index(buffer));
#ifdef EIGENFORMER_HUGE_PAGE_MAPPING
  EXPECT_TRUE(buffer.advised_huge_pages());
  EXPECT_EQ(address(buffer.data()) % detail::HugePageBuffer<float>::kHugePageBytes, 0u);
#else
  EXPECT_EQ(address(buffer.data()) % EIGEN_MAX_ALIGN_BYTES, 0u);
#endif
}

TEST(HugePageBufferTest, ShrinkingKeepsTheMemoryAndGrowingReplacesIt) {
  detail::HugePageBuffer<double> buffer;
  buffer.resize(kFloatsPerHugePage);
  const double* first = buffer.data();
  buffer.resize(10);
  EXPECT_EQ(buffer.size(), 10);
  EXPECT_EQ(buffer.data(), first);
  buffer.resize(kFloatsPerHugePage);
  EXPECT_EQ(buffer.data(), first);
  buffer.resize(3 * kFloatsPerHugePage);
  EXPECT_EQ(buffer.size(), 3 * kFloatsPerHugePage);
  fill_with_index(buffer);
  EXPECT_TRUE(holds_index(buffer));
}

TEST(HugePageBufferTest, CopiesOwnTheirDataAndMovesTakeIt) {
  for (const Index size : {Index{77}, kFloatsPerHugePage + 5}) {
    detail::HugePageBuffer<float> original;
    original.resize(size);
    fill_with_index(original);

    detail::HugePageBuffer<float> copy(original);
    EXPECT_NE(copy.data(), original.data());
    EXPECT_EQ(copy.size(), size);
    EXPECT_TRUE(holds_index(copy));
    copy.data()[0] = -1.0f;
    EXPECT_EQ(original.data()[0], 0.0f);

    const float* storage = original.data();
    detail::HugePageBuffer<float> moved(std::move(original));
    EXPECT_EQ(moved.data(), storage);
    EXPECT_EQ(moved.size(), size);

    detail::HugePageBuffer<float> assigned;
    assigned = moved;
    EXPECT_NE(assigned.data(), moved.data());
    EXPECT_TRUE(holds_index(assigned));
  }
}

}  // namespace
}  // namespace eigenformer
