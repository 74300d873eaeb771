// Helpers shared by the conv2d family's algorithms (conv2d.cpp, conv2d_winograd.cpp,
// conv2d_winograd5.cpp, conv2d_direct.cpp, conv2d_batched.cpp): dynamic work hand-out over
// threads, per-thread scratch, rounding. Internal to the family.
#pragma once

#include <atomic>
#include <cstdint>

#include "pyfastdl/parallel.h"

namespace pyfastdl::detail {

// Runs body(i) for every i in [0, n) on up to `threads` threads, handing the items out one at a
// time from a shared counter: a thread that another process slows down takes fewer items instead
// of holding up the call (a static split doubled the time of a 2-thread call whenever one core
// was busy). For items whose outputs do not overlap, so the result does not depend on the order.
template <class Body>
void parallel_dynamic(int64_t n, int threads, Body&& body) {
  std::atomic<int64_t> next{0};
  parallel_for(threads, threads, [&](int64_t, int64_t) {
    for (int64_t i = next.fetch_add(1); i < n; i = next.fetch_add(1)) body(i);
  });
}

// n rounded up to a multiple of m (m > 0).
inline int64_t round_up(int64_t n, int64_t m) { return (n + m - 1) / m * m; }

// Grow-only, 64-byte aligned scratch of the calling thread; slot 0: im2col, slot 1: Winograd
// tiles, slot 2: Winograd packed weights.
float* conv_scratch(int slot, int64_t n);

}  // namespace pyfastdl::detail
