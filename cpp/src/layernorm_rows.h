// The layer normalization row kernels, written once and compiled per instruction set.
//
// layernorm.cpp, compiled once per instruction set, instantiates Kernels<Isa> with each build's
// tag type, which lives in an anonymous namespace (isa_dispatch.h), so the instantiations are
// distinct functions (no ODR clash between differently compiled copies),
// and nothing here instantiates a library template (std::vector, ...) for the same reason.
// Vectorisation without -ffast-math: sums keep kLanes independent float partials (one 512-bit
// register, or two 256-bit / four 128-bit ones), flushed to double every kBlock values.
// The math and the memory traffic are stated in pyfastdl/layernorm.h.
#pragma once

#include <omp.h>

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "isa_dispatch.h"
#include "pyfastdl/layernorm.h"
#include "pyfastdl/parallel.h"
#include "row_views.h"

namespace pyfastdl::layernorm_isa {

// One build's row kernels (Kernels<Isa>::table() below): the functions of pyfastdl/layernorm.h.
struct Table {
  void (*forward)(int64_t, int64_t, ConstRows, const float*, const float*, Rows, Strided<float>,
                  Strided<float>, float);
  void (*backward)(int64_t, int64_t, ConstRows, ConstRows, Strided<const float>,
                   Strided<const float>, const float*, Rows, Strided<float>, Strided<float>);
  // Specialised by each build of layernorm.cpp (compiled once per instruction set); for_path()
  // (isa_dispatch.h) picks one.
  template <CpuPath P>
  static const Table& build();
};
PYFASTDL_DECLARE_ISA_BUILDS(Table);

}  // namespace pyfastdl::layernorm_isa

namespace pyfastdl::layernorm_rows {

constexpr int kLanes = 16;
// Values summed in float lanes before the partial goes to a double (bounds the rounding error).
constexpr int64_t kBlock = 1024;
// Rows up to this long go through the backward two at a time (the partial column sums are then
// read and written once per pair; longer rows gain nothing and crowd L1).
constexpr int64_t kPairMaxCols = 512;
// Rows are split over threads once a thread gets at least this many values.
constexpr int64_t kMinElementsPerThread = 1 << 14;

template <class Isa>
struct Kernels : row_views::RowViews<Isa> {
  // load / target / store: strided rows as contiguous ones; Buffer: heap scratch (zeroed).
  using Views = row_views::RowViews<Isa>;
  using Views::load, Views::store, Views::target;
  using Buffer = row_views::HeapFloats<Isa, /*Zeroed=*/true>;

  // The sum of the kLanes partials, as a tree (vectorisable, short dependency chain).
  static double lanes_total(float* acc) {
    for (int w = kLanes / 2; w >= 1; w /= 2)
      for (int j = 0; j < w; ++j) acc[j] += acc[j + w];
    return acc[0];
  }

  // s1 = sum(x - shift), s2 = sum((x - shift)^2).
  static void moments(const float* x, int64_t n, float shift, double* s1, double* s2) {
    double t1 = 0.0, t2 = 0.0;
    for (int64_t b = 0; b < n; b += kBlock) {
      const int64_t e = b + kBlock < n ? b + kBlock : n;
      float a1[kLanes] = {}, a2[kLanes] = {};
      int64_t i = b;
      for (; i + kLanes <= e; i += kLanes)
#pragma omp simd
        for (int j = 0; j < kLanes; ++j) {
          const float c = x[i + j] - shift;
          a1[j] += c;
          a2[j] += c * c;
        }
      for (int j = 0; i < e; ++i, ++j) {
        const float c = x[i] - shift;
        a1[j] += c;
        a2[j] += c * c;
      }
      t1 += lanes_total(a1);
      t2 += lanes_total(a2);
    }
    *s1 = t1;
    *s2 = t2;
  }

  // mean and variance of a row. One pass around shift = x[0] (the shifted-data algorithm): its
  // sums lose about log2(1 + d^2 / var) bits to cancellation, d = mean - x[0]; when x[0] lies
  // more than ~2 standard deviations off (d^2 > 4 var), a second pass around the mean found
  // restores full accuracy, as a two-pass algorithm would. Rows far from zero (1e4 + 1e-2 *
  // noise) are exact either way: every x - shift is exact.
  static void row_stats(const float* x, int64_t n, float* shift, double* d, double* var) {
    const double inv_n = 1.0 / static_cast<double>(n);
    float k = x[0];
    double s1, s2;
    moments(x, n, k, &s1, &s2);
    double dk = s1 * inv_n, v = s2 * inv_n - dk * dk;
    if (!(dk * dk <= 4.0 * v)) {  // also when v <= 0 or NaN
      k = static_cast<float>(static_cast<double>(k) + dk);
      moments(x, n, k, &s1, &s2);
      dk = s1 * inv_n;
      v = s2 * inv_n - dk * dk;
    }
    if (!std::isfinite(static_cast<double>(k) + dk) || !std::isfinite(v)) {
      exact_stats(x, n, shift, d, var);
      return;
    }
    *shift = k;
    *d = dk;
    *var = v < 0.0 ? 0.0 : v;  // NaN stays NaN
  }

