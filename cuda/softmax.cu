// Softmax, log_softmax and cross-entropy over the rows of (rows, C) matrices on the GPU.
//
// Tiling (cuda/softmax_rows.cuh, DefaultTiling): a warp owns a row of up to 1024 values with
// float4 loads (up to 512 with scalar loads: strided rows, C % 4 != 0), 1 to 32 values per lane
// in registers, 8 rows per 256-thread block; a block of up to 512 threads owns a longer row (16
// values per thread per chunk; rows past 8192 values take several chunks and are read again for
// the second pass, from L2). Groups stride over the rows.
// Forward: one read of the row gives each thread the max and sum of exp of its values (online
// softmax, pyfastdl/math/online_softmax.h); the group merges the threads' parts (butterfly
// shuffles, then the warps in order through shared memory), then each thread writes its values
// from registers: exp(x - max) / sum, or x - max - log(sum).
// Backward: one read of y and grad_y, a group sum (of grad_y * y, or of grad_y), the write.
// Cross-entropy forward: the row's max and sum as above, the target's logit (one load), and with
// label smoothing a second group sum of w[c] * (lse - x[c]) over the registers; the group's
// first thread writes the loss and the lse. Backward: max, sum (and the weights' sum with
// smoothing) in one read, then grad = g * ((1 - e) w[t] (p - [c == t]) + e / C (p sum(w) - w[c])).
// Reductions run in fixed orders: results do not depend on timing.
// Special values follow the NumPy reference: a NaN or +inf in a row makes the row NaN; -inf
// values weigh 0; a row of only -inf is NaN; rows of ignored targets are 0 (losses, grads).
// Cost: memory-bound; forward reads x once and writes y once (rows up to 8192 values), about 10
// flops per value (one expf).
#include <cmath>

#include "launch.cuh"
#include "pyfastdl/math/online_softmax.h"
#include "softmax_launch.h"
#include "softmax_rows.cuh"

