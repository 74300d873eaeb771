// The gate arithmetic of one unit of an RNN / LSTM / GRU time step, forward and backward, shared
// by host (g++) and device (nvcc) code. Same formulas as pyfastdl/kernels/reference/rnn.py, gate
// order PyTorch's (LSTM i, f, g, o; GRU r, z, n):
//
//   LSTM  i, f, o = sigmoid(.)  g = tanh(.)  c = f c_prev + i g  h = o tanh(c)
//         dc = grad_c + grad_h o (1 - tanh(c)^2)
//         di = dc g i (1 - i)  df = dc c_prev f (1 - f)  dg = dc i (1 - g^2)
//         do = grad_h tanh(c) o (1 - o)  grad_c_prev = dc f
//   GRU   r, z = sigmoid(gi + gh)  n = tanh(gi_n + r gh_n)  h = (1 - z) n + z h_prev
//         dn' = grad_h (1 - z) (1 - n^2)  dr' = dn' gh_n r (1 - r)  dz' = grad_h (h_prev - n) z (1
//         - z) d(gi) = (dr', dz', dn')  d(gh) = (dr', dz', dn' r)  direct grad_h_prev = grad_h z
//   RNN   h = tanh(x) or relu(x);  grad = grad_h (1 - h^2) or (h > 0 ? grad_h : 0)
//
// The backward formulas take the activated gates the forward stored, never the pre-activations.
#pragma once

#include <math.h>

#include "pyfastdl/math/hd.h"

namespace pyfastdl::math {

// Two-sided logistic: exp never overflows (the reference's form).
PFD_HD inline float gate_sigmoid(float x) {
  const float e = expf(-fabsf(x));
  return x >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
}

// relu that keeps NaN (as NumPy's maximum(x, 0) does; fmaxf would drop it).
PFD_HD inline float gate_relu(float x) { return x < 0.0f ? 0.0f : x; }

struct LstmStep {
  float i, f, g, o;  // activated gates
  float c, h;        // new cell and hidden state
};

PFD_HD inline LstmStep lstm_step(float pi, float pf, float pg, float po, float c_prev) {
  LstmStep s;
  s.i = gate_sigmoid(pi);
  s.f = gate_sigmoid(pf);
  s.g = tanhf(pg);
  s.o = gate_sigmoid(po);
  s.c = s.f * c_prev + s.i * s.g;
  s.h = s.o * tanhf(s.c);
  return s;
}

struct LstmGrad {
  float di, df, dg, d_o;  // w.r.t. the pre-activations
  float dc_prev;
};

// grad_c: the gradient reaching c from later (0 when there is none).
PFD_HD inline LstmGrad lstm_step_grad(float i, float f, float g, float o, float c_prev, float c,
                                      float grad_h, float grad_c) {
  const float tc = tanhf(c);
  const float dc = grad_h * o * (1.0f - tc * tc) + grad_c;
  LstmGrad d;
  d.di = dc * g * i * (1.0f - i);
  d.df = dc * c_prev * f * (1.0f - f);
  d.dg = dc * i * (1.0f - g * g);
  d.d_o = grad_h * tc * o * (1.0f - o);
  d.dc_prev = dc * f;
  return d;
}

struct GruStep {
  float r, z, n;  // activated gates (acts also keeps gh_n)
  float h;
};

PFD_HD inline GruStep gru_step(float gi_r, float gi_z, float gi_n, float gh_r, float gh_z,
                               float gh_n, float h_prev) {
  GruStep s;
  s.r = gate_sigmoid(gi_r + gh_r);
  s.z = gate_sigmoid(gi_z + gh_z);
  s.n = tanhf(gi_n + s.r * gh_n);
  s.h = (1.0f - s.z) * s.n + s.z * h_prev;
  return s;
}

struct GruGrad {
  float dr, dz, dn;  // d(gi) = (dr, dz, dn), d(gh) = (dr, dz, dn_h)
  float dn_h;        // dn r
  float dh_direct;   // grad_h z: the part of grad_h_prev not through the gates
};

PFD_HD inline GruGrad gru_step_grad(float r, float z, float n, float gh_n, float h_prev,
                                    float grad_h) {
  GruGrad d;
  d.dn = grad_h * (1.0f - z) * (1.0f - n * n);
  d.dr = d.dn * gh_n * r * (1.0f - r);
  d.dz = grad_h * (h_prev - n) * z * (1.0f - z);
  d.dn_h = d.dn * r;
  d.dh_direct = grad_h * z;
  return d;
}

PFD_HD inline float rnn_step(float x, bool relu) { return relu ? gate_relu(x) : tanhf(x); }

// From the step's output h. relu: a mask, not a product (an infinite grad_h where h <= 0 gives
// 0, as in PyTorch).
PFD_HD inline float rnn_step_grad(float h, float grad_h, bool relu) {
  return relu ? (h > 0.0f ? grad_h : 0.0f) : grad_h * (1.0f - h * h);
}

}  // namespace pyfastdl::math
