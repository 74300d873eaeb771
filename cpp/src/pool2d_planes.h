// The pooling plane kernels, written once and compiled per instruction set (like softmax_rows.h):
// pool2d.cpp, compiled once per instruction set, instantiates Kernels<Isa> with each build's tag
// type, which lives in an anonymous namespace (isa_dispatch.h), so the instantiations are
// distinct functions. Nothing here instantiates a library template (std::vector, ...), whose
// ISA-specific copy the linker could pick for another path.
//
// Work split: the N * C planes over threads (OpenMP through parallel_for). Per plane:
// * forward: each output row is split into the columns whose window lies inside the input
//   (the interior) and the border columns. Interior columns of 2x2 stride-2 windows run a
//   branch-free loop the compiler vectorises (stride-2 loads, compares and blends); everything
//   else walks its clipped window with PyTorch's order and tie rule.
// * backward: the plane's gradient is built in a zeroed buffer -- the output plane itself when
//   it is contiguous, else a per-thread scratch plane copied out at the end -- by scattering
//   each output's gradient into its window (one plane fits in L1/L2 for the course's sizes, so
//   the zeroing and the scatter cost no memory traffic; grad_x is written once).
// * adaptive pooling: per output, its window; row sums of unit-stride rows (and whole planes
//   for global pooling) use kLanes independent partial sums, which vectorise without fast-math.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "isa_dispatch.h"
#include "pyfastdl/parallel.h"
#include "pyfastdl/pool2d.h"

namespace pyfastdl::pool2d_isa {

// One build's plane kernels (Kernels<Isa>::table() below): the functions of pyfastdl/pool2d.h.
struct Table {
  void (*max_pool2d_forward)(View4<const float>, View4<float>, View4<int64_t>, const Pool2dParams&);
  void (*max_pool2d_backward)(View4<const float>, View4<const int64_t>, View4<float>);
  void (*avg_pool2d_forward)(View4<const float>, View4<float>, const Pool2dParams&);
  void (*avg_pool2d_backward)(View4<const float>, View4<float>, const Pool2dParams&);
  void (*adaptive_avg_pool2d_forward)(View4<const float>, View4<float>);
  void (*adaptive_avg_pool2d_backward)(View4<const float>, View4<float>);
  void (*adaptive_max_pool2d_forward)(View4<const float>, View4<float>, View4<int64_t>);
  // Specialised by each build of pool2d.cpp (compiled once per instruction set); for_path()
  // (isa_dispatch.h) picks one.
  template <CpuPath P>
  static const Table& build();
};
PYFASTDL_DECLARE_ISA_BUILDS(Table);

}  // namespace pyfastdl::pool2d_isa

namespace pyfastdl::pool2d_planes {

// Planes are split over threads once a thread gets at least this many input elements.
constexpr int64_t kMinElementsPerThread = 1 << 15;

template <class Isa>
struct Kernels {
  static constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  // Own min/max: std::min would be a library template instantiated with this file's flags.
  static int64_t min_of(int64_t a, int64_t b) { return a < b ? a : b; }
  static int64_t max_of(int64_t a, int64_t b) { return a > b ? a : b; }

  // Heap floats, allocated before any parallel region (so that bad_alloc reaches the caller).
  struct Buffer {
    float* p = nullptr;
    explicit Buffer(int64_t n) : p(n > 0 ? new float[static_cast<size_t>(n)] : nullptr) {}
    ~Buffer() { delete[] p; }
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;
  };

  // Plane `i` (= n * C + c) of a view.
  template <class T>
  static T* plane(const View4<T>& v, int64_t i) {
    const int64_t c = v.shape[1];
    return v.data + (i / c) * v.stride[0] + (i % c) * v.stride[1];
  }

  static bool contiguous_plane(const View4<float>& v) {
    return (v.stride[3] == 1 || v.shape[3] == 1) && (v.stride[2] == v.shape[3] || v.shape[2] == 1);
  }

