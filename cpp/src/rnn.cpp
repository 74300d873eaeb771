// Recurrent cells and layers. This file is compiled once per instruction set
// (pyfastdl_add_isa_kernels in CMakeLists.txt): every build defines its table of the gate
// kernels in rnn_gates.h; the generic build also defines the cell entry points, which run the
// build of cpu_path(), and the whole-layer recurrences.
//
// A layer's forward runs, per time step, one gemm (N, H) x (H, G*H) for h_prev W_hh^T and one
// fused gate kernel that adds the step's input projection xw[t] and b_hh as it reads. The
// backward runs the steps in reverse: one fused gate-backward kernel, then one gemm
// (N, G*H) x (G*H, H) for the gradient reaching h_prev through W_hh. W_hh^T is packed once per
// call into a contiguous (H, G*H) scratch so each step's gemm streams it with unit stride.
// FLOPs per step: 2 N G H^2 (gemm) + O(N G H) (gates); bytes per step: W_hh (4 G H^2) + O(N G H).
#include "pyfastdl/rnn.h"

#include <cstring>
#include <new>

#include "isa_dispatch.h"
#include "pyfastdl/gemm.h"
#include "rnn_gates.h"

namespace pyfastdl {

template <>
const rnn_isa::Table& rnn_isa::Table::build<Isa::path>() {
  return rnn_gates::Kernels<Isa>::table();
}

#if defined(PYFASTDL_ISA_GENERIC)
// ---------------------------------------------------------------------------- cells
void lstm_cell_forward(int64_t n, int64_t hidden, ConstRows gates, ConstRows c_prev, Rows h, Rows c,
                       Rows acts) {
  for_path<rnn_isa::Table>().lstm_forward(n, hidden, gates, ConstRows{}, nullptr, c_prev, h, c,
                                          acts);
}

void lstm_cell_backward(int64_t n, int64_t hidden, ConstRows acts, ConstRows c_prev, ConstRows c,
                        ConstRows grad_h, ConstRows grad_c, Rows grad_gates, Rows grad_c_prev) {
  for_path<rnn_isa::Table>().lstm_backward(n, hidden, acts, c_prev, c, grad_h, ConstRows{}, grad_c,
                                           grad_gates, grad_c_prev);
}

void gru_cell_forward(int64_t n, int64_t hidden, ConstRows gi, ConstRows gh, ConstRows h_prev,
                      Rows h, Rows acts) {
  for_path<rnn_isa::Table>().gru_forward(n, hidden, gi, gh, h_prev, h, acts);
}

void gru_cell_backward(int64_t n, int64_t hidden, ConstRows acts, ConstRows h_prev,
                       ConstRows grad_h, Rows grad_gi, Rows grad_gh, Rows grad_h_prev) {
  for_path<rnn_isa::Table>().gru_backward(n, hidden, acts, h_prev, grad_h, ConstRows{}, grad_gi,
                                          grad_gh, grad_h_prev);
}

void rnn_cell_forward(int64_t n, int64_t cols, ConstRows gates, Rows h, RnnMode mode) {
  for_path<rnn_isa::Table>().rnn_forward(n, cols, gates, ConstRows{}, nullptr, h, mode);
}

void rnn_cell_backward(int64_t n, int64_t cols, ConstRows h, ConstRows grad_h, Rows grad_gates,
                       RnnMode mode) {
  for_path<rnn_isa::Table>().rnn_backward(n, cols, h, grad_h, ConstRows{}, grad_gates, mode);
}

// ---------------------------------------------------------------------------- layers
namespace {

// Heap floats owned by a layer call, 64-byte aligned (gemm's stores into C and the gate kernels'
// vector loads then never split cache lines); allocated before any parallel region.
struct Scratch {
  float* p = nullptr;
  explicit Scratch(int64_t n)
      : p(n > 0 ? static_cast<float*>(
                      ::operator new(sizeof(float) * static_cast<size_t>(n), std::align_val_t{64}))
                : nullptr) {}
  ~Scratch() {
    if (p) ::operator delete(p, std::align_val_t{64});
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
};

// The time of step s, and of the step before it (-1: the initial state).
struct Order {
  int64_t steps;
  bool reverse;
  int64_t time(int64_t s) const { return reverse ? steps - 1 - s : s; }
  int64_t prev(int64_t s) const { return s == 0 ? -1 : time(s - 1); }
};

ConstRows state(const Seq& seq, int64_t t, ConstRows initial) {
  return t < 0 ? initial : seq.crows(t);
}

// W_hh^T (H, G*H) packed contiguously from w_hh (G*H, H), in 16 x 16 blocks: each block reads
// 16 rows of w_hh and writes 16 rows of the output, 64 bytes each (writing a whole output column
// per weight row instead would touch G*H*4-byte-strided lines that share one cache set).
void pack_transposed(const RecurrentWeights& w, int64_t gh, int64_t hidden, float* out) {
  constexpr int64_t kB = 16;
  for (int64_t k0 = 0; k0 < hidden; k0 += kB)
    for (int64_t j0 = 0; j0 < gh; j0 += kB) {
      const int64_t k1 = k0 + kB < hidden ? k0 + kB : hidden, j1 = j0 + kB < gh ? j0 + kB : gh;
      for (int64_t k = k0; k < k1; ++k) {
        float* dst = out + k * gh;
        const float* src = w.w_hh + k;
        for (int64_t j = j0; j < j1; ++j) dst[j] = src[j * w.w_row_stride];
      }
    }
}

// out (N, G*H) = h (N, H) @ W_hh^T, W_hh^T packed (H, G*H).
void recurrent_product(int64_t n, int64_t gh, int64_t hidden, ConstRows h, const float* w_t,
                       Rows out) {
  MatrixView a{const_cast<float*>(h.data), h.row_stride, 1, 0};
  MatrixView b{const_cast<float*>(w_t), gh, 1, 0};
  MatrixView c{out.data, out.row_stride, 1, 0};
  gemm(1, n, gh, hidden, 1.0f, a, b, 0.0f, c, GemmEpilogue{});
}

// out (N, H) (+)= g (N, G*H) @ W_hh (G*H, H).
void gradient_product(int64_t n, int64_t gh, int64_t hidden, ConstRows g, const RecurrentWeights& w,
                      Rows out, float beta) {
  MatrixView a{const_cast<float*>(g.data), g.row_stride, 1, 0};
  MatrixView b{const_cast<float*>(w.w_hh), w.w_row_stride, 1, 0};
  MatrixView c{out.data, out.row_stride, 1, 0};
  gemm(1, n, hidden, gh, 1.0f, a, b, beta, c, GemmEpilogue{});
}

void copy_rows(int64_t n, int64_t cols, ConstRows src, Rows dst) {
  for (int64_t r = 0; r < n; ++r) {
    float* d = dst.data + r * dst.row_stride;
    if (src.data) std::memcpy(d, src.data + r * src.row_stride, sizeof(float) * cols);
    else std::memset(d, 0, sizeof(float) * cols);
  }
}

}  // namespace

void lstm_layer_forward(int64_t steps, int64_t n, int64_t hidden, Seq xw, ConstRows h0,
                        ConstRows c0, const RecurrentWeights& w, Seq hs, Seq cs, Seq acts,
                        bool reverse) {
  const auto& k = for_path<rnn_isa::Table>();
  const int64_t gh = 4 * hidden;
  Scratch w_t(gh * hidden), gates(n * gh);
  pack_transposed(w, gh, hidden, w_t.p);
  const Rows g{gates.p, gh, 1};
  const Order order{steps, reverse};
  for (int64_t s = 0; s < steps; ++s) {
    const int64_t t = order.time(s), tp = order.prev(s);
    recurrent_product(n, gh, hidden, state(hs, tp, h0), w_t.p, g);
    k.lstm_forward(n, hidden, ConstRows{gates.p, gh, 1}, xw.crows(t), w.b_hh, state(cs, tp, c0),
                   hs.rows(t), cs.rows(t), acts.data ? acts.rows(t) : Rows{});
  }
}

void lstm_layer_backward(int64_t steps, int64_t n, int64_t hidden, Seq acts, Seq cs, ConstRows c0,
                         const RecurrentWeights& w, Seq grad_out, ConstRows grad_hn,
                         ConstRows grad_cn, Seq grad_gates, Rows grad_h0, Rows grad_c0,
                         bool reverse) {
  const auto& k = for_path<rnn_isa::Table>();
  const int64_t gh = 4 * hidden;
  Scratch dh(n * hidden), dc(2 * n * hidden);
  const Rows dh_rows{dh.p, hidden, 1};
  copy_rows(n, hidden, grad_hn, dh_rows);
  ConstRows dc_in = grad_cn;  // data == nullptr: zero
  const Order order{steps, reverse};
  for (int64_t s = steps - 1; s >= 0; --s) {
    const int64_t t = order.time(s), tp = order.prev(s);
    const Rows dc_out{dc.p + (s % 2) * n * hidden, hidden, 1};
    const ConstRows go = grad_out.data ? grad_out.crows(t) : ConstRows{};
    k.lstm_backward(n, hidden, acts.crows(t), state(cs, tp, c0), cs.crows(t),
                    ConstRows{dh.p, hidden, 1}, go, dc_in, grad_gates.rows(t), dc_out);
    dc_in = ConstRows{dc_out.data, hidden, 1};
    gradient_product(n, gh, hidden, grad_gates.crows(t), w, dh_rows, 0.0f);
  }
  copy_rows(n, hidden, ConstRows{dh.p, hidden, 1}, grad_h0);
  copy_rows(n, hidden, dc_in, grad_c0);
}

void gru_layer_forward(int64_t steps, int64_t n, int64_t hidden, Seq xw, ConstRows h0,
                       const RecurrentWeights& w, Seq hs, Seq acts, bool reverse) {
  const auto& k = for_path<rnn_isa::Table>();
  const int64_t gh = 3 * hidden;
  Scratch w_t(gh * hidden), hh(n * gh);
  pack_transposed(w, gh, hidden, w_t.p);
  const Order order{steps, reverse};
  for (int64_t s = 0; s < steps; ++s) {
    const int64_t t = order.time(s), tp = order.prev(s);
    const ConstRows hp = state(hs, tp, h0);
    // gh = h_prev W_hh^T + b_hh (b_hh as a bias per column).
    MatrixView a{const_cast<float*>(hp.data), hp.row_stride, 1, 0};
    MatrixView b{w_t.p, gh, 1, 0};
    MatrixView c{hh.p, gh, 1, 0};
    GemmEpilogue ep;
    ep.bias = w.b_hh;
    ep.bias_row_stride = 0;
    ep.bias_col_stride = 1;
    gemm(1, n, gh, hidden, 1.0f, a, b, 0.0f, c, ep);
    k.gru_forward(n, hidden, xw.crows(t), ConstRows{hh.p, gh, 1}, hp, hs.rows(t),
                  acts.data ? acts.rows(t) : Rows{});
  }
}

void gru_layer_backward(int64_t steps, int64_t n, int64_t hidden, Seq acts, Seq hs, ConstRows h0,
                        const RecurrentWeights& w, Seq grad_out, ConstRows grad_hn, Seq grad_gi,
                        Seq grad_gh, Rows grad_h0, bool reverse) {
  const auto& k = for_path<rnn_isa::Table>();
  const int64_t gh = 3 * hidden;
  Scratch dh(2 * n * hidden);
  float* cur = dh.p;
  float* next = dh.p + n * hidden;
  copy_rows(n, hidden, grad_hn, Rows{cur, hidden, 1});
  const Order order{steps, reverse};
  for (int64_t s = steps - 1; s >= 0; --s) {
    const int64_t t = order.time(s), tp = order.prev(s);
    const ConstRows go = grad_out.data ? grad_out.crows(t) : ConstRows{};
    k.gru_backward(n, hidden, acts.crows(t), state(hs, tp, h0), ConstRows{cur, hidden, 1}, go,
                   grad_gi.rows(t), grad_gh.rows(t), Rows{next, hidden, 1});
    gradient_product(n, gh, hidden, grad_gh.crows(t), w, Rows{next, hidden, 1}, 1.0f);
    float* tmp = cur;
    cur = next;
    next = tmp;
  }
  copy_rows(n, hidden, ConstRows{cur, hidden, 1}, grad_h0);
}

void rnn_layer_forward(int64_t steps, int64_t n, int64_t hidden, Seq xw, ConstRows h0,
                       const RecurrentWeights& w, Seq hs, RnnMode mode, bool reverse) {
  const auto& k = for_path<rnn_isa::Table>();
  Scratch w_t(hidden * hidden), gates(n * hidden);
  pack_transposed(w, hidden, hidden, w_t.p);
  const Order order{steps, reverse};
  for (int64_t s = 0; s < steps; ++s) {
    const int64_t t = order.time(s), tp = order.prev(s);
    recurrent_product(n, hidden, hidden, state(hs, tp, h0), w_t.p, Rows{gates.p, hidden, 1});
    k.rnn_forward(n, hidden, ConstRows{gates.p, hidden, 1}, xw.crows(t), w.b_hh, hs.rows(t), mode);
  }
}

void rnn_layer_backward(int64_t steps, int64_t n, int64_t hidden, Seq hs, const RecurrentWeights& w,
                        Seq grad_out, ConstRows grad_hn, Seq grad_gates, Rows grad_h0, RnnMode mode,
                        bool reverse) {
  const auto& k = for_path<rnn_isa::Table>();
  Scratch dh(n * hidden);
  const Rows dh_rows{dh.p, hidden, 1};
  copy_rows(n, hidden, grad_hn, dh_rows);
  const Order order{steps, reverse};
  for (int64_t s = steps - 1; s >= 0; --s) {
    const int64_t t = order.time(s);
    const ConstRows go = grad_out.data ? grad_out.crows(t) : ConstRows{};
    k.rnn_backward(n, hidden, hs.crows(t), ConstRows{dh.p, hidden, 1}, go, grad_gates.rows(t),
                   mode);
    gradient_product(n, hidden, hidden, grad_gates.crows(t), w, dh_rows, 0.0f);
  }
  copy_rows(n, hidden, ConstRows{dh.p, hidden, 1}, grad_h0);
}
#endif  // PYFASTDL_ISA_GENERIC

}  // namespace pyfastdl
