// Winograd F(2x2, 3x3) convolution for 3x3, stride-1, dilation-1, ungrouped layers (see
// conv2d_winograd.cpp). Internal to the conv2d family.
#pragma once

#include <atomic>
#include <cstdint>

#include "pyfastdl/conv2d.h"
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

// Grow-only, 64-byte aligned scratch of the calling thread; slot 0: im2col, slot 1: Winograd
// tiles, slot 2: Winograd packed weights.
float* conv_scratch(int slot, int64_t n);

// True when the shape is one Winograd F(2x2, 3x3) computes: 3x3 kernel, stride 1, dilation 1,
// groups 1 (any padding).
bool winograd_applies(const Conv2dShape& s);

// conv2d_forward for shapes where winograd_applies(s).
void conv2d_forward_winograd(const Conv2dShape& s, const float* x, const float* w,
                             const float* bias, float* out, Activation act);

// conv2d_backward_input for shapes where winograd_applies(s) and the padding is at most 2: the
// forward conv of grad_out with the rotated, transposed kernel and padding 2 - p.
void conv2d_backward_input_winograd(const Conv2dShape& s, const float* grad_out, const float* w,
                                    float* grad_x);

// conv2d_backward_weight for shapes where winograd_applies(s).
void conv2d_backward_weight_winograd(const Conv2dShape& s, const float* x, const float* grad_out,
                                     float* grad_w);

}  // namespace pyfastdl::detail