  // Runs f(plane, scratch) for every plane of `ref`, planes split over threads; scratch holds
  // `scratch_floats` per thread (nullptr when 0).
  template <class F>
  static void for_planes(const int64_t* ref_shape, int64_t work_per_plane, int64_t scratch_floats,
                         F&& f) {
    const int64_t planes = ref_shape[0] * ref_shape[1];
    if (planes <= 0) return;
    const int threads =
        threads_for(planes * (work_per_plane > 0 ? work_per_plane : 1), kMinElementsPerThread);
    Buffer scratch(scratch_floats * (threads > 1 ? threads : 1));
    parallel_for(planes, threads, [&](int64_t begin, int64_t end) {
      float* s = scratch.p ? scratch.p + scratch_floats * omp_get_thread_num() : nullptr;
      for (int64_t i = begin; i < end; ++i) f(i, s);
    });
  }

  // First window position inside the input along one dim (PyTorch: step by the dilation).
  static int64_t first_inside(int64_t start, int64_t dilation) {
    return start >= 0 ? start : start + (-start + dilation - 1) / dilation * dilation;
  }

  // The output columns [lo, hi) whose window lies inside [0, size) (may be empty).
  static void interior(int64_t out, int64_t size, int64_t k, int64_t s, int64_t p, int64_t d,
                       int64_t* lo, int64_t* hi) {
    *lo = (p + s - 1) / s;
    const int64_t last = size - 1 - (k - 1) * d + p;  // the largest window start that fits
    *hi = last < 0 ? 0 : last / s + 1;
    if (*hi > out) *hi = out;
    if (*lo > *hi) *lo = *hi;
  }

  // ---------------------------------------------------------------------- max forward
  // Whole-window max with PyTorch's order: rows, then columns; a NaN is always taken.
  static void max_one(const float* x, const View4<const float>& xv, const Pool2dParams& p,
                      int64_t oh, int64_t ow, float* out, int64_t* index) {
    const int64_t H = xv.shape[2], W = xv.shape[3];
    const int64_t hs = oh * p.stride[0] - p.padding[0], ws = ow * p.stride[1] - p.padding[1];
    const int64_t he = min_of(hs + (p.kernel[0] - 1) * p.dilation[0] + 1, H);
    const int64_t we = min_of(ws + (p.kernel[1] - 1) * p.dilation[1] + 1, W);
    const int64_t h0 = first_inside(hs, p.dilation[0]), w0 = first_inside(ws, p.dilation[1]);
    float m = kNegInf;
    int64_t best = h0 * W + w0;
    for (int64_t h = h0; h < he; h += p.dilation[0])
      for (int64_t w = w0; w < we; w += p.dilation[1]) {
        const float v = x[h * xv.stride[2] + w * xv.stride[3]];
        if (v > m || v != v) {
          m = v;
          best = h * W + w;
        }
      }
    *out = m;
    if (index) *index = best;
  }

  // 2x2 windows, stride 2, columns [lo, hi) of rows r0 and r0 + 1 (unit column stride).
  static void max_2x2_row(const float* r0, const float* r1, int64_t w_first, int64_t lo, int64_t hi,
                          float* out, int64_t* index, int64_t index_base, int64_t W) {
    const float* a0 = r0 + w_first;
    const float* a1 = r1 + w_first;
    const int64_t n = hi - lo;
    if (!index) {
#pragma omp simd
      for (int64_t j = 0; j < n; ++j) {
        float m = a0[2 * j];
        const float b = a0[2 * j + 1], c = a1[2 * j], d = a1[2 * j + 1];
        m = (b > m || b != b) ? b : m;
        m = (c > m || c != c) ? c : m;
        m = (d > m || d != d) ? d : m;
        out[j] = m;
      }
      return;
    }
    const int64_t base = index_base + w_first;
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) {
      float m = a0[2 * j];
      const float b = a0[2 * j + 1], c = a1[2 * j], d = a1[2 * j + 1];
      int64_t k = 0;
      bool t = b > m || b != b;
      m = t ? b : m;
      k = t ? 1 : k;
      t = c > m || c != c;
      m = t ? c : m;
      k = t ? W : k;
      t = d > m || d != d;
      m = t ? d : m;
      k = t ? W + 1 : k;
      out[j] = m;
      index[j] = base + 2 * j + k;
    }
  }

