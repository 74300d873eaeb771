// Host launchers of the conv2d kernels on the GPU (plain C++: included by conv2d.cu and by the
// binding bind_conv2d.cpp). The shape is the CPU kernels' Conv2dShape (pyfastdl/conv2d.h): x
// (N, C, H, W), w (O, C / groups, KH, KW), out (N, O, OH, OW), stride / padding / dilation.
//
// Every array is C-contiguous float32 on the device (the bias takes a stride in elements). Each
// launcher launches on `stream`, never synchronises and returns the first CUDA error (a launch
// error, a failed stream-ordered allocation, or cudaErrorInvalidValue for a geometry past the
// kernels' 32-bit index range: an image of 2^30 elements or more, a weight of 2^30 or more, or a
// padded size, stride or dilated kernel extent of 2^29 or more). Outputs are overwritten, never
// read (except as the kernels' own scratch), and may not alias inputs.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "pyfastdl/conv2d.h"

namespace pyfastdl::cuda {

// out = act(conv2d(x, w) + bias); bias may be nullptr; relu selects the activation.
cudaError_t launch_conv2d_forward(const Conv2dShape& s, const float* x, const float* w,
                                  const float* bias, int64_t bias_stride, float* out, bool relu,
                                  cudaStream_t stream);

// grad_x = conv2d's input gradient for grad_out (conv_transpose2d's forward); every element of
// grad_x is written (zero where no tap reaches it).
cudaError_t launch_conv2d_backward_input(const Conv2dShape& s, const float* grad_out,
                                         const float* w, float* grad_x, cudaStream_t stream);

// grad_w = conv2d's weight gradient summed over the batch; deterministic (fixed-order sums).
cudaError_t launch_conv2d_backward_weight(const Conv2dShape& s, const float* x,
                                          const float* grad_out, float* grad_w,
                                          cudaStream_t stream);

}  // namespace pyfastdl::cuda
