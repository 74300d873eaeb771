// Fused scaled-dot-product attention, forward and backward, float32, flash-style on the CPU.
//
// Shapes: q (B, H, L, D), k (B, H, S, D), v (B, H, S, Dv), out (B, H, L, Dv), lse (B, H, L).
// Per (b, h) and query row i, with key j allowed unless the mask excludes it (bool mask False,
// float mask -inf) or is_causal and j > i (top-left aligned):
//   s_ij = scale * q_i . k_j (+ float mask_ij),   lse_i = log sum_{j allowed} exp(s_ij)
//   p_ij = exp(s_ij - lse_i),  z_ij = [u(seed, n_ij) >= dropout_p] / (1 - dropout_p)
//   out_i = sum_j p_ij z_ij v_j;   a row with no allowed key: lse_i = -inf, out_i = 0
//   u(seed, n): the n-th splitmix64 output from `seed`, top 24 bits / 2^24,
//   n = ((b H + h) L + i) S + j
// Backward (D_i = dO_i . out_i): dV_j = sum_i p_ij z_ij dO_i, dS_ij = p_ij (z_ij dO_i . v_j - D_i),
//   dQ_i = scale sum_j dS_ij k_j, dK_j = scale sum_i dS_ij q_i.
// The L x S matrices are never stored: key tiles are streamed with an online softmax (running row
// max and sum) in the forward, and P is recomputed tile by tile from lse in the backward. Extra
// memory is O(L + S) per thread (packed copies of one head's K and V, a few tiles).
// FLOPs: forward 4 B H L S D (about half with is_causal), backward 2.5 times that.
#pragma once

#include <cstdint>

#include "pyfastdl/cpu_features.h"

namespace pyfastdl {

// A (B, H, rows, cols) operand with unit stride along cols: element (b, h, r, c) is
// data[b * sb + h * sh + r * sr + c].
template <class T>
struct AttentionOperand {
  T* data = nullptr;
  int64_t sb = 0, sh = 0, sr = 0;
  T* row(int64_t b, int64_t h, int64_t r) const { return data + b * sb + h * sh + r * sr; }
};

// A (B, H, L) vector (lse): element (b, h, i) is data[b * sb + h * sh + i * si].
template <class T>
struct AttentionRows {
  T* data = nullptr;
  int64_t sb = 0, sh = 0, si = 0;
};

// The optional (B, H, L, S) mask with element strides (stride 0 in broadcast dims).
struct AttentionMask {
  enum class Kind { None, Bool, Float };
  Kind kind = Kind::None;
  const void* data = nullptr;  // const bool* (true = may attend) or const float* (added)
  int64_t sb = 0, sh = 0, sl = 0, ss = 0;
};

struct AttentionShape {
  int64_t batch = 0, heads = 0, q_len = 0, kv_len = 0, head_dim = 0, v_dim = 0;
};

struct AttentionOptions {
  float scale = 1.0f;
  bool is_causal = false;
  double dropout_p = 0.0;  // in [0, 1)
  uint64_t seed = 0;
};

void attention_forward(const AttentionShape& shape, AttentionOperand<const float> q,
                       AttentionOperand<const float> k, AttentionOperand<const float> v,
                       const AttentionMask& mask, AttentionOperand<float> out,
                       AttentionRows<float> lse, const AttentionOptions& options);

// grad_q, grad_k, grad_v are overwritten.
void attention_backward(const AttentionShape& shape, AttentionOperand<const float> q,
                        AttentionOperand<const float> k, AttentionOperand<const float> v,
                        const AttentionMask& mask, AttentionOperand<const float> out,
                        AttentionRows<const float> lse, AttentionOperand<const float> grad_out,
                        AttentionOperand<float> grad_q, AttentionOperand<float> grad_k,
                        AttentionOperand<float> grad_v, const AttentionOptions& options);

// The same on an explicit instruction-set path (one the processor supports).
void attention_forward(CpuPath path, const AttentionShape& shape, AttentionOperand<const float> q,
                       AttentionOperand<const float> k, AttentionOperand<const float> v,
                       const AttentionMask& mask, AttentionOperand<float> out,
                       AttentionRows<float> lse, const AttentionOptions& options);
void attention_backward(CpuPath path, const AttentionShape& shape, AttentionOperand<const float> q,
                        AttentionOperand<const float> k, AttentionOperand<const float> v,
                        const AttentionMask& mask, AttentionOperand<const float> out,
                        AttentionRows<const float> lse, AttentionOperand<const float> grad_out,
                        AttentionOperand<float> grad_q, AttentionOperand<float> grad_k,
                        AttentionOperand<float> grad_v, const AttentionOptions& options);

}  // namespace pyfastdl