  static bool is_2x2_stride_2(const Pool2dParams& p) {
    return p.kernel[0] == 2 && p.kernel[1] == 2 && p.stride[0] == 2 && p.stride[1] == 2 &&
           p.dilation[0] == 1 && p.dilation[1] == 1;
  }

  static void max_pool2d_forward(View4<const float> x, View4<float> out, View4<int64_t> indices,
                                 const Pool2dParams& p) {
    const int64_t H = x.shape[2], W = x.shape[3], OH = out.shape[2], OW = out.shape[3];
    int64_t lo, hi;
    interior(OW, W, p.kernel[1], p.stride[1], p.padding[1], p.dilation[1], &lo, &hi);
    const bool fast = is_2x2_stride_2(p) && (x.stride[3] == 1 || W == 1) && out.stride[3] == 1 &&
                      (!indices.data || indices.stride[3] == 1);
    for_planes(x.shape, H * W, 0, [&](int64_t i, float*) {
      const float* xp = plane(x, i);
      float* op = plane(out, i);
      int64_t* ip = indices.data ? plane(indices, i) : nullptr;
      for (int64_t oh = 0; oh < OH; ++oh) {
        float* orow = op + oh * out.stride[2];
        int64_t* irow = ip ? ip + oh * indices.stride[2] : nullptr;
        const int64_t hs = oh * 2 - p.padding[0];
        const bool row_inside = hs >= 0 && hs + 1 < H;
        int64_t a = 0, b = 0;  // the fast columns of this row
        if (fast && row_inside) {
          a = lo;
          b = hi;
          max_2x2_row(xp + hs * x.stride[2], xp + (hs + 1) * x.stride[2], 2 * lo - p.padding[1], lo,
                      hi, orow + lo, irow ? irow + lo : nullptr, hs * W, W);
        }
        for (int64_t ow = 0; ow < OW; ++ow) {
          if (ow == a && b > a) {
            ow = b - 1;
            continue;
          }
          max_one(xp, x, p, oh, ow, orow + ow * out.stride[3],
                  irow ? irow + ow * indices.stride[3] : nullptr);
        }
      }
    });
  }

  // ---------------------------------------------------------------------- max backward
  // Copies a contiguous H x W buffer into a strided plane.
  static void store_plane(const float* src, float* dst, const View4<float>& v) {
    const int64_t H = v.shape[2], W = v.shape[3];
    for (int64_t h = 0; h < H; ++h) {
      float* row = dst + h * v.stride[2];
      const float* s = src + h * W;
      if (v.stride[3] == 1) {
        std::memcpy(row, s, static_cast<size_t>(W) * sizeof(float));
      } else {
        for (int64_t w = 0; w < W; ++w) row[w * v.stride[3]] = s[w];
      }
    }
  }

  // Runs scatter(g, plane) with g a zeroed contiguous H x W gradient buffer of plane i of gx,
  // then makes sure it ends up in gx.
  template <class F>
  static void backward_planes(View4<float> gx, int64_t work_per_plane, F&& scatter) {
    const int64_t area = gx.shape[2] * gx.shape[3];
    const bool direct = contiguous_plane(gx);
    for_planes(gx.shape, work_per_plane, direct ? 0 : area, [&](int64_t i, float* scratch) {
      float* dst = plane(gx, i);
      float* g = direct ? dst : scratch;
      std::memset(g, 0, static_cast<size_t>(area) * sizeof(float));
      scatter(g, i);
      if (!direct) store_plane(g, dst, gx);
    });
  }

