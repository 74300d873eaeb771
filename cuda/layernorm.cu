// Layer normalization over the rows of (M, N) matrices on the GPU, forward and backward.
//
// Tiling (cuda/softmax_rows.cuh): forward as the softmax kernels (DefaultTiling: a warp owns a
// row of up to 1024 values with float4 loads, 512 with scalar loads; a block of up to 512
// threads with 16 values each a longer one, rows past 8192 values read again per pass); the
// backward holds twice the values and their column sums: warps up to 512 values, blocks of up to
// 512 threads with 8 values each (rows past 4096 values read again per pass).
// Forward, a row in registers: the group sums x (mean c = sum / N), then sums x - c and
// (x - c)^2 (d = sum(x - c) / N corrects c's rounding: mean = c + d, var = sum((x - c)^2) / N -
// d^2, the two-pass algorithm in registers); y = ((x - c) - d) * rstd * w + b from the registers.
// Longer rows take the sums around c = x[0] in one read (the shifted-data algorithm) and fall
// back to the two passes when x[0] lies more than 2 standard deviations from the mean.
// Backward: one group sum of three per row, sum(x - mean), sum(gw) and sum(gw * (x - mean))
// (gw = grad_y * w), restores the digits the stored mean lost (delta = sum(x - mean) / N, as the
// reference does) and gives grad_x = rstd * (gw - mean(gw) - xhat * rstd * mean(gw * centered)).
// grad_weight and grad_bias are column sums over rows: each thread keeps the sums of its columns
// over the rows of its group in registers, the warps of a block add theirs in warp order in
// shared memory, each block writes one partial row to a scratch buffer (cudaMallocAsync on the
// stream), and a second kernel adds the blocks' partials in block order: deterministic, no
// atomics. (Rows past 4096 values keep the partials in the scratch rows directly.)
// Reductions run in fixed orders: results do not depend on timing.
// Cost: memory-bound; forward reads x once and writes y (rows up to 8192 values), backward reads
// x and grad_y once (rows up to 4096 values) and writes grad_x, plus 2 * N floats of partials
// per block (at most max(256, M / 128) blocks).
#include <cmath>

#include "launch.cuh"
#include "layernorm_launch.h"
#include "softmax_rows.cuh"

