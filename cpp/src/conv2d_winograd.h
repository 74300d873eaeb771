// Winograd F(2x2, 3x3) convolution for 3x3, stride-1, dilation-1, ungrouped layers (see
// conv2d_winograd.cpp). Internal to the conv2d family.
#pragma once

#include <cstdint>

#include "conv2d_common.h"
#include "pyfastdl/conv2d.h"

namespace pyfastdl::detail {

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
