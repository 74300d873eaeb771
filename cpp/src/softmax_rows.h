// The softmax-family row kernels, written once and compiled per instruction set.
//
// softmax.cpp, compiled once per instruction set, instantiates Kernels<Isa> with each build's tag
// type, which lives in an anonymous namespace (isa_dispatch.h), so the instantiations are
// distinct functions (no ODR clash between differently compiled copies). For the same reason
// nothing here instantiates a library template (std::vector, ...): its AVX-512 copy could be the
// one the linker keeps for the generic path.
//
// Vectorisation without -ffast-math: reductions keep kLanes independent partial results (the
// compiler maps the lane loop to one 512-bit register or four 128-bit ones), and exp is a
// branch-free polynomial that the compiler vectorises like any other arithmetic.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "isa_dispatch.h"
#include "pyfastdl/parallel.h"
#include "pyfastdl/softmax.h"
#include "row_views.h"

namespace pyfastdl::softmax_isa {

// One build's row kernels (Kernels<Isa>::table() below): the functions of pyfastdl/softmax.h.
struct Table {
  void (*softmax_forward)(int64_t, int64_t, ConstRows, Rows);
  void (*softmax_backward)(int64_t, int64_t, ConstRows, ConstRows, Rows);
  void (*log_softmax_forward)(int64_t, int64_t, ConstRows, Rows);
  void (*log_softmax_backward)(int64_t, int64_t, ConstRows, ConstRows, Rows);
  void (*cross_entropy_forward)(int64_t, int64_t, ConstRows, const CrossEntropyTargets&,
                                Strided<float>, Strided<float>);
  void (*cross_entropy_backward)(int64_t, int64_t, ConstRows, const CrossEntropyTargets&,
                                 Strided<const float>, Rows);
  // Specialised by each build of softmax.cpp (compiled once per instruction set); for_path()
  // (isa_dispatch.h) picks one.
  template <CpuPath P>
  static const Table& build();
};
PYFASTDL_DECLARE_ISA_BUILDS(Table);

}  // namespace pyfastdl::softmax_isa

namespace pyfastdl::softmax_rows {

constexpr int kLanes = 16;
// Rows are split over threads once a thread gets at least this many elements.
constexpr int64_t kMinElementsPerThread = 1 << 14;

template <class Isa>
struct Kernels : row_views::RowViews<Isa> {
  // load / target / store: strided rows as contiguous ones; Buffer: heap scratch.
  using Views = row_views::RowViews<Isa>;
  using Views::load, Views::store, Views::target;
  using Buffer = row_views::HeapFloats<Isa>;

  // exp(x), about 1 ulp on [-87, 88.3]: x = n ln2 + r with |r| <= ln2 / 2, exp(r) by the Cephes
  // degree-6 polynomial, 2^n built in the exponent bits. Below -87 (under the smallest normal
  // float) the result is 0, above 88.3 it is inf, NaN stays NaN.
  static inline float exp(float x) {
    constexpr float lo = -87.0f, hi = 88.3f;
    float xc = x >= lo ? x : lo;  // NaN goes to lo here and is restored at the end
    xc = xc <= hi ? xc : hi;
    // Round to nearest without a branch: adding 1.5 * 2^23 pushes the fraction bits out.
    constexpr float shifter = 12582912.0f;
    const float nf = (xc * 1.44269504088896341f + shifter) - shifter;
    const int32_t n = static_cast<int32_t>(nf);
    // r = x - n ln2, with ln2 split in two so that n * 0.693359375 is exact.
    const float r = (xc - nf * 0.693359375f) + nf * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    const int32_t bits = (n + 127) * (1 << 23);
    float scale;
    std::memcpy(&scale, &bits, sizeof scale);
    const float e = p * scale;
    const float inf = std::numeric_limits<float>::infinity();
    return x >= lo ? (x <= hi ? e : inf) : (x < lo ? 0.0f : x);
  }