namespace pyfastdl::cuda {
namespace {

using rows::column;
using rows::load_chunk;
using rows::RowGroup;
using rows::store_chunk;

// Rows of a (rows, cols) matrix: element (i, j) at data[i * rs + j * cs].
template <class T>
struct Mat {
  T* data;
  int64_t rs, cs;
};

struct SoftmaxParams {
  int64_t rows, cols;
  Mat<const float> a;  // x (forward) or y (backward)
  Mat<const float> b;  // grad_y (backward)
  Mat<float> out;      // y or grad_x
};

// The max and sum of exp of a row (column stride cs) over the group: one read of the row in
// chunks of `chunk` values, the threads' parts merged. `v` keeps the row's last chunk.
template <bool kWarpRows, int VPT, bool kVec>
__device__ __forceinline__ math::SoftmaxPart row_softmax_part(const float* x, int64_t cs,
                                                              int64_t cols, int64_t chunk, int r,
                                                              int g, float (&v)[VPT], float* smem) {
  math::SoftmaxPart part = math::softmax_part_empty();
  for (int64_t c0 = 0; c0 < cols; c0 += chunk) {
    load_chunk<VPT, kVec>(x, cs, c0, cols, r, g, -INFINITY, v);
    part = math::softmax_part_merge(part, math::softmax_part_of(v));
  }
  return rows::group_softmax<kWarpRows>(part, smem);
}

template <bool kWarpRows, int VPT, bool kVec, bool kLog>
__global__ void __launch_bounds__(kWarpRows ? rows::kWarpRowThreads : rows::kMaxBlockThreads,
                                  kWarpRows ? 2 : 1) softmax_forward_kernel(const SoftmaxParams p) {
  __shared__ float smem[rows::kReduceSmem];
  using G = RowGroup<kWarpRows>;
  const int r = G::rank(), g = G::size();
  const int64_t chunk = static_cast<int64_t>(VPT) * g;
  const bool one_chunk = kWarpRows || p.cols <= chunk;  // warp rows: always one chunk
  for (int64_t row = G::first_row(); row < p.rows; row += G::row_step()) {
    const float* x = p.a.data + row * p.a.rs;
    float* y = p.out.data + row * p.out.rs;
    float v[VPT];
    const math::SoftmaxPart part =
        row_softmax_part<kWarpRows, VPT, kVec>(x, p.a.cs, p.cols, chunk, r, g, v, smem);
    // out uses the max itself (not softmax_offset): a row of only -inf gives NaN, as x - max does
    const float m = part.max;
    const float inv = 1.0f / part.sum;
    const float log_sum = logf(part.sum);
    for (int64_t c0 = 0; c0 < p.cols; c0 += chunk) {
      if (!one_chunk) load_chunk<VPT, kVec>(x, p.a.cs, c0, p.cols, r, g, -INFINITY, v);
      float o[VPT];
#pragma unroll
      for (int k = 0; k < VPT; ++k) o[k] = kLog ? (v[k] - m) - log_sum : expf(v[k] - m) * inv;
      store_chunk<VPT, kVec>(y, p.out.cs, c0, p.cols, r, g, o);
      if (one_chunk) break;  // the registers are not needed again
    }
  }
}

template <bool kWarpRows, int VPT, bool kVec, bool kLog>
__global__ void __launch_bounds__(kWarpRows ? rows::kWarpRowThreads : rows::kMaxBlockThreads,
                                  kWarpRows ? 2 : 1)
    softmax_backward_kernel(const SoftmaxParams p) {
  __shared__ float smem[rows::kReduceSmem];
  using G = RowGroup<kWarpRows>;
  const int r = G::rank(), g = G::size();
  const int64_t chunk = static_cast<int64_t>(VPT) * g;
  const bool one_chunk = kWarpRows || p.cols <= chunk;  // warp rows: always one chunk
  for (int64_t row = G::first_row(); row < p.rows; row += G::row_step()) {
    const float* y = p.a.data + row * p.a.rs;
    const float* gy = p.b.data + row * p.b.rs;
    float* gx = p.out.data + row * p.out.rs;
    float yv[VPT], gv[VPT];
    float sum[1] = {0.0f};  // sum(grad_y * y), or sum(grad_y) for log_softmax
    for (int64_t c0 = 0; c0 < p.cols; c0 += chunk) {
      load_chunk<VPT, kVec>(y, p.a.cs, c0, p.cols, r, g, 0.0f, yv);
      load_chunk<VPT, kVec>(gy, p.b.cs, c0, p.cols, r, g, 0.0f, gv);
#pragma unroll
      for (int k = 0; k < VPT; ++k) sum[0] += kLog ? gv[k] : gv[k] * yv[k];
    }
    rows::group_sum<kWarpRows>(sum, smem);
    const float s = sum[0];
    for (int64_t c0 = 0; c0 < p.cols; c0 += chunk) {
      if (!one_chunk) {
        load_chunk<VPT, kVec>(y, p.a.cs, c0, p.cols, r, g, 0.0f, yv);
        load_chunk<VPT, kVec>(gy, p.b.cs, c0, p.cols, r, g, 0.0f, gv);
      }
      float o[VPT];
#pragma unroll
      for (int k = 0; k < VPT; ++k) o[k] = kLog ? gv[k] - expf(yv[k]) * s : yv[k] * (gv[k] - s);
      store_chunk<VPT, kVec>(gx, p.out.cs, c0, p.cols, r, g, o);
      if (one_chunk) break;  // the registers are not needed again
    }
  }
}

struct CrossEntropyParams {
  int64_t rows, cols;
  Mat<const float> logits;
  Mat<float> grad;  // grad_logits (backward)
  const int64_t* target;
  int64_t target_stride;
  const float* weight;  // nullptr: every class weighs 1
  int64_t weight_stride;
  const float* grad_losses;  // backward
  int64_t grad_losses_stride;
  float* losses;  // forward
  int64_t losses_stride;
  float* lse;  // forward
  int64_t lse_stride;
  int64_t ignore_index;
  float one_minus_eps;  // 1 - label_smoothing
  float smooth;         // label_smoothing / C (0: no smoothing term at all)
};

__device__ __forceinline__ float class_weight(const CrossEntropyParams& p, int64_t c) {
  return p.weight ? p.weight[c * p.weight_stride] : 1.0f;
}

template <bool kWarpRows, int VPT, bool kVec>
__global__ void __launch_bounds__(kWarpRows ? rows::kWarpRowThreads : rows::kMaxBlockThreads,
                                  kWarpRows ? 2 : 1)
    cross_entropy_forward_kernel(const CrossEntropyParams p) {
  __shared__ float smem[rows::kReduceSmem];
  using G = RowGroup<kWarpRows>;
  const int r = G::rank(), g = G::size();
  const int64_t chunk = static_cast<int64_t>(VPT) * g;
  const bool one_chunk = kWarpRows || p.cols <= chunk;  // warp rows: always one chunk
  for (int64_t row = G::first_row(); row < p.rows; row += G::row_step()) {
    const float* x = p.logits.data + row * p.logits.rs;
    float v[VPT];
    const math::SoftmaxPart part =
        row_softmax_part<kWarpRows, VPT, kVec>(x, p.logits.cs, p.cols, chunk, r, g, v, smem);
    const float m = part.max;
    const float log_sum = logf(part.sum);
    const int64_t t = p.target[row * p.target_stride];
    const bool valid = t != p.ignore_index;
    const bool bad = valid && (t < 0 || t >= p.cols);
    // sum_c w[c] * (lse - x[c]) for the smoothing term, as the reference forms it: (m - x) + log
    float smooth_sum[1] = {0.0f};
    if (p.smooth != 0.0f && valid && !bad) {  // uniform over the group: depends on the row only
      for (int64_t c0 = 0; c0 < p.cols; c0 += chunk) {
        if (!one_chunk) load_chunk<VPT, kVec>(x, p.logits.cs, c0, p.cols, r, g, -INFINITY, v);
#pragma unroll
        for (int k = 0; k < VPT; ++k) {
          const int64_t c = column<kVec>(c0, k, r, g);
          if (c < p.cols) smooth_sum[0] += class_weight(p, c) * ((m - v[k]) + log_sum);
        }
      }
      rows::group_sum<kWarpRows>(smooth_sum, smem);
    }
    if (r == 0) {
      // A row of only -inf: the reference's x - max is NaN (no columns at all: lse = -inf).
      float lse = m + log_sum;
      if (p.cols > 0 && part.sum == 0.0f) lse = NAN;
      p.lse[row * p.lse_stride] = lse;
      float loss = 0.0f;
      if (bad) {
        loss = NAN;
      } else if (valid) {
        const float nll = (m - x[t * p.logits.cs]) + log_sum;
        loss = p.one_minus_eps * class_weight(p, t) * nll;
        if (p.smooth != 0.0f) loss += p.smooth * smooth_sum[0];
      }
      p.losses[row * p.losses_stride] = loss;
    }
  }
}

template <bool kWarpRows, int VPT, bool kVec>
__global__ void __launch_bounds__(kWarpRows ? rows::kWarpRowThreads : rows::kMaxBlockThreads,
                                  kWarpRows ? 2 : 1)
    cross_entropy_backward_kernel(const CrossEntropyParams p) {
  __shared__ float smem[rows::kReduceSmem];
  using G = RowGroup<kWarpRows>;
  const int r = G::rank(), g = G::size();
  const int64_t chunk = static_cast<int64_t>(VPT) * g;
  const bool one_chunk = kWarpRows || p.cols <= chunk;  // warp rows: always one chunk
  for (int64_t row = G::first_row(); row < p.rows; row += G::row_step()) {
    const float* x = p.logits.data + row * p.logits.rs;
    float* gx = p.grad.data + row * p.grad.rs;
    const int64_t t = p.target[row * p.target_stride];
    const bool valid = t != p.ignore_index;
    const bool bad = valid && (t < 0 || t >= p.cols);
    float o[VPT];
    if (!valid || bad) {  // uniform over the group: depends on the row only
      // ignored rows are 0 whatever their logits (NaN and inf included); bad targets NaN
#pragma unroll
      for (int k = 0; k < VPT; ++k) o[k] = bad ? NAN : 0.0f;
      for (int64_t c0 = 0; c0 < p.cols; c0 += chunk)
        store_chunk<VPT, kVec>(gx, p.grad.cs, c0, p.cols, r, g, o);
      continue;
    }
    const bool weighted_smooth = p.smooth != 0.0f && p.weight != nullptr;
    float v[VPT];
    math::SoftmaxPart part = math::softmax_part_empty();
    float wsum[1] = {0.0f};  // sum(w) over the classes (smoothing with weights only)
    for (int64_t c0 = 0; c0 < p.cols; c0 += chunk) {
      load_chunk<VPT, kVec>(x, p.logits.cs, c0, p.cols, r, g, -INFINITY, v);
      part = math::softmax_part_merge(part, math::softmax_part_of(v));
      if (weighted_smooth)
#pragma unroll
        for (int k = 0; k < VPT; ++k) {
          const int64_t c = column<kVec>(c0, k, r, g);
          if (c < p.cols) wsum[0] += p.weight[c * p.weight_stride];
        }
    }
    part = rows::group_softmax<kWarpRows>(part, smem);
    if (weighted_smooth) rows::group_sum<kWarpRows>(wsum, smem);
    const float w_total = weighted_smooth ? wsum[0] : static_cast<float>(p.cols);
    const float m = part.max;
    const float inv = 1.0f / part.sum;
    const float gl = p.grad_losses[row * p.grad_losses_stride];
    const float a = p.one_minus_eps * class_weight(p, t);
    for (int64_t c0 = 0; c0 < p.cols; c0 += chunk) {
      if (!one_chunk) load_chunk<VPT, kVec>(x, p.logits.cs, c0, p.cols, r, g, -INFINITY, v);
#pragma unroll
      for (int k = 0; k < VPT; ++k) {
        const int64_t c = column<kVec>(c0, k, r, g);
        const float prob = expf(v[k] - m) * inv;
        float grad = a * (prob - (c == t ? 1.0f : 0.0f));
        // the smoothing term only when there is smoothing: 0 * (an infinite weight) is NaN
        if (p.smooth != 0.0f && c < p.cols)
          grad += p.smooth * (prob * w_total - class_weight(p, c));
        o[k] = gl * grad;
      }
      store_chunk<VPT, kVec>(gx, p.grad.cs, c0, p.cols, r, g, o);
      if (one_chunk) break;  // the registers are not needed again
    }
  }
}

template <bool kForward, bool kLog>
struct SoftmaxLauncher : rows::DefaultTiling {
  const SoftmaxParams& p;
  cudaStream_t stream;
  template <bool W, int V, bool Vec>
  void run(unsigned blocks, int threads) const {
    if constexpr (kForward)
      softmax_forward_kernel<W, V, Vec, kLog><<<blocks, threads, 0, stream>>>(p);
    else softmax_backward_kernel<W, V, Vec, kLog><<<blocks, threads, 0, stream>>>(p);
  }
};

template <bool kForward>
struct CrossEntropyLauncher : rows::DefaultTiling {
  const CrossEntropyParams& p;
  cudaStream_t stream;
  template <bool W, int V, bool Vec>
  void run(unsigned blocks, int threads) const {
    if constexpr (kForward)
      cross_entropy_forward_kernel<W, V, Vec><<<blocks, threads, 0, stream>>>(p);
    else cross_entropy_backward_kernel<W, V, Vec><<<blocks, threads, 0, stream>>>(p);
  }
};

CrossEntropyParams ce_params(int64_t rows, int64_t cols, ConstRows logits,
                             const CrossEntropyTargets& t) {
  CrossEntropyParams p{};
  p.rows = rows;
  p.cols = cols;
  p.logits = {logits.data, logits.row_stride, logits.col_stride};
  p.target = t.target.data;
  p.target_stride = t.target.stride;
  p.weight = t.weight.data;
  p.weight_stride = t.weight.stride;
  p.ignore_index = t.ignore_index;
  const double e = t.label_smoothing;
  p.one_minus_eps = static_cast<float>(1.0 - e);
  p.smooth = cols > 0 ? static_cast<float>(e / static_cast<double>(cols)) : 0.0f;
  return p;
}

}  // namespace

cudaError_t launch_softmax_forward(int64_t rows, int64_t cols, ConstRows x, Rows y, bool log,
                                   cudaStream_t stream) {
  if (rows <= 0 || cols <= 0) return cudaSuccess;
  const SoftmaxParams p{rows,
                        cols,
                        {x.data, x.row_stride, x.col_stride},
                        {nullptr, 0, 0},
                        {y.data, y.row_stride, y.col_stride}};
  const bool vec = rows::vec4_rows(x.data, rows, cols, x.row_stride, x.col_stride) &&
                   rows::vec4_rows(y.data, rows, cols, y.row_stride, y.col_stride);
  if (log) rows::dispatch_rows(SoftmaxLauncher<true, true>{{}, p, stream}, rows, cols, vec);
  else rows::dispatch_rows(SoftmaxLauncher<true, false>{{}, p, stream}, rows, cols, vec);
  return cudaGetLastError();
}

cudaError_t launch_softmax_backward(int64_t rows, int64_t cols, ConstRows y, ConstRows grad_y,
                                    Rows grad_x, bool log, cudaStream_t stream) {
  if (rows <= 0 || cols <= 0) return cudaSuccess;
  const SoftmaxParams p{rows,
                        cols,
                        {y.data, y.row_stride, y.col_stride},
                        {grad_y.data, grad_y.row_stride, grad_y.col_stride},
                        {grad_x.data, grad_x.row_stride, grad_x.col_stride}};
  const bool vec = rows::vec4_rows(y.data, rows, cols, y.row_stride, y.col_stride) &&
                   rows::vec4_rows(grad_y.data, rows, cols, grad_y.row_stride, grad_y.col_stride) &&
                   rows::vec4_rows(grad_x.data, rows, cols, grad_x.row_stride, grad_x.col_stride);
  if (log) rows::dispatch_rows(SoftmaxLauncher<false, true>{{}, p, stream}, rows, cols, vec);
  else rows::dispatch_rows(SoftmaxLauncher<false, false>{{}, p, stream}, rows, cols, vec);
  return cudaGetLastError();
}

cudaError_t launch_cross_entropy_forward(int64_t rows, int64_t cols, ConstRows logits,
                                         const CrossEntropyTargets& targets, Strided<float> losses,
                                         Strided<float> lse, cudaStream_t stream) {
  if (rows <= 0) return cudaSuccess;  // cols == 0 still writes lse = -inf and the losses
  CrossEntropyParams p = ce_params(rows, cols, logits, targets);
  p.losses = losses.data;
  p.losses_stride = losses.stride;
  p.lse = lse.data;
  p.lse_stride = lse.stride;
  const bool vec = rows::vec4_rows(logits.data, rows, cols, logits.row_stride, logits.col_stride);
  rows::dispatch_rows(CrossEntropyLauncher<true>{{}, p, stream}, rows, cols, vec);
  return cudaGetLastError();
}

cudaError_t launch_cross_entropy_backward(int64_t rows, int64_t cols, ConstRows logits,
                                          const CrossEntropyTargets& targets,
                                          Strided<const float> grad_losses, Rows grad_logits,
                                          cudaStream_t stream) {
  if (rows <= 0 || cols <= 0) return cudaSuccess;
  CrossEntropyParams p = ce_params(rows, cols, logits, targets);
  p.grad = {grad_logits.data, grad_logits.row_stride, grad_logits.col_stride};
  p.grad_losses = grad_losses.data;
  p.grad_losses_stride = grad_losses.stride;
  const bool vec =
      rows::vec4_rows(logits.data, rows, cols, logits.row_stride, logits.col_stride) &&
      rows::vec4_rows(grad_logits.data, rows, cols, grad_logits.row_stride, grad_logits.col_stride);
  rows::dispatch_rows(CrossEntropyLauncher<false>{{}, p, stream}, rows, cols, vec);
  return cudaGetLastError();
}

}  // namespace pyfastdl::cuda
