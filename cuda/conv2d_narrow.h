// Narrow convolutions: the forward with O / groups <= 16 and backward_input with C / groups <= 16
// (LeNet's layers, the input gradient of an RGB first layer). Device code; included by
// conv2d.cu only.
//
// Their GEMM (conv2d_passes.h) has few columns (Ncol = O / groups, or C / groups): a 32-wide tile
// would spend most of its FMAs on padding. Here one thread owns one output pixel m and all its
// NC >= Ncol columns (NC = 4, 8 or 16 accumulators) and runs the whole K loop itself:
//
//   for k: a = A[m, k] (gathered from x or grad_out, 0 in the padding); acc[n] += a B[k, n]
//
// The block (256 threads = 256 consecutive pixels of one group, blockIdx.y) stages B and the
// decode of k (the channel offset and the tap's (dy, dx)) for 64 k at a time in shared memory;
// every thread then reads the same entry (a broadcast) and its lanes gather 32 consecutive pixels
// (coalesced for stride 1). The epilogue writes each column's 32 pixels per warp contiguously.
// Per k a thread does one gather, NC / 4 shared-memory float4 broadcasts and NC FMAs: no FMA is
// spent on padding columns beyond NC, and each A element is loaded once (a tile would load it
// once too: with so few columns there is no reuse to gain).
#pragma once

#include "conv2d_passes.h"

namespace pyfastdl::cuda::conv2d {

constexpr int kNarrowThreads = 256;  // pixels per block
constexpr int kNarrowK = 64;         // k per shared-memory chunk (<= kNarrowThreads)
constexpr int kNarrowUnroll = 4;     // gathers a thread issues before their FMAs

#if defined(__CUDACC__)

// forward: A[m, k] = xpad[b, g Cg + c, oy sh - ph + i dh, ox sw - pw + j dw], B[k, n] =
// w[g Og + n, k], out[b, g Og + n, oy, ox] = act(acc[n] + bias).
struct NarrowForward {
  using Params = FwdParams;
  int base = 0, b = 0, q = 0, iy0 = kFarOut, ix0 = kFarOut;  // kFarOut: m past M, never loads
  bool valid;

  __device__ NarrowForward(const Params& p, int g, int m) : valid(m < p.M) {
    if (!valid) return;
    const int OHW = p.OH * p.OW, HW = p.H * p.W;
    b = p.div_ohw.div(m);
    q = m - b * OHW;
    const int oy = p.div_ow.div(q), ox = q - oy * p.OW;
    base = b * p.C * HW + g * p.Cg * HW;
    iy0 = oy * p.sh - p.ph;
    ix0 = ox * p.sw - p.pw;
  }
  // k = (c, i, j) -> (c H W, i dh, j dw)
  __device__ static int4 tap(const Params& p, int k) {
    const int c = p.div_khw.div(k), ij = k - c * p.KHW;
    const int i = p.div_kw.div(ij), j = ij - i * p.KW;
    return make_int4(c * (p.H * p.W), i * p.dh, j * p.dw, 0);
  }
  __device__ static float weight(const Params& p, int g, int k, int n) {
    return n < p.Og ? __ldg(p.w + (g * p.Og + n) * p.K + k) : 0.0f;
  }
  __device__ __forceinline__ float gather(const Params& p, int4 e) const {
    const int iy = iy0 + e.y, ix = ix0 + e.z;
    return (inside(iy, p.H) && inside(ix, p.W)) ? __ldg(p.x + base + e.x + iy * p.W + ix) : 0.0f;
  }
  template <int NC>
  __device__ void store(const Params& p, int g, const float (&acc)[NC]) const {
    if (!valid) return;
    const int OHW = p.OH * p.OW;
    float* row = p.out + b * p.O * OHW + q;
#pragma unroll
    for (int n = 0; n < NC; ++n) {
      if (n < p.Og) {
        const int o = g * p.Og + n;
        float v = acc[n];
        if (p.bias) v += __ldg(p.bias + o * p.bias_stride);
        if (p.relu) v = math::relu(v);
        row[o * OHW] = v;
      }
    }
  }
};

// backward_input: A[m, k] = grad_out[b, g Og + o, oy, ox] with oy sh = y + ph - i dh (and
// likewise ox) when that lands on an output pixel, else 0; B[k, n] = w[g Og + o, n, i, j];
// grad_x[b, g Cg + n, y, x] = acc[n].
template <bool kUnit>
struct NarrowBackwardInput {
  using Params = BwdInParams;
  int base = 0, b = 0, q = 0, ty0 = kFarOut, tx0 = kFarOut;
  bool valid;