  static void max_pool2d_backward(View4<const float> gy, View4<const int64_t> idx,
                                  View4<float> gx) {
    const int64_t area = gx.shape[2] * gx.shape[3], OH = gy.shape[2], OW = gy.shape[3];
    backward_planes(gx, area, [&](float* g, int64_t i) {
      const float* gp = plane(gy, i);
      const int64_t* ip = plane(idx, i);
      for (int64_t oh = 0; oh < OH; ++oh) {
        const float* grow = gp + oh * gy.stride[2];
        const int64_t* irow = ip + oh * idx.stride[2];
        for (int64_t ow = 0; ow < OW; ++ow) {
          const int64_t k = irow[ow * idx.stride[3]];
          // Unsigned compare: negative indices are out of range too.
          if (static_cast<uint64_t>(k) < static_cast<uint64_t>(area))
            g[k] += grow[ow * gy.stride[3]];
        }
      }
    });
  }

  // ---------------------------------------------------------------------- avg pooling
  // The window of output oh along one dim, PyTorch's avg_pool2d rule: [start, end) clipped to
  // the input, and its length counted against the padded input.
  struct Span {
    int64_t start, end, padded;
  };
  static Span avg_span(int64_t o, int64_t size, int64_t k, int64_t s, int64_t p) {
    int64_t start = o * s - p;
    int64_t end = min_of(start + k, size + p);
    const int64_t padded = end - start;
    start = max_of(start, 0);
    end = min_of(end, size);
    return {start, end, padded};
  }

  static float avg_divisor(const Span& h, const Span& w, const Pool2dParams& p) {
    if (p.divisor_override) return static_cast<float>(p.divisor_override);
    if (p.count_include_pad) return static_cast<float>(h.padded * w.padded);
    return static_cast<float>((h.end - h.start) * (w.end - w.start));
  }

  static void avg_pool2d_forward(View4<const float> x, View4<float> out, const Pool2dParams& p) {
    const int64_t H = x.shape[2], W = x.shape[3], OH = out.shape[2], OW = out.shape[3];
    int64_t lo, hi;
    interior(OW, W, p.kernel[1], p.stride[1], p.padding[1], 1, &lo, &hi);
    const bool fast = is_2x2_stride_2(p) && (x.stride[3] == 1 || W == 1) && out.stride[3] == 1;
    const float inner_div = p.divisor_override ? static_cast<float>(p.divisor_override) : 4.0f;
    for_planes(x.shape, H * W, 0, [&](int64_t i, float*) {
      const float* xp = plane(x, i);
      float* op = plane(out, i);
      for (int64_t oh = 0; oh < OH; ++oh) {
        float* orow = op + oh * out.stride[2];
        const Span hspan = avg_span(oh, H, p.kernel[0], p.stride[0], p.padding[0]);
        const int64_t hs = oh * p.stride[0] - p.padding[0];
        int64_t a = 0, b = 0;
        if (fast && hs >= 0 && hs + 1 < H) {
          a = lo;
          b = hi;
          const float* r0 = xp + hs * x.stride[2] + 2 * lo - p.padding[1];
          const float* r1 = r0 + x.stride[2];
          float* o = orow + lo;
          const int64_t n = hi - lo;
#pragma omp simd
          for (int64_t j = 0; j < n; ++j)
            o[j] = (((r0[2 * j] + r0[2 * j + 1]) + r1[2 * j]) + r1[2 * j + 1]) / inner_div;
        }
        for (int64_t ow = 0; ow < OW; ++ow) {
          if (ow == a && b > a) {
            ow = b - 1;
            continue;
          }
          const Span wspan = avg_span(ow, W, p.kernel[1], p.stride[1], p.padding[1]);
          float sum = 0.0f;
          for (int64_t h = hspan.start; h < hspan.end; ++h)
            for (int64_t w = wspan.start; w < wspan.end; ++w)
              sum += xp[h * x.stride[2] + w * x.stride[3]];
          const bool empty = hspan.start >= hspan.end || wspan.start >= wspan.end;
          orow[ow * out.stride[3]] = empty ? 0.0f : sum / avg_divisor(hspan, wspan, p);
        }
      }
    });
  }

