// Recurrent cells and layers on the GPU: fused RNN / LSTM / GRU gate kernels of one time step
// and the whole-layer recurrences (the rules of pyfastdl/rnn.h and
// pyfastdl/kernels/reference/rnn.py; the per-unit math is pyfastdl/math/rnn_gates.h).
//
// Who owns what: every gate kernel runs ONE THREAD PER (row n, unit j) of the (N, H) state,
// grid-stride, flat in C order so that neighbouring threads touch neighbouring units. The thread
// reads the G pre-activations of its unit (columns j, H + j, ...) and its state, and writes its
// unit of h / c, its G activations and gate gradients: no sharing, no synchronisation, memory
// bound (a few H-vectors per row and step).
//
// Layers loop over the time steps on the host, two launches per step on the one stream:
//   forward   scratch (N, G*H) = h_prev W_hh^T + b_hh   (cuda/gemm_launch.h, exact fp32 SIMT)
//             fused cell kernel: pre-activations xw[t] + scratch -> hs[t] (cs[t], acts[t])
//   backward  fused cell-backward kernel: grad_h = dh + grad_out[t] -> gate gradients of step t
//             (and dc / the direct part of dh, in place in an (N, H) scratch)
//             dh = grad_gates[t] W_hh (GRU: dh = direct + grad_gh[t] W_hh, the GEMM's beta = 1)
// The first step reads h0 / c0 and the last backward step writes grad_h0 / grad_c0 directly.
// Scratch buffers come from cudaMallocAsync / cudaFreeAsync on the stream; nothing synchronises.
// Each step's GEMM (N x G*H x H) is small for typical batches: the launches, not the bandwidth,
// limit short sequences of small layers.
#include <cuda_runtime.h>

#include <cstdint>

#include "gemm_launch.h"
#include "launch.cuh"
#include "pyfastdl/math/rnn_gates.h"
#include "rnn_launch.h"

