// Host launchers of the pooling family on the GPU (cuda/pool2d.cu), shared with its binding
// (cuda/bind_pool2d.cpp). Plain C++: device pointers in strided 4-d views (pyfastdl/pool2d.h's
// View4: element (n, c, h, w) at data[n * stride[0] + c * stride[1] + h * stride[2] +
// w * stride[3]], strides in elements), sizes, the stream. Each launches on `stream` without
// synchronising and returns cudaGetLastError(); a problem with no output element launches nothing.
// Shapes and parameters are the binding's to check (the rules of pyfastdl/pool2d.h).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "pyfastdl/pool2d.h"  // View4, Pool2dParams (plain structs)

namespace pyfastdl::cuda {

// One resampled dim of upsample_nearest2d: source of output o is min(floor(o * scale), in - 1)
// (exact: floor((o + 0.5) * scale) in double), with PyTorch's shortcuts out == in and
// out == 2 in when not exact. scale is the float32 source step the binding computed.
struct NearestAxis {
  int64_t in = 0, out = 0;
  float scale = 0.0f;
  bool exact = false;
};

// One resampled dim of upsample_bilinear2d: output o interpolates source point
// o * scale (align_corners) or max(scale * (o + 0.5) - 0.5, 0), float32 math; out == in copies.
struct LinearAxis {
  int64_t in = 0, out = 0;
  float scale = 0.0f;
  bool align_corners = false;
};

cudaError_t max_pool2d_forward(View4<const float> x, View4<float> out, View4<int64_t> indices,
                               const Pool2dParams& p, cudaStream_t stream);
// Also the backward of adaptive_max_pool2d; indices outside [0, H * W) add nothing.
cudaError_t max_pool2d_backward(View4<const float> grad_out, View4<const int64_t> indices,
                                View4<float> grad_x, cudaStream_t stream);
cudaError_t avg_pool2d_forward(View4<const float> x, View4<float> out, const Pool2dParams& p,
                               cudaStream_t stream);
cudaError_t avg_pool2d_backward(View4<const float> grad_out, View4<float> grad_x,
                                const Pool2dParams& p, cudaStream_t stream);
cudaError_t adaptive_avg_pool2d_forward(View4<const float> x, View4<float> out,
                                        cudaStream_t stream);
cudaError_t adaptive_avg_pool2d_backward(View4<const float> grad_out, View4<float> grad_x,
                                         cudaStream_t stream);
cudaError_t adaptive_max_pool2d_forward(View4<const float> x, View4<float> out,
                                        View4<int64_t> indices, cudaStream_t stream);
cudaError_t upsample_nearest2d_forward(View4<const float> x, View4<float> out, NearestAxis rows,
                                       NearestAxis cols, cudaStream_t stream);
cudaError_t upsample_nearest2d_backward(View4<const float> grad_out, View4<float> grad_x,
                                        NearestAxis rows, NearestAxis cols, cudaStream_t stream);
cudaError_t upsample_bilinear2d_forward(View4<const float> x, View4<float> out, LinearAxis rows,
                                        LinearAxis cols, cudaStream_t stream);
cudaError_t upsample_bilinear2d_backward(View4<const float> grad_out, View4<float> grad_x,
                                         LinearAxis rows, LinearAxis cols, cudaStream_t stream);

}  // namespace pyfastdl::cuda
