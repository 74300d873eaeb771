// Recurrent cells and layers (RNN, LSTM, GRU): fused per-time-step gate kernels and whole-layer
// recurrences, fp32, PyTorch's gate order (LSTM i, f, g, o; GRU r, z, n).
//
// Cell kernels work on (N, G*H) pre-activations: rows are the batch, a row holds G gates of H
// units each; every operand has unit column stride and any row stride (Rows / ConstRows with
// col_stride 1). Per step and row they read/write a handful of H-vectors once:
//   LSTM forward   i, f, o = sigmoid, g = tanh; c = f c_prev + i g; h = o tanh(c)
//                  reads 4H + H, writes 2H + 4H (acts = i, f, g, o);   ~4 exp + 25 flops / unit
//   GRU forward    r, z = sigmoid(gi + gh); n = tanh(gi_n + r gh_n); h = (1 - z) n + z h_prev
//                  reads 3H + 3H + H, writes H + 4H (acts = r, z, n, gh_n)
//   RNN forward    h = tanh(gates) or relu(gates)
// and the backward kernels invert them from the saved activations (see pyfastdl/kernels/
// reference/rnn.py for the formulas).
//
// Layer kernels run the whole recurrence of one layer in one direction: for each step (time t
// ascending, or descending when `reverse`) one gemm h_prev W_hh^T (pyfastdl::gemm, OpenMP inside)
// and one fused cell kernel; the backward runs the steps in the opposite order with one fused
// cell-backward kernel and one gemm dgates W_hh per step. The input projection x W_ih^T + b_ih
// of all steps (xw) and the weight gradients over all steps are single GEMMs done by the caller.
// Sequences are (L, N, C) arrays in time order with unit column stride (Seq views).
#pragma once

#include <cstdint>

#include "pyfastdl/softmax.h"  // ConstRows, Rows

namespace pyfastdl {

// An (L, N, C) sequence: element (t, n, c) at data[t * step_stride + n * row_stride + c].
struct Seq {
  float* data = nullptr;
  int64_t step_stride = 0;
  int64_t row_stride = 0;
  float* step(int64_t t) const { return data + t * step_stride; }
  Rows rows(int64_t t) const { return {data + t * step_stride, row_stride, 1}; }
  ConstRows crows(int64_t t) const { return {data + t * step_stride, row_stride, 1}; }
};

enum class RnnMode : int { Tanh = 0, Relu = 1 };

// ---------------------------------------------------------------------------- cells
// grad_c (LSTM) may have data == nullptr (zero).
void lstm_cell_forward(int64_t n, int64_t hidden, ConstRows gates, ConstRows c_prev, Rows h, Rows c,
                       Rows acts);
void lstm_cell_backward(int64_t n, int64_t hidden, ConstRows acts, ConstRows c_prev, ConstRows c,
                        ConstRows grad_h, ConstRows grad_c, Rows grad_gates, Rows grad_c_prev);
void gru_cell_forward(int64_t n, int64_t hidden, ConstRows gi, ConstRows gh, ConstRows h_prev,
                      Rows h, Rows acts);
void gru_cell_backward(int64_t n, int64_t hidden, ConstRows acts, ConstRows h_prev,
                       ConstRows grad_h, Rows grad_gi, Rows grad_gh, Rows grad_h_prev);
void rnn_cell_forward(int64_t n, int64_t cols, ConstRows gates, Rows h, RnnMode mode);
void rnn_cell_backward(int64_t n, int64_t cols, ConstRows h, ConstRows grad_h, Rows grad_gates,
                       RnnMode mode);

// ---------------------------------------------------------------------------- layers
// The recurrent weights of one layer and direction: w_hh (G*H, H) with unit column stride,
// b_hh (G*H,) contiguous or nullptr.
struct RecurrentWeights {
  const float* w_hh = nullptr;
  int64_t w_row_stride = 0;
  const float* b_hh = nullptr;
};

// xw (L, N, 4H) = x W_ih^T + b_ih; h0, c0 (N, H). Writes hs, cs (L, N, H) (h and c after each
// time step, in time order) and acts (L, N, 4H) (skipped when acts.data is nullptr: inference).
void lstm_layer_forward(int64_t steps, int64_t n, int64_t hidden, Seq xw, ConstRows h0,
                        ConstRows c0, const RecurrentWeights& w, Seq hs, Seq cs, Seq acts,
                        bool reverse);
// grad_out (L, N, H), grad_hn, grad_cn (N, H) may be null (zero). Writes grad_gates (L, N, 4H)
// (w.r.t. the pre-activations of each step), grad_h0 and grad_c0 (N, H).
void lstm_layer_backward(int64_t steps, int64_t n, int64_t hidden, Seq acts, Seq cs, ConstRows c0,
                         const RecurrentWeights& w, Seq grad_out, ConstRows grad_hn,
                         ConstRows grad_cn, Seq grad_gates, Rows grad_h0, Rows grad_c0,
                         bool reverse);
// xw (L, N, 3H) = x W_ih^T + b_ih. Writes hs (L, N, H) and acts (L, N, 4H) (skipped when
// acts.data is nullptr).
void gru_layer_forward(int64_t steps, int64_t n, int64_t hidden, Seq xw, ConstRows h0,
                       const RecurrentWeights& w, Seq hs, Seq acts, bool reverse);
// Writes grad_gi, grad_gh (L, N, 3H) and grad_h0.
void gru_layer_backward(int64_t steps, int64_t n, int64_t hidden, Seq acts, Seq hs, ConstRows h0,
                        const RecurrentWeights& w, Seq grad_out, ConstRows grad_hn, Seq grad_gi,
                        Seq grad_gh, Rows grad_h0, bool reverse);
// xw (L, N, H). Writes hs (L, N, H).
void rnn_layer_forward(int64_t steps, int64_t n, int64_t hidden, Seq xw, ConstRows h0,
                       const RecurrentWeights& w, Seq hs, RnnMode mode, bool reverse);
// Writes grad_gates (L, N, H) and grad_h0.
void rnn_layer_backward(int64_t steps, int64_t n, int64_t hidden, Seq hs, const RecurrentWeights& w,
                        Seq grad_out, ConstRows grad_hn, Seq grad_gates, Rows grad_h0, RnnMode mode,
                        bool reverse);

}  // namespace pyfastdl
