// Threading for the CPU kernels: OpenMP under a small, fork-safe wrapper.
//
// `set_num_threads(n)` sets how many threads kernels use (default: the OpenMP default, i.e. the
// number of cores or OMP_NUM_THREADS). After fork() the child runs every kernel on one thread:
// libgomp's thread pool does not survive fork, and a child that entered a parallel region of the
// parent's pool could hang (DataLoader workers fork).
#pragma once

#include <omp.h>

#include <cstdint>

namespace pyfastdl {

int get_num_threads();
void set_num_threads(int n);
// True in a child process created by fork() after this library was loaded.
bool in_forked_child();

// Threads a kernel should use for `work` units of roughly `min_work_per_thread` each: never more
// than get_num_threads(), never more than the work can feed, 1 in a forked child.
int threads_for(int64_t work, int64_t min_work_per_thread);

// Runs f(begin, end) over a split of [0, n) into contiguous chunks, one per thread.
// `threads` <= 1 runs f(0, n) on the calling thread without touching OpenMP.
template <class F>
void parallel_for(int64_t n, int threads, F&& f) {
  if (n <= 0) return;
  if (threads <= 1 || n == 1) {
    f(int64_t{0}, n);
    return;
  }
  if (threads > n) threads = static_cast<int>(n);
#pragma omp parallel num_threads(threads)
  {
    const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
    const int64_t begin = n * t / nt, end = n * (t + 1) / nt;
    if (begin < end) f(begin, end);
  }
}

}  // namespace pyfastdl
