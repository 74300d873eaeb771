// Direct ("implicit GEMM", wide-row) conv2d for stride-1, ungrouped layers with few input
// channels (see conv2d_direct.cpp). Internal to the conv2d family.
#pragma once

#include "pyfastdl/conv2d.h"

namespace pyfastdl::detail {

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
