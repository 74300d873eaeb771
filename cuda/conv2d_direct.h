// Direct kernels of the conv2d family (device code; included by conv2d.cu only):
//  - depthwise convolutions (groups == C == O: one input and one output channel per group), for
//    which the implicit GEMM's tiles would be almost all padding (an Og x Cg = 1 x 1 GEMM per
//    group). One thread per output element sums its KH x KW taps; the weight gradient is one
//    block per (channel, tap) reducing over the batch and the output pixels.
//  - the fixed-order sum of the split-K slices of the weight gradient.
// Sizes are 32-bit: the launchers split the batch so that every array has < 2^30 elements.
// All sums run in a fixed order (deterministic results).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "pyfastdl/math/activation.h"

namespace pyfastdl::cuda::conv2d {

struct DwShape {
  int C, H, W, OH, OW, KH, KW, sh, sw, ph, pw, dh, dw;
};

#if defined(__CUDACC__)

// out[b, c, oy, ox] = act(bias[c] + sum_{i, j} w[c, 0, i, j] xpad[b, c, oy sh - ph + i dh, ...]),
// one thread per output element, `total` = N C OH OW elements.
__global__ void depthwise_forward_kernel(DwShape s, const float* __restrict__ x,
                                         const float* __restrict__ w,
                                         const float* __restrict__ bias, int64_t bias_stride,
                                         float* __restrict__ out, int relu, int total) {
  const int step = static_cast<int>(gridDim.x * blockDim.x);
  for (int e = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x); e < total; e += step) {
    const int ox = e % s.OW, t = e / s.OW;
    const int oy = t % s.OH, bc = t / s.OH;  // bc = b C + c
    const int c = bc % s.C;
    const float* xp = x + bc * (s.H * s.W);
    const float* wp = w + c * (s.KH * s.KW);
    float acc = 0.0f;
    for (int i = 0; i < s.KH; ++i) {
      const int iy = oy * s.sh - s.ph + i * s.dh;
      if (static_cast<unsigned>(iy) >= static_cast<unsigned>(s.H)) continue;
      for (int j = 0; j < s.KW; ++j) {
        const int ix = ox * s.sw - s.pw + j * s.dw;
        if (static_cast<unsigned>(ix) < static_cast<unsigned>(s.W))
          acc = fmaf(__ldg(xp + iy * s.W + ix), __ldg(wp + i * s.KW + j), acc);
      }
    }
    if (bias) acc += __ldg(bias + c * bias_stride);
    if (relu) acc = math::relu(acc);
    out[e] = acc;
  }
}

// grad_x[b, c, y, x] = sum over the taps (i, j) with y + ph - i dh = oy sh (0 <= oy < OH) and
// likewise for x of w[c, 0, i, j] grad_out[b, c, oy, ox]; `total` = N C H W. Every element is
// written (0 where no tap reaches it).
__global__ void depthwise_backward_input_kernel(DwShape s, const float* __restrict__ grad_out,
                                                const float* __restrict__ w,
                                                float* __restrict__ grad_x, int total) {
  const int step = static_cast<int>(gridDim.x * blockDim.x);
  for (int e = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x); e < total; e += step) {
    const int x = e % s.W, t = e / s.W;
    const int y = t % s.H, bc = t / s.H;
    const int c = bc % s.C;
    const float* gp = grad_out + bc * (s.OH * s.OW);
    const float* wp = w + c * (s.KH * s.KW);
    float acc = 0.0f;
    for (int i = 0; i < s.KH; ++i) {
      const int ty = y + s.ph - i * s.dh;
      if (ty < 0) break;  // ty only decreases with i
      const int oy = ty / s.sh;
      if (oy * s.sh != ty || oy >= s.OH) continue;
      for (int j = 0; j < s.KW; ++j) {
        const int tx = x + s.pw - j * s.dw;
        if (tx < 0) break;
        const int ox = tx / s.sw;
        if (ox * s.sw == tx && ox < s.OW)
          acc = fmaf(__ldg(gp + oy * s.OW + ox), __ldg(wp + i * s.KW + j), acc);
      }
    }
    grad_x[e] = acc;
  }
}

constexpr int kDwReduceThreads = 256;

// grad_w[c, 0, i, j] (+)= sum_{b, oy, ox} grad_out[b, c, oy, ox] xpad[b, c, oy sh - ph + i dh, ..]
// One block per (c, tap) = blockIdx.x (c KH KW + i KW + j); thread t sums the pixels
// t, t + 256, ... of the N OH OW, then a tree in shared memory adds the 256 partial sums.
// accumulate: add to grad_w (the later batch chunks) instead of overwriting it.
__global__ void __launch_bounds__(kDwReduceThreads)
    depthwise_backward_weight_kernel(DwShape s, int n_images, const float* __restrict__ x,
                                     const float* __restrict__ grad_out, float* __restrict__ grad_w,
                                     int accumulate) {
  __shared__ float part[kDwReduceThreads];
  const int khw = s.KH * s.KW;
  const int c = static_cast<int>(blockIdx.x) / khw, ij = static_cast<int>(blockIdx.x) % khw;
  const int i = ij / s.KW, j = ij % s.KW;
  const int ohw = s.OH * s.OW, total = n_images * ohw;
  float acc = 0.0f;
  for (int r = static_cast<int>(threadIdx.x); r < total; r += kDwReduceThreads) {
    const int b = r / ohw, q = r % ohw;
    const int oy = q / s.OW, ox = q % s.OW;
    const int iy = oy * s.sh - s.ph + i * s.dh, ix = ox * s.sw - s.pw + j * s.dw;
    if (static_cast<unsigned>(iy) < static_cast<unsigned>(s.H) &&
        static_cast<unsigned>(ix) < static_cast<unsigned>(s.W)) {
      const int bc = b * s.C + c;
      acc = fmaf(__ldg(grad_out + bc * ohw + q), __ldg(x + bc * (s.H * s.W) + iy * s.W + ix), acc);
    }
  }
  part[threadIdx.x] = acc;
  __syncthreads();
  for (int half = kDwReduceThreads / 2; half > 0; half /= 2) {
    if (static_cast<int>(threadIdx.x) < half) part[threadIdx.x] += part[threadIdx.x + half];
    __syncthreads();
  }
  if (threadIdx.x == 0) grad_w[blockIdx.x] = accumulate ? grad_w[blockIdx.x] + part[0] : part[0];
}

// out[e] (+)= sum_{s < splits} ws[s stride + e], s in increasing order (deterministic).
__global__ void sum_splits_kernel(const float* __restrict__ ws, int64_t stride, int splits,
                                  float* __restrict__ out, int total, int accumulate) {
  const int step = static_cast<int>(gridDim.x * blockDim.x);
  for (int e = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x); e < total; e += step) {
    float v = accumulate ? out[e] : 0.0f;
    for (int s = 0; s < splits; ++s) v += ws[s * stride + e];
    out[e] = v;
  }
}

#endif  // __CUDACC__

}  // namespace pyfastdl::cuda::conv2d
