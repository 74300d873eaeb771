// Host launchers of the GELU kernels on the GPU (cuda/activation.cu), shared with the binding
// (cuda/bind_activation.cpp). Plain C++: device pointers, sizes, strides in elements, the stream.
// Each launches on `stream` without synchronising and returns cudaGetLastError(); n == 0
// launches nothing. The math is pyfastdl/math/activation.h's gelu_erfc, gelu_grad,
// gelu_tanh_sig and gelu_tanh_grad.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace pyfastdl::cuda {

// The common layout of the arrays of one call (x, grad_y, out): their shape with dims of size 1
// dropped and neighbouring dims merged where every array allows it, and each array's strides in
// elements over those dims (outer first). ndim == 0 is a single value.
struct GeluLayout {
  static constexpr int kMaxDims = 64;
  int ndim = 0;
  int64_t shape[kMaxDims] = {};
  int64_t stride[3][kMaxDims] = {};  // [0] x, [1] grad_y (backward only), [2] the output
};

// Forward (grad_y == nullptr): out = gelu(x). Backward: out = grad_y * gelu'(x). `contiguous`:
// every array is packed (n values from each pointer; `layout` unused), else `layout` gives the
// strides. out may be x or grad_y itself (in place, same layout).
cudaError_t launch_gelu(int64_t n, const float* x, const float* grad_y, float* out, bool tanh,
                        bool contiguous, const GeluLayout& layout, cudaStream_t stream);

}  // namespace pyfastdl::cuda
