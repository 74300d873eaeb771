// Image-batched direct conv2d (vectorised over images, see conv2d_batched.cpp) for stride-1,
// ungrouped layers with few input channels and small images. Internal to the conv2d family.
#pragma once

#include "pyfastdl/conv2d.h"

namespace pyfastdl::detail {

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
