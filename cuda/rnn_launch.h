// Host launchers of the recurrent family on the GPU (cuda/rnn.cu), shared with its binding
// (cuda/bind_rnn.cpp). Plain C++: device pointers in strided views (strides in elements, any
// value: sliced rows, strided columns, transposed weights), sizes, the stream. Each launches on
// `stream` without synchronising and returns the first CUDA error (cudaSuccess without a launch
// when there is nothing to compute). Shapes follow pyfastdl/rnn.h: N rows (the batch), H units,
// G gates (LSTM 4, GRU 3, RNN 1); steps (L, N, C) in time order; states (N, H); w_hh (G*H, H).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "pyfastdl/rnn.h"  // RnnMode

namespace pyfastdl::cuda {

// A read-only (rows, cols) matrix: element (r, k) at data[r * rs + k * cs]; data == nullptr
// stands for an absent operand (zero).
struct CMat {
  const float* data = nullptr;
  int64_t rs = 0, cs = 1;
};

// A written (rows, cols) matrix.
struct Mat {
  float* data = nullptr;
  int64_t rs = 0, cs = 1;
  CMat in() const { return {data, rs, cs}; }
};

// An (L, N, C) sequence: step t is the matrix at data + t * ts. data == nullptr: absent.
struct Seq {
  float* data = nullptr;
  int64_t ts = 0, rs = 0, cs = 1;
  Mat at(int64_t t) const { return {data ? data + t * ts : nullptr, rs, cs}; }
  CMat in(int64_t t) const { return {data ? data + t * ts : nullptr, rs, cs}; }
};

// The recurrent weights of one layer and direction: w_hh (G*H, H), b_hh (G*H,) or nullptr.
struct Recurrent {
  CMat w;
  const float* b = nullptr;
  int64_t b_stride = 1;
};

// ---------------------------------------------------------------------------- cells
// grad_c (LSTM) may be absent (zero).
cudaError_t lstm_cell_forward(int64_t n, int64_t hidden, CMat gates, CMat c_prev, Mat h, Mat c,
                              Mat acts, cudaStream_t stream);
cudaError_t lstm_cell_backward(int64_t n, int64_t hidden, CMat acts, CMat c_prev, CMat c,
                               CMat grad_h, CMat grad_c, Mat grad_gates, Mat grad_c_prev,
                               cudaStream_t stream);
cudaError_t gru_cell_forward(int64_t n, int64_t hidden, CMat gi, CMat gh, CMat h_prev, Mat h,
                             Mat acts, cudaStream_t stream);
cudaError_t gru_cell_backward(int64_t n, int64_t hidden, CMat acts, CMat h_prev, CMat grad_h,
                              Mat grad_gi, Mat grad_gh, Mat grad_h_prev, cudaStream_t stream);
cudaError_t rnn_cell_forward(int64_t n, int64_t hidden, CMat gates, Mat h, RnnMode mode,
                             cudaStream_t stream);
cudaError_t rnn_cell_backward(int64_t n, int64_t hidden, CMat h, CMat grad_h, Mat grad_gates,
                              RnnMode mode, cudaStream_t stream);

// ---------------------------------------------------------------------------- layers
// Per step (time t ascending, descending when `reverse`): one GEMM h_prev W_hh^T + b_hh into a
// scratch (N, G*H) buffer, then one fused cell kernel; the backward runs the steps the other way
// with one fused cell-backward kernel and one GEMM dgates W_hh per step. acts may be absent in
// the forwards (inference); grad_out, grad_hn, grad_cn may be absent (zero).
cudaError_t lstm_layer_forward(int64_t steps, int64_t n, int64_t hidden, Seq xw, CMat h0, CMat c0,
                               const Recurrent& w, Seq hs, Seq cs, Seq acts, bool reverse,
                               cudaStream_t stream);
cudaError_t lstm_layer_backward(int64_t steps, int64_t n, int64_t hidden, Seq acts, Seq cs, CMat c0,
                                const Recurrent& w, Seq grad_out, CMat grad_hn, CMat grad_cn,
                                Seq grad_gates, Mat grad_h0, Mat grad_c0, bool reverse,
                                cudaStream_t stream);
cudaError_t gru_layer_forward(int64_t steps, int64_t n, int64_t hidden, Seq xw, CMat h0,
                              const Recurrent& w, Seq hs, Seq acts, bool reverse,
                              cudaStream_t stream);
cudaError_t gru_layer_backward(int64_t steps, int64_t n, int64_t hidden, Seq acts, Seq hs, CMat h0,
                               const Recurrent& w, Seq grad_out, CMat grad_hn, Seq grad_gi,
                               Seq grad_gh, Mat grad_h0, bool reverse, cudaStream_t stream);
cudaError_t rnn_layer_forward(int64_t steps, int64_t n, int64_t hidden, Seq xw, CMat h0,
                              const Recurrent& w, Seq hs, RnnMode mode, bool reverse,
                              cudaStream_t stream);
cudaError_t rnn_layer_backward(int64_t steps, int64_t n, int64_t hidden, Seq hs, const Recurrent& w,
                               Seq grad_out, CMat grad_hn, Seq grad_gates, Mat grad_h0,
                               RnnMode mode, bool reverse, cudaStream_t stream);

}  // namespace pyfastdl::cuda