  static float row_max(const float* x, int64_t n) {
    float acc[kLanes];
    for (int j = 0; j < kLanes; ++j) acc[j] = -std::numeric_limits<float>::infinity();
    int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes)
#pragma omp simd
      for (int j = 0; j < kLanes; ++j) acc[j] = x[i + j] > acc[j] ? x[i + j] : acc[j];
    float m = -std::numeric_limits<float>::infinity();
    for (; i < n; ++i) m = x[i] > m ? x[i] : m;
    for (int j = 0; j < kLanes; ++j) m = acc[j] > m ? acc[j] : m;
    return m;
  }

  static float lane_sum(const float* acc) {
    float s = 0.0f;
    for (int j = 0; j < kLanes; ++j) s += acc[j];
    return s;
  }

  // sum_i exp(x[i] - shift), also storing each exp in y when Store.
  template <bool Store>
  static float exp_sum(const float* x, int64_t n, float shift, float* y) {
    float acc[kLanes] = {};
    int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes)
#pragma omp simd
      for (int j = 0; j < kLanes; ++j) {
        const float e = exp(x[i + j] - shift);
        if constexpr (Store) y[i + j] = e;
        acc[j] += e;
      }
    float tail = 0.0f;
    for (; i < n; ++i) {
      const float e = exp(x[i] - shift);
      if constexpr (Store) y[i] = e;
      tail += e;
    }
    return lane_sum(acc) + tail;
  }

  // sum_i a[i] * b[i] (b == nullptr: sum_i a[i]).
  static float dot(const float* a, const float* b, int64_t n) {
    float acc[kLanes] = {};
    int64_t i = 0;
    float tail = 0.0f;
    if (b) {
      for (; i + kLanes <= n; i += kLanes)
        for (int j = 0; j < kLanes; ++j) acc[j] += a[i + j] * b[i + j];
      for (; i < n; ++i) tail += a[i] * b[i];
    } else {
      for (; i + kLanes <= n; i += kLanes)
        for (int j = 0; j < kLanes; ++j) acc[j] += a[i + j];
      for (; i < n; ++i) tail += a[i];
    }
    return lane_sum(acc) + tail;
  }

  // sum_i w[i] * (c - x[i]) (w == nullptr: weights 1).
  static float weighted_gap(const float* x, const float* w, int64_t n, float c) {
    float acc[kLanes] = {};
    int64_t i = 0;
    float tail = 0.0f;
    if (w) {
      for (; i + kLanes <= n; i += kLanes)
        for (int j = 0; j < kLanes; ++j) acc[j] += w[i + j] * (c - x[i + j]);
      for (; i < n; ++i) tail += w[i] * (c - x[i]);
    } else {
      for (; i + kLanes <= n; i += kLanes)
        for (int j = 0; j < kLanes; ++j) acc[j] += c - x[i + j];
      for (; i < n; ++i) tail += c - x[i];
    }
    return lane_sum(acc) + tail;
  }

  // Runs f(i, scratch) for every row, rows split over threads. scratch holds 3 rows per thread
  // when `strided` (some operand has non-unit column stride), else it is nullptr and unused.
  template <class F>
  static void for_rows(int64_t rows, int64_t cols, bool strided, F&& f) {
    const int threads = threads_for(rows * (cols > 0 ? cols : 1), kMinElementsPerThread);
    const int64_t per_thread = strided ? 3 * cols : 0;
    Buffer scratch(per_thread * (threads > 1 ? threads : 1));
    parallel_for(rows, threads, [&](int64_t begin, int64_t end) {
      float* s = scratch.p ? scratch.p + per_thread * omp_get_thread_num() : nullptr;
      for (int64_t i = begin; i < end; ++i) f(i, s);
    });
  }

  // ---------------------------------------------------------------------- kernels
  static void softmax_forward(int64_t rows, int64_t cols, ConstRows x, Rows y) {
    for_rows(rows, cols, x.col_stride != 1 || y.col_stride != 1, [&](int64_t i, float* s) {
      const float* xr = load(x, i, cols, s);
      float* yr = target(y, i, s + cols);
      const float m = row_max(xr, cols);
      const float inv = 1.0f / exp_sum<true>(xr, cols, m, yr);
      for (int64_t c = 0; c < cols; ++c) yr[c] *= inv;
      store(y, i, cols, yr);
    });
  }

  static void softmax_backward(int64_t rows, int64_t cols, ConstRows y, ConstRows gy, Rows gx) {
    const bool strided = y.col_stride != 1 || gy.col_stride != 1 || gx.col_stride != 1;
    for_rows(rows, cols, strided, [&](int64_t i, float* s) {
      const float* yr = load(y, i, cols, s);
      const float* gr = load(gy, i, cols, s + cols);
      float* xr = target(gx, i, s + 2 * cols);
      const float d = dot(gr, yr, cols);
      for (int64_t c = 0; c < cols; ++c) xr[c] = yr[c] * (gr[c] - d);
      store(gx, i, cols, xr);
    });
  }

  static void log_softmax_forward(int64_t rows, int64_t cols, ConstRows x, Rows y) {
    for_rows(rows, cols, x.col_stride != 1 || y.col_stride != 1, [&](int64_t i, float* s) {
      const float* xr = load(x, i, cols, s);
      float* yr = target(y, i, s + cols);
      const float m = row_max(xr, cols);
      const float log_sum = std::log(exp_sum<false>(xr, cols, m, nullptr));
      // (x - m) first: exact for nearby values, so huge logits keep their small differences.
      for (int64_t c = 0; c < cols; ++c) yr[c] = (xr[c] - m) - log_sum;
      store(y, i, cols, yr);
    });
  }

  static void log_softmax_backward(int64_t rows, int64_t cols, ConstRows y, ConstRows gy, Rows gx) {
    const bool strided = y.col_stride != 1 || gy.col_stride != 1 || gx.col_stride != 1;
    for_rows(rows, cols, strided, [&](int64_t i, float* s) {
      const float* yr = load(y, i, cols, s);
      const float* gr = load(gy, i, cols, s + cols);
      float* xr = target(gx, i, s + 2 * cols);
      const float g = dot(gr, nullptr, cols);
      for (int64_t c = 0; c < cols; ++c) xr[c] = gr[c] - exp(yr[c]) * g;
      store(gx, i, cols, xr);
    });
  }

  // Class weights as a contiguous array (nullptr: all 1) and their sum.
  static const float* contiguous_weight(const CrossEntropyTargets& t, int64_t cols, Buffer& buf,
                                        float* total) {
    if (!t.weight.data) {
      *total = static_cast<float>(cols);
      return nullptr;
    }
    const float* w = t.weight.data;
    if (t.weight.stride != 1) {
      buf.p = new float[static_cast<size_t>(cols)];
      for (int64_t c = 0; c < cols; ++c) buf.p[c] = t.weight[c];
      w = buf.p;
    }
    *total = dot(w, nullptr, cols);
    return w;
  }

  static void cross_entropy_forward(int64_t rows, int64_t cols, ConstRows logits,
                                    const CrossEntropyTargets& t, Strided<float> losses,
                                    Strided<float> lse) {
    Buffer wbuf(0);
    float wsum = 0.0f;
    const float* w = contiguous_weight(t, cols, wbuf, &wsum);
    const float eps = t.label_smoothing;
    for_rows(rows, cols, logits.col_stride != 1, [&](int64_t i, float* s) {
      const float* xr = load(logits, i, cols, s);
      const float m = row_max(xr, cols);
      const float log_sum = std::log(exp_sum<false>(xr, cols, m, nullptr));
      lse[i] = m + log_sum;
      const int64_t k = t.target[i];
      if (k == t.ignore_index) {
        losses[i] = 0.0f;
        return;
      }
      const float wk = w ? w[k] : 1.0f;
      // -log p[k] = (m - x[k]) + log_sum, in this order for the same reason as log_softmax.
      float loss = (1.0f - eps) * wk * ((m - xr[k]) + log_sum);
      if (eps != 0.0f) {
        // sum_c w[c] (lse - x[c]) = sum_c w[c] (m - x[c]) + log_sum * sum_c w[c]
        loss += eps / static_cast<float>(cols) * (weighted_gap(xr, w, cols, m) + log_sum * wsum);
      }
      losses[i] = loss;
    });
  }

  static void cross_entropy_backward(int64_t rows, int64_t cols, ConstRows logits,
                                     const CrossEntropyTargets& t, Strided<const float> grad_losses,
                                     Rows grad_logits) {
    Buffer wbuf(0);
    float wsum = 0.0f;
    const float* w = contiguous_weight(t, cols, wbuf, &wsum);
    const float eps = t.label_smoothing;
    const float smooth = eps / static_cast<float>(cols);
    const bool strided = logits.col_stride != 1 || grad_logits.col_stride != 1;
    for_rows(rows, cols, strided, [&](int64_t i, float* s) {
      float* dr = target(grad_logits, i, s + cols);
      const int64_t k = t.target[i];
      if (k == t.ignore_index) {
        for (int64_t c = 0; c < cols; ++c) dr[c] = 0.0f;
        store(grad_logits, i, cols, dr);
        return;
      }
      const float* xr = load(logits, i, cols, s);
      // The max and the sum are recomputed rather than read back from the forward's lse: the
      // sum of a float lse = m + log_sum loses log_sum's digits when |m| is large.
      const float m = row_max(xr, cols);
      const float inv = 1.0f / exp_sum<false>(xr, cols, m, nullptr);
      const float g_in = grad_losses[i], wk_in = w ? w[k] : 1.0f;
      // The gradient is g times the row's d loss / d logits, which is w[k] (p - onehot) without
      // smoothing. Finite factors are folded into the coefficients; an infinite g (or NaN), or
      // without smoothing an infinite w[k], multiplies the finished row instead, so that it
      // meets each term's sum once (g * (p - 1) = -inf at the target) rather than each term
      // (g * p - g = inf - inf, and g * smooth = inf * 0 without smoothing).
      const bool scale_after = !std::isfinite(g_in) || (eps == 0.0f && !std::isfinite(wk_in));
      const float row_scale = g_in * (eps == 0.0f ? wk_in : 1.0f);
      const float g = scale_after ? 1.0f : g_in;
      const float wk = scale_after && eps == 0.0f ? 1.0f : wk_in;
      // Without smoothing the smoothing terms are left out, not multiplied by 0: the weights'
      // sum and w[c] may be infinite, and the reference (as PyTorch) then uses only w[k].
      const float wsmooth = eps != 0.0f ? smooth * wsum : 0.0f;
      const float a = g * ((1.0f - eps) * wk + wsmooth) * inv;  // coefficient of exp(x - m)
      const float b = g * smooth;                               // coefficient of w[c]
      if (w && eps != 0.0f) {
        for (int64_t c = 0; c < cols; ++c) dr[c] = a * exp(xr[c] - m) - b * w[c];
      } else {
        for (int64_t c = 0; c < cols; ++c) dr[c] = a * exp(xr[c] - m) - b;
      }
      dr[k] -= g * (1.0f - eps) * wk;
      if (scale_after)
        for (int64_t c = 0; c < cols; ++c) dr[c] *= row_scale;
      store(grad_logits, i, cols, dr);
    });
  }

  static const softmax_isa::Table& table() {
    static const softmax_isa::Table t{softmax_forward,       softmax_backward,
                                      log_softmax_forward,   log_softmax_backward,
                                      cross_entropy_forward, cross_entropy_backward};
    return t;
  }
};

}  // namespace pyfastdl::softmax_rows
