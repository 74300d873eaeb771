// What the conv2d family's files share (conv2d.cpp, the dispatcher, and the algorithms
// direct.cpp, batched.cpp, depthwise.cpp, winograd3x3.cpp, winograd5x5.cpp): dynamic work
// hand-out over threads, per-thread scratch, rounding, the packing helpers that one algorithm
// lends another, and each algorithm's entry points with the shapes it computes. Internal to the
// family; each algorithm's kernels, compiled per instruction set (kernels.cpp), are in its
// *_kernels.h.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

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

// n rounded up to a multiple of m (m > 0).
inline int64_t round_up(int64_t n, int64_t m) { return (n + m - 1) / m * m; }

// The largest |p[i]|, or +inf when p holds a NaN or an Inf (vectorised: the fast algorithms scan
// their operands with it before each call).
float abs_max(const float* p, int64_t n);

// True when no p[i] is NaN or +-Inf (vectorised).
bool all_finite(const float* p, int64_t n);

// Grow-only, 64-byte aligned scratch of the calling thread; slot 0: im2col, slot 1: Winograd
// tiles, slot 2: Winograd packed weights, slot 3: a kernel cropped to its live taps.
float* conv_scratch(int slot, int64_t n);

// ------------------------------------------------------------------------------------------
// Dead kernel taps (dead_taps.cpp): taps that read only the padding for every output pixel.

// The live taps of a layer: the box [h0, h0 + shape.KH) x [w0, w0 + shape.KW) of its kernel, and
// the layer with the kernel cropped to it (padding pad - h0 dil, the same output size).
struct LiveTaps {
  int64_t h0 = 0, w0 = 0;
  Conv2dShape shape;
};

// True when some kernel rows or columns of s are dead and the cropped layer computes the same
// output (its padding stays >= 0); fills *t.
bool crop_dead_taps(const Conv2dShape& s, LiveTaps* t);

// wc (O, C / groups, t.shape.KH, t.shape.KW) = w's live taps; false (wc partly written) when
// some weight of w is not finite.
bool gather_live_taps(const Conv2dShape& s, const LiveTaps& t, const float* w, float* wc);

// gw (O, C / groups, KH, KW) = gwc (the cropped kernel's gradient) at the live taps, 0 elsewhere.
void scatter_live_taps(const Conv2dShape& s, const LiveTaps& t, const float* gwc, float* gw);

// ------------------------------------------------------------------------------------------
// Direct ("implicit GEMM", wide-row) conv2d for stride-1, ungrouped layers with few input
// channels (direct.cpp).

// Packs w'(o, k) = w[o so + k sk] for o < O, k < K into panels of mr rows: a[p][k][mr] (0 past
// O). Shared by the direct and batched kernels.
std::vector<float> pack_rows(const float* w, int64_t O, int64_t K, int64_t so, int64_t sk, int mr);

// The stride-1 backward input as a forward conv: grad_x = conv(grad_out, w') with padding
// dh (KH - 1) - ph (may be negative: callers check), C and O swapped, input OH x OW, output
// H x W; w' = rotated_weights(s, w), a (C x O KH KW) matrix, w'[c][o][i][j] =
// w[o][c][KH - 1 - i][KW - 1 - j] (w's columns, taps reversed).
Conv2dShape transposed_conv_shape(const Conv2dShape& s);
std::vector<float> rotated_weights(const Conv2dShape& s, const float* w);

// True when the shape is one the direct kernels compute: stride 1, groups 1.
bool direct_applies(const Conv2dShape& s);

// conv2d_forward for shapes where direct_applies(s).
void conv2d_forward_direct(const Conv2dShape& s, const float* x, const float* w, const float* bias,
                           float* out, Activation act);

// conv2d_backward_input for shapes where direct_applies(s) and the padding is at most
// dilation (kernel - 1): the forward of grad_out with the rotated, transposed kernel.
void conv2d_backward_input_direct(const Conv2dShape& s, const float* grad_out, const float* w,
                                  float* grad_x);

// conv2d_backward_weight for shapes where direct_applies(s).
void conv2d_backward_weight_direct(const Conv2dShape& s, const float* x, const float* grad_out,
                                   float* grad_w);

// ------------------------------------------------------------------------------------------
// Image-batched direct conv2d (vectorised over images, batched.cpp) for stride-1, ungrouped
// layers with few input channels and small images.

