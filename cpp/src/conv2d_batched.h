// Image-batched direct conv2d (vectorised over images, see conv2d_batched.cpp) for stride-1,
// ungrouped layers with few input channels and small images. Internal to the conv2d family.
#pragma once

#include <vector>

#include "pyfastdl/conv2d.h"

namespace pyfastdl::detail {

// The image-lane geometry of one convolution with L lanes (see conv2d_batched.cpp): a group of L
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
void conv2d_forward_batched(const Conv2dShape& s, const float* x, const float* w,
                            const float* bias, float* out, Activation act);

// conv2d_backward_input for shapes where batched_applies(s) and the padding is at most
// dilation (kernel - 1): the forward of grad_out with the rotated, transposed kernel.
void conv2d_backward_input_batched(const Conv2dShape& s, const float* grad_out, const float* w,
                                   float* grad_x);

// conv2d_backward_weight for shapes where batched_applies(s).
void conv2d_backward_weight_batched(const Conv2dShape& s, const float* x, const float* grad_out,
                                    float* grad_w);

}  // namespace pyfastdl::detail
