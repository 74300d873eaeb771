// Winograd F(2x2, 5x5) convolution in the image-lane layout (see conv2d_winograd5.cpp) for 5x5,
// stride-1, dilation-1, ungrouped layers. Internal to the conv2d family.
#pragma once

#include "pyfastdl/conv2d.h"

namespace pyfastdl::detail {

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
