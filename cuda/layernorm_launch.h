// Host launchers of layer normalization on the GPU (cuda/layernorm.cu), shared with the binding
// (cuda/bind_layernorm.cpp). Plain C++: the CPU kernels' strided views (pyfastdl/softmax.h's
// ConstRows, Rows, Strided) holding device pointers, sizes, the stream. Each launches on `stream`
// without synchronising and returns the first CUDA error (a launch, or the stream-ordered
// allocation of the backward's scratch); a problem with no output element launches nothing.
// Shapes and aliasing are the binding's to check; y may be the very view x (in place).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "pyfastdl/softmax.h"  // ConstRows, Rows, Strided

namespace pyfastdl::cuda {

// y = (x - mean) * rstd * weight + bias per row of (rows, cols) x; writes mean and rstd (rows,).
// weight and bias: (cols,) views or data == nullptr (1 and 0).
cudaError_t launch_layer_norm_forward(int64_t rows, int64_t cols, ConstRows x,
                                      Strided<const float> weight, Strided<const float> bias,
                                      Rows y, Strided<float> mean, Strided<float> rstd, float eps,
                                      cudaStream_t stream);

// grad_x, grad_weight, grad_bias of the forward; an output with data == nullptr is skipped.
// grad_weight and grad_bias are column sums over the rows, formed deterministically (per-block
// partial sums in a scratch buffer, then a fixed-order sum over the blocks).
cudaError_t launch_layer_norm_backward(int64_t rows, int64_t cols, ConstRows x, ConstRows grad_y,
                                       Strided<const float> mean, Strided<const float> rstd,
                                       Strided<const float> weight, Rows grad_x,
                                       Strided<float> grad_weight, Strided<float> grad_bias,
                                       cudaStream_t stream);

}  // namespace pyfastdl::cuda