  static void avg_pool2d_backward(View4<const float> gy, View4<float> gx, const Pool2dParams& p) {
    const int64_t H = gx.shape[2], W = gx.shape[3], OH = gy.shape[2], OW = gy.shape[3];
    int64_t lo, hi;
    interior(OW, W, p.kernel[1], p.stride[1], p.padding[1], 1, &lo, &hi);
    const bool fast = is_2x2_stride_2(p) && (gy.stride[3] == 1 || OW == 1);
    const float inner_div = p.divisor_override ? static_cast<float>(p.divisor_override) : 4.0f;
    backward_planes(gx, H * W, [&](float* g, int64_t i) {
      const float* gp = plane(gy, i);
      for (int64_t oh = 0; oh < OH; ++oh) {
        const float* grow = gp + oh * gy.stride[2];
        const Span hspan = avg_span(oh, H, p.kernel[0], p.stride[0], p.padding[0]);
        const int64_t hs = oh * p.stride[0] - p.padding[0];
        int64_t a = 0, b = 0;
        if (fast && hs >= 0 && hs + 1 < H) {
          a = lo;
          b = hi;
          float* r0 = g + hs * W + 2 * lo - p.padding[1];
          float* r1 = r0 + W;
          const float* gr = grow + lo;
          const int64_t n = hi - lo;
          // Windows of stride 2 do not overlap: each element gets exactly one value.
#pragma omp simd
          for (int64_t j = 0; j < n; ++j) {
            const float v = gr[j] / inner_div;
            r0[2 * j] = v;
            r0[2 * j + 1] = v;
            r1[2 * j] = v;
            r1[2 * j + 1] = v;
          }
        }
        for (int64_t ow = 0; ow < OW; ++ow) {
          if (ow == a && b > a) {
            ow = b - 1;
            continue;
          }
          const Span wspan = avg_span(ow, W, p.kernel[1], p.stride[1], p.padding[1]);
          if (hspan.start >= hspan.end || wspan.start >= wspan.end) continue;
          const float v = grow[ow * gy.stride[3]] / avg_divisor(hspan, wspan, p);
          for (int64_t h = hspan.start; h < hspan.end; ++h)
            for (int64_t w = wspan.start; w < wspan.end; ++w) g[h * W + w] += v;
        }
      }
    });
  }

  // ---------------------------------------------------------------------- adaptive avg
  static int64_t window_start(int64_t o, int64_t size, int64_t out) { return o * size / out; }
  static int64_t window_end(int64_t o, int64_t size, int64_t out) {
    return ((o + 1) * size + out - 1) / out;
  }

