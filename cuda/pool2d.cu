// Pooling and upsampling kernels on the GPU: max / avg / adaptive pooling and nearest / bilinear
// upsampling of NCHW float32 views with any strides (the rules of pyfastdl/pool2d.h and of
// pyfastdl/kernels/reference/pool2d.py, which these follow to the element).
//
// Who owns what:
// * Forward kernels: one thread per OUTPUT element (flat index in C order, so neighbouring
//   threads write neighbouring columns), grid-stride. It reads its window and writes its output
//   (and index) once.
// * Backward kernels of avg / adaptive avg / upsampling: one thread per INPUT element, which
//   gathers the outputs whose window (or source point) holds it, in a fixed order, and writes
//   its gradient once: no atomics, deterministic, every element written (zero when no window
//   holds it). The output range is closed-form for avg pooling and adaptive windows and found
//   by binary search for upsampling (the source index is monotone in the output index).
// * max_pool2d_backward has only the indices (it is also adaptive max pooling's backward), so
//   it cannot gather: one WARP per (n, c) plane zeroes the plane, then walks its outputs 32 at a
//   time in order; lanes that hit the same input element (overlapping windows) are grouped with
//   __match_any_sync and the group's lowest lane adds the group's values to it one by one in
//   output order. Each plane has one writer and the order of a sequential scatter (output by
//   output): deterministic, no float atomics, and bit-equal to the CPU kernel.
//
// All kernels are memory bound; index math is int64 (sizes past 2^31 elements are allowed).
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>

#include "launch.cuh"
#include "pool2d_launch.h"