  __device__ NarrowBackwardInput(const Params& p, int g, int m) : valid(m < p.M) {
    if (!valid) return;
    const int HW = p.H * p.W, OHW = p.OH * p.OW;
    b = p.div_hw.div(m);
    q = m - b * HW;
    const int y = p.div_w.div(q), x = q - y * p.W;
    base = b * p.O * OHW + g * p.Og * OHW;
    ty0 = y + p.ph;
    tx0 = x + p.pw;
  }
  // k = (o, i, j) -> (o OH OW, i dh, j dw)
  __device__ static int4 tap(const Params& p, int k) {
    const int o = p.div_khw.div(k), ij = k - o * p.KHW;
    const int i = p.div_kw.div(ij), j = ij - i * p.KW;
    return make_int4(o * (p.OH * p.OW), i * p.dh, j * p.dw, 0);
  }
  __device__ static float weight(const Params& p, int g, int k, int n) {
    if (n >= p.Cg) return 0.0f;
    const int o = p.div_khw.div(k), ij = k - o * p.KHW;
    return __ldg(p.w + ((g * p.Og + o) * p.Cg + n) * p.KHW + ij);
  }
  __device__ __forceinline__ float gather(const Params& p, int4 e) const {
    const int ty = ty0 - e.y, tx = tx0 - e.z;
    int oy, ox;
    bool ok;
    if (kUnit) {
      oy = ty;
      ox = tx;
      ok = inside(oy, p.OH) && inside(ox, p.OW);
    } else {
      oy = p.div_sh.div(ty < 0 ? 0 : ty);
      ox = p.div_sw.div(tx < 0 ? 0 : tx);
      ok = ty >= 0 && tx >= 0 && oy * p.sh == ty && ox * p.sw == tx && oy < p.OH && ox < p.OW;
    }
    return ok ? __ldg(p.grad_out + base + e.x + oy * p.OW + ox) : 0.0f;
  }
  template <int NC>
  __device__ void store(const Params& p, int g, const float (&acc)[NC]) const {
    if (!valid) return;
    const int HW = p.H * p.W;
    float* row = p.grad_x + b * p.C * HW + q;
#pragma unroll
    for (int n = 0; n < NC; ++n)
      if (n < p.Cg) row[(g * p.Cg + n) * HW] = acc[n];
  }
};

// acc[n] += a w[n] for n < NC (w: a 16-byte aligned row of shared memory).
template <int NC>
__device__ __forceinline__ void fma_row(float a, const float* w, float (&acc)[NC]) {
#pragma unroll
  for (int n = 0; n < NC; n += 4) {
    const float4 v = *reinterpret_cast<const float4*>(w + n);
    acc[n] = fmaf(a, v.x, acc[n]);
    acc[n + 1] = fmaf(a, v.y, acc[n + 1]);
    acc[n + 2] = fmaf(a, v.z, acc[n + 2]);
    acc[n + 3] = fmaf(a, v.w, acc[n + 3]);
  }
}

// One block: 256 pixels (blockIdx.x) of group g0 + blockIdx.y, all NC columns, the whole K.
template <int NC, class Pass>
__global__ void __launch_bounds__(kNarrowThreads, 2)
    narrow_kernel(const __grid_constant__ typename Pass::Params p) {
  static_assert(NC % 4 == 0 && kNarrowK <= kNarrowThreads, "float4 rows; one tap per thread");
  __shared__ __align__(16) float Bs[kNarrowK][NC];
  __shared__ int4 taps[kNarrowK];
  const int t = static_cast<int>(threadIdx.x);
  const int g = p.g0 + static_cast<int>(blockIdx.y);
  const Pass pass(p, g, static_cast<int>(blockIdx.x) * kNarrowThreads + t);
  float acc[NC];
#pragma unroll
  for (int n = 0; n < NC; ++n) acc[n] = 0.0f;

  for (int k0 = 0; k0 < p.K; k0 += kNarrowK) {
    const int kn = p.K - k0 < kNarrowK ? p.K - k0 : kNarrowK;
    __syncthreads();  // every thread is done with the previous chunk
    for (int e = t; e < kNarrowK * NC; e += kNarrowThreads) {
      const int kk = e % kNarrowK, n = e / kNarrowK;  // lanes along k: contiguous weights
      Bs[kk][n] = kk < kn ? Pass::weight(p, g, k0 + kk, n) : 0.0f;
    }
    if (t < kn) taps[t] = Pass::tap(p, k0 + t);
    __syncthreads();
    // kNarrowUnroll gathers in flight at once, then their FMAs; the rest of the chunk one by one.
    int kk = 0;
    for (; kk + kNarrowUnroll <= kn; kk += kNarrowUnroll) {
      float a[kNarrowUnroll];
#pragma unroll
      for (int u = 0; u < kNarrowUnroll; ++u) a[u] = pass.gather(p, taps[kk + u]);
#pragma unroll
      for (int u = 0; u < kNarrowUnroll; ++u) fma_row<NC>(a[u], Bs[kk + u], acc);
    }
    for (; kk < kn; ++kk) fma_row<NC>(pass.gather(p, taps[kk]), Bs[kk], acc);
  }
  pass.store(p, g, acc);
}

#endif  // __CUDACC__

}  // namespace pyfastdl::cuda::conv2d
