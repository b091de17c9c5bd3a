#include <eigenformer/core/threading.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <vector>

namespace eigenformer {
namespace {

TEST(Threading, SmallOrSingleItemLoopsStayOnOneThread) {
  EXPECT_EQ(detail::threads_for(1, Index{1} << 40, detail::WorkKind::MultiplyAdds), 1);
  EXPECT_EQ(detail::threads_for(0, Index{1} << 40, detail::WorkKind::Elements), 1);
  EXPECT_EQ(detail::threads_for(1000, detail::kMinMultiplyAddsPerThread - 1,
                                detail::WorkKind::MultiplyAdds),
            1);
  EXPECT_EQ(
      detail::threads_for(1000, detail::kMinElementsPerThread - 1, detail::WorkKind::Elements), 1);
}

TEST(Threading, ThreadsAreBoundedByItemsWorkAndTheThreadCount) {
  const int available = num_threads();
  EXPECT_EQ(detail::threads_for(2, Index{1} << 40, detail::WorkKind::Elements),
            std::min(2, available));
  EXPECT_EQ(detail::threads_for(1000, Index{1} << 40, detail::WorkKind::MultiplyAdds), available);
  EXPECT_EQ(
      detail::threads_for(1000, 2 * detail::kMinElementsPerThread, detail::WorkKind::Elements),
      std::min(2, available));
}

TEST(Threading, ParallelForVisitsEveryItemOnceAndDoesNotNest) {
  const Index items = 1000;
  std::vector<std::atomic<int>> visits(items);
  std::atomic<int> nested_threads{0};
  detail::parallel_for(
      items, detail::threads_for(items, Index{1} << 40, detail::WorkKind::Elements), [&](Index i) {
        visits[static_cast<std::size_t>(i)].fetch_add(1);
        // Inside a loop that may be running on several threads, inner loops get one thread.
        nested_threads.fetch_add(
            detail::threads_for(items, Index{1} << 40, detail::WorkKind::Elements) - 1);
      });
  for (const auto& count : visits) EXPECT_EQ(count.load(), 1);
  EXPECT_EQ(nested_threads.load(), 0);
}

TEST(Threading, ParallelRegionRunsTheBodyOncePerThread) {
  std::atomic<int> calls{0};
  std::vector<std::atomic<int>> by_index(static_cast<std::size_t>(num_threads()));
  const int threads = num_threads();
  detail::parallel_region(threads, [&] {
    calls.fetch_add(1);
    by_index[static_cast<std::size_t>(detail::thread_index())].fetch_add(1);
  });
  EXPECT_EQ(calls.load(), threads);
  for (const auto& count : by_index) EXPECT_EQ(count.load(), 1);
}

// Buffers indexed by thread_index() are sized for the loop that uses them: an inner loop left
// on one thread inside an outer parallel loop must see index 0, not the outer thread's.
TEST(Threading, InnerLoopsOnOneThreadSeeThreadIndexZero) {
  std::atomic<int> nonzero{0};
  detail::parallel_for(64, num_threads(), [&](Index) {
    detail::parallel_for(3, 1, [&](Index) {
      if (detail::thread_index() != 0) nonzero.fetch_add(1);
    });
    detail::parallel_region(1, [&] {
      if (detail::thread_index() != 0) nonzero.fetch_add(1);
    });
  });
  EXPECT_EQ(nonzero.load(), 0);
}

}  // namespace
}  // namespace eigenformer
