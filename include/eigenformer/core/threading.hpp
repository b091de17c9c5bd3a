#pragma once
// One knob for eigenformer's parallelism: Eigen's matrix products and eigenformer's own
// loops over (sequence, head) pairs and rows both use OpenMP when it is enabled.

#include <Eigen/Core>

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

}  // namespace eigenformer
