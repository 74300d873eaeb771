// GELU (exact and tanh form), forward and backward, elementwise on the GPU.
//
// Work split: a grid-stride loop over the values (launch.cuh), one value (or one float4 of
// values) per thread per step. Three kernels:
//   - contiguous, every pointer 16-byte aligned: float4 loads and stores over n / 4 vectors; the
//     n % 4 tail values go to the first threads of the grid, one each;
//   - contiguous, unaligned: one float per thread per step (still coalesced);
//   - strided: the flat index of the merged shape (GeluLayout) is decomposed into coordinates
//     (innermost dim fastest, so neighbouring threads read neighbouring values where the
//     innermost stride is small); the layout lives in the kernel's parameter space
//     (__grid_constant__, no local copy).
// No reductions, nothing shared between threads: in place (out == x or grad_y) is safe, each
// value being read and then written by the one thread that owns it.
// Cost: memory-bound: 8 bytes per value forward, 12 backward; one erfc (or exp) and ~20 flops per
// value, well under the arithmetic an H100 has per byte of HBM bandwidth.
#include "activation_launch.h"
#include "launch.cuh"
#include "pyfastdl/math/activation.h"

namespace pyfastdl::cuda {
namespace {

template <bool kBackward, bool kTanh>
__device__ __forceinline__ float gelu_value(float x, float gy) {
  if constexpr (kBackward) return gy * (kTanh ? math::gelu_tanh_grad(x) : math::gelu_grad(x));
  else return kTanh ? math::gelu_tanh_sig(x) : math::gelu_erfc(x);
}

template <bool kBackward, bool kTanh>
__global__ void gelu_vec4_kernel(int64_t n, const float* x, const float* gy, float* out) {
  const int64_t n4 = n / 4;
  const auto* x4 = reinterpret_cast<const float4*>(x);
  const auto* g4 = reinterpret_cast<const float4*>(gy);
  auto* o4 = reinterpret_cast<float4*>(out);
  for (int64_t i : grid_stride{n4}) {
    const float4 v = x4[i];
    float4 g = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    if constexpr (kBackward) g = g4[i];
    float4 r;
    r.x = gelu_value<kBackward, kTanh>(v.x, g.x);
    r.y = gelu_value<kBackward, kTanh>(v.y, g.y);
    r.z = gelu_value<kBackward, kTanh>(v.z, g.z);
    r.w = gelu_value<kBackward, kTanh>(v.w, g.w);
    o4[i] = r;
  }
  // The tail past the last whole vector: at most 3 values, one per thread of the first block.
  const int64_t t = 4 * n4 + static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t < n) out[t] = gelu_value<kBackward, kTanh>(x[t], kBackward ? gy[t] : 0.0f);
}

template <bool kBackward, bool kTanh>
__global__ void gelu_scalar_kernel(int64_t n, const float* x, const float* gy, float* out) {
  for (int64_t i : grid_stride{n})
    out[i] = gelu_value<kBackward, kTanh>(x[i], kBackward ? gy[i] : 0.0f);
}

template <bool kBackward, bool kTanh>
__global__ void gelu_strided_kernel(int64_t n, const float* x, const float* gy, float* out,
                                    const __grid_constant__ GeluLayout layout) {
  for (int64_t i : grid_stride{n}) {
    int64_t rest = i, ox = 0, og = 0, oo = 0;
    for (int d = layout.ndim - 1; d >= 0; --d) {
      const int64_t size = layout.shape[d];
      const int64_t q = rest / size;
      const int64_t k = rest - q * size;
      rest = q;
      ox += k * layout.stride[0][d];
      if constexpr (kBackward) og += k * layout.stride[1][d];
      oo += k * layout.stride[2][d];
    }
    out[oo] = gelu_value<kBackward, kTanh>(x[ox], kBackward ? gy[og] : 0.0f);
  }
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

template <bool kBackward, bool kTanh>
void launch(int64_t n, const float* x, const float* gy, float* out, bool contiguous,
            const GeluLayout& layout, cudaStream_t stream) {
  if (!contiguous) {
    gelu_strided_kernel<kBackward, kTanh>
        <<<blocks_for(n), kThreadsPerBlock, 0, stream>>>(n, x, gy, out, layout);
  } else if (aligned16(x) && aligned16(out) && (!kBackward || aligned16(gy))) {
    gelu_vec4_kernel<kBackward, kTanh>
        <<<blocks_for(n / 4), kThreadsPerBlock, 0, stream>>>(n, x, gy, out);
  } else {
    gelu_scalar_kernel<kBackward, kTanh>
        <<<blocks_for(n), kThreadsPerBlock, 0, stream>>>(n, x, gy, out);
  }
}

}  // namespace

cudaError_t launch_gelu(int64_t n, const float* x, const float* grad_y, float* out, bool tanh,
                        bool contiguous, const GeluLayout& layout, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  const bool backward = grad_y != nullptr;
  if (backward && tanh) launch<true, true>(n, x, grad_y, out, contiguous, layout, stream);
  else if (backward) launch<true, false>(n, x, grad_y, out, contiguous, layout, stream);
  else if (tanh) launch<false, true>(n, x, grad_y, out, contiguous, layout, stream);
  else launch<false, false>(n, x, grad_y, out, contiguous, layout, stream);
  return cudaGetLastError();
}

}  // namespace pyfastdl::cuda
