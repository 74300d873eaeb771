// Fused SGD and Adam/AdamW steps on the GPU: every array read once and written once, in place.
//
// Work split: a grid-stride loop (launch.cuh) over the n values; each thread updates one value,
// or one float4 of every array when all of them are 16-byte aligned (the n % 4 tail values then
// go to the first threads of the grid, one each). Values are independent: no reductions, no
// shared memory, nothing another thread reads.
// Math: pyfastdl/optimizer.h's formulas in its order of float32 operations (the CPU kernels'),
// with the same float32 factors, each rounded once from the double the options give (bias
// corrections in double on the host, as PyTorch computes them). One kernel per combination of
// options (template flags): a term whose factor is 0 is left out, not multiplied by 0, and the
// momentum buffer is not read on the first step (it may hold anything, NaN included).
// Cost: memory-bound, 12 (SGD, no momentum) to 36 (Adam with amsgrad) bytes per value.
#include <cmath>

#include "launch.cuh"
#include "optimizer_launch.h"

namespace pyfastdl::cuda {
namespace {

// Momentum: none, the first step (the buffer is written, never read) or a later one.
enum class Momentum : int { None = 0, First = 1, Later = 2 };

struct SgdFactors {
  float sign, wd, momentum, damp, lr;
};

struct AdamFactors {
  float sign, wd, decay, one_minus_beta1, beta2, one_minus_beta2, bias2_sqrt, eps, step_size;
};

template <bool kWd, Momentum kMom, bool kNesterov>
__device__ __forceinline__ void sgd_update(float& p, float g, float& buf, const SgdFactors& f) {
  float d = g * f.sign;
  if constexpr (kWd) d = d + f.wd * p;
  if constexpr (kMom != Momentum::None) {
    float b;
    if constexpr (kMom == Momentum::First) b = d;
    else b = buf * f.momentum + f.damp * d;
    buf = b;
    if constexpr (kNesterov) d = d + f.momentum * b;
    else d = b;
  }
  p = p - f.lr * d;
}

// kWd: L2 decay in the gradient (Adam); kDecay: p *= 1 - lr * wd first (AdamW).
template <bool kWd, bool kDecay, bool kAmsgrad>
__device__ __forceinline__ void adam_update(float& p, float g, float& m, float& v, float& vmax,
                                            const AdamFactors& f) {
  float pi = p;
  float d = g * f.sign;
  if constexpr (kDecay) pi = pi * f.decay;
  if constexpr (kWd) d = d + f.wd * pi;
  const float mi = m + (d - m) * f.one_minus_beta1;
  m = mi;
  float vi = v * f.beta2 + (d * f.one_minus_beta2) * d;
  v = vi;
  if constexpr (kAmsgrad) {
    // NaN in either propagates, as in NumPy's and PyTorch's maximum
    const float old = vmax;
    vi = (old > vi || old != old) ? old : vi;
    vmax = vi;
  }
  const float denom = sqrtf(vi) / f.bias2_sqrt + f.eps;
  p = pi - (mi / denom) * f.step_size;
}

__device__ __forceinline__ float& at(float4& v, int k) {
  return k == 0 ? v.x : (k == 1 ? v.y : (k == 2 ? v.z : v.w));
}

// Value i, scalar loads (the unaligned path and the vector path's tail).
template <bool kWd, Momentum kMom, bool kNesterov>
__device__ __forceinline__ void sgd_at(int64_t i, float* p, const float* g, float* buf,
                                       const SgdFactors& f) {
  float pi = p[i];
  float b = 0.0f;
  if constexpr (kMom == Momentum::Later) b = buf[i];
  sgd_update<kWd, kMom, kNesterov>(pi, g[i], b, f);
  p[i] = pi;
  if constexpr (kMom != Momentum::None) buf[i] = b;
}

template <bool kVec, bool kWd, Momentum kMom, bool kNesterov>
__global__ void sgd_kernel(int64_t n, float* p, const float* g, float* buf, SgdFactors f) {
  if constexpr (kVec) {
    const int64_t n4 = n / 4;
    auto* p4 = reinterpret_cast<float4*>(p);
    const auto* g4 = reinterpret_cast<const float4*>(g);
    auto* b4 = reinterpret_cast<float4*>(buf);
    for (int64_t i : grid_stride{n4}) {
      float4 pv = p4[i];
      float4 gv = g4[i];
      float4 bv = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
      if constexpr (kMom == Momentum::Later) bv = b4[i];
#pragma unroll
      for (int k = 0; k < 4; ++k)
        sgd_update<kWd, kMom, kNesterov>(at(pv, k), at(gv, k), at(bv, k), f);
      p4[i] = pv;
      if constexpr (kMom != Momentum::None) b4[i] = bv;
    }
    const int64_t t = 4 * n4 + static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (t < n) sgd_at<kWd, kMom, kNesterov>(t, p, g, buf, f);
  } else {
    for (int64_t i : grid_stride{n}) sgd_at<kWd, kMom, kNesterov>(i, p, g, buf, f);
  }
}

template <bool kWd, bool kDecay, bool kAmsgrad>
__device__ __forceinline__ void adam_at(int64_t i, float* p, const float* g, float* m, float* v,
                                        float* vmax, const AdamFactors& f) {
  float pi = p[i], mi = m[i], vi = v[i], wi = 0.0f;
  if constexpr (kAmsgrad) wi = vmax[i];
  adam_update<kWd, kDecay, kAmsgrad>(pi, g[i], mi, vi, wi, f);
  p[i] = pi;
  m[i] = mi;
  v[i] = vi;
  if constexpr (kAmsgrad) vmax[i] = wi;
}

template <bool kVec, bool kWd, bool kDecay, bool kAmsgrad>
__global__ void adam_kernel(int64_t n, float* p, const float* g, float* m, float* v, float* vmax,
                            AdamFactors f) {
  if constexpr (kVec) {
    const int64_t n4 = n / 4;
    auto* p4 = reinterpret_cast<float4*>(p);
    const auto* g4 = reinterpret_cast<const float4*>(g);
    auto* m4 = reinterpret_cast<float4*>(m);
    auto* v4 = reinterpret_cast<float4*>(v);
    auto* w4 = reinterpret_cast<float4*>(vmax);
    for (int64_t i : grid_stride{n4}) {
      float4 pv = p4[i], gv = g4[i], mv = m4[i], vv = v4[i];
      float4 wv = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
      if constexpr (kAmsgrad) wv = w4[i];
#pragma unroll
      for (int k = 0; k < 4; ++k)
        adam_update<kWd, kDecay, kAmsgrad>(at(pv, k), at(gv, k), at(mv, k), at(vv, k), at(wv, k),
                                           f);
      p4[i] = pv;
      m4[i] = mv;
      v4[i] = vv;
      if constexpr (kAmsgrad) w4[i] = wv;
    }
    const int64_t t = 4 * n4 + static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (t < n) adam_at<kWd, kDecay, kAmsgrad>(t, p, g, m, v, vmax, f);
  } else {
    for (int64_t i : grid_stride{n}) adam_at<kWd, kDecay, kAmsgrad>(i, p, g, m, v, vmax, f);
  }
}

bool aligned16(const void* p) { return p == nullptr || reinterpret_cast<uintptr_t>(p) % 16 == 0; }

template <bool kWd, Momentum kMom, bool kNesterov>
void sgd_launch(int64_t n, float* p, const float* g, float* buf, const SgdFactors& f,
                cudaStream_t stream) {
  if (aligned16(p) && aligned16(g) && aligned16(buf))
    sgd_kernel<true, kWd, kMom, kNesterov>
        <<<blocks_for(n / 4), kThreadsPerBlock, 0, stream>>>(n, p, g, buf, f);
  else
    sgd_kernel<false, kWd, kMom, kNesterov>
        <<<blocks_for(n), kThreadsPerBlock, 0, stream>>>(n, p, g, buf, f);
}

template <bool kWd>
void sgd_momentum(int64_t n, float* p, const float* g, float* buf, const SgdFactors& f,
                  const SgdOptions& o, cudaStream_t s) {
  if (o.momentum == 0.0) sgd_launch<kWd, Momentum::None, false>(n, p, g, nullptr, f, s);
  else if (o.first_step && o.nesterov) sgd_launch<kWd, Momentum::First, true>(n, p, g, buf, f, s);
  else if (o.first_step) sgd_launch<kWd, Momentum::First, false>(n, p, g, buf, f, s);
  else if (o.nesterov) sgd_launch<kWd, Momentum::Later, true>(n, p, g, buf, f, s);
  else sgd_launch<kWd, Momentum::Later, false>(n, p, g, buf, f, s);
}

template <bool kWd, bool kDecay, bool kAmsgrad>
void adam_launch(int64_t n, float* p, const float* g, float* m, float* v, float* vmax,
                 const AdamFactors& f, cudaStream_t stream) {
  if (aligned16(p) && aligned16(g) && aligned16(m) && aligned16(v) && aligned16(vmax))
    adam_kernel<true, kWd, kDecay, kAmsgrad>
        <<<blocks_for(n / 4), kThreadsPerBlock, 0, stream>>>(n, p, g, m, v, vmax, f);
  else
    adam_kernel<false, kWd, kDecay, kAmsgrad>
        <<<blocks_for(n), kThreadsPerBlock, 0, stream>>>(n, p, g, m, v, vmax, f);
}

template <bool kAmsgrad>
void adam_decay(int64_t n, float* p, const float* g, float* m, float* v, float* vmax,
                const AdamFactors& f, const AdamOptions& o, cudaStream_t s) {
  if (o.weight_decay == 0.0) adam_launch<false, false, kAmsgrad>(n, p, g, m, v, vmax, f, s);
  else if (o.decoupled) adam_launch<false, true, kAmsgrad>(n, p, g, m, v, vmax, f, s);
  else adam_launch<true, false, kAmsgrad>(n, p, g, m, v, vmax, f, s);
}

}  // namespace

cudaError_t launch_sgd_step(int64_t n, float* param, const float* grad, float* momentum_buffer,
                            const SgdOptions& o, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  const SgdFactors f{o.maximize ? -1.0f : 1.0f, static_cast<float>(o.weight_decay),
                     static_cast<float>(o.momentum), static_cast<float>(1.0 - o.dampening),
                     static_cast<float>(o.lr)};
  if (o.weight_decay != 0.0) sgd_momentum<true>(n, param, grad, momentum_buffer, f, o, stream);
  else sgd_momentum<false>(n, param, grad, momentum_buffer, f, o, stream);
  return cudaGetLastError();
}

cudaError_t launch_adam_step(int64_t n, float* param, const float* grad, float* exp_avg,
                             float* exp_avg_sq, float* max_exp_avg_sq, const AdamOptions& o,
                             cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  // Python's beta ** step and math.sqrt (PyTorch's bias corrections), in double.
  const double bias1 = 1.0 - std::pow(o.beta1, o.step);
  const double bias2_sqrt = std::sqrt(1.0 - std::pow(o.beta2, o.step));
  const AdamFactors f{o.maximize ? -1.0f : 1.0f,
                      static_cast<float>(o.weight_decay),
                      static_cast<float>(1.0 - o.lr * o.weight_decay),
                      static_cast<float>(1.0 - o.beta1),
                      static_cast<float>(o.beta2),
                      static_cast<float>(1.0 - o.beta2),
                      static_cast<float>(bias2_sqrt),
                      static_cast<float>(o.eps),
                      static_cast<float>(o.lr / bias1)};
  float* vmax = o.amsgrad ? max_exp_avg_sq : nullptr;
  if (o.amsgrad) adam_decay<true>(n, param, grad, exp_avg, exp_avg_sq, vmax, f, o, stream);
  else adam_decay<false>(n, param, grad, exp_avg, exp_avg_sq, vmax, f, o, stream);
  return cudaGetLastError();
}

}  // namespace pyfastdl::cuda
