#pragma once
// One knob for eigenformer's parallelism: Eigen's matrix products and eigenformer's own
// loops over (sequence, head) pairs and rows both use OpenMP when it is enabled.

#include <eigenformer/core/types.hpp>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace eigenformer {

// Element-wise passes over fewer elements than this run on one thread: below it, waking
// the other threads and the barrier at the end cost more than the work saved.
constexpr Index kMinParallelElements = Index{1} << 17;

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

// This thread's index in the innermost parallel region, 0 outside one.
inline int thread_index() {
#ifdef _OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}

}  // namespace eigenformer
