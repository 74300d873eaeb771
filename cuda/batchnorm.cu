// Batch normalization over the channels of (N, C, H, W) tensors on the GPU (1-d norms: H = 1 or
// H = W = 1), forward (training and eval) and backward. Deterministic: fixed-order reductions,
// no atomics.
//
// Layout: each channel's M = N * H * W values are viewed as O segments of L values each,
// element (o, l) of channel c at c * sc + (o / hdiv) * sn + (o % hdiv) * sh + l * sl: H and W
// merged into one segment per image where every array's strides allow (NCHW planes: O = N,
// L = H * W), the batch merged in too where possible (C == 1), else one segment per (n, h) row.
//
// Statistics (training forward; the backward's per-channel sums likewise), two kernels:
//   1. partials: grid (S splits, channels); a channel's segments are cut into items of up to
//      1024 values, split s takes a contiguous range of items, the 8 warps of a block take its
//      items in turn and their lanes the items' values (float4 loads where the layout allows).
//      Each thread keeps a Welford state (pyfastdl/math/welford.h) of x - K (K the channel's
//      first value: exact differences for values far from 0) and a plain sum of x; the lanes
//      merge into lane 0 (a shuffle tree), the warps into thread 0 in warp order (Chan's merge),
//      which writes the block's partial for (channel, split). Segments of one value ((N, C)
//      inputs, L == 1) go to a second shape: 32 channels across the lanes of a warp (coalesced
//      when channels are packed), 8 warps over the rows, merged through shared memory in warp
//      order.
//   2. finalize: one thread per channel merges its S partials in split order in double, writes
//      mean, var, invstd (or grad_weight, grad_bias) and the channel's coefficients of step 3.
// Normalization: an elementwise grid-stride kernel over the logical (N, C, H, W) index (flat
// offsets and float4 when every array is packed and H * W % 4 == 0), with the channel's
// coefficients from scratch: y = ((x - m) - dm) * scale + shift, mean = m + dm (never
// x * scale + shift, which cancels for large means); backward, as the reference orders it,
// grad_x = scale * ((gy - sum_g / M) - xhat * sum_g_xhat / M) (training), scale * gy (eval: x
// unread).
// Scratch (partials and coefficients) comes from cudaMallocAsync/cudaFreeAsync on the stream.
// Cost: memory-bound; training forward reads x twice and writes y (12 bytes a value), backward
// reads x and grad_y twice and writes grad_x (20 bytes), eval 8 bytes.
#include <cmath>

#include "batchnorm_launch.h"
#include "launch.cuh"
#include "pyfastdl/math/welford.h"