namespace pyfastdl::cuda {
namespace {

using rows::column;
using rows::load_chunk;
using rows::RowGroup;
using rows::store_chunk;

template <class T>
struct Mat {
  T* data;
  int64_t rs, cs;
};

template <class T>
struct Vec {
  T* data;  // nullptr: absent
  int64_t stride;
};

struct ForwardParams {
  int64_t rows, cols;
  Mat<const float> x;
  Mat<float> y;
  Vec<const float> weight, bias;
  Vec<float> mean, rstd;
  float eps;
};

struct BackwardParams {
  int64_t rows, cols;
  Mat<const float> x, gy;
  Mat<float> gx;  // data == nullptr: grad_x not wanted
  Vec<const float> mean, rstd, weight;
  float* partial;  // [gridDim.x][2][cols]: per-block column sums of gy * xhat and gy, or nullptr
};

__device__ __forceinline__ float at(const Vec<const float>& v, int64_t c, float absent) {
  return v.data ? v.data[c * v.stride] : absent;
}

// A parameter vector's values (weight or bias) at the columns this thread holds in the chunk at
// c0 (load_chunk's mapping), `absent` where the vector is absent or past n. kVec: float4 loads
// (the launcher allows kVec only for packed, 16-byte aligned parameters).
template <int VPT, bool kVec>
__device__ __forceinline__ void load_param(const Vec<const float>& v, int64_t c0, int64_t n, int r,
                                           int g, float absent, float (&out)[VPT]) {
  if (v.data) {
    load_chunk<VPT, kVec>(v.data, v.stride, c0, n, r, g, absent, out);
  } else {
#pragma unroll
    for (int k = 0; k < VPT; ++k) out[k] = absent;
  }
}

// The parameters of values 4q..4q+3 of the float4 layout (their columns are consecutive).
template <int VPT>
__device__ __forceinline__ void load_param_quad(const Vec<const float>& v, int64_t c0, int q,
                                                int64_t n, int r, int g, float absent,
                                                float (&out)[4]) {
  load_param<4, true>(v, c0 + static_cast<int64_t>(q) * g * 4, n, r, g, absent, out);
}

// sum(x - c) and sum((x - c)^2) over the row's values at columns < n, for the group.
template <bool kWarpRows, int VPT, bool kVec>
__device__ __forceinline__ void shifted_sums(const float* x, int64_t cs, int64_t n, float c, int r,
                                             int g, float (&s)[2], float* smem) {
  const int64_t chunk = static_cast<int64_t>(VPT) * g;
  s[0] = s[1] = 0.0f;
  float v[VPT];
  for (int64_t c0 = 0; c0 < n; c0 += chunk) {
    load_chunk<VPT, kVec>(x, cs, c0, n, r, g, 0.0f, v);
#pragma unroll
    for (int k = 0; k < VPT; ++k)
      if (column<kVec>(c0, k, r, g) < n) {
        const float d = v[k] - c;
        s[0] += d;
        s[1] += d * d;
      }
  }
  rows::group_sum<kWarpRows>(s, smem);
}

template <bool kWarpRows, int VPT, bool kVec>
__global__ void __launch_bounds__(kWarpRows ? rows::kWarpRowThreads : rows::kMaxBlockThreads, 1)
    layer_norm_forward_kernel(const ForwardParams p) {
  __shared__ float smem[rows::kReduceSmem];
  using G = RowGroup<kWarpRows>;
  const int r = G::rank(), g = G::size();
  const int64_t chunk = static_cast<int64_t>(VPT) * g;
  const bool one_chunk = kWarpRows || p.cols <= chunk;  // warp rows: always one chunk
  const float n = static_cast<float>(p.cols > 0 ? p.cols : 1);
  for (int64_t row = G::first_row(); row < p.rows; row += G::row_step()) {
    const float* x = p.x.data + row * p.x.rs;
    float* y = p.y.data + row * p.y.rs;
    float v[VPT];
    float c;     // the shift the sums are taken around (a float near the mean)
    float s[2];  // sum(x - c), sum((x - c)^2)
    if (one_chunk) {
      load_chunk<VPT, kVec>(x, p.x.cs, 0, p.cols, r, g, 0.0f, v);
      float t[1] = {0.0f};
#pragma unroll
      for (int k = 0; k < VPT; ++k) t[0] += v[k];
      rows::group_sum<kWarpRows>(t, smem);
      c = t[0] / n;
      s[0] = s[1] = 0.0f;
#pragma unroll
      for (int k = 0; k < VPT; ++k)
        if (column<kVec>(0, k, r, g) < p.cols) {
          const float d = v[k] - c;
          s[0] += d;
          s[1] += d * d;
        }
      rows::group_sum<kWarpRows>(s, smem);
    } else {
      // One read around x[0]; good unless x[0] is far from the mean (cancellation in s[1] / n -
      // d^2) or not finite. The decision is uniform: every thread holds the same sums.
      c = x[0];
      bool good = isfinite(c);
      if (good) {
        shifted_sums<kWarpRows, VPT, kVec>(x, p.x.cs, p.cols, c, r, g, s, smem);
        const float d = s[0] / n, var = s[1] / n - d * d;
        good = d * d <= 4.0f * var;
      }
      if (!good) {
        float t[1] = {0.0f};
        for (int64_t c0 = 0; c0 < p.cols; c0 += chunk) {
          load_chunk<VPT, kVec>(x, p.x.cs, c0, p.cols, r, g, 0.0f, v);
#pragma unroll
          for (int k = 0; k < VPT; ++k) t[0] += v[k];
        }
        rows::group_sum<kWarpRows>(t, smem);
        c = t[0] / n;
        shifted_sums<kWarpRows, VPT, kVec>(x, p.x.cs, p.cols, c, r, g, s, smem);
      }
    }
    // d refines c; where it is not finite (an inf or NaN in the row) the mean is c itself (inf,
    // or NaN), and var is NaN either way.
    const float d = s[0] / n;
    const float dd = isfinite(d) ? d : 0.0f;
    float var = s[1] / n - d * d;
    var = var < 0.0f ? 0.0f : var;  // NaN stays NaN
    const float rstd = 1.0f / sqrtf(var + p.eps);
    if (r == 0) {
      p.mean.data[row * p.mean.stride] = c + dd;
      p.rstd.data[row * p.rstd.stride] = rstd;
    }
    for (int64_t c0 = 0; c0 < p.cols; c0 += chunk) {
      if (!one_chunk) load_chunk<VPT, kVec>(x, p.x.cs, c0, p.cols, r, g, 0.0f, v);
      // y = xhat * w + b, w = 1 and b = 0 when absent (as the reference's ones and zeros)
      float o[VPT];
      if constexpr (kVec) {
#pragma unroll
        for (int q = 0; q < VPT / 4; ++q) {
          float w4[4], b4[4];
          load_param_quad<VPT>(p.weight, c0, q, p.cols, r, g, 1.0f, w4);
          load_param_quad<VPT>(p.bias, c0, q, p.cols, r, g, 0.0f, b4);
#pragma unroll
          for (int j = 0; j < 4; ++j)
            o[4 * q + j] = ((v[4 * q + j] - c) - dd) * rstd * w4[j] + b4[j];
        }
      } else {
#pragma unroll
        for (int k = 0; k < VPT; ++k) {
          const int64_t col = column<kVec>(c0, k, r, g);
          const bool in = col < p.cols;
          const float w = in ? at(p.weight, col, 1.0f) : 1.0f,
                      b = in ? at(p.bias, col, 0.0f) : 0.0f;
          o[k] = ((v[k] - c) - dd) * rstd * w + b;
        }
      }
      store_chunk<VPT, kVec>(y, p.y.cs, c0, p.cols, r, g, o);
      if (one_chunk) break;  // the registers are not needed again
    }
  }
}

// The backward holds x, grad_y and (for the column sums) two accumulators per value: warps own
// rows of up to 512 values (16 per lane), blocks at most 512 threads (up to 128 registers each).
constexpr int64_t kBackwardWarpCols = 512;
constexpr int kBackwardMaxThreads = 512;

template <bool kWarpRows, int VPT, bool kVec>
__global__ void __launch_bounds__(kWarpRows ? rows::kWarpRowThreads : kBackwardMaxThreads, 1)
    layer_norm_backward_kernel(const BackwardParams p) {
  __shared__ float smem[rows::kReduceSmem];
  // warp rows: the block's column sums, added warp after warp (a row is one chunk of VPT * 32)
  __shared__ float block_sums[2][kWarpRows ? VPT * 32 : 1];
  using G = RowGroup<kWarpRows>;
  const int r = G::rank(), g = G::size();
  const int64_t chunk = static_cast<int64_t>(VPT) * g;
  const bool one_chunk = kWarpRows || p.cols <= chunk;  // warp rows: always one chunk
  const float n = static_cast<float>(p.cols > 0 ? p.cols : 1);
  const bool want_gx = p.gx.data != nullptr;
  const bool partials = p.partial != nullptr;
  // Register path: this thread's columns are the same in every row of its group.
  float acc_w[VPT], acc_b[VPT];
#pragma unroll
  for (int k = 0; k < VPT; ++k) acc_w[k] = acc_b[k] = 0.0f;
  float* block_partial =
      partials ? p.partial + static_cast<int64_t>(blockIdx.x) * 2 * p.cols : nullptr;
  bool first_row = true;  // chunked path: the block's first row writes its partials, later add
  for (int64_t row = G::first_row(); row < p.rows; row += G::row_step()) {
    const float* x = p.x.data + row * p.x.rs;
    const float* gy = p.gy.data + row * p.gy.rs;
    const float m = p.mean.data[row * p.mean.stride];
    const float rs = p.rstd.data[row * p.rstd.stride];
    float xv[VPT], gv[VPT], wv[VPT];
    float s[3] = {0.0f, 0.0f, 0.0f};  // sum(x - m), sum(gw), sum(gw * (x - m))
    for (int64_t c0 = 0; c0 < p.cols; c0 += chunk) {
      load_chunk<VPT, kVec>(x, p.x.cs, c0, p.cols, r, g, 0.0f, xv);
      load_chunk<VPT, kVec>(gy, p.gy.cs, c0, p.cols, r, g, 0.0f, gv);
      load_param<VPT, kVec>(p.weight, c0, p.cols, r, g, 1.0f, wv);
#pragma unroll
      for (int k = 0; k < VPT; ++k) {
        if (column<kVec>(c0, k, r, g) < p.cols) {
          const float xc = xv[k] - m;
          const float gw = gv[k] * wv[k];
          s[0] += xc;
          s[1] += gw;
          s[2] += gw * xc;
        }
      }
    }
    rows::group_sum<kWarpRows>(s, smem);
    // The stored mean was rounded: delta restores its lost digits (where finite: an infinite x
    // would make every centered value of the row inf - inf).
    float delta = s[0] / n;
    delta = isfinite(delta) ? delta : 0.0f;
    const float a = s[1] / n;
    // sum(gw * ((x - m) - delta)) = s[2] - delta * s[1] (delta is tiny: where sum(gw) is not
    // finite the correction is left out, so that an infinite gw gives the reference's +-inf, not
    // inf - inf); b = rstd * its mean
    const float sum_gc = delta != 0.0f && isfinite(s[1]) ? s[2] - delta * s[1] : s[2];
    const float b = rs * (sum_gc / n);
    if (!want_gx && !partials) continue;
    for (int64_t c0 = 0; c0 < p.cols; c0 += chunk) {
      if (!one_chunk) {
        load_chunk<VPT, kVec>(x, p.x.cs, c0, p.cols, r, g, 0.0f, xv);
        load_chunk<VPT, kVec>(gy, p.gy.cs, c0, p.cols, r, g, 0.0f, gv);
        load_param<VPT, kVec>(p.weight, c0, p.cols, r, g, 1.0f, wv);
      }
      float o[VPT];
#pragma unroll
      for (int k = 0; k < VPT; ++k) {
        const int64_t col = column<kVec>(c0, k, r, g);
        const float xhat = ((xv[k] - m) - delta) * rs;
        o[k] = 0.0f;
        if (col < p.cols) {
          const float gw = gv[k] * wv[k];
          o[k] = rs * (gw - a - xhat * b);
          if (partials) {
            const float dw = gv[k] * xhat;
            if (one_chunk) {
              acc_w[k] += dw;
              acc_b[k] += gv[k];
            } else {
              float* pw = block_partial + col;
              pw[0] = first_row ? dw : pw[0] + dw;
              pw[p.cols] = first_row ? gv[k] : pw[p.cols] + gv[k];
            }
          }
        }
      }
      if (want_gx) store_chunk<VPT, kVec>(p.gx.data + row * p.gx.rs, p.gx.cs, c0, p.cols, r, g, o);
      if (one_chunk) break;  // the registers are not needed again
    }
    first_row = false;
  }
  if (!partials || !one_chunk) return;  // uniform over the block
  if constexpr (kWarpRows) {
    // The warps' column sums added in warp order, then one partial row per block.
    const int warp = threadIdx.x / 32, warps = blockDim.x / 32;
    for (int w = 0; w < warps; ++w) {
      if (warp == w) {
#pragma unroll
        for (int k = 0; k < VPT; ++k) {
          const int64_t col = column<kVec>(0, k, r, 32);
          block_sums[0][col] = (w == 0 ? 0.0f : block_sums[0][col]) + acc_w[k];
          block_sums[1][col] = (w == 0 ? 0.0f : block_sums[1][col]) + acc_b[k];
        }
      }
      __syncthreads();
    }
    for (int64_t col = threadIdx.x; col < p.cols; col += blockDim.x) {
      block_partial[col] = block_sums[0][col];
      block_partial[p.cols + col] = block_sums[1][col];
    }
  } else {
#pragma unroll
    for (int k = 0; k < VPT; ++k) {
      const int64_t col = column<kVec>(0, k, r, g);
      if (col < p.cols) {
        block_partial[col] = acc_w[k];
        block_partial[p.cols + col] = acc_b[k];
      }
    }
  }
}

// grad_weight[j] and grad_bias[j]: the blocks' partials of column j added in block order.
__global__ void column_sums_kernel(int64_t cols, int64_t blocks, const float* partial, float* gw,
                                   int64_t gw_stride, float* gb, int64_t gb_stride) {
  for (int64_t j : grid_stride{cols}) {
    float sw = 0.0f, sb = 0.0f;
    for (int64_t b = 0; b < blocks; ++b) {
      sw += partial[2 * b * cols + j];
      sb += partial[(2 * b + 1) * cols + j];
    }
    if (gw) gw[j * gw_stride] = sw;
    if (gb) gb[j * gb_stride] = sb;
  }
}

struct ForwardLauncher : rows::DefaultTiling {
  const ForwardParams& p;
  cudaStream_t stream;
  template <bool W, int V, bool Vec>
  void run(unsigned blocks, int threads) const {
    layer_norm_forward_kernel<W, V, Vec><<<blocks, threads, 0, stream>>>(p);
  }
};

// Launches the backward with at most max_blocks blocks (the partials' rows), fewer than
// dispatch_rows' one block per 8 rows or per row when that is more.
struct BackwardLauncher
    : rows::Tiling<kBackwardWarpCols, kBackwardWarpCols, 8, kBackwardMaxThreads> {
  const BackwardParams& p;
  unsigned max_blocks;
  cudaStream_t stream;
  template <bool W, int V, bool Vec>
  void run(unsigned blocks, int threads) const {
    const unsigned grid = blocks < max_blocks ? blocks : max_blocks;
    layer_norm_backward_kernel<W, V, Vec><<<grid, threads, 0, stream>>>(p);
  }
};

// True when a parameter vector (or its absence) allows float4 loads: packed, 16-byte aligned.
bool param_vec4(const Strided<const float>& v) {
  return v.data == nullptr || (v.stride == 1 && reinterpret_cast<uintptr_t>(v.data) % 16 == 0);
}

}  // namespace

cudaError_t launch_layer_norm_forward(int64_t rows, int64_t cols, ConstRows x,
                                      Strided<const float> weight, Strided<const float> bias,
                                      Rows y, Strided<float> mean, Strided<float> rstd, float eps,
                                      cudaStream_t stream) {
  if (rows <= 0) return cudaSuccess;  // cols == 0 still writes mean = 0, rstd = 1 / sqrt(eps)
  const ForwardParams p{rows,
                        cols,
                        {x.data, x.row_stride, x.col_stride},
                        {y.data, y.row_stride, y.col_stride},
                        {weight.data, weight.stride},
                        {bias.data, bias.stride},
                        {mean.data, mean.stride},
                        {rstd.data, rstd.stride},
                        eps};
  const bool vec = rows::vec4_rows(x.data, rows, cols, x.row_stride, x.col_stride) &&
                   rows::vec4_rows(y.data, rows, cols, y.row_stride, y.col_stride) &&
                   param_vec4(weight) && param_vec4(bias);
  rows::dispatch_rows(ForwardLauncher{{}, p, stream}, rows, cols, vec);
  return cudaGetLastError();
}

cudaError_t launch_layer_norm_backward(int64_t rows, int64_t cols, ConstRows x, ConstRows grad_y,
                                       Strided<const float> mean, Strided<const float> rstd,
                                       Strided<const float> weight, Rows grad_x,
                                       Strided<float> grad_weight, Strided<float> grad_bias,
                                       cudaStream_t stream) {
  if (cols <= 0) return cudaSuccess;  // nothing to write
  const bool sums = grad_weight.data != nullptr || grad_bias.data != nullptr;
  if (rows <= 0) {  // sums over no rows: zeros
    if (sums)
      column_sums_kernel<<<blocks_for(cols), kThreadsPerBlock, 0, stream>>>(
          cols, 0, nullptr, grad_weight.data, grad_weight.stride, grad_bias.data, grad_bias.stride);
    return cudaGetLastError();
  }
  if (grad_x.data == nullptr && !sums) return cudaSuccess;
  BackwardParams p{rows,
                   cols,
                   {x.data, x.row_stride, x.col_stride},
                   {grad_y.data, grad_y.row_stride, grad_y.col_stride},
                   {grad_x.data, grad_x.row_stride, grad_x.col_stride},
                   {mean.data, mean.stride},
                   {rstd.data, rstd.stride},
                   {weight.data, weight.stride},
                   nullptr};
  bool vec = rows::vec4_rows(x.data, rows, cols, x.row_stride, x.col_stride) &&
             rows::vec4_rows(grad_y.data, rows, cols, grad_y.row_stride, grad_y.col_stride) &&
             param_vec4(weight);
  if (grad_x.data)
    vec = vec && rows::vec4_rows(grad_x.data, rows, cols, grad_x.row_stride, grad_x.col_stride);
  // Blocks: every row its group as usual, except that with column sums at most
  // max(256, rows / 128) (and 2048) blocks, so that the partials (2 * cols floats per block)
  // stay a small fraction of the traffic; the grid never exceeds the groups' rows either way.
  const bool warp_rows = cols <= kBackwardWarpCols;
  int64_t blocks = rows::row_blocks(rows, warp_rows);
  if (sums) {
    int64_t cap = rows / 128 > 256 ? rows / 128 : 256;
    cap = cap < 2048 ? cap : 2048;
    blocks = blocks < cap ? blocks : cap;
    const size_t bytes =
        static_cast<size_t>(blocks) * 2 * static_cast<size_t>(cols) * sizeof(float);
    cudaError_t err = cudaMallocAsync(reinterpret_cast<void**>(&p.partial), bytes, stream);
    if (err != cudaSuccess) return err;
  }
  rows::dispatch_rows(BackwardLauncher{{}, p, static_cast<unsigned>(blocks), stream}, rows, cols,
                      vec);
  cudaError_t err = cudaGetLastError();
  if (sums) {
    if (err == cudaSuccess) {
      column_sums_kernel<<<blocks_for(cols), kThreadsPerBlock, 0, stream>>>(
          cols, blocks, p.partial, grad_weight.data, grad_weight.stride, grad_bias.data,
          grad_bias.stride);
      err = cudaGetLastError();
    }
    const cudaError_t free_err = cudaFreeAsync(p.partial, stream);
    if (err == cudaSuccess) err = free_err;
  }
  return err;
}

}  // namespace pyfastdl::cuda
