// Direct ("implicit GEMM", wide-row) conv2d for stride-1, ungrouped layers with few input
// channels (see conv2d_direct.cpp). Internal to the conv2d family.
#pragma once

#include <vector>

#include "pyfastdl/conv2d.h"

namespace pyfastdl::detail {

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
void conv2d_forward_direct(const Conv2dShape& s, const float* x, const float* w,
                           const float* bias, float* out, Activation act);

// conv2d_backward_input for shapes where direct_applies(s) and the padding is at most
// dilation (kernel - 1): the forward of grad_out with the rotated, transposed kernel.
void conv2d_backward_input_direct(const Conv2dShape& s, const float* grad_out, const float* w,
                                  float* grad_x);

// conv2d_backward_weight for shapes where direct_applies(s).
void conv2d_backward_weight_direct(const Conv2dShape& s, const float* x, const float* grad_out,
                                   float* grad_w);

}  // namespace pyfastdl::detail