namespace pyfastdl::cuda {
namespace {

constexpr int kReduceThreads = 256;  // 8 warps
constexpr int64_t kItem = 1024;      // values of a segment one warp takes at a time
constexpr int kCoefs = 8;            // floats of coefficients per channel (apply_one)

// One array's strides over the segment view: element (c, o, l) at
// data[c * sc + (o / hdiv) * sn + (o % hdiv) * sh + l * sl].
struct SegStrides {
  int64_t sc, sn, sh, sl;
};

struct ReduceParams {
  int64_t C, O, L, hdiv;
  const float* x;
  SegStrides xs;
  const float* gy;  // backward sums only
  SegStrides gs;
  const float* mean;  // backward sums: the channel means (x - mean is summed)
  int64_t mean_stride;
  float* partial;  // [C][S][K]
};

__device__ __forceinline__ int64_t seg_offset(const SegStrides& s, int64_t c, int64_t o,
                                              int64_t hdiv) {
  return c * s.sc + (o / hdiv) * s.sn + (o % hdiv) * s.sh;
}

// Training statistics: Welford (count, mean, m2) of x - K, K the channel's first value (the
// shifted data are exact differences for values close together, e.g. 1e4 + 1e-2 * randn, where
// a float mean of x itself would lose the digits that matter), and the plain sum of x (the mean
// where Welford's is NaN: an infinity among the values).
struct TrainStats {
  static constexpr int K = 4;
  static constexpr bool kGrad = false;
  float s[K];
  float shift;
  __device__ void init(const ReduceParams& p, int64_t c) {
    s[0] = s[1] = s[2] = s[3] = 0.0f;
    shift = p.x[c * p.xs.sc];  // element (c, 0, 0): every block of the channel reads the same
  }
  __device__ void push(float x, float) {
    const math::Welford<float> w =
        math::welford_push(math::Welford<float>{s[0], s[1], s[2]}, x - shift);
    s[0] = w.count;
    s[1] = w.mean;
    s[2] = w.m2;
    s[3] += x;
  }
  // Four values at once (the float4 path): their own mean and m2, merged in (one division
  // for four values instead of four).
  __device__ void push4(const float4& v, const float4&) {
    const float a = v.x - shift, b = v.y - shift, c = v.z - shift, d = v.w - shift;
    const float mean4 = ((a + b) + (c + d)) * 0.25f;
    const float da = a - mean4, db = b - mean4, dc = c - mean4, dd = d - mean4;
    const float m2 = (da * da + db * db) + (dc * dc + dd * dd);
    const math::Welford<float> w = math::welford_merge(math::Welford<float>{s[0], s[1], s[2]},
                                                       math::Welford<float>{4.0f, mean4, m2});
    s[0] = w.count;
    s[1] = w.mean;
    s[2] = w.m2;
    s[3] += (v.x + v.y) + (v.z + v.w);
  }
  __device__ void merge(const float (&o)[K]) {
    const math::Welford<float> w = math::welford_merge(math::Welford<float>{s[0], s[1], s[2]},
                                                       math::Welford<float>{o[0], o[1], o[2]});
    s[0] = w.count;
    s[1] = w.mean;
    s[2] = w.m2;
    s[3] += o[3];
  }
};

// Backward sums: sum(x - mean), sum(gy), sum(gy * (x - mean)) with the channel's given mean.
struct GradSums {
  static constexpr int K = 3;
  static constexpr bool kGrad = true;
  float s[K];
  float mean;
  __device__ void init(const ReduceParams& p, int64_t c) {
    s[0] = s[1] = s[2] = 0.0f;
    mean = p.mean[c * p.mean_stride];
  }
  __device__ void push(float x, float g) {
    const float xc = x - mean;
    s[0] += xc;
    s[1] += g;
    s[2] += g * xc;
  }
  __device__ void push4(const float4& x, const float4& g) {
    push(x.x, g.x);
    push(x.y, g.y);
    push(x.z, g.z);
    push(x.w, g.w);
  }
  __device__ void merge(const float (&o)[K]) {
    s[0] += o[0];
    s[1] += o[1];
    s[2] += o[2];
  }
};

// Lane 0 gets the merge of the warp's states (a tree: lane l takes lane l + o's state).
template <class Op>
__device__ __forceinline__ void warp_merge(Op& op) {
#pragma unroll
  for (int o = 16; o > 0; o /= 2) {
    float other[Op::K];
#pragma unroll
    for (int k = 0; k < Op::K; ++k) other[k] = __shfl_down_sync(0xffffffffu, op.s[k], o);
    if (static_cast<int>(threadIdx.x % 32) + o < 32) op.merge(other);
  }
}

// Partials of the segment view: grid (S, min(C, 65535)); see the file comment.
template <class Op, bool kVec>
__global__ void __launch_bounds__(kReduceThreads, 1) reduce_segments_kernel(const ReduceParams p) {
  __shared__ float warp_states[kReduceThreads / 32][Op::K];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t pieces = (p.L + kItem - 1) / kItem;  // items per segment
  const int64_t items = p.O * pieces;
  const int64_t S = gridDim.x;
  const int64_t per_split = (items + S - 1) / S;
  const int64_t i0 = static_cast<int64_t>(blockIdx.x) * per_split;
  const int64_t i1 = i0 + per_split < items ? i0 + per_split : items;
  for (int64_t c = blockIdx.y; c < p.C; c += gridDim.y) {
    Op op;
    op.init(p, c);
    for (int64_t it = i0 + warp; it < i1; it += kReduceThreads / 32) {
      const int64_t o = it / pieces;
      const int64_t l0 = (it - o * pieces) * kItem;
      const int64_t l1 = l0 + kItem < p.L ? l0 + kItem : p.L;
      const float* x = p.x + seg_offset(p.xs, c, o, p.hdiv);
      const float* g = Op::kGrad ? p.gy + seg_offset(p.gs, c, o, p.hdiv) : nullptr;
      if constexpr (kVec) {  // sl == 1, L % 4 == 0, segments 16-byte aligned
        for (int64_t l = l0 + 4 * lane; l < l1; l += 128) {
          const float4 xv = *reinterpret_cast<const float4*>(x + l);
          float4 gv = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
          if constexpr (Op::kGrad) gv = *reinterpret_cast<const float4*>(g + l);
          op.push4(xv, gv);
        }
      } else {
        for (int64_t l = l0 + lane; l < l1; l += 32)
          op.push(x[l * p.xs.sl], Op::kGrad ? g[l * p.gs.sl] : 0.0f);
      }
    }
    warp_merge(op);
    if (lane == 0)
#pragma unroll
      for (int k = 0; k < Op::K; ++k) warp_states[warp][k] = op.s[k];
    __syncthreads();
    if (threadIdx.x == 0) {
      Op total = op;  // warp 0's state
      for (int w = 1; w < kReduceThreads / 32; ++w) {
        float other[Op::K];
#pragma unroll
        for (int k = 0; k < Op::K; ++k) other[k] = warp_states[w][k];
        total.merge(other);
      }
      float* out = p.partial + (c * S + blockIdx.x) * Op::K;
#pragma unroll
      for (int k = 0; k < Op::K; ++k) out[k] = total.s[k];
    }
    __syncthreads();  // warp_states is reused by the next channel
  }
}

// Partials of segments of one value (L == 1): grid (ceil(C / 32), S); lane = channel, warp =
// a row of every 8.
template <class Op>
__global__ void __launch_bounds__(kReduceThreads, 1) reduce_columns_kernel(const ReduceParams p) {
  __shared__ float states[kReduceThreads / 32][32][Op::K];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int64_t c = static_cast<int64_t>(blockIdx.x) * 32 + lane;
  const int64_t S = gridDim.y;
  const int64_t per_split = (p.O + S - 1) / S;
  const int64_t o0 = static_cast<int64_t>(blockIdx.y) * per_split;
  const int64_t o1 = o0 + per_split < p.O ? o0 + per_split : p.O;
  Op op;
#pragma unroll
  for (int k = 0; k < Op::K; ++k) op.s[k] = 0.0f;
  if (c < p.C) {
    op.init(p, c);
#pragma unroll 4
    for (int64_t o = o0 + warp; o < o1; o += kReduceThreads / 32)  // 4 loads in flight
      op.push(p.x[seg_offset(p.xs, c, o, p.hdiv)],
              Op::kGrad ? p.gy[seg_offset(p.gs, c, o, p.hdiv)] : 0.0f);
  }
#pragma unroll
  for (int k = 0; k < Op::K; ++k) states[warp][lane][k] = op.s[k];
  __syncthreads();
  if (warp == 0 && c < p.C) {
    for (int w = 1; w < kReduceThreads / 32; ++w) {
      float other[Op::K];
#pragma unroll
      for (int k = 0; k < Op::K; ++k) other[k] = states[w][lane][k];
      op.merge(other);
    }
    float* out = p.partial + (c * S + blockIdx.y) * Op::K;
#pragma unroll
    for (int k = 0; k < Op::K; ++k) out[k] = op.s[k];
  }
}

template <class T>
struct Vec {
  T* data;  // nullptr: absent
  int64_t stride;
};

__device__ __forceinline__ double value_or(const Vec<const float>& v, int64_t c, double absent) {
  return v.data ? static_cast<double>(v.data[c * v.stride]) : absent;
}

struct FinalizeParams {
  int64_t C, S, M;  // M: values per channel
  const float* partial;
  const float* shift;  // training forward: the channels' shifts K at shift[c * shift_stride]
  int64_t shift_stride;
  float* coef;  // [C][kCoefs]
  Vec<const float> weight, bias;
  float eps;
  // training forward outputs
  Vec<float> mean_out, var_out, invstd_out;
  // backward inputs and outputs
  Vec<const float> mean_in, invstd_in;
  Vec<float> grad_weight, grad_bias;
  bool training;
};

// Training forward: a channel's statistics from its S partials (Chan's merge in double, split
// order), and its coefficients m, dm, scale, shift.
__global__ void finalize_train_kernel(const FinalizeParams p) {
  for (int64_t c : grid_stride{p.C}) {
    math::Welford<double> w = math::welford_empty<double>();
    double sum = 0.0;
    for (int64_t s = 0; s < p.S; ++s) {
      const float* q = p.partial + (c * p.S + s) * TrainStats::K;
      w = math::welford_merge(w, math::Welford<double>{q[0], q[1], q[2]});
      sum += q[3];
    }
    double mean = NAN, var = NAN, invstd = NAN;  // no values: undefined statistics
    if (p.M > 0) {
      const double m = static_cast<double>(p.M);
      mean = static_cast<double>(p.shift[c * p.shift_stride]) + w.mean;
      var = w.m2 / m;
      if (!isfinite(mean)) {  // an inf or NaN among the values: sum / M is the reference's mean
        mean = sum / m;
        var = NAN;
      }
      var = var < 0.0 ? 0.0 : var;  // NaN stays NaN
      invstd = 1.0 / sqrt(var + static_cast<double>(p.eps));
    }
    p.mean_out.data[c * p.mean_out.stride] = static_cast<float>(mean);
    p.invstd_out.data[c * p.invstd_out.stride] = static_cast<float>(invstd);
    if (p.var_out.data) p.var_out.data[c * p.var_out.stride] = static_cast<float>(var);
    if (p.coef) {
      const float m = static_cast<float>(mean);
      const double dm = mean - static_cast<double>(m);
      float* k = p.coef + c * kCoefs;
      k[0] = m;
      k[1] = isfinite(dm) ? static_cast<float>(dm) : 0.0f;
      k[2] = static_cast<float>(invstd * value_or(p.weight, c, 1.0));
      k[3] = static_cast<float>(value_or(p.bias, c, 0.0));
      k[4] = 0.0f;
    }
  }
}

// Eval forward: m = running_mean, scale = weight / sqrt(running_var + eps), shift = bias.
__global__ void eval_coef_kernel(const FinalizeParams p) {
  for (int64_t c : grid_stride{p.C}) {
    float* k = p.coef + c * kCoefs;
    k[0] = p.mean_in.data[c * p.mean_in.stride];
    k[1] = 0.0f;
    k[2] = static_cast<float>(value_or(p.weight, c, 1.0) /
                              sqrt(value_or(p.invstd_in, c, 0.0) + static_cast<double>(p.eps)));
    k[3] = static_cast<float>(value_or(p.bias, c, 0.0));
    k[4] = 0.0f;
  }
}

// Backward: grad_weight, grad_bias from the channel's S partial sums (double, split order), and
// the coefficients of grad_x (apply_one, modes 1 and 2).
__global__ void finalize_backward_kernel(const FinalizeParams p) {
  for (int64_t c : grid_stride{p.C}) {
    double sd = 0.0, sg = 0.0, sgx = 0.0;
    for (int64_t s = 0; s < p.S; ++s) {
      const float* q = p.partial + (c * p.S + s) * GradSums::K;
      sd += q[0];
      sg += q[1];
      sgx += q[2];
    }
    const double m = static_cast<double>(p.M);
    const double inv = p.invstd_in.data[c * p.invstd_in.stride];
    // training: the stored mean was rounded, delta restores its digits (where finite: an
    // infinite x would make every centered value inf - inf)
    double delta = p.training && p.M > 0 ? sd / m : 0.0;
    delta = isfinite(delta) ? delta : 0.0;
    // sum(gy * centered) = sgx - delta * sg (delta is tiny: where sg is not finite the
    // correction is left out, so that an infinite gy gives the reference's +-inf, not inf - inf)
    const double sum_gc = delta != 0.0 && isfinite(sg) ? sgx - delta * sg : sgx;
    const double gw = inv * sum_gc;  // sum(gy * xhat)
    if (p.grad_weight.data) p.grad_weight.data[c * p.grad_weight.stride] = static_cast<float>(gw);
    if (p.grad_bias.data) p.grad_bias.data[c * p.grad_bias.stride] = static_cast<float>(sg);
    if (p.coef) {
      float* k = p.coef + c * kCoefs;
      k[0] = p.mean_in.data[c * p.mean_in.stride];
      k[1] = static_cast<float>(delta);
      k[2] = static_cast<float>(inv * value_or(p.weight, c, 1.0));  // scale
      k[3] = static_cast<float>(inv);
      k[4] = p.training && p.M > 0 ? static_cast<float>(sg / m) : 0.0f;
      k[5] = p.training && p.M > 0 ? static_cast<float>(gw / m) : 0.0f;
    }
  }
}

// An (N, C, H, W) array of the elementwise pass: element (n, c, h, w) at
// data[n * sn + c * sc + h * sh + w * sw].
struct Nchw {
  const float* in;
  float* out;
  int64_t sn, sc, sh, sw;
};

struct ApplyParams {
  int64_t N, C, H, W;
  Nchw x, gy, out;  // x read by modes 0 and 1, gy by modes 1 and 2
  const float* coef;
};

// kMode 0 (forward): out = ((x - m) - dm) * scale + shift, coefficients {m, dm, scale, shift};
// 1 (training backward): out = scale * ((gy - sum_g / M) - xhat * sum_g_xhat / M),
// xhat = ((x - m) - dm) * invstd, coefficients {m, dm, scale, invstd, sum_g / M,
// sum_g_xhat / M}, the reference's order (an infinite invstd or weight then gives its +-inf);
// 2 (eval backward): out = scale * gy.
template <int kMode>
__device__ __forceinline__ float apply_one(float x, float g, const float4& k0, const float2& k1) {
  if constexpr (kMode == 0) return ((x - k0.x) - k0.y) * k0.z + k0.w;
  else if constexpr (kMode == 1) return k0.z * ((g - k1.x) - (((x - k0.x) - k0.y) * k0.w) * k1.y);
  else return k0.z * g;
}

// Elementwise pass, logical index i over (N, C, H, W), W fastest. kPacked: every array packed
// in C order (offset == i); kVec: also H * W % 4 == 0 and 16-byte aligned, 4 values (one
// channel) per step. I: the index type (32-bit while the tensor has fewer than 2^31 values).
template <int kMode, bool kPacked, bool kVec, class I>
__global__ void apply_kernel(const ApplyParams p) {
  const I hw = static_cast<I>(p.H * p.W), C = static_cast<I>(p.C);
  const I total = static_cast<I>(p.N) * C * hw;
  const I step = static_cast<I>(gridDim.x) * blockDim.x;
  I i = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x;
  if constexpr (kVec) {
    for (i *= 4; i < total; i += 4 * step) {
      const I c = (i / hw) % C;
      const float4 k0 = reinterpret_cast<const float4*>(p.coef + c * kCoefs)[0];
      float2 k1 = make_float2(0.0f, 0.0f);
      if constexpr (kMode == 1) k1 = reinterpret_cast<const float2*>(p.coef + c * kCoefs)[2];
      float4 x = make_float4(0.0f, 0.0f, 0.0f, 0.0f), g = x;
      if constexpr (kMode != 2) x = *reinterpret_cast<const float4*>(p.x.in + i);
      if constexpr (kMode != 0) g = *reinterpret_cast<const float4*>(p.gy.in + i);
      float4 r;
      r.x = apply_one<kMode>(x.x, g.x, k0, k1);
      r.y = apply_one<kMode>(x.y, g.y, k0, k1);
      r.z = apply_one<kMode>(x.z, g.z, k0, k1);
      r.w = apply_one<kMode>(x.w, g.w, k0, k1);
      *reinterpret_cast<float4*>(p.out.out + i) = r;
    }
  } else {
    for (; i < total; i += step) {
      I c;
      int64_t fx = static_cast<int64_t>(i), fg = fx, fo = fx;
      if constexpr (kPacked) {
        c = (i / hw) % C;
      } else {
        const I w = i % static_cast<I>(p.W);
        I t = i / static_cast<I>(p.W);
        const I h = t % static_cast<I>(p.H);
        t /= static_cast<I>(p.H);
        c = t % C;
        const I n = t / C;
        // offsets in int64: strides may be negative (or 0 for inputs)
        const auto off = [&](const Nchw& a) {
          return static_cast<int64_t>(n) * a.sn + static_cast<int64_t>(c) * a.sc +
                 static_cast<int64_t>(h) * a.sh + static_cast<int64_t>(w) * a.sw;
        };
        if constexpr (kMode != 2) fx = off(p.x);
        if constexpr (kMode != 0) fg = off(p.gy);
        fo = off(p.out);
      }
      const float4 k0 = reinterpret_cast<const float4*>(p.coef + c * kCoefs)[0];
      float2 k1 = make_float2(0.0f, 0.0f);
      if constexpr (kMode == 1) k1 = reinterpret_cast<const float2*>(p.coef + c * kCoefs)[2];
      p.out.out[fo] =
          apply_one<kMode>(kMode != 2 ? p.x.in[fx] : 0.0f, kMode != 0 ? p.gy.in[fg] : 0.0f, k0, k1);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Host side.

bool packed(const NchwView<const float>& v) {
  int64_t expect = 1;
  const int64_t shape[4] = {v.n, v.c, v.h, v.w}, stride[4] = {v.sn, v.sc, v.sh, v.sw};
  for (int d = 3; d >= 0; --d) {
    if (shape[d] != 1 && stride[d] != expect) return false;
    expect *= shape[d];
  }
  return true;
}

NchwView<const float> as_const(const NchwView<float>& v) {
  NchwView<const float> r;
  r.data = v.data;
  r.n = v.n;
  r.c = v.c;
  r.h = v.h;
  r.w = v.w;
  r.sn = v.sn;
  r.sc = v.sc;
  r.sh = v.sh;
  r.sw = v.sw;
  return r;
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// The segment view of `count` arrays of one (N, C, H, W) shape (file comment).
struct Segments {
  int64_t O, L, hdiv;
  SegStrides s[2];
};

Segments segments(const NchwView<const float>* const* a, int count) {
  int64_t h = a[0]->h, w = a[0]->w;
  int64_t sh[2], sw[2];
  for (int i = 0; i < count; ++i) {
    sh[i] = a[i]->sh;
    sw[i] = a[i]->sw;
  }
  if (w == 1) {  // (H, 1): rows of H values
    w = h;
    h = 1;
    for (int i = 0; i < count; ++i) {
      sw[i] = sh[i];
      sh[i] = 0;
    }
  }
  bool merge_hw = true;
  for (int i = 0; i < count; ++i) merge_hw = merge_hw && (h == 1 || sh[i] == w * sw[i]);
  Segments g{};
  const int64_t n = a[0]->n;
  if (merge_hw) {
    g.O = n;
    g.L = h * w;
    g.hdiv = 1;
  } else {
    g.O = n * h;
    g.L = w;
    g.hdiv = h;
  }
  for (int i = 0; i < count; ++i) g.s[i] = {a[i]->sc, a[i]->sn, merge_hw ? 0 : sh[i], sw[i]};
  // The batch too, where every array steps from one image to the next as within one; a single
  // channel of single values ((N, 1) inputs) is one segment of N values.
  const bool one_value = g.L == 1 && a[0]->c == 1;
  bool merge_n = merge_hw && n > 1;
  for (int i = 0; i < count; ++i) merge_n = merge_n && (one_value || a[i]->sn == g.L * g.s[i].sl);
  if (merge_n) {
    if (one_value)
      for (int i = 0; i < count; ++i) g.s[i].sl = a[i]->sn;
    g.L *= n;
    g.O = 1;
  }
  return g;
}

// Launches the partials of Op over the segments; returns the number of splits S.
template <class Op>
int64_t launch_partials(ReduceParams& p, const Segments& g, bool vec_ok, float* partial,
                        cudaStream_t stream) {
  p.O = g.O;
  p.L = g.L;
  p.hdiv = g.hdiv;
  p.xs = g.s[0];
  p.gs = g.s[1];
  p.partial = partial;
  const int64_t target_blocks = 2048;  // a few waves on any GPU, independent of the device
  if (g.L == 1) {
    const int64_t tiles = (p.C + 31) / 32;
    int64_t S = (target_blocks + tiles - 1) / tiles;
    const int64_t by_rows = (p.O + 63) / 64;
    S = S < by_rows ? S : by_rows;
    S = S < 65535 ? (S < 1 ? 1 : S) : 65535;
    reduce_columns_kernel<Op><<<dim3(static_cast<unsigned>(tiles), static_cast<unsigned>(S)),
                                kReduceThreads, 0, stream>>>(p);
    return S;
  }
  const int64_t items = g.O * ((g.L + kItem - 1) / kItem);
  int64_t S = (target_blocks + p.C - 1) / p.C;
  const int64_t by_items = (items + 15) / 16;
  S = S < by_items ? S : by_items;
  S = S < 1 ? 1 : S;
  const dim3 grid(static_cast<unsigned>(S), static_cast<unsigned>(p.C < 65535 ? p.C : 65535));
  if (vec_ok) reduce_segments_kernel<Op, true><<<grid, kReduceThreads, 0, stream>>>(p);
  else reduce_segments_kernel<Op, false><<<grid, kReduceThreads, 0, stream>>>(p);
  return S;
}

// Can the segment kernel read the arrays with float4 loads: packed segments of a multiple of 4
// values, every segment start 16-byte aligned.
bool segments_vec(const Segments& g, const NchwView<const float>* const* a, int count) {
  if (g.L % 4 != 0) return false;
  for (int i = 0; i < count; ++i) {
    const SegStrides& s = g.s[i];
    if (s.sl != 1 || !aligned16(a[i]->data)) return false;
    if ((a[i]->c > 1 && s.sc % 4 != 0) || (g.O > 1 && (s.sn % 4 != 0 || s.sh % 4 != 0)))
      return false;
  }
  return true;
}

template <int kMode, bool kPacked, bool kVec>
void launch_apply_as(const ApplyParams& p, int64_t total, cudaStream_t stream) {
  const int64_t work = kVec ? total / 4 : total;
  if (total < (int64_t{1} << 31))
    apply_kernel<kMode, kPacked, kVec, uint32_t>
        <<<blocks_for(work), kThreadsPerBlock, 0, stream>>>(p);
  else
    apply_kernel<kMode, kPacked, kVec, int64_t>
        <<<blocks_for(work), kThreadsPerBlock, 0, stream>>>(p);
}

// The elementwise pass over x (modes 0, 1), gy (modes 1, 2) into out.
template <int kMode>
void launch_apply(const NchwView<const float>& x, const NchwView<const float>& gy,
                  const NchwView<float>& out, const float* coef, cudaStream_t stream) {
  const NchwView<const float>& shape = kMode == 2 ? gy : x;
  ApplyParams p{};
  p.N = shape.n;
  p.C = shape.c;
  p.H = shape.h;
  p.W = shape.w;
  p.x = {x.data, nullptr, x.sn, x.sc, x.sh, x.sw};
  p.gy = {gy.data, nullptr, gy.sn, gy.sc, gy.sh, gy.sw};
  p.out = {nullptr, out.data, out.sn, out.sc, out.sh, out.sw};
  p.coef = coef;
  const int64_t total = p.N * p.C * p.H * p.W;
  bool all_packed = packed(as_const(out)), all_aligned = aligned16(out.data);
  if (kMode != 2) {
    all_packed = all_packed && packed(x);
    all_aligned = all_aligned && aligned16(x.data);
  }
  if (kMode != 0) {
    all_packed = all_packed && packed(gy);
    all_aligned = all_aligned && aligned16(gy.data);
  }
  if (all_packed && all_aligned && (p.H * p.W) % 4 == 0)
    launch_apply_as<kMode, true, true>(p, total, stream);
  else if (all_packed) launch_apply_as<kMode, true, false>(p, total, stream);
  else launch_apply_as<kMode, false, false>(p, total, stream);
}

// Scratch of the coefficients ([C][kCoefs], first, 32-byte aligned rows) and the partials.
struct Scratch {
  float* base = nullptr;
  float* coef = nullptr;
  float* partial = nullptr;
};

cudaError_t scratch_alloc(Scratch& s, int64_t C, int64_t partial_floats, cudaStream_t stream) {
  const size_t floats = static_cast<size_t>(C * kCoefs + partial_floats);
  cudaError_t err =
      cudaMallocAsync(reinterpret_cast<void**>(&s.base), floats * sizeof(float), stream);
  if (err != cudaSuccess) return err;
  s.coef = s.base;
  s.partial = s.base + C * kCoefs;
  return cudaSuccess;
}

// The first error of a launch sequence, then the scratch's release (queued whatever happened).
cudaError_t finish(cudaError_t err, Scratch& s, cudaStream_t stream) {
  if (err == cudaSuccess) err = cudaGetLastError();
  const cudaError_t free_err = s.base ? cudaFreeAsync(s.base, stream) : cudaSuccess;
  return err != cudaSuccess ? err : free_err;
}

// Upper bound of the partials' floats: S is at most 2048 / (C or C / 32) + 1 per channel.
int64_t partial_floats_bound(int64_t C, int K) {
  const int64_t tiles = (C + 31) / 32;
  const int64_t s_seg = (2048 + C - 1) / C;
  const int64_t s_col = (2048 + tiles - 1) / tiles;
  const int64_t s = s_seg > s_col ? s_seg : s_col;
  return C * s * K;
}

}  // namespace

cudaError_t launch_batchnorm_forward_train(BnInput x, BnParam weight, BnParam bias, BnOutput y,
                                           BnStat mean, BnStat var, BnStat invstd, float eps,
                                           cudaStream_t stream) {
  const int64_t C = x.c, M = x.n * x.h * x.w;
  if (C <= 0) return cudaSuccess;
  FinalizeParams f{};
  f.C = C;
  f.M = M;
  f.weight = {weight.data, weight.stride};
  f.bias = {bias.data, bias.stride};
  f.eps = eps;
  f.mean_out = {mean.data, mean.stride};
  f.var_out = {var.data, var.stride};
  f.invstd_out = {invstd.data, invstd.stride};
  if (M == 0) {  // no values: NaN statistics, nothing to normalise
    f.S = 0;
    finalize_train_kernel<<<blocks_for(C), kThreadsPerBlock, 0, stream>>>(f);
    return cudaGetLastError();
  }
  Scratch s;
  cudaError_t err = scratch_alloc(s, C, partial_floats_bound(C, TrainStats::K), stream);
  if (err != cudaSuccess) return err;
  const NchwView<const float>* arrays[] = {&x};
  const Segments g = segments(arrays, 1);
  ReduceParams r{};
  r.C = C;
  r.x = x.data;
  f.S = launch_partials<TrainStats>(r, g, segments_vec(g, arrays, 1), s.partial, stream);
  f.partial = s.partial;
  f.shift = x.data;  // TrainStats' shifts: element (c, 0, 0, 0)
  f.shift_stride = x.sc;
  f.coef = s.coef;
  finalize_train_kernel<<<blocks_for(C), kThreadsPerBlock, 0, stream>>>(f);
  launch_apply<0>(x, x, y, s.coef, stream);
  return finish(err, s, stream);
}

cudaError_t launch_batchnorm_forward_eval(BnInput x, BnParam running_mean, BnParam running_var,
                                          BnParam weight, BnParam bias, BnOutput y, float eps,
                                          cudaStream_t stream) {
  const int64_t C = x.c;
  if (C <= 0 || x.n * x.h * x.w == 0) return cudaSuccess;
  Scratch s;
  cudaError_t err = scratch_alloc(s, C, 0, stream);
  if (err != cudaSuccess) return err;
  FinalizeParams f{};
  f.C = C;
  f.coef = s.coef;
  f.weight = {weight.data, weight.stride};
  f.bias = {bias.data, bias.stride};
  f.mean_in = {running_mean.data, running_mean.stride};
  f.invstd_in = {running_var.data, running_var.stride};  // the variance, here
  f.eps = eps;
  eval_coef_kernel<<<blocks_for(C), kThreadsPerBlock, 0, stream>>>(f);
  launch_apply<0>(x, x, y, s.coef, stream);
  return finish(err, s, stream);
}

cudaError_t launch_batchnorm_backward(BnInput x, BnInput grad_y, BnParam mean, BnParam invstd,
                                      BnParam weight, BnOutput grad_x, BnStat grad_weight,
                                      BnStat grad_bias, bool training, cudaStream_t stream) {
  const int64_t C = x.c, M = x.n * x.h * x.w;
  if (C <= 0) return cudaSuccess;
  const bool want_gx = grad_x.data != nullptr && M > 0;
  const bool want_sums = grad_weight.data != nullptr || grad_bias.data != nullptr;
  if (!want_gx && !want_sums) return cudaSuccess;
  // the channel sums are needed for grad_weight, grad_bias and the training grad_x
  const bool reduce = M > 0 && (want_sums || training);
  Scratch s;
  cudaError_t err = scratch_alloc(s, C, reduce ? partial_floats_bound(C, GradSums::K) : 0, stream);
  if (err != cudaSuccess) return err;
  FinalizeParams f{};
  f.C = C;
  f.M = M;
  f.S = 0;
  f.partial = s.partial;
  f.coef = want_gx ? s.coef : nullptr;
  f.weight = {weight.data, weight.stride};
  f.mean_in = {mean.data, mean.stride};
  f.invstd_in = {invstd.data, invstd.stride};
  f.grad_weight = {grad_weight.data, grad_weight.stride};
  f.grad_bias = {grad_bias.data, grad_bias.stride};
  f.training = training;
  if (reduce) {
    const NchwView<const float>* arrays[] = {&x, &grad_y};
    const Segments g = segments(arrays, 2);
    ReduceParams r{};
    r.C = C;
    r.x = x.data;
    r.gy = grad_y.data;
    r.mean = mean.data;
    r.mean_stride = mean.stride;
    f.S = launch_partials<GradSums>(r, g, segments_vec(g, arrays, 2), s.partial, stream);
  }
  finalize_backward_kernel<<<blocks_for(C), kThreadsPerBlock, 0, stream>>>(f);
  if (want_gx) {
    if (training) launch_apply<1>(x, grad_y, grad_x, s.coef, stream);
    else launch_apply<2>(x, grad_y, grad_x, s.coef, stream);
  }
  return finish(err, s, stream);
}

}  // namespace pyfastdl::cuda
