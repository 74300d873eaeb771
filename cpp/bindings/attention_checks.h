// Argument checks of fused attention shared by the CPU binding (cpp/bindings/bind_attention.cpp)
// and the CUDA binding (cuda/bind_attention.cpp): both read their arrays into ArrayViews, then
// check them here, so each check and its message is written once. The shape and options structs
// differ between the two (AttentionShape / AttentionOptions on the CPU, cuda::AttentionDims /
// cuda::AttentionConfig on the GPU) but have the same fields: the checks that fill them are
// templates over them.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "common.h"

namespace pyfastdl::bind {

inline void check_attention_shape(const char* op, const ArrayView<float>& v, const char* name,
                                  const std::vector<int64_t>& want, const char* dims) {
  if (v.shape != want)
    fail_value(op, name, " must have shape ", shape_str(want), " ", dims, ", got ",
               shape_str(v.shape));
}

// q, k, v agree: returns (B, H, L, S, D, Dv).
template <class Dims>
Dims check_attention_qkv(const char* op, const ArrayView<float>& q, const ArrayView<float>& k,
                         const ArrayView<float>& v) {
  Dims s;
  s.batch = q.shape[0];
  s.heads = q.shape[1];
  s.q_len = q.shape[2];
  s.head_dim = q.shape[3];
  if (k.shape[0] != s.batch || k.shape[1] != s.heads || k.shape[3] != s.head_dim)
    fail_value(op, "k must have shape (", s.batch, ", ", s.heads, ", S, ", s.head_dim,
               ") to match q ", shape_str(q.shape), ", got ", shape_str(k.shape));
  s.kv_len = k.shape[2];
  if (v.shape[0] != s.batch || v.shape[1] != s.heads || v.shape[2] != s.kv_len)
    fail_value(op, "v must have shape (", s.batch, ", ", s.heads, ", ", s.kv_len,
               ", Dv) to match k ", shape_str(k.shape), ", got ", shape_str(v.shape));
  s.v_dim = v.shape[3];
  return s;
}

// The mask's shape: exactly (B, H, L, S).
template <class Dims>
void check_attention_mask_shape(const char* op, const std::vector<int64_t>& shape, const Dims& s) {
  const std::vector<int64_t> want{s.batch, s.heads, s.q_len, s.kv_len};
  if (shape != want)
    fail_value(op, "mask must have shape ", shape_str(want), " (B, H, L, S), got ",
               shape_str(shape));
}

// A mask stride of `bytes` bytes in items of `item` bytes.
inline int64_t attention_mask_stride(const char* op, int64_t bytes, int64_t item) {
  if (bytes % item != 0)
    fail_value(op, "mask has a stride of ", bytes, " bytes, not a multiple of the item size");
  return bytes / item;
}

template <class Options>
Options attention_options(const char* op, double scale, bool is_causal, double dropout_p,
                          int64_t seed) {
  if (!(dropout_p >= 0.0 && dropout_p < 1.0))
    fail_value(op, "dropout_p must be in [0, 1), got ", dropout_p);
  if (seed < 0) fail_value(op, "seed must be in [0, 2**63), got ", seed);
  Options o;
  o.scale = static_cast<float>(scale);
  o.is_causal = is_causal;
  o.dropout_p = dropout_p;
  o.seed = static_cast<uint64_t>(seed);
  return o;
}

// An output (already read as a writable float32 view): the expected shape, C-contiguous.
inline void check_attention_output(const char* op, const ArrayView<float>& v, const char* name,
                                   const std::vector<int64_t>& want, const char* dims) {
  check_attention_shape(op, v, name, want, dims);
  if (v.size() > 0 && !is_c_contiguous(v)) fail_value(op, name, " must be C-contiguous");
}

template <class T>
void check_attention_apart(const char* op, const ArrayView<float>& out, const char* out_name,
                           const ArrayView<T>& other, const char* other_name) {
  if (overlaps(out, other)) fail_value(op, out_name, " must not share memory with ", other_name);
}

// The forward's outputs (out, lse) share no memory with q, k, v, the mask or each other.
inline void check_attention_forward_apart(const char* op, const ArrayView<float>& q,
                                          const ArrayView<float>& k, const ArrayView<float>& v,
                                          const ArrayView<char>& mask_bytes,
                                          const ArrayView<float>& out,
                                          const ArrayView<float>& lse) {
  const std::pair<const ArrayView<float>*, const char*> inputs[] = {
      {&q, "q"}, {&k, "k"}, {&v, "v"}};
  for (const auto& [in, name] : inputs) {
    check_attention_apart(op, out, "out", *in, name);
    check_attention_apart(op, lse, "lse", *in, name);
  }
  check_attention_apart(op, out, "out", mask_bytes, "mask");
  check_attention_apart(op, lse, "lse", mask_bytes, "mask");
  check_attention_apart(op, lse, "lse", out, "out");
}

// The backward's outputs (grad_q, grad_k, grad_v) share no memory with the inputs, the mask or
// each other.
inline void check_attention_backward_apart(const char* op, const ArrayView<float>& q,
                                           const ArrayView<float>& k, const ArrayView<float>& v,
                                           const ArrayView<float>& out, const ArrayView<float>& lse,
                                           const ArrayView<float>& grad_out,
                                           const ArrayView<char>& mask_bytes,
                                           const ArrayView<float>& gq, const ArrayView<float>& gk,
                                           const ArrayView<float>& gv) {
  const std::pair<const ArrayView<float>*, const char*> inputs[] = {
      {&q, "q"}, {&k, "k"}, {&v, "v"}, {&out, "out"}, {&lse, "lse"}, {&grad_out, "grad_out"}};
  const std::pair<const ArrayView<float>*, const char*> grads[] = {
      {&gq, "grad_q"}, {&gk, "grad_k"}, {&gv, "grad_v"}};
  for (const auto& [g, g_name] : grads) {
    for (const auto& [in, in_name] : inputs) check_attention_apart(op, *g, g_name, *in, in_name);
    check_attention_apart(op, *g, g_name, mask_bytes, "mask");
  }
  check_attention_apart(op, gq, "grad_q", gk, "grad_k");
  check_attention_apart(op, gq, "grad_q", gv, "grad_v");
  check_attention_apart(op, gk, "grad_k", gv, "grad_v");
}

}  // namespace pyfastdl::bind