  // sum of n contiguous floats: kLanes independent partial sums (vectorised without fast-math).
  static constexpr int kLanes = 16;
  static float sum_span(const float* p, int64_t n) {
    float acc[kLanes] = {};
    int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes)
#pragma omp simd
      for (int j = 0; j < kLanes; ++j) acc[j] += p[i + j];
    float s = 0.0f;
    for (; i < n; ++i) s += p[i];
    for (int j = 0; j < kLanes; ++j) s += acc[j];
    return s;
  }

  // Sum of rows [hs, he) x columns [ws, we) of a plane.
  static float window_sum(const float* xp, const View4<const float>& x, int64_t hs, int64_t he,
                          int64_t ws, int64_t we) {
    const int64_t W = x.shape[3];
    if (x.stride[3] == 1 && ws == 0 && we == W && x.stride[2] == W)  // whole rows: one span
      return sum_span(xp + hs * W, (he - hs) * W);
    float sum = 0.0f;
    for (int64_t h = hs; h < he; ++h) {
      const float* row = xp + h * x.stride[2];
      if (x.stride[3] == 1) {
        sum += sum_span(row + ws, we - ws);
      } else {
        for (int64_t w = ws; w < we; ++w) sum += row[w * x.stride[3]];
      }
    }
    return sum;
  }

  static void adaptive_avg_pool2d_forward(View4<const float> x, View4<float> out) {
    const int64_t H = x.shape[2], W = x.shape[3], OH = out.shape[2], OW = out.shape[3];
    for_planes(x.shape, H * W, 0, [&](int64_t i, float*) {
      const float* xp = plane(x, i);
      float* op = plane(out, i);
      for (int64_t oh = 0; oh < OH; ++oh) {
        const int64_t hs = window_start(oh, H, OH), he = window_end(oh, H, OH);
        for (int64_t ow = 0; ow < OW; ++ow) {
          const int64_t ws = window_start(ow, W, OW), we = window_end(ow, W, OW);
          op[oh * out.stride[2] + ow * out.stride[3]] =
              window_sum(xp, x, hs, he, ws, we) / static_cast<float>((he - hs) * (we - ws));
        }
      }
    });
  }

  // Adaptive max: PyTorch's scan (rows, then columns; the first max, a NaN always taken) over
  // each adaptive window; the index starts at the window's first element.
  static void adaptive_max_pool2d_forward(View4<const float> x, View4<float> out,
                                          View4<int64_t> indices) {
    const int64_t H = x.shape[2], W = x.shape[3], OH = out.shape[2], OW = out.shape[3];
    for_planes(x.shape, H * W, 0, [&](int64_t i, float*) {
      const float* xp = plane(x, i);
      float* op = plane(out, i);
      int64_t* ip = indices.data ? plane(indices, i) : nullptr;
      for (int64_t oh = 0; oh < OH; ++oh) {
        const int64_t hs = window_start(oh, H, OH), he = window_end(oh, H, OH);
        for (int64_t ow = 0; ow < OW; ++ow) {
          const int64_t ws = window_start(ow, W, OW), we = window_end(ow, W, OW);
          float m = kNegInf;
          int64_t best = hs * W + ws;
          for (int64_t h = hs; h < he; ++h) {
            const float* row = xp + h * x.stride[2];
            for (int64_t w = ws; w < we; ++w) {
              const float v = row[w * x.stride[3]];
              if (v > m || v != v) {
                m = v;
                best = h * W + w;
              }
            }
          }
          op[oh * out.stride[2] + ow * out.stride[3]] = m;
          if (ip) ip[oh * indices.stride[2] + ow * indices.stride[3]] = best;
        }
      }
    });
  }

  static void adaptive_avg_pool2d_backward(View4<const float> gy, View4<float> gx) {
    const int64_t H = gx.shape[2], W = gx.shape[3], OH = gy.shape[2], OW = gy.shape[3];
    backward_planes(gx, H * W, [&](float* g, int64_t i) {
      const float* gp = plane(gy, i);
      for (int64_t oh = 0; oh < OH; ++oh) {
        const int64_t hs = window_start(oh, H, OH), he = window_end(oh, H, OH);
        for (int64_t ow = 0; ow < OW; ++ow) {
          const int64_t ws = window_start(ow, W, OW), we = window_end(ow, W, OW);
          const float v =
              gp[oh * gy.stride[2] + ow * gy.stride[3]] / static_cast<float>((he - hs) * (we - ws));
          for (int64_t h = hs; h < he; ++h)
            for (int64_t w = ws; w < we; ++w) g[h * W + w] += v;
        }
      }
    });
  }

  static const pool2d_isa::Table& table() {
    static const pool2d_isa::Table t{max_pool2d_forward,          max_pool2d_backward,
                                     avg_pool2d_forward,          avg_pool2d_backward,
                                     adaptive_avg_pool2d_forward, adaptive_avg_pool2d_backward,
                                     adaptive_max_pool2d_forward};
    return t;
  }
};

}  // namespace pyfastdl::pool2d_planes