// The image-lane geometry of one convolution with L lanes (see batched.cpp): a group of L
// images is stored as xb[c][Hp][Wp][L] (zero-padded), one vector per pixel of the L images.
struct Lanes {
  int64_t L, Hp, Wp, K, P, xb;  // xb: floats of one padded group
  std::vector<int64_t> off;     // tap offsets in floats, K rounded up to `kb` (0 past K)
  // Forward only: rows[2 oh], rows[2 oh + 1]: the kernel rows i that read inside the image for
  // output row oh (0 <= oh - ph + i dh < H); cols[2 ow], cols[2 ow + 1]: the kernel columns j
  // that read inside it for at least one of the tile's output columns from ow. The others read
  // the zero border and are skipped.
  std::vector<int64_t> rows, cols;
};

// dst[j ds + i] = src[i ss + j] for i < rows, j < cols (4 x 4 blocks through SSE shuffles):
// reorders between NCHW and the lanes.
void transpose(const float* src, int64_t ss, float* dst, int64_t ds, int64_t rows, int64_t cols);

// Images [n0, n0 + nb) of x (N, C, H, W) into lanes 0 .. nb - 1 of xb (g.xb floats; only g.L,
// g.Hp, g.Wp and g.xb are read), each image at row s.pad_h, column s.pad_w of its Hp x Wp plane;
// the border and the lanes past nb are zero. Hp and Wp may exceed H + 2 ph, W + 2 pw (more zeros).
void pack_group(const Conv2dShape& s, const Lanes& g, const float* x, int64_t n0, int64_t nb,
                float* xb);

// True when the shape is one the batched kernels compute: stride 1, groups 1 (as direct).
bool batched_applies(const Conv2dShape& s);

// Images per group (floats per vector) on the current CPU path: 16 (AVX-512), 8 (AVX2), 4.
int64_t batched_lanes();

// conv2d_forward for shapes where batched_applies(s).
void conv2d_forward_batched(const Conv2dShape& s, const float* x, const float* w, const float* bias,
                            float* out, Activation act);

// conv2d_backward_input for shapes where batched_applies(s) and the padding is at most
// dilation (kernel - 1): the forward of grad_out with the rotated, transposed kernel.
void conv2d_backward_input_batched(const Conv2dShape& s, const float* grad_out, const float* w,
                                   float* grad_x);

// conv2d_backward_weight for shapes where batched_applies(s).
void conv2d_backward_weight_batched(const Conv2dShape& s, const float* x, const float* grad_out,
                                    float* grad_w);

// ------------------------------------------------------------------------------------------
// Depthwise conv2d (depthwise.cpp): one input channel per group, any kernel, stride, padding
// and dilation.

// True when the shape is one the depthwise kernels compute: groups = C (O a multiple of C).
bool depthwise_applies(const Conv2dShape& s);

// conv2d_forward for shapes where depthwise_applies(s).
void conv2d_forward_depthwise(const Conv2dShape& s, const float* x, const float* w,
                              const float* bias, float* out, Activation act);

// conv2d_backward_input for shapes where depthwise_applies(s) (finite weights: see depthwise.cpp).
void conv2d_backward_input_depthwise(const Conv2dShape& s, const float* grad_out, const float* w,
                                     float* grad_x);

// conv2d_backward_weight for shapes where depthwise_applies(s).
void conv2d_backward_weight_depthwise(const Conv2dShape& s, const float* x, const float* grad_out,
                                      float* grad_w);

// ------------------------------------------------------------------------------------------
// Winograd F(2x2, 3x3) convolution for 3x3, stride-1, dilation-1, ungrouped layers
// (winograd3x3.cpp).

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

// ------------------------------------------------------------------------------------------
// Winograd F(2x2, 5x5) convolution in the image-lane layout (winograd5x5.cpp) for 5x5,
// stride-1, dilation-1, ungrouped layers.

// True when the shape is one Winograd F(2x2, 5x5) computes: 5x5 kernel, stride 1, dilation 1,
// groups 1 (any padding).
bool winograd5_applies(const Conv2dShape& s);

// conv2d_forward for shapes where winograd5_applies(s).
void conv2d_forward_winograd5(const Conv2dShape& s, const float* x, const float* w,
                              const float* bias, float* out, Activation act);

// conv2d_backward_input for shapes where winograd5_applies(s) and the padding is at most 4: the
// forward conv of grad_out with the rotated, transposed kernel and padding 4 - p.
void conv2d_backward_input_winograd5(const Conv2dShape& s, const float* grad_out, const float* w,
                                     float* grad_x);

}  // namespace pyfastdl::detail