  // The two-pass statistics in double, for rows where the shifted float sums above are not
  // finite: a NaN or an infinity in the row (x - shift is inf - inf = NaN once the shift is
  // infinite, where the mean is +-inf), or values so large that x - shift overflows a float.
  // mean = sum(x) / n, var = sum((x - mean)^2) / n, as the reference computes them; an infinite
  // mean makes var NaN (inf - inf), and so rstd and the row's y.
  static void exact_stats(const float* x, int64_t n, float* shift, double* d, double* var) {
    double s = 0.0;
    for (int64_t i = 0; i < n; ++i) s += static_cast<double>(x[i]);
    const double mean = s / static_cast<double>(n);
    double q = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      const double c = static_cast<double>(x[i]) - mean;
      q += c * c;
    }
    *shift = static_cast<float>(mean);
    const double rest = mean - static_cast<double>(*shift);
    *d = std::isfinite(rest) ? rest : 0.0;  // inf - inf when the mean is infinite
    *var = q / static_cast<double>(n);
  }

  // The backward's row sums: a1 = sum(gw), a2 = sum(gw * (x - mean)), a3 = sum(x - mean),
  // gw = g * w (w null: 1).
  template <bool HasW>
  static void grad_sums(const float* x, const float* g, const float* w, int64_t n, float mean,
                        double* a1, double* a2, double* a3) {
    double t1 = 0.0, t2 = 0.0, t3 = 0.0;
    for (int64_t b = 0; b < n; b += kBlock) {
      const int64_t e = b + kBlock < n ? b + kBlock : n;
      float s1[kLanes] = {}, s2[kLanes] = {}, s3[kLanes] = {};
      int64_t i = b;
      for (; i + kLanes <= e; i += kLanes)
#pragma omp simd
        for (int j = 0; j < kLanes; ++j) {
          const float c = x[i + j] - mean;
          const float gw = HasW ? g[i + j] * w[i + j] : g[i + j];
          s1[j] += gw;
          s2[j] += gw * c;
          s3[j] += c;
        }
      for (int j = 0; i < e; ++i, ++j) {
        const float c = x[i] - mean;
        const float gw = HasW ? g[i] * w[i] : g[i];
        s1[j] += gw;
        s2[j] += gw * c;
        s3[j] += c;
      }
      t1 += lanes_total(s1);
      t2 += lanes_total(s2);
      t3 += lanes_total(s3);
    }
    *a1 = t1;
    *a2 = t2;
    *a3 = t3;
  }

  // Threads for the rows (never more than there are rows: the per-thread buffers are sized by it).
  static int threads(int64_t rows, int64_t cols) {
    const int t = threads_for(rows * (cols > 0 ? cols : 1), kMinElementsPerThread);
    return t < 1 ? 1 : (t > rows ? static_cast<int>(rows > 1 ? rows : 1) : t);
  }

