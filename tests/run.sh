#!/usr/bin/env bash
# The project's test command: `bash tests/run.sh` from anywhere in a checkout.
#
# Installs the Debian packages the build needs (cmake/install-debian-deps.sh, which skips
# apt entirely when they are present), then runs the stages below and stops at the first failure:
#   1. release: Release build of the library's tests, examples and benchmarks (built so
#      they are known to compile, not run) in build/; the whole ctest suite except fuzzing.
#   2. asan:    the tests and examples again with AddressSanitizer + UndefinedBehaviorSanitizer
#      in build-asan/, built with clang at -O0 (Eigen's index assertions on); the whole
#      ctest suite. UBSan makes Eigen-heavy code slow to compile; clang -O0 is the cheap
#      option (CPU seconds for bert_model_test.cpp: Release 80, gcc -O1 -g 350, clang 35).
#   3. tsan:    the concurrency test (one tokenizer and model shared by 4 threads) with
#      ThreadSanitizer in build-tsan/. OpenMP is off there: libgomp is not instrumented and
#      TSan would report its internal synchronisation as races.
#   4. fuzz:    the libFuzzer targets of tests/fuzz, built with clang in build-fuzz/, each
#      fuzzed for EIGENFORMER_FUZZ_SECONDS (default 60) from its seed corpus.
#
# Environment: JOBS (default 2) parallel compile and test jobs; EIGENFORMER_BUILD_PREFIX
# (default "build") names the build trees <prefix>, <prefix>-asan, <prefix>-tsan and
# <prefix>-fuzz; EIGENFORMER_STAGES (default "release asan tsan fuzz") selects stages.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
jobs=${JOBS:-2}
prefix=${EIGENFORMER_BUILD_PREFIX:-build}
stages=${EIGENFORMER_STAGES:-release asan tsan fuzz}
fuzz_seconds=${EIGENFORMER_FUZZ_SECONDS:-60}

started=$SECONDS
stage() {
  echo
  echo "=== $1 ($(date +%H:%M:%S), $(((SECONDS - started) / 60)) min $(((SECONDS - started) % 60)) s in)"
}

# configure <dir> <cmake options...>, then build all its targets.
configure_and_build() {
  local dir=$1
  shift
  cmake -S . -B "$dir" "$@"
  cmake --build "$dir" -j "$jobs"
}

stage "dependencies"
bash cmake/install-debian-deps.sh

for name in $stages; do
  case $name in
    release)
      stage "release build and tests ($prefix)"
      configure_and_build "$prefix" -DCMAKE_BUILD_TYPE=Release -DEIGENFORMER_BUILD_TESTS=ON \
        -DEIGENFORMER_BUILD_EXAMPLES=ON -DEIGENFORMER_BUILD_BENCHMARKS=ON
      ctest --test-dir "$prefix" --output-on-failure -j "$jobs" -LE fuzz
      ;;
    asan)
      stage "AddressSanitizer + UndefinedBehaviorSanitizer build and tests ($prefix-asan)"
      # OpenMP off: clang would need libomp, and the loops run the same code serially.
      configure_and_build "$prefix-asan" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=Debug \
        "-DCMAKE_CXX_FLAGS_DEBUG=-O0 -gline-tables-only" -DEIGENFORMER_SANITIZE=address,undefined \
        -DEIGENFORMER_OPENMP=OFF -DEIGENFORMER_BUILD_TESTS=ON -DEIGENFORMER_BUILD_EXAMPLES=ON \
        -DEIGENFORMER_BUILD_BENCHMARKS=OFF -DEIGENFORMER_INSTALL=OFF
      UBSAN_OPTIONS=print_stacktrace=1 \
        ctest --test-dir "$prefix-asan" --output-on-failure -j "$jobs" -LE fuzz
      ;;
    tsan)
      stage "ThreadSanitizer build and concurrency test ($prefix-tsan)"
      cmake -S . -B "$prefix-tsan" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DEIGENFORMER_SANITIZE=thread -DEIGENFORMER_OPENMP=OFF -DEIGENFORMER_BUILD_TESTS=ON \
        -DEIGENFORMER_BUILD_EXAMPLES=OFF -DEIGENFORMER_BUILD_BENCHMARKS=OFF \
        -DEIGENFORMER_INSTALL=OFF
      cmake --build "$prefix-tsan" -j "$jobs" --target concurrency_test
      TSAN_OPTIONS=halt_on_error=1 \
        ctest --test-dir "$prefix-tsan" --output-on-failure -j "$jobs" -R '^ConcurrencyTest\.'
      ;;
    fuzz)
      stage "libFuzzer targets ($prefix-fuzz, ${fuzz_seconds} s each)"
      CXX=clang++ cmake -S tests/fuzz -B "$prefix-fuzz" -DEIGENFORMER_FUZZ_SECONDS="$fuzz_seconds"
      cmake --build "$prefix-fuzz" -j "$jobs"
      ctest --test-dir "$prefix-fuzz" --output-on-failure -j "$jobs" -L fuzz
      ;;
    *)
      echo "tests/run.sh: unknown stage '$name' (known: release asan tsan fuzz)" >&2
      exit 2
      ;;
  esac
done

stage "all stages passed"
