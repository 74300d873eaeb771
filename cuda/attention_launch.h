// Launchers of the fused attention kernels (attention.cu), called by bind_attention.cpp: plain C++
// (device pointers, sizes, strides in elements, the stream); no pybind11, no device code.
//
// Shapes: q (B, H, L, D), k (B, H, S, D), v (B, H, S, Dv), out and grad_out (B, H, L, Dv),
// lse (B, H, L), grad_q/k/v as q/k/v; mask none, or (B, H, L, S) bool (one byte, nonzero = may
// attend) or float32 (added to the scores), read through its strides (broadcast views are free).
// Every operand is read and written through its four strides: no packed copies are needed.
// Head dims D and Dv up to kAttentionMaxHeadDim. Each launcher launches on `stream` without
// synchronising and returns the first CUDA error (cudaSuccess when all launches were accepted).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace pyfastdl::cuda {

constexpr int64_t kAttentionMaxHeadDim = 128;

// A (B, H, rows, cols) operand: element (b, h, r, c) is data[b s0 + h s1 + r s2 + c s3].
template <class T>
struct AttentionOperand {
  T* data = nullptr;
  int64_t stride[4] = {0, 0, 0, 0};
};

// A (B, H, L) vector (lse): element (b, h, i) is data[b s0 + h s1 + i s2].
template <class T>
struct AttentionRows {
  T* data = nullptr;
  int64_t stride[3] = {0, 0, 0};
};

struct AttentionMaskArg {
  enum class Kind { None, Bool, Float };
  Kind kind = Kind::None;
  const void* data = nullptr;  // const uint8_t* or const float*
  int64_t stride[4] = {0, 0, 0, 0};
};

struct AttentionDims {
  int64_t batch = 0, heads = 0, q_len = 0, kv_len = 0, head_dim = 0, v_dim = 0;
};

struct AttentionConfig {
  float scale = 1.0f;
  bool is_causal = false;
  double dropout_p = 0.0;  // in [0, 1)
  uint64_t seed = 0;
};

// out, lse of the forward.
cudaError_t attention_forward(const AttentionDims& dims, AttentionOperand<const float> q,
                              AttentionOperand<const float> k, AttentionOperand<const float> v,
                              const AttentionMaskArg& mask, AttentionOperand<float> out,
                              AttentionRows<float> lse, const AttentionConfig& config,
                              cudaStream_t stream);

// grad_q, grad_k, grad_v (overwritten) from the forward's out and lse and grad_out. Uses a
// stream-ordered scratch buffer of B H L floats (cudaMallocAsync).
cudaError_t attention_backward(const AttentionDims& dims, AttentionOperand<const float> q,
                               AttentionOperand<const float> k, AttentionOperand<const float> v,
                               const AttentionMaskArg& mask, AttentionOperand<const float> out,
                               AttentionRows<const float> lse,
                               AttentionOperand<const float> grad_out,
                               AttentionOperand<float> grad_q, AttentionOperand<float> grad_k,
                               AttentionOperand<float> grad_v, const AttentionConfig& config,
                               cudaStream_t stream);

}  // namespace pyfastdl::cuda