  // ---------------------------------------------------------------------- forward
  template <bool HasW, bool HasB>
  static void normalize(const float* x, int64_t n, float shift, float d, float r, const float* w,
                        const float* b, float* y) {
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) {
      const float xhat = ((x[j] - shift) - d) * r;
      y[j] = (HasW ? xhat * w[j] : xhat) + (HasB ? b[j] : 0.0f);
    }
  }

  static void forward(int64_t rows, int64_t cols, ConstRows x, const float* w, const float* b,
                      Rows y, Strided<float> mean, Strided<float> rstd, float eps) {
    const bool strided = x.col_stride != 1 || y.col_stride != 1;
    const int nt = threads(rows, cols);
    const int64_t per_thread = strided ? 2 * cols : 0;
    Buffer scratch(per_thread * nt);
    parallel_for(rows, nt, [&](int64_t begin, int64_t end) {
      float* s = scratch.p ? scratch.p + per_thread * omp_get_thread_num() : nullptr;
      for (int64_t i = begin; i < end; ++i) {
        if (cols == 0) {
          mean[i] = 0.0f;
          rstd[i] = static_cast<float>(1.0 / std::sqrt(static_cast<double>(eps)));
          continue;
        }
        const float* xr = load(x, i, cols, s);
        float* yr = target(y, i, s ? s + cols : nullptr);
        float m0;
        double d, var;
        row_stats(xr, cols, &m0, &d, &var);
        const double r = 1.0 / std::sqrt(var + static_cast<double>(eps));
        mean[i] = static_cast<float>(static_cast<double>(m0) + d);
        rstd[i] = static_cast<float>(r);
        const float fd = static_cast<float>(d), fr = static_cast<float>(r);
        if (w && b) normalize<true, true>(xr, cols, m0, fd, fr, w, b, yr);
        else if (w) normalize<true, false>(xr, cols, m0, fd, fr, w, b, yr);
        else if (b) normalize<false, true>(xr, cols, m0, fd, fr, w, b, yr);
        else normalize<false, false>(xr, cols, m0, fd, fr, w, b, yr);
        store(y, i, cols, yr);
      }
    });
  }

  // ---------------------------------------------------------------------- backward
  // A row's constants for dx: xhat = ((x - mean) - d) * r, dx = r * ((gw - mean_gw) - xhat * c).
  struct RowGrad {
    float mean, r, d, mean_gw, c;
  };

  template <bool HasW>
  static RowGrad row_grad(const float* x, const float* g, const float* w, int64_t n, float mean,
                          float r) {
    double a1, a2, a3;
    grad_sums<HasW>(x, g, w, n, mean, &a1, &a2, &a3);
    const double inv_n = 1.0 / static_cast<double>(n);
    // d = mean - stored mean (the refinement); 0 where it is not finite (an infinity in x), where
    // it would make every xhat of the row inf - inf = NaN.
    const double d0 = a3 * inv_n;
    const double d = std::isfinite(d0) ? d0 : 0.0;
    // sum(gw * ((x - mean) - d)) = a2 - d * a1; with an infinite sum(gw) (an infinite gy or w)
    // a2 alone, = +-inf as the reference's sum, where a2 - d * a1 would be inf - inf.
    const double a2d = std::isfinite(a1) ? a2 - d * a1 : a2;
    return {mean, r, static_cast<float>(d), static_cast<float>(a1 * inv_n),
            static_cast<float>(r * a2d * inv_n)};
  }

  // One row: dx (when gx), and dy * xhat, dy added into the partial column sums (when pw).
  template <bool HasW, bool HasGx, bool HasPartials>
  static void backward_row(const float* x, const float* g, int64_t n, const RowGrad& k,
                           const float* w, float* gx, float* pw, float* pb) {
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) {
      const float xhat = ((x[j] - k.mean) - k.d) * k.r;
      if constexpr (HasGx) {
        // the difference first, then the scale: gw - mean(gw) cancels exactly when equal
        const float gw = HasW ? g[j] * w[j] : g[j];
        gx[j] = k.r * ((gw - k.mean_gw) - xhat * k.c);
      }
      if constexpr (HasPartials) {
        pw[j] += g[j] * xhat;
        pb[j] += g[j];
      }
    }
  }

  // Two rows at once: the partial column sums are read and written once for both.
  template <bool HasW, bool HasGx>
  static void backward_row_pair(const float* x0, const float* g0, const float* x1, const float* g1,
                                int64_t n, const RowGrad& k0, const RowGrad& k1, const float* w,
                                float* gx0, float* gx1, float* pw, float* pb) {
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) {
      const float xhat0 = ((x0[j] - k0.mean) - k0.d) * k0.r;
      const float xhat1 = ((x1[j] - k1.mean) - k1.d) * k1.r;
      if constexpr (HasGx) {
        const float gw0 = HasW ? g0[j] * w[j] : g0[j];
        const float gw1 = HasW ? g1[j] * w[j] : g1[j];
        gx0[j] = k0.r * ((gw0 - k0.mean_gw) - xhat0 * k0.c);
        gx1[j] = k1.r * ((gw1 - k1.mean_gw) - xhat1 * k1.c);
      }
      pw[j] += g0[j] * xhat0 + g1[j] * xhat1;
      pb[j] += g0[j] + g1[j];
    }
  }

  // Rows [begin, end); s: scratch for 6 rows when some operand is strided (else nullptr).
  template <bool HasW, bool HasGx, bool HasPartials>
  static void backward_rows(int64_t begin, int64_t end, int64_t cols, ConstRows x, ConstRows gy,
                            Strided<const float> mean, Strided<const float> rstd, const float* w,
                            Rows gx, float* s, float* pw, float* pb) {
    const auto at = [&](int k) { return s ? s + k * cols : nullptr; };
    int64_t i = begin;
    if constexpr (HasPartials) {
      for (; cols <= kPairMaxCols && i + 2 <= end; i += 2) {
        const float* x0 = load(x, i, cols, at(0));
        const float* g0 = load(gy, i, cols, at(1));
        const float* x1 = load(x, i + 1, cols, at(2));
        const float* g1 = load(gy, i + 1, cols, at(3));
        const RowGrad k0 = row_grad<HasW>(x0, g0, w, cols, mean[i], rstd[i]);
        const RowGrad k1 = row_grad<HasW>(x1, g1, w, cols, mean[i + 1], rstd[i + 1]);
        float* out0 = HasGx ? target(gx, i, at(4)) : nullptr;
        float* out1 = HasGx ? target(gx, i + 1, at(5)) : nullptr;
        backward_row_pair<HasW, HasGx>(x0, g0, x1, g1, cols, k0, k1, w, out0, out1, pw, pb);
        if constexpr (HasGx) {
          store(gx, i, cols, out0);
          store(gx, i + 1, cols, out1);
        }
      }
    }
    for (; i < end; ++i) {
      const float* xr = load(x, i, cols, at(0));
      const float* gr = load(gy, i, cols, at(1));
      float* out = HasGx ? target(gx, i, at(4)) : nullptr;
      const RowGrad k = row_grad<HasW>(xr, gr, w, cols, mean[i], rstd[i]);
      backward_row<HasW, HasGx, HasPartials>(xr, gr, cols, k, w, out, pw, pb);
      if constexpr (HasGx) store(gx, i, cols, out);
    }
  }

  static void backward(int64_t rows, int64_t cols, ConstRows x, ConstRows gy,
                       Strided<const float> mean, Strided<const float> rstd, const float* w,
                       Rows gx, Strided<float> gw, Strided<float> gb) {
    const bool want_gx = gx.data != nullptr;
    const bool partials = gw.data != nullptr || gb.data != nullptr;
    if (cols == 0 || (!want_gx && !partials)) return;
    const bool strided = x.col_stride != 1 || gy.col_stride != 1 || (want_gx && gx.col_stride != 1);
    const int nt = threads(rows, cols);
    const int64_t per_thread = strided ? 6 * cols : 0;
    Buffer scratch(per_thread * nt);
    Buffer sums(partials ? 2 * cols * nt : 0);  // per thread: dy * xhat, then dy
    parallel_for(rows, nt, [&](int64_t begin, int64_t end) {
      const int t = omp_get_thread_num();
      float* s = scratch.p ? scratch.p + per_thread * t : nullptr;
      float* pw = sums.p ? sums.p + 2 * cols * t : nullptr;
      float* pb = pw ? pw + cols : nullptr;
      const auto rows_with = [&](auto has_w, auto has_gx, auto has_partials) {
        backward_rows<decltype(has_w)::value, decltype(has_gx)::value,
                      decltype(has_partials)::value>(begin, end, cols, x, gy, mean, rstd, w, gx, s,
                                                     pw, pb);
      };
      using T = std::true_type;
      using F = std::false_type;
      switch ((w ? 4 : 0) + (want_gx ? 2 : 0) + (partials ? 1 : 0)) {
        case 7: rows_with(T{}, T{}, T{}); break;
        case 6: rows_with(T{}, T{}, F{}); break;
        case 5: rows_with(T{}, F{}, T{}); break;
        case 3: rows_with(F{}, T{}, T{}); break;
        case 2: rows_with(F{}, T{}, F{}); break;
        case 1: rows_with(F{}, F{}, T{}); break;
        default: break;  // nothing asked (returned above)
      }
    });
    if (!partials) return;
    for (int64_t j = 0; j < cols; ++j) {
      double tw = 0.0, tb = 0.0;
      for (int t = 0; t < nt; ++t) {
        tw += sums.p[2 * cols * t + j];
        tb += sums.p[2 * cols * t + cols + j];
      }
      if (gw.data) gw[j] = static_cast<float>(tw);
      if (gb.data) gb[j] = static_cast<float>(tb);
    }
  }

  static const layernorm_isa::Table& table() {
    static const layernorm_isa::Table t{forward, backward};
    return t;
  }
};

}  // namespace pyfastdl::layernorm_rows
