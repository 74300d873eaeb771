// The fused gate kernels of one RNN / LSTM / GRU time step, written once and compiled per
// instruction set (rnn.cpp, built once per ISA: isa_dispatch.h), as softmax_rows.h.
//
// Each kernel makes one pass over the (N, G*H) rows of its operands; the unit loop of a row is a
// `#pragma omp simd` loop whose exp (the project's polynomial exp from softmax_rows.h) the
// compiler maps to the ISA's vector registers. sigmoid(x) = 1 / (1 + exp(-x)); tanh(x) =
// sign(x) (1 - e) / (1 + e) with e = exp(-2|x|), and its odd Taylor polynomial below |x| = 0.25
// where 1 - e would lose relative accuracy. Rows are split over threads once a step has enough
// units (rows * H * G >= kMinUnitsPerThread per thread).
//
// Math (PyTorch's gate order; see pyfastdl/kernels/reference/rnn.py for the backward formulas):
//   LSTM  i, f, o = sigmoid(.)  g = tanh(.)  c = f c_prev + i g  h = o tanh(c)
//   GRU   r, z = sigmoid(gi + gh)  n = tanh(gi_n + r gh_n)  h = (1 - z) n + z h_prev
//   RNN   h = tanh(gates) or relu(gates)
#pragma once

#include <cstdint>
#include <type_traits>

#include "isa_dispatch.h"
#include "pyfastdl/parallel.h"
#include "pyfastdl/rnn.h"
#include "softmax_rows.h"

namespace pyfastdl::rnn_isa {

// One build's cell kernels (Kernels<Isa>::table() below). add: empty or (N, G*H) rows and bias:
// nullptr or a (G*H,) vector, both added to the pre-activations (the layer kernels fold
// x W_ih^T + b_ih and b_hh in here); grad_h2: empty or a second gradient added to grad_h.
struct Table {
  void (*lstm_forward)(int64_t, int64_t, ConstRows, ConstRows add, const float* bias, ConstRows,
                       Rows, Rows, Rows);
  void (*lstm_backward)(int64_t, int64_t, ConstRows, ConstRows, ConstRows, ConstRows,
                        ConstRows grad_h2, ConstRows, Rows, Rows);
  void (*gru_forward)(int64_t, int64_t, ConstRows, ConstRows, ConstRows, Rows, Rows);
  void (*gru_backward)(int64_t, int64_t, ConstRows, ConstRows, ConstRows, ConstRows grad_h2, Rows,
                       Rows, Rows);
  void (*rnn_forward)(int64_t, int64_t, ConstRows, ConstRows add, const float* bias, Rows, RnnMode);
  void (*rnn_backward)(int64_t, int64_t, ConstRows, ConstRows, ConstRows grad_h2, Rows, RnnMode);
  // Specialised by each build of rnn.cpp (compiled once per instruction set); for_path()
  // (isa_dispatch.h) picks one.
  template <CpuPath P>
  static const Table& build();
};
PYFASTDL_DECLARE_ISA_BUILDS(Table);

}  // namespace pyfastdl::rnn_isa

namespace pyfastdl::rnn_gates {

constexpr int64_t kMinUnitsPerThread = 1 << 14;

template <class Isa>
struct Kernels {
  using Math = softmax_rows::Kernels<Isa>;

  static inline float sigmoid(float x) { return 1.0f / (1.0f + Math::exp(-x)); }

  static inline float tanh(float x) {
    const float ax = x < 0.0f ? -x : x;
    const float e = Math::exp(-2.0f * ax);
    const float big = (1.0f - e) / (1.0f + e);
    // x - x^3/3 + 2x^5/15 - 17x^7/315 + 62x^9/2835: relative error < 1e-8 for |x| < 0.25.
    const float x2 = ax * ax;
    const float small =
        ax * (1.0f + x2 * (-0.333333333f +
                           x2 * (0.133333333f + x2 * (-0.0539682540f + x2 * 0.0218694885f))));
    const float t = ax < 0.25f ? small : big;
    return x < 0.0f ? -t : t;
  }