namespace pyfastdl::cuda {
namespace {

__device__ inline float at(const CMat& m, int64_t r, int64_t k) {
  return m.data[r * m.rs + k * m.cs];
}
__device__ inline float at_or_zero(const CMat& m, int64_t r, int64_t k) {
  return m.data ? m.data[r * m.rs + k * m.cs] : 0.0f;
}
__device__ inline float& at(const Mat& m, int64_t r, int64_t k) {
  return m.data[r * m.rs + k * m.cs];
}

// grad_h of a step: dh (absent: 0) + grad_out[t] (absent: nothing added), the reference's order.
__device__ inline float grad_of(const CMat& dh, const CMat& dh2, int64_t r, int64_t j) {
  const float g = at_or_zero(dh, r, j);
  return dh2.data ? g + at(dh2, r, j) : g;
}

// ---------------------------------------------------------------------------- gate kernels
// LSTM forward: pre-activations x (+ gh when present), (N, 4H).
__global__ void lstm_forward_kernel(int64_t n, int64_t H, CMat x, CMat gh, CMat c_prev, Mat h,
                                    Mat c, Mat acts) {
  for (int64_t e : grid_stride{n * H}) {
    const int64_t r = e / H, j = e % H;
    float p[4];
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      p[k] = at(x, r, k * H + j);
      if (gh.data) p[k] += at(gh, r, k * H + j);
    }
    const math::LstmStep s = math::lstm_step(p[0], p[1], p[2], p[3], at(c_prev, r, j));
    at(c, r, j) = s.c;
    at(h, r, j) = s.h;
    if (acts.data) {
      at(acts, r, j) = s.i;
      at(acts, r, H + j) = s.f;
      at(acts, r, 2 * H + j) = s.g;
      at(acts, r, 3 * H + j) = s.o;
    }
  }
}

// LSTM backward; dc_prev may be dc itself (each thread reads its element before writing it).
__global__ void lstm_backward_kernel(int64_t n, int64_t H, CMat acts, CMat c_prev, CMat c, CMat dh,
                                     CMat dh2, CMat dc, Mat grad_gates, Mat dc_prev) {
  for (int64_t e : grid_stride{n * H}) {
    const int64_t r = e / H, j = e % H;
    const math::LstmGrad d = math::lstm_step_grad(
        at(acts, r, j), at(acts, r, H + j), at(acts, r, 2 * H + j), at(acts, r, 3 * H + j),
        at(c_prev, r, j), at(c, r, j), grad_of(dh, dh2, r, j), at_or_zero(dc, r, j));
    at(grad_gates, r, j) = d.di;
    at(grad_gates, r, H + j) = d.df;
    at(grad_gates, r, 2 * H + j) = d.dg;
    at(grad_gates, r, 3 * H + j) = d.d_o;
    at(dc_prev, r, j) = d.dc_prev;
  }
}

__global__ void gru_forward_kernel(int64_t n, int64_t H, CMat gi, CMat gh, CMat h_prev, Mat h,
                                   Mat acts) {
  for (int64_t e : grid_stride{n * H}) {
    const int64_t r = e / H, j = e % H;
    const float gh_n = at(gh, r, 2 * H + j);
    const math::GruStep s = math::gru_step(at(gi, r, j), at(gi, r, H + j), at(gi, r, 2 * H + j),
                                           at(gh, r, j), at(gh, r, H + j), gh_n, at(h_prev, r, j));
    at(h, r, j) = s.h;
    if (acts.data) {
      at(acts, r, j) = s.r;
      at(acts, r, H + j) = s.z;
      at(acts, r, 2 * H + j) = s.n;
      at(acts, r, 3 * H + j) = gh_n;
    }
  }
}

// GRU backward; dh_direct may be dh itself.
__global__ void gru_backward_kernel(int64_t n, int64_t H, CMat acts, CMat h_prev, CMat dh, CMat dh2,
                                    Mat grad_gi, Mat grad_gh, Mat dh_direct) {
  for (int64_t e : grid_stride{n * H}) {
    const int64_t r = e / H, j = e % H;
    const math::GruGrad d =
        math::gru_step_grad(at(acts, r, j), at(acts, r, H + j), at(acts, r, 2 * H + j),
                            at(acts, r, 3 * H + j), at(h_prev, r, j), grad_of(dh, dh2, r, j));
    at(grad_gi, r, j) = d.dr;
    at(grad_gi, r, H + j) = d.dz;
    at(grad_gi, r, 2 * H + j) = d.dn;
    at(grad_gh, r, j) = d.dr;
    at(grad_gh, r, H + j) = d.dz;
    at(grad_gh, r, 2 * H + j) = d.dn_h;
    at(dh_direct, r, j) = d.dh_direct;
  }
}

__global__ void rnn_forward_kernel(int64_t n, int64_t H, CMat x, CMat gh, Mat h, bool relu) {
  for (int64_t e : grid_stride{n * H}) {
    const int64_t r = e / H, j = e % H;
    float p = at(x, r, j);
    if (gh.data) p += at(gh, r, j);
    at(h, r, j) = math::rnn_step(p, relu);
  }
}

__global__ void rnn_backward_kernel(int64_t n, int64_t H, CMat h, CMat dh, CMat dh2, Mat grad,
                                    bool relu) {
  for (int64_t e : grid_stride{n * H}) {
    const int64_t r = e / H, j = e % H;
    at(grad, r, j) = math::rnn_step_grad(at(h, r, j), grad_of(dh, dh2, r, j), relu);
  }
}

// dst = src (absent: 0): grad_h0 / grad_c0 of a layer with no steps.
__global__ void copy_kernel(int64_t n, int64_t H, CMat src, Mat dst) {
  for (int64_t e : grid_stride{n * H}) {
    const int64_t r = e / H, j = e % H;
    at(dst, r, j) = at_or_zero(src, r, j);
  }
}

// ---------------------------------------------------------------------------- host helpers
unsigned blocks(int64_t n, int64_t H) { return blocks_for(n * H); }

// out (N, G*H, row stride out_rs) = h (N, H) W_hh^T + b_hh.
cudaError_t recurrent_gemm(int64_t n, int64_t gh_cols, int64_t H, CMat h, const Recurrent& w,
                           float* out, int64_t out_rs, cudaStream_t stream) {
  const MatrixView A{const_cast<float*>(h.data), h.rs, h.cs, 0};
  const MatrixView B{const_cast<float*>(w.w.data), w.w.cs, w.w.rs, 0};  // B(k, j) = W[j, k]
  const MatrixView C{out, out_rs, 1, 0};
  GemmEpilogue ep;
  if (w.b) {
    ep.bias = w.b;
    ep.bias_row_stride = 0;  // one bias row for every batch row
    ep.bias_col_stride = w.b_stride;
  }
  return gemm(1, n, gh_cols, H, 1.0f, A, B, 0.0f, C, ep, GemmCudaImpl::Simt, stream);
}

// dh (N, H) = g (N, G*H) W_hh (+ dh when accumulate).
cudaError_t input_grad_gemm(int64_t n, int64_t gh_cols, int64_t H, CMat g, const Recurrent& w,
                            Mat dh, bool accumulate, cudaStream_t stream) {
  const MatrixView A{const_cast<float*>(g.data), g.rs, g.cs, 0};
  const MatrixView B{const_cast<float*>(w.w.data), w.w.rs, w.w.cs, 0};
  const MatrixView C{dh.data, dh.rs, dh.cs, 0};
  return gemm(1, n, H, gh_cols, 1.0f, A, B, accumulate ? 1.0f : 0.0f, C, GemmEpilogue{},
              GemmCudaImpl::Simt, stream);
}

// (time of step s, time of step s - 1) in the reference's order.
int64_t time_of(int64_t s, int64_t steps, bool reverse) { return reverse ? steps - 1 - s : s; }

// A contiguous (rows, cols) float scratch matrix on the stream, freed when it goes out of scope
// (stream-ordered: after every kernel launched before).
class Scratch {
 public:
  Scratch(int64_t rows, int64_t cols, cudaStream_t stream) : cols_(cols), stream_(stream) {
    err_ = cudaMallocAsync(reinterpret_cast<void**>(&data_),
                           static_cast<size_t>(rows * cols) * sizeof(float), stream);
    if (err_ != cudaSuccess) data_ = nullptr;
  }
  ~Scratch() {
    if (data_) cudaFreeAsync(data_, stream_);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  cudaError_t error() const { return err_; }
  Mat mat() const { return {data_, cols_, 1}; }

 private:
  float* data_ = nullptr;
  int64_t cols_;
  cudaStream_t stream_;
  cudaError_t err_;
};

#define PFD_TRY(expr)                             \
  do {                                            \
    const cudaError_t pfd_err_ = (expr);          \
    if (pfd_err_ != cudaSuccess) return pfd_err_; \
  } while (0)

}  // namespace

// ---------------------------------------------------------------------------- cells
cudaError_t lstm_cell_forward(int64_t n, int64_t hidden, CMat gates, CMat c_prev, Mat h, Mat c,
                              Mat acts, cudaStream_t stream) {
  if (n * hidden == 0) return cudaSuccess;
  lstm_forward_kernel<<<blocks(n, hidden), kThreadsPerBlock, 0, stream>>>(n, hidden, gates, CMat{},
                                                                          c_prev, h, c, acts);
  return cudaGetLastError();
}

cudaError_t lstm_cell_backward(int64_t n, int64_t hidden, CMat acts, CMat c_prev, CMat c,
                               CMat grad_h, CMat grad_c, Mat grad_gates, Mat grad_c_prev,
                               cudaStream_t stream) {
  if (n * hidden == 0) return cudaSuccess;
  lstm_backward_kernel<<<blocks(n, hidden), kThreadsPerBlock, 0, stream>>>(
      n, hidden, acts, c_prev, c, grad_h, CMat{}, grad_c, grad_gates, grad_c_prev);
  return cudaGetLastError();
}

cudaError_t gru_cell_forward(int64_t n, int64_t hidden, CMat gi, CMat gh, CMat h_prev, Mat h,
                             Mat acts, cudaStream_t stream) {
  if (n * hidden == 0) return cudaSuccess;
  gru_forward_kernel<<<blocks(n, hidden), kThreadsPerBlock, 0, stream>>>(n, hidden, gi, gh, h_prev,
                                                                         h, acts);
  return cudaGetLastError();
}

cudaError_t gru_cell_backward(int64_t n, int64_t hidden, CMat acts, CMat h_prev, CMat grad_h,
                              Mat grad_gi, Mat grad_gh, Mat grad_h_prev, cudaStream_t stream) {
  if (n * hidden == 0) return cudaSuccess;
  gru_backward_kernel<<<blocks(n, hidden), kThreadsPerBlock, 0, stream>>>(
      n, hidden, acts, h_prev, grad_h, CMat{}, grad_gi, grad_gh, grad_h_prev);
  return cudaGetLastError();
}

cudaError_t rnn_cell_forward(int64_t n, int64_t hidden, CMat gates, Mat h, RnnMode mode,
                             cudaStream_t stream) {
  if (n * hidden == 0) return cudaSuccess;
  rnn_forward_kernel<<<blocks(n, hidden), kThreadsPerBlock, 0, stream>>>(n, hidden, gates, CMat{},
                                                                         h, mode == RnnMode::Relu);
  return cudaGetLastError();
}

cudaError_t rnn_cell_backward(int64_t n, int64_t hidden, CMat h, CMat grad_h, Mat grad_gates,
                              RnnMode mode, cudaStream_t stream) {
  if (n * hidden == 0) return cudaSuccess;
  rnn_backward_kernel<<<blocks(n, hidden), kThreadsPerBlock, 0, stream>>>(
      n, hidden, h, grad_h, CMat{}, grad_gates, mode == RnnMode::Relu);
  return cudaGetLastError();
}

// ---------------------------------------------------------------------------- layers
cudaError_t lstm_layer_forward(int64_t steps, int64_t n, int64_t hidden, Seq xw, CMat h0, CMat c0,
                               const Recurrent& w, Seq hs, Seq cs, Seq acts, bool reverse,
                               cudaStream_t stream) {
  if (steps == 0 || n * hidden == 0) return cudaSuccess;
  Scratch gh(n, 4 * hidden, stream);
  PFD_TRY(gh.error());
  for (int64_t s = 0; s < steps; ++s) {
    const int64_t t = time_of(s, steps, reverse), tp = time_of(s - 1, steps, reverse);
    const CMat h_prev = s ? hs.in(tp) : h0, c_prev = s ? cs.in(tp) : c0;
    PFD_TRY(recurrent_gemm(n, 4 * hidden, hidden, h_prev, w, gh.mat().data, gh.mat().rs, stream));
    lstm_forward_kernel<<<blocks(n, hidden), kThreadsPerBlock, 0, stream>>>(
        n, hidden, xw.in(t), gh.mat().in(), c_prev, hs.at(t), cs.at(t), acts.at(t));
    PFD_TRY(cudaGetLastError());
  }
  return cudaSuccess;
}

cudaError_t lstm_layer_backward(int64_t steps, int64_t n, int64_t hidden, Seq acts, Seq cs, CMat c0,
                                const Recurrent& w, Seq grad_out, CMat grad_hn, CMat grad_cn,
                                Seq grad_gates, Mat grad_h0, Mat grad_c0, bool reverse,
                                cudaStream_t stream) {
  if (n * hidden == 0) return cudaSuccess;
  if (steps == 0) {
    copy_kernel<<<blocks(n, hidden), kThreadsPerBlock, 0, stream>>>(n, hidden, grad_hn, grad_h0);
    copy_kernel<<<blocks(n, hidden), kThreadsPerBlock, 0, stream>>>(n, hidden, grad_cn, grad_c0);
    return cudaGetLastError();
  }
  Scratch dh(n, hidden, stream), dc(n, hidden, stream);
  PFD_TRY(dh.error());
  PFD_TRY(dc.error());
  CMat dh_in = grad_hn, dc_in = grad_cn;  // what reaches step s from later steps
  for (int64_t s = steps - 1; s >= 0; --s) {
    const int64_t t = time_of(s, steps, reverse), tp = time_of(s - 1, steps, reverse);
    const CMat c_prev = s ? cs.in(tp) : c0;
    const Mat dc_out = s ? dc.mat() : grad_c0, dh_out = s ? dh.mat() : grad_h0;
    lstm_backward_kernel<<<blocks(n, hidden), kThreadsPerBlock, 0, stream>>>(
        n, hidden, acts.in(t), c_prev, cs.in(t), dh_in, grad_out.in(t), dc_in, grad_gates.at(t),
        dc_out);
    PFD_TRY(cudaGetLastError());
    PFD_TRY(input_grad_gemm(n, 4 * hidden, hidden, grad_gates.in(t), w, dh_out, false, stream));
    dh_in = dh.mat().in();
    dc_in = dc.mat().in();
  }
  return cudaSuccess;
}

cudaError_t gru_layer_forward(int64_t steps, int64_t n, int64_t hidden, Seq xw, CMat h0,
                              const Recurrent& w, Seq hs, Seq acts, bool reverse,
                              cudaStream_t stream) {
  if (steps == 0 || n * hidden == 0) return cudaSuccess;
  Scratch gh(n, 3 * hidden, stream);
  PFD_TRY(gh.error());
  for (int64_t s = 0; s < steps; ++s) {
    const int64_t t = time_of(s, steps, reverse), tp = time_of(s - 1, steps, reverse);
    const CMat h_prev = s ? hs.in(tp) : h0;
    PFD_TRY(recurrent_gemm(n, 3 * hidden, hidden, h_prev, w, gh.mat().data, gh.mat().rs, stream));
    gru_forward_kernel<<<blocks(n, hidden), kThreadsPerBlock, 0, stream>>>(
        n, hidden, xw.in(t), gh.mat().in(), h_prev, hs.at(t), acts.at(t));
    PFD_TRY(cudaGetLastError());
  }
  return cudaSuccess;
}

cudaError_t gru_layer_backward(int64_t steps, int64_t n, int64_t hidden, Seq acts, Seq hs, CMat h0,
                               const Recurrent& w, Seq grad_out, CMat grad_hn, Seq grad_gi,
                               Seq grad_gh, Mat grad_h0, bool reverse, cudaStream_t stream) {
  if (n * hidden == 0) return cudaSuccess;
  if (steps == 0) {
    copy_kernel<<<blocks(n, hidden), kThreadsPerBlock, 0, stream>>>(n, hidden, grad_hn, grad_h0);
    return cudaGetLastError();
  }
  Scratch dh(n, hidden, stream);
  PFD_TRY(dh.error());
  CMat dh_in = grad_hn;
  for (int64_t s = steps - 1; s >= 0; --s) {
    const int64_t t = time_of(s, steps, reverse), tp = time_of(s - 1, steps, reverse);
    const CMat h_prev = s ? hs.in(tp) : h0;
    const Mat dh_out = s ? dh.mat() : grad_h0;
    gru_backward_kernel<<<blocks(n, hidden), kThreadsPerBlock, 0, stream>>>(
        n, hidden, acts.in(t), h_prev, dh_in, grad_out.in(t), grad_gi.at(t), grad_gh.at(t), dh_out);
    PFD_TRY(cudaGetLastError());
    PFD_TRY(input_grad_gemm(n, 3 * hidden, hidden, grad_gh.in(t), w, dh_out, true, stream));
    dh_in = dh.mat().in();
  }
  return cudaSuccess;
}

cudaError_t rnn_layer_forward(int64_t steps, int64_t n, int64_t hidden, Seq xw, CMat h0,
                              const Recurrent& w, Seq hs, RnnMode mode, bool reverse,
                              cudaStream_t stream) {
  if (steps == 0 || n * hidden == 0) return cudaSuccess;
  Scratch gh(n, hidden, stream);
  PFD_TRY(gh.error());
  for (int64_t s = 0; s < steps; ++s) {
    const int64_t t = time_of(s, steps, reverse), tp = time_of(s - 1, steps, reverse);
    const CMat h_prev = s ? hs.in(tp) : h0;
    PFD_TRY(recurrent_gemm(n, hidden, hidden, h_prev, w, gh.mat().data, gh.mat().rs, stream));
    rnn_forward_kernel<<<blocks(n, hidden), kThreadsPerBlock, 0, stream>>>(
        n, hidden, xw.in(t), gh.mat().in(), hs.at(t), mode == RnnMode::Relu);
    PFD_TRY(cudaGetLastError());
  }
  return cudaSuccess;
}

cudaError_t rnn_layer_backward(int64_t steps, int64_t n, int64_t hidden, Seq hs, const Recurrent& w,
                               Seq grad_out, CMat grad_hn, Seq grad_gates, Mat grad_h0,
                               RnnMode mode, bool reverse, cudaStream_t stream) {
  if (n * hidden == 0) return cudaSuccess;
  if (steps == 0) {
    copy_kernel<<<blocks(n, hidden), kThreadsPerBlock, 0, stream>>>(n, hidden, grad_hn, grad_h0);
    return cudaGetLastError();
  }
  Scratch dh(n, hidden, stream);
  PFD_TRY(dh.error());
  CMat dh_in = grad_hn;
  for (int64_t s = steps - 1; s >= 0; --s) {
    const int64_t t = time_of(s, steps, reverse);
    const Mat dh_out = s ? dh.mat() : grad_h0;
    rnn_backward_kernel<<<blocks(n, hidden), kThreadsPerBlock, 0, stream>>>(
        n, hidden, hs.in(t), dh_in, grad_out.in(t), grad_gates.at(t), mode == RnnMode::Relu);
    PFD_TRY(cudaGetLastError());
    PFD_TRY(input_grad_gemm(n, hidden, hidden, grad_gates.in(t), w, dh_out, false, stream));
    dh_in = dh.mat().in();
  }
  return cudaSuccess;
}

#undef PFD_TRY

}  // namespace pyfastdl::cuda