namespace pyfastdl::cuda {
namespace {

constexpr unsigned kFullMask = 0xffffffffu;

// (n, c, h, w) of flat index e of a (N, C, H, W) shape in C order.
struct Pos {
  int64_t n, c, h, w;
};

__device__ inline Pos unflatten(int64_t e, const int64_t shape[4]) {
  Pos p;
  p.w = e % shape[3];
  e /= shape[3];
  p.h = e % shape[2];
  e /= shape[2];
  p.c = e % shape[1];
  p.n = e / shape[1];
  return p;
}

template <class T>
__device__ inline T* plane_of(const View4<T>& v, int64_t n, int64_t c) {
  return v.data + n * v.stride[0] + c * v.stride[1];
}

template <class T>
__device__ inline T& at(const View4<T>& v, const Pos& p) {
  return v.data[p.n * v.stride[0] + p.c * v.stride[1] + p.h * v.stride[2] + p.w * v.stride[3]];
}

template <class T>
__host__ __device__ inline int64_t numel(const View4<T>& v) {
  return v.shape[0] * v.shape[1] * v.shape[2] * v.shape[3];
}

// ------------------------------------------------------------------------------ max pooling
// The reference's rule: first maximum in row-major window order, padding skipped, a NaN always
// taken (so the last NaN wins). Before any element is taken the index is the window's first
// row / column inside the input (past it when there is none: -inf with that index).
__global__ void max_pool_forward_kernel(View4<const float> x, View4<float> out,
                                        View4<int64_t> indices, Pool2dParams p) {
  const int64_t H = x.shape[2], W = x.shape[3];
  const int64_t sh = x.stride[2], sw = x.stride[3];
  for (int64_t e : grid_stride{numel(out)}) {
    const Pos o = unflatten(e, out.shape);
    const float* plane = plane_of(x, o.n, o.c);
    const int64_t h0 = o.h * p.stride[0] - p.padding[0];
    const int64_t w0 = o.w * p.stride[1] - p.padding[1];
    const int64_t dh = p.dilation[0], dw = p.dilation[1];
    const int64_t fh = h0 < 0 ? h0 + (-h0 + dh - 1) / dh * dh : h0;
    const int64_t fw = w0 < 0 ? w0 + (-w0 + dw - 1) / dw * dw : w0;
    float best = -INFINITY;
    int64_t arg = fh * W + fw;
    for (int64_t i = 0; i < p.kernel[0]; ++i) {
      const int64_t r = h0 + i * dh;
      if (r < 0) continue;
      if (r >= H) break;
      for (int64_t j = 0; j < p.kernel[1]; ++j) {
        const int64_t col = w0 + j * dw;
        if (col < 0) continue;
        if (col >= W) break;
        const float v = plane[r * sh + col * sw];
        if (v > best || isnan(v)) {
          best = v;
          arg = r * W + col;
        }
      }
    }
    at(out, o) = best;
    if (indices.data) at(indices, o) = arg;
  }
}

// Adaptive window of output o over `size` inputs: [floor(o * size / out), ceil((o+1) size / out)).
__device__ inline int64_t adaptive_start(int64_t o, int64_t size, int64_t out) {
  return o * size / out;
}
__device__ inline int64_t adaptive_end(int64_t o, int64_t size, int64_t out) {
  return ((o + 1) * size + out - 1) / out;
}

__global__ void adaptive_max_forward_kernel(View4<const float> x, View4<float> out,
                                            View4<int64_t> indices) {
  const int64_t H = x.shape[2], W = x.shape[3], OH = out.shape[2], OW = out.shape[3];
  const int64_t sh = x.stride[2], sw = x.stride[3];
  for (int64_t e : grid_stride{numel(out)}) {
    const Pos o = unflatten(e, out.shape);
    const float* plane = plane_of(x, o.n, o.c);
    const int64_t hs = adaptive_start(o.h, H, OH), he = adaptive_end(o.h, H, OH);
    const int64_t ws = adaptive_start(o.w, W, OW), we = adaptive_end(o.w, W, OW);
    float best = -INFINITY;
    int64_t arg = hs * W + ws;  // all -inf: the first element (argmax's answer)
    for (int64_t r = hs; r < he; ++r)
      for (int64_t col = ws; col < we; ++col) {
        const float v = plane[r * sh + col * sw];
        if (v > best || isnan(v)) {
          best = v;
          arg = r * W + col;
        }
      }
    at(out, o) = best;
    if (indices.data) at(indices, o) = arg;
  }
}

// One warp per plane (see the header). Every lane runs the same plane loop and the same chunk
// loop (trip counts depend on the warp only), so the full-mask warp intrinsics are safe.
__global__ void max_pool_backward_kernel(View4<const float> gy, View4<const int64_t> idx,
                                         View4<float> gx) {
  const int lane = static_cast<int>(threadIdx.x) & 31;
  const int64_t warp = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) >> 5;
  const int64_t warps = (static_cast<int64_t>(gridDim.x) * blockDim.x) >> 5;
  const int64_t C = gx.shape[1], W = gx.shape[3], area = gx.shape[2] * W;
  const int64_t OW = gy.shape[3], outs = gy.shape[2] * OW;
  const int64_t gs2 = gx.stride[2], gs3 = gx.stride[3];
  for (int64_t plane = warp; plane < gx.shape[0] * C; plane += warps) {
    const int64_t n = plane / C, c = plane % C;
    float* g = plane_of(gx, n, c);
    for (int64_t e = lane; e < area; e += 32) g[e / W * gs2 + e % W * gs3] = 0.0f;
    __syncwarp();  // the zeros are visible to every lane before any lane adds
    const float* dy = plane_of(gy, n, c);
    const int64_t* ix = plane_of(idx, n, c);
    for (int64_t base = 0; base < outs; base += 32) {
      const int64_t o = base + lane;
      long long target = -1;  // the input element this lane adds to; -1: none
      float v = 0.0f;
      if (o < outs) {
        const int64_t oh = o / OW, ow = o % OW;
        const int64_t k = ix[oh * idx.stride[2] + ow * idx.stride[3]];
        if (k >= 0 && k < area) {
          target = k;
          v = dy[oh * gy.stride[2] + ow * gy.stride[3]];
        }
      }
      const unsigned group = __match_any_sync(kFullMask, target);
      const bool leader = target >= 0 && lane == __ffs(static_cast<int>(group)) - 1;
      // The leader adds its group's values one by one in lane (= output) order onto the
      // element, the order of a sequential scatter; the other lanes' sums are discarded.
      float* dst = leader ? g + target / W * gs2 + target % W * gs3 : nullptr;
      float acc = leader ? *dst : 0.0f;
      if (__any_sync(kFullMask, __popc(group) > 1)) {
        for (int b = 0; b < 32; ++b) {
          const float vb = __shfl_sync(kFullMask, v, b);
          if ((group >> b) & 1u) acc += vb;
        }
      } else {
        acc += v;
      }
      if (leader) *dst = acc;
      __syncwarp();  // this chunk's adds land before the next chunk reads them
    }
  }
}

// ------------------------------------------------------------------------------ avg pooling
// Window of output o along one dim: [start, end) clipped to the padded input; `inside` the part
// in the input. The divisor counts the clipped window (count_include_pad) or its inside part.
struct AvgSpan {
  int64_t start, end, lo, hi;  // window [start, end) in padded coordinates, [lo, hi) inside
};

__device__ inline AvgSpan avg_span(int64_t o, int64_t size, int64_t k, int64_t s, int64_t pad) {
  AvgSpan a;
  a.start = o * s - pad;
  a.end = min(a.start + k, size + pad);
  a.lo = max(a.start, int64_t{0});
  a.hi = min(a.end, size);
  return a;
}

__device__ inline float avg_divisor(const AvgSpan& r, const AvgSpan& c, const Pool2dParams& p) {
  if (p.divisor_override) return static_cast<float>(p.divisor_override);
  if (p.count_include_pad) return static_cast<float>((r.end - r.start) * (c.end - c.start));
  return static_cast<float>((r.hi - r.lo) * (c.hi - c.lo));
}

__global__ void avg_pool_forward_kernel(View4<const float> x, View4<float> out, Pool2dParams p) {
  const int64_t H = x.shape[2], W = x.shape[3];
  const int64_t sh = x.stride[2], sw = x.stride[3];
  for (int64_t e : grid_stride{numel(out)}) {
    const Pos o = unflatten(e, out.shape);
    const float* plane = plane_of(x, o.n, o.c);
    const AvgSpan r = avg_span(o.h, H, p.kernel[0], p.stride[0], p.padding[0]);
    const AvgSpan c = avg_span(o.w, W, p.kernel[1], p.stride[1], p.padding[1]);
    float sum = 0.0f;  // row-major window order, as the reference adds
    for (int64_t i = r.lo; i < r.hi; ++i)
      for (int64_t j = c.lo; j < c.hi; ++j) sum += plane[i * sh + j * sw];
    at(out, o) = sum / avg_divisor(r, c, p);
  }
}

// Outputs along one dim whose window [o*s - pad, o*s - pad + k) holds input i: [lo, hi].
__device__ inline void windows_holding(int64_t i, int64_t k, int64_t s, int64_t pad, int64_t out,
                                       int64_t* lo, int64_t* hi) {
  const int64_t q = i + pad;  // >= 0
  *lo = q < k ? 0 : (q - k) / s + 1;
  *hi = min(q / s, out - 1);
}

__global__ void avg_pool_backward_kernel(View4<const float> gy, View4<float> gx, Pool2dParams p) {
  const int64_t H = gx.shape[2], W = gx.shape[3], OH = gy.shape[2], OW = gy.shape[3];
  for (int64_t e : grid_stride{numel(gx)}) {
    const Pos x = unflatten(e, gx.shape);
    const float* dy = plane_of(gy, x.n, x.c);
    int64_t oh_lo, oh_hi, ow_lo, ow_hi;
    windows_holding(x.h, p.kernel[0], p.stride[0], p.padding[0], OH, &oh_lo, &oh_hi);
    windows_holding(x.w, p.kernel[1], p.stride[1], p.padding[1], OW, &ow_lo, &ow_hi);
    // The reference adds window element (i, j) of every output in (i, j) order: for one input
    // element that is the outputs in decreasing (oh, ow).
    float sum = 0.0f;
    for (int64_t oh = oh_hi; oh >= oh_lo; --oh) {
      const AvgSpan r = avg_span(oh, H, p.kernel[0], p.stride[0], p.padding[0]);
      for (int64_t ow = ow_hi; ow >= ow_lo; --ow) {
        const AvgSpan c = avg_span(ow, W, p.kernel[1], p.stride[1], p.padding[1]);
        sum += dy[oh * gy.stride[2] + ow * gy.stride[3]] / avg_divisor(r, c, p);
      }
    }
    at(gx, x) = sum;
  }
}

// ------------------------------------------------------------------------------ adaptive avg
__global__ void adaptive_avg_forward_kernel(View4<const float> x, View4<float> out) {
  const int64_t H = x.shape[2], W = x.shape[3], OH = out.shape[2], OW = out.shape[3];
  const int64_t sh = x.stride[2], sw = x.stride[3];
  for (int64_t e : grid_stride{numel(out)}) {
    const Pos o = unflatten(e, out.shape);
    const float* plane = plane_of(x, o.n, o.c);
    const int64_t hs = adaptive_start(o.h, H, OH), he = adaptive_end(o.h, H, OH);
    const int64_t ws = adaptive_start(o.w, W, OW), we = adaptive_end(o.w, W, OW);
    float sum = 0.0f;
    for (int64_t r = hs; r < he; ++r)
      for (int64_t col = ws; col < we; ++col) sum += plane[r * sh + col * sw];
    at(out, o) = sum / static_cast<float>((he - hs) * (we - ws));
  }
}

// Adaptive windows along one dim holding input i: o in [floor(i * out / size),
// ceil((i + 1) * out / size) - 1]; the bounds are widened by one and each tested exactly.
__device__ inline void adaptive_holding(int64_t i, int64_t size, int64_t out, int64_t* lo,
                                        int64_t* hi) {
  *lo = max(i * out / size - 1, int64_t{0});
  *hi = min(((i + 1) * out + size - 1) / size, out - 1);
}

__global__ void adaptive_avg_backward_kernel(View4<const float> gy, View4<float> gx) {
  const int64_t H = gx.shape[2], W = gx.shape[3], OH = gy.shape[2], OW = gy.shape[3];
  for (int64_t e : grid_stride{numel(gx)}) {
    const Pos x = unflatten(e, gx.shape);
    const float* dy = plane_of(gy, x.n, x.c);
    int64_t oh_lo, oh_hi, ow_lo, ow_hi;
    adaptive_holding(x.h, H, OH, &oh_lo, &oh_hi);
    adaptive_holding(x.w, W, OW, &ow_lo, &ow_hi);
    float sum = 0.0f;  // outputs in increasing (oh, ow), the reference's order
    for (int64_t oh = oh_lo; oh <= oh_hi; ++oh) {
      const int64_t hs = adaptive_start(oh, H, OH), he = adaptive_end(oh, H, OH);
      if (x.h < hs || x.h >= he) continue;
      for (int64_t ow = ow_lo; ow <= ow_hi; ++ow) {
        const int64_t ws = adaptive_start(ow, W, OW), we = adaptive_end(ow, W, OW);
        if (x.w < ws || x.w >= we) continue;
        const float size = static_cast<float>((he - hs) * (we - ws));
        sum += dy[oh * gy.stride[2] + ow * gy.stride[3]] / size;
      }
    }
    at(gx, x) = sum;
  }
}

// ------------------------------------------------------------------------------ upsampling
// Explicit-rounding intrinsics (__fmul_rn, ...) keep the compiler from contracting the source
// point math into FMAs: the reference rounds every step, and floor() of the source point must
// agree to the last bit.
__device__ inline int64_t nearest_source(const NearestAxis& a, int64_t dst) {
  if (!a.exact) {
    if (a.out == a.in) return dst;
    if (a.out == 2 * a.in) return dst >> 1;
  }
  const int64_t src =
      a.exact ? static_cast<int64_t>(floor((static_cast<double>(dst) + 0.5) * a.scale))
              : static_cast<int64_t>(floorf(__fmul_rn(static_cast<float>(dst), a.scale)));
  return min(src, a.in - 1);
}

struct Lerp {
  int64_t i0, i1;
  float l0, l1;
};

__device__ inline Lerp lerp_at(const LinearAxis& a, int64_t dst) {
  if (a.out == a.in) return {dst, dst, 1.0f, 0.0f};
  const float d = static_cast<float>(dst);
  const float src = a.align_corners
                        ? __fmul_rn(d, a.scale)
                        : fmaxf(__fsub_rn(__fmul_rn(a.scale, __fadd_rn(d, 0.5f)), 0.5f), 0.0f);
  // src >= 0, so truncation is floor; the clamp only guards scales that overshoot the input.
  const int64_t i0 = min(static_cast<int64_t>(src), a.in - 1);
  const float l1 = fminf(fmaxf(__fsub_rn(src, static_cast<float>(i0)), 0.0f), 1.0f);
  return {i0, min(i0 + 1, a.in - 1), __fsub_rn(1.0f, l1), l1};
}

// First output index in [0, out) whose source (a monotone function of it) is >= target.
template <class Source>
__device__ inline int64_t first_at_least(int64_t out, int64_t target, Source source) {
  int64_t lo = 0, hi = out;
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (source(mid) < target) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

__global__ void nearest_forward_kernel(View4<const float> x, View4<float> out, NearestAxis rows,
                                       NearestAxis cols) {
  for (int64_t e : grid_stride{numel(out)}) {
    const Pos o = unflatten(e, out.shape);
    const Pos s{o.n, o.c, nearest_source(rows, o.h), nearest_source(cols, o.w)};
    at(out, o) = at(x, s);
  }
}

__global__ void nearest_backward_kernel(View4<const float> gy, View4<float> gx, NearestAxis rows,
                                        NearestAxis cols) {
  auto row_src = [&](int64_t d) { return nearest_source(rows, d); };
  auto col_src = [&](int64_t d) { return nearest_source(cols, d); };
  for (int64_t e : grid_stride{numel(gx)}) {
    const Pos x = unflatten(e, gx.shape);
    const float* dy = plane_of(gy, x.n, x.c);
    // The outputs that copied this element: contiguous ranges, the source being monotone.
    const int64_t oh0 = first_at_least(rows.out, x.h, row_src);
    const int64_t oh1 = first_at_least(rows.out, x.h + 1, row_src);
    const int64_t ow0 = first_at_least(cols.out, x.w, col_src);
    const int64_t ow1 = first_at_least(cols.out, x.w + 1, col_src);
    float sum = 0.0f;
    for (int64_t oh = oh0; oh < oh1; ++oh)
      for (int64_t ow = ow0; ow < ow1; ++ow) sum += dy[oh * gy.stride[2] + ow * gy.stride[3]];
    at(gx, x) = sum;
  }
}

__global__ void bilinear_forward_kernel(View4<const float> x, View4<float> out, LinearAxis rows,
                                        LinearAxis cols) {
  for (int64_t e : grid_stride{numel(out)}) {
    const Pos o = unflatten(e, out.shape);
    const float* plane = plane_of(x, o.n, o.c);
    const Lerp a = lerp_at(rows, o.h), b = lerp_at(cols, o.w);
    const float* r0 = plane + a.i0 * x.stride[2];
    const float* r1 = plane + a.i1 * x.stride[2];
    const int64_t c0 = b.i0 * x.stride[3], c1 = b.i1 * x.stride[3];
    const float top = b.l0 * r0[c0] + b.l1 * r0[c1];
    const float bottom = b.l0 * r1[c0] + b.l1 * r1[c1];
    at(out, o) = a.l0 * top + a.l1 * bottom;
  }
}

// Weight of source index i in output d's interpolation (both taps may be i at the edge).
__device__ inline float tap_weight(const Lerp& t, int64_t i) {
  return (t.i0 == i ? t.l0 : 0.0f) + (t.i1 == i ? t.l1 : 0.0f);
}

__global__ void bilinear_backward_kernel(View4<const float> gy, View4<float> gx, LinearAxis rows,
                                         LinearAxis cols) {
  auto row_i0 = [&](int64_t d) { return lerp_at(rows, d).i0; };
  auto col_i0 = [&](int64_t d) { return lerp_at(cols, d).i0; };
  for (int64_t e : grid_stride{numel(gx)}) {
    const Pos x = unflatten(e, gx.shape);
    const float* dy = plane_of(gy, x.n, x.c);
    // Outputs that tap this element have i0 in {i - 1, i} (i1 = min(i0 + 1, in - 1)); i0 is
    // monotone in the output index, so they form one range per dim.
    const int64_t oh0 = first_at_least(rows.out, x.h - 1, row_i0);
    const int64_t oh1 = first_at_least(rows.out, x.h + 1, row_i0);
    const int64_t ow0 = first_at_least(cols.out, x.w - 1, col_i0);
    const int64_t ow1 = first_at_least(cols.out, x.w + 1, col_i0);
    float sum = 0.0f;
    for (int64_t oh = oh0; oh < oh1; ++oh) {
      const float wh = tap_weight(lerp_at(rows, oh), x.h);
      float row = 0.0f;
      for (int64_t ow = ow0; ow < ow1; ++ow) {
        const float ww = tap_weight(lerp_at(cols, ow), x.w);
        row += ww * dy[oh * gy.stride[2] + ow * gy.stride[3]];
      }
      sum += wh * row;
    }
    at(gx, x) = sum;
  }
}

}  // namespace

// ------------------------------------------------------------------------------ launchers
cudaError_t max_pool2d_forward(View4<const float> x, View4<float> out, View4<int64_t> indices,
                               const Pool2dParams& p, cudaStream_t stream) {
  const int64_t n = numel(out);
  if (n == 0) return cudaSuccess;
  max_pool_forward_kernel<<<blocks_for(n), kThreadsPerBlock, 0, stream>>>(x, out, indices, p);
  return cudaGetLastError();
}

cudaError_t max_pool2d_backward(View4<const float> grad_out, View4<const int64_t> indices,
                                View4<float> grad_x, cudaStream_t stream) {
  if (numel(grad_x) == 0) return cudaSuccess;
  const int64_t planes = grad_x.shape[0] * grad_x.shape[1];
  max_pool_backward_kernel<<<blocks_for(planes * 32), kThreadsPerBlock, 0, stream>>>(
      grad_out, indices, grad_x);
  return cudaGetLastError();
}

cudaError_t avg_pool2d_forward(View4<const float> x, View4<float> out, const Pool2dParams& p,
                               cudaStream_t stream) {
  const int64_t n = numel(out);
  if (n == 0) return cudaSuccess;
  avg_pool_forward_kernel<<<blocks_for(n), kThreadsPerBlock, 0, stream>>>(x, out, p);
  return cudaGetLastError();
}

cudaError_t avg_pool2d_backward(View4<const float> grad_out, View4<float> grad_x,
                                const Pool2dParams& p, cudaStream_t stream) {
  const int64_t n = numel(grad_x);
  if (n == 0) return cudaSuccess;
  avg_pool_backward_kernel<<<blocks_for(n), kThreadsPerBlock, 0, stream>>>(grad_out, grad_x, p);
  return cudaGetLastError();
}

cudaError_t adaptive_avg_pool2d_forward(View4<const float> x, View4<float> out,
                                        cudaStream_t stream) {
  const int64_t n = numel(out);
  if (n == 0) return cudaSuccess;
  adaptive_avg_forward_kernel<<<blocks_for(n), kThreadsPerBlock, 0, stream>>>(x, out);
  return cudaGetLastError();
}

cudaError_t adaptive_avg_pool2d_backward(View4<const float> grad_out, View4<float> grad_x,
                                         cudaStream_t stream) {
  const int64_t n = numel(grad_x);
  if (n == 0) return cudaSuccess;
  adaptive_avg_backward_kernel<<<blocks_for(n), kThreadsPerBlock, 0, stream>>>(grad_out, grad_x);
  return cudaGetLastError();
}

cudaError_t adaptive_max_pool2d_forward(View4<const float> x, View4<float> out,
                                        View4<int64_t> indices, cudaStream_t stream) {
  const int64_t n = numel(out);
  if (n == 0) return cudaSuccess;
  adaptive_max_forward_kernel<<<blocks_for(n), kThreadsPerBlock, 0, stream>>>(x, out, indices);
  return cudaGetLastError();
}

cudaError_t upsample_nearest2d_forward(View4<const float> x, View4<float> out, NearestAxis rows,
                                       NearestAxis cols, cudaStream_t stream) {
  const int64_t n = numel(out);
  if (n == 0) return cudaSuccess;
  nearest_forward_kernel<<<blocks_for(n), kThreadsPerBlock, 0, stream>>>(x, out, rows, cols);
  return cudaGetLastError();
}

cudaError_t upsample_nearest2d_backward(View4<const float> grad_out, View4<float> grad_x,
                                        NearestAxis rows, NearestAxis cols, cudaStream_t stream) {
  const int64_t n = numel(grad_x);
  if (n == 0) return cudaSuccess;
  nearest_backward_kernel<<<blocks_for(n), kThreadsPerBlock, 0, stream>>>(grad_out, grad_x, rows,
                                                                          cols);
  return cudaGetLastError();
}

cudaError_t upsample_bilinear2d_forward(View4<const float> x, View4<float> out, LinearAxis rows,
                                        LinearAxis cols, cudaStream_t stream) {
  const int64_t n = numel(out);
  if (n == 0) return cudaSuccess;
  bilinear_forward_kernel<<<blocks_for(n), kThreadsPerBlock, 0, stream>>>(x, out, rows, cols);
  return cudaGetLastError();
}

cudaError_t upsample_bilinear2d_backward(View4<const float> grad_out, View4<float> grad_x,
                                         LinearAxis rows, LinearAxis cols, cudaStream_t stream) {
  const int64_t n = numel(grad_x);
  if (n == 0) return cudaSuccess;
  bilinear_backward_kernel<<<blocks_for(n), kThreadsPerBlock, 0, stream>>>(grad_out, grad_x, rows,
                                                                           cols);
  return cudaGetLastError();
}

}  // namespace pyfastdl::cuda