  // Runs f(row) over n rows, split over threads when the step is large.
  template <class F>
  static void for_rows(int64_t n, int64_t units_per_row, F&& f) {
    const int64_t units = n * (units_per_row > 0 ? units_per_row : 1);
    const int threads = threads_for(units, kMinUnitsPerThread);
    parallel_for(n, threads, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) f(r);
    });
  }

  // ------------------------------------------------------------------------------ LSTM
  // The pre-activations of unit j of gate k are g[k H + j] (+ x[k H + j]) (+ b[k H + j]).
  template <bool HasAdd, bool HasBias, bool Store>
  static void lstm_forward_row(int64_t hs, const float* __restrict g, const float* __restrict x,
                               const float* __restrict b, const float* __restrict cp,
                               float* __restrict h, float* __restrict c, float* __restrict a) {
#pragma omp simd
    for (int64_t j = 0; j < hs; ++j) {
      float pi = g[j], pf = g[hs + j], pg = g[2 * hs + j], po = g[3 * hs + j];
      if constexpr (HasAdd) {
        pi += x[j];
        pf += x[hs + j];
        pg += x[2 * hs + j];
        po += x[3 * hs + j];
      }
      if constexpr (HasBias) {
        pi += b[j];
        pf += b[hs + j];
        pg += b[2 * hs + j];
        po += b[3 * hs + j];
      }
      const float i = sigmoid(pi), f = sigmoid(pf), gg = tanh(pg), o = sigmoid(po);
      const float cn = f * cp[j] + i * gg;
      c[j] = cn;
      h[j] = o * tanh(cn);
      if constexpr (Store) {
        a[j] = i;
        a[hs + j] = f;
        a[2 * hs + j] = gg;
        a[3 * hs + j] = o;
      }
    }
  }

  static void lstm_forward(int64_t n, int64_t hs, ConstRows gates, ConstRows add, const float* bias,
                           ConstRows c_prev, Rows h, Rows c, Rows acts) {
    for_rows(n, 4 * hs, [&](int64_t r) {
      const float* g = gates.data + r * gates.row_stride;
      const float* x = add.data ? add.data + r * add.row_stride : nullptr;
      const float* cp = c_prev.data + r * c_prev.row_stride;
      float* hr = h.data + r * h.row_stride;
      float* cr = c.data + r * c.row_stride;
      float* ar = acts.data ? acts.data + r * acts.row_stride : nullptr;
      // Runtime options to template flags (the unit loop must not branch to vectorise).
      auto run = [&](auto has_add, auto has_bias) {
        if (ar) lstm_forward_row<has_add(), has_bias(), true>(hs, g, x, bias, cp, hr, cr, ar);
        else lstm_forward_row<has_add(), has_bias(), false>(hs, g, x, bias, cp, hr, cr, ar);
      };
      using T = std::true_type;
      using F = std::false_type;
      if (x && bias) run(T{}, T{});
      else if (x) run(T{}, F{});
      else if (bias) run(F{}, T{});
      else run(F{}, F{});
    });
  }

  template <bool HasGradC, bool HasGradH2>
  static void lstm_backward_row(int64_t hs, const float* __restrict a, const float* __restrict cp,
                                const float* __restrict c, const float* __restrict gh,
                                const float* __restrict gh2, const float* __restrict gc,
                                float* __restrict dg, float* __restrict dcp) {
#pragma omp simd
    for (int64_t j = 0; j < hs; ++j) {
      const float i = a[j], f = a[hs + j], g = a[2 * hs + j], o = a[3 * hs + j];
      const float tc = tanh(c[j]);
      float dh = gh[j];
      if constexpr (HasGradH2) dh += gh2[j];
      float dc = dh * o * (1.0f - tc * tc);
      if constexpr (HasGradC) dc += gc[j];
      dg[j] = dc * g * i * (1.0f - i);
      dg[hs + j] = dc * cp[j] * f * (1.0f - f);
      dg[2 * hs + j] = dc * i * (1.0f - g * g);
      dg[3 * hs + j] = dh * tc * o * (1.0f - o);
      dcp[j] = dc * f;
    }
  }

  static void lstm_backward(int64_t n, int64_t hs, ConstRows acts, ConstRows c_prev, ConstRows c,
                            ConstRows grad_h, ConstRows grad_h2, ConstRows grad_c, Rows grad_gates,
                            Rows grad_c_prev) {
    for_rows(n, 4 * hs, [&](int64_t r) {
      const float* a = acts.data + r * acts.row_stride;
      const float* cp = c_prev.data + r * c_prev.row_stride;
      const float* cr = c.data + r * c.row_stride;
      const float* gh = grad_h.data + r * grad_h.row_stride;
      const float* gh2 = grad_h2.data ? grad_h2.data + r * grad_h2.row_stride : nullptr;
      const float* gc = grad_c.data ? grad_c.data + r * grad_c.row_stride : nullptr;
      float* dg = grad_gates.data + r * grad_gates.row_stride;
      float* dcp = grad_c_prev.data + r * grad_c_prev.row_stride;
      if (gc && gh2) lstm_backward_row<true, true>(hs, a, cp, cr, gh, gh2, gc, dg, dcp);
      else if (gc) lstm_backward_row<true, false>(hs, a, cp, cr, gh, gh2, gc, dg, dcp);
      else if (gh2) lstm_backward_row<false, true>(hs, a, cp, cr, gh, gh2, gc, dg, dcp);
      else lstm_backward_row<false, false>(hs, a, cp, cr, gh, gh2, gc, dg, dcp);
    });
  }

  // ------------------------------------------------------------------------------ GRU
  template <bool Store>
  static void gru_forward_row(int64_t hs, const float* __restrict xi, const float* __restrict hh,
                              const float* __restrict hp, float* __restrict hr,
                              float* __restrict a) {
#pragma omp simd
    for (int64_t j = 0; j < hs; ++j) {
      const float r = sigmoid(xi[j] + hh[j]);
      const float z = sigmoid(xi[hs + j] + hh[hs + j]);
      const float ghn = hh[2 * hs + j];
      const float nn = tanh(xi[2 * hs + j] + r * ghn);
      hr[j] = (1.0f - z) * nn + z * hp[j];
      if constexpr (Store) {
        a[j] = r;
        a[hs + j] = z;
        a[2 * hs + j] = nn;
        a[3 * hs + j] = ghn;
      }
    }
  }

  // acts.data == nullptr: the activations are not stored (inference).
  static void gru_forward(int64_t n, int64_t hs, ConstRows gi, ConstRows gh, ConstRows h_prev,
                          Rows h, Rows acts) {
    for_rows(n, 3 * hs, [&](int64_t row) {
      const float* xi = gi.data + row * gi.row_stride;
      const float* hh = gh.data + row * gh.row_stride;
      const float* hp = h_prev.data + row * h_prev.row_stride;
      float* hr = h.data + row * h.row_stride;
      if (acts.data) gru_forward_row<true>(hs, xi, hh, hp, hr, acts.data + row * acts.row_stride);
      else gru_forward_row<false>(hs, xi, hh, hp, hr, nullptr);
    });
  }

  template <bool HasGradH2>
  static void gru_backward_row(int64_t hs, const float* __restrict a, const float* __restrict hp,
                               const float* __restrict gh, const float* __restrict gh2,
                               float* __restrict dgi, float* __restrict dgh,
                               float* __restrict dhp) {
#pragma omp simd
    for (int64_t j = 0; j < hs; ++j) {
      const float r = a[j], z = a[hs + j], nn = a[2 * hs + j], ghn = a[3 * hs + j];
      float dh = gh[j];
      if constexpr (HasGradH2) dh += gh2[j];
      const float dn = dh * (1.0f - z) * (1.0f - nn * nn);
      const float dr = dn * ghn * r * (1.0f - r);
      const float dz = dh * (hp[j] - nn) * z * (1.0f - z);
      dgi[j] = dr;
      dgi[hs + j] = dz;
      dgi[2 * hs + j] = dn;
      dgh[j] = dr;
      dgh[hs + j] = dz;
      dgh[2 * hs + j] = dn * r;
      dhp[j] = dh * z;
    }
  }

  static void gru_backward(int64_t n, int64_t hs, ConstRows acts, ConstRows h_prev,
                           ConstRows grad_h, ConstRows grad_h2, Rows grad_gi, Rows grad_gh,
                           Rows grad_h_prev) {
    for_rows(n, 3 * hs, [&](int64_t r) {
      const float* a = acts.data + r * acts.row_stride;
      const float* hp = h_prev.data + r * h_prev.row_stride;
      const float* gh = grad_h.data + r * grad_h.row_stride;
      const float* gh2 = grad_h2.data ? grad_h2.data + r * grad_h2.row_stride : nullptr;
      float* dgi = grad_gi.data + r * grad_gi.row_stride;
      float* dgh = grad_gh.data + r * grad_gh.row_stride;
      float* dhp = grad_h_prev.data + r * grad_h_prev.row_stride;
      if (gh2) gru_backward_row<true>(hs, a, hp, gh, gh2, dgi, dgh, dhp);
      else gru_backward_row<false>(hs, a, hp, gh, gh2, dgi, dgh, dhp);
    });
  }

  // ------------------------------------------------------------------------------ RNN
  static void rnn_forward(int64_t n, int64_t hs, ConstRows gates, ConstRows add, const float* bias,
                          Rows h, RnnMode mode) {
    for_rows(n, hs, [&](int64_t r) {
      const float* __restrict g = gates.data + r * gates.row_stride;
      const float* __restrict x = add.data ? add.data + r * add.row_stride : nullptr;
      float* __restrict hr = h.data + r * h.row_stride;
      const bool relu = mode == RnnMode::Relu;
#pragma omp simd
      for (int64_t j = 0; j < hs; ++j) {
        float v = g[j];
        if (x) v += x[j];
        if (bias) v += bias[j];
        hr[j] = relu ? (v < 0.0f ? 0.0f : v) : tanh(v);  // relu(NaN) = NaN
      }
    });
  }

  static void rnn_backward(int64_t n, int64_t hs, ConstRows h, ConstRows grad_h, ConstRows grad_h2,
                           Rows grad_gates, RnnMode mode) {
    for_rows(n, hs, [&](int64_t r) {
      const float* __restrict hr = h.data + r * h.row_stride;
      const float* __restrict gh = grad_h.data + r * grad_h.row_stride;
      const float* __restrict gh2 = grad_h2.data ? grad_h2.data + r * grad_h2.row_stride : nullptr;
      float* __restrict dg = grad_gates.data + r * grad_gates.row_stride;
      const bool relu = mode == RnnMode::Relu;
#pragma omp simd
      for (int64_t j = 0; j < hs; ++j) {
        const float d = gh2 ? gh[j] + gh2[j] : gh[j];
        dg[j] = relu ? (hr[j] > 0.0f ? d : 0.0f) : d * (1.0f - hr[j] * hr[j]);
      }
    });
  }

  static const rnn_isa::Table& table() {
    static const rnn_isa::Table t{lstm_forward, lstm_backward, gru_forward,
                                  gru_backward, rnn_forward,   rnn_backward};
    return t;
  }
};

}  // namespace pyfastdl::rnn_gates
