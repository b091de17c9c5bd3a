#pragma once
// eigenformer's threading policy, in one place: the thread count (one knob for Eigen's products
// and eigenformer's loops), when a loop is worth splitting, and the two ways loops are split.
// Every parallel loop of the library goes through parallel_for or parallel_region.

#include <eigenformer/core/types.hpp>

#include <algorithm>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace eigenformer {

// Sets the number of threads used by later calls; n <= 0 means one per core.
inline void set_num_threads(int n) {
#ifdef _OPENMP
  if (n <= 0) n = omp_get_num_procs();
  omp_set_num_threads(n);
  Eigen::setNbThreads(n);
#else
  (void)n;
#endif
}

inline int num_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

// The library's own loops; not part of the public API.
namespace detail {

// Below these amounts per thread, waking one more thread and the barrier at the end cost more
// than the work it takes over.
constexpr Index kMinMultiplyAddsPerThread = Index{1} << 18;
constexpr Index kMinElementsPerThread = Index{1} << 16;

enum class WorkKind { MultiplyAdds, Elements };

// This thread's index in the innermost parallel_for / parallel_region (0 when it runs on one
// thread), for per-thread buffers.
inline int thread_index() {
#ifdef _OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}

// Threads worth using on `items` independent items that take `amount` of `kind` work in all:
// at most one per item, and 1 inside a parallel region (no nesting) or without OpenMP.
inline int threads_for(Index items, Index amount, WorkKind kind) {
#ifdef _OPENMP
  if (omp_in_parallel() || items <= 1) return 1;
  const Index per_thread =
      kind == WorkKind::MultiplyAdds ? kMinMultiplyAddsPerThread : kMinElementsPerThread;
  const Index worth = std::max<Index>(1, amount / per_thread);
  return static_cast<int>(std::min<Index>({Index{omp_get_max_threads()}, items, worth}));
#else
  (void)items, (void)amount, (void)kind;
  return 1;
#endif
}

// body(i) for every i in [0, items) on `threads` threads. Items are taken one at a time as
// threads come free, so a thread that another process preempts holds up only its own item
// instead of a fixed share. `body` must not throw.
template <typename Body>
void parallel_for(Index items, int threads, Body&& body) {
#ifdef _OPENMP
  if (threads > 1) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
    for (Index i = 0; i < items; ++i) body(i);
    return;
  }
  if (omp_in_parallel()) {
    // A team of one, so that thread_index() is 0 here as in any loop run on one thread,
    // not the enclosing loop's index (buffers indexed by it are sized for this loop).
#pragma omp parallel num_threads(1)
    for (Index i = 0; i < items; ++i) body(i);
    return;
  }
#endif
  (void)threads;
  for (Index i = 0; i < items; ++i) body(i);
}

// body() once on each of `threads` threads, for loops that split their work themselves
// (chunks taken from an atomic counter, per-thread buffers by thread_index()). `body` must
// not throw.
template <typename Body>
void parallel_region(int threads, Body&& body) {
#ifdef _OPENMP
  if (threads > 1) {
#pragma omp parallel num_threads(threads)
    body();
    return;
  }
  if (omp_in_parallel()) {
#pragma omp parallel num_threads(1)
    body();
    return;
  }
#endif
  (void)threads;
  body();
}

}  // namespace detail

}  // namespace eigenformer
