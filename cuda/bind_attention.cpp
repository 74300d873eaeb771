// Bindings of fused flash-style attention on the GPU: the checks of the CPU binding
// (cpp/bindings/bind_attention.cpp, same order and messages, tagged with the op's name), all on the
// host before any CUDA call, then the launchers of attention.cu on `stream`.
//
//   attention_forward(q, k, v, mask, out, lse, scale, is_causal, dropout_p, seed, *, stream)
//   attention_backward(q, k, v, mask, out, lse, grad_out, grad_q, grad_k, grad_v,
//                      scale, is_causal, dropout_p, seed, *, stream)
// q (B, H, L, D), k (B, H, S, D), v (B, H, S, Dv), grad_out and out (B, H, L, Dv): float32 GPU
// arrays with any strides (read through them, never copied); mask None or exactly (B, H, L, S),
// bool or float32, any strides (broadcast views cost nothing); lse (B, H, L). Outputs (out and
// lse of the forward, grad_q/k/v) are C-contiguous float32 and share no memory with the inputs or
// each other. On the GPU D and Dv are at most 128.
#include <cuda_runtime_api.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "attention_checks.h"
#include "attention_launch.h"
#include "bindings.h"
#include "device_array.h"

namespace pyfastdl::cuda_bind {
namespace {

using cuda::AttentionConfig;
using cuda::AttentionDims;
using cuda::AttentionMaskArg;
using cuda::AttentionOperand;
using cuda::AttentionRows;

ArrayView<float> input4(py::handle obj, const char* op, const char* name) {
  return device_view<float>(obj, op, name, 4, 4);
}

AttentionOperand<const float> operand(const ArrayView<float>& v) {
  AttentionOperand<const float> a;
  a.data = v.data;
  for (int i = 0; i < 4; ++i) a.stride[i] = v.strides[i];
  return a;
}
AttentionOperand<float> output_operand(const ArrayView<float>& v) {
  AttentionOperand<float> a;
  a.data = v.data;
  for (int i = 0; i < 4; ++i) a.stride[i] = v.strides[i];
  return a;
}
template <class T>
AttentionRows<T> rows(const ArrayView<float>& v) {
  AttentionRows<T> r;
  r.data = v.data;
  for (int i = 0; i < 3; ++i) r.stride[i] = v.strides[i];
  return r;
}

// The NumPy name of an array-interface typestr ("<f8" -> "float64"), or the typestr itself.
std::string dtype_name(const std::string& typestr) {
  try {
    return py::str(py::module_::import("numpy").attr("dtype")(typestr));
  } catch (const py::error_already_set&) {
    return "typestr '" + typestr + "'";
  }
}

// The mask: None, or a (B, H, L, S) bool or float32 GPU array with any strides. `bytes` gets its
// byte view for the aliasing checks.
AttentionMaskArg check_mask(const char* op, py::handle obj, const AttentionDims& s,
                            ArrayView<char>* bytes) {
  AttentionMaskArg m;
  if (obj.is_none()) return m;
  if (!is_device_array(obj))
    fail_type(op, "mask must be None or a GPU array (with __cuda_array_interface__), got ",
              std::string(py::str(py::type::of(obj).attr("__name__"))));
  py::dict cai = obj.attr("__cuda_array_interface__");
  const std::string typestr = py::str(cai["typestr"]);
  const bool is_bool = typestr == "|b1";
  if (!is_bool && typestr != "<f4")
    fail_type(op, "mask must be bool or float32, got ", dtype_name(typestr));
  std::vector<int64_t> shape;
  for (auto d : py::tuple(cai["shape"])) shape.push_back(d.cast<int64_t>());
  bind::check_attention_mask_shape(op, shape, s);
  const int64_t item = is_bool ? 1 : 4;
  int64_t st[4];
  if (!cai.contains("strides") || cai["strides"].is_none()) {
    st[3] = 1;
    for (int i = 2; i >= 0; --i) st[i] = st[i + 1] * shape[i + 1];
  } else {
    py::tuple strides = cai["strides"];
    for (int i = 0; i < 4; ++i)
      st[i] = bind::attention_mask_stride(op, strides[i].cast<int64_t>(), item);
  }
  py::tuple data = cai["data"];
  m.kind = is_bool ? AttentionMaskArg::Kind::Bool : AttentionMaskArg::Kind::Float;
  m.data = reinterpret_cast<const void*>(data[0].cast<uintptr_t>());
  for (int i = 0; i < 4; ++i) m.stride[i] = st[i];
  bytes->data = static_cast<char*>(const_cast<void*>(m.data));
  bytes->shape = shape;
  for (int i = 0; i < 4; ++i) bytes->strides.push_back(st[i] * item);
  return m;
}

// An output: float32, the expected shape, C-contiguous, writable.
ArrayView<float> output(const char* op, py::handle obj, const char* name,
                        const std::vector<int64_t>& want, const char* dims) {
  auto v = device_view<float>(obj, op, name, static_cast<int>(want.size()),
                              static_cast<int>(want.size()), /*writable=*/true);
  bind::check_attention_output(op, v, name, want, dims);
  return v;
}

// The GPU kernels' one limit beyond the CPU's checks.
void check_head_dims(const char* op, const AttentionDims& s) {
  if (s.head_dim > cuda::kAttentionMaxHeadDim || s.v_dim > cuda::kAttentionMaxHeadDim)
    fail_value(op, "head dims must be at most ", cuda::kAttentionMaxHeadDim,
               " on the GPU, got D = ", s.head_dim, ", Dv = ", s.v_dim);
}

// q, k and v, their shape and the mask: what both directions check first, in this order (the
// members are initialised in declaration order).
struct QkvMask {
  ArrayView<float> q, k, v;
  AttentionDims s;
  ArrayView<char> mask_bytes;
  AttentionMaskArg mask;

  QkvMask(const char* op, py::handle q_obj, py::handle k_obj, py::handle v_obj, py::handle mask_obj)
      : q(input4(q_obj, op, "q")),
        k(input4(k_obj, op, "k")),
        v(input4(v_obj, op, "v")),
        s(bind::check_attention_qkv<AttentionDims>(op, q, k, v)),
        mask(check_mask(op, mask_obj, s, &mask_bytes)) {}
};

void forward_binding(py::handle q_obj, py::handle k_obj, py::handle v_obj, py::handle mask_obj,
                     py::handle out_obj, py::handle lse_obj, double scale, bool is_causal,
                     double dropout_p, int64_t seed, uintptr_t stream) {
  constexpr const char* kOp = "attention_forward";
  const QkvMask qkv(kOp, q_obj, k_obj, v_obj, mask_obj);
  const auto &q = qkv.q, &k = qkv.k, &v = qkv.v;
  const AttentionDims& s = qkv.s;
  auto out = output(kOp, out_obj, "out", {s.batch, s.heads, s.q_len, s.v_dim}, "(B, H, L, Dv)");
  auto lse = output(kOp, lse_obj, "lse", {s.batch, s.heads, s.q_len}, "(B, H, L)");
  const auto o = bind::attention_options<AttentionConfig>(kOp, scale, is_causal, dropout_p, seed);
  bind::check_attention_forward_apart(kOp, q, k, v, qkv.mask_bytes, out, lse);
  if (s.batch * s.heads * s.q_len == 0) return;  // nothing to compute
  check_head_dims(kOp, s);
  check_cuda(kOp,
             cuda::attention_forward(s, operand(q), operand(k), operand(v), qkv.mask,
                                     output_operand(out), rows<float>(lse), o, stream_of(stream)));
}

void backward_binding(py::handle q_obj, py::handle k_obj, py::handle v_obj, py::handle mask_obj,
                      py::handle out_obj, py::handle lse_obj, py::handle grad_out_obj,
                      py::handle grad_q_obj, py::handle grad_k_obj, py::handle grad_v_obj,
                      double scale, bool is_causal, double dropout_p, int64_t seed,
                      uintptr_t stream) {
  constexpr const char* kOp = "attention_backward";
  const QkvMask qkv(kOp, q_obj, k_obj, v_obj, mask_obj);
  const auto &q = qkv.q, &k = qkv.k, &v = qkv.v;
  const AttentionDims& s = qkv.s;
  auto out = input4(out_obj, kOp, "out");
  bind::check_attention_shape(kOp, out, "out", {s.batch, s.heads, s.q_len, s.v_dim},
                              "(B, H, L, Dv)");
  auto lse = device_view<float>(lse_obj, kOp, "lse", 3, 3);
  bind::check_attention_shape(kOp, lse, "lse", {s.batch, s.heads, s.q_len}, "(B, H, L)");
  auto grad_out = input4(grad_out_obj, kOp, "grad_out");
  bind::check_attention_shape(kOp, grad_out, "grad_out", {s.batch, s.heads, s.q_len, s.v_dim},
                              "(B, H, L, Dv)");
  auto gq =
      output(kOp, grad_q_obj, "grad_q", {s.batch, s.heads, s.q_len, s.head_dim}, "(B, H, L, D)");
  auto gk =
      output(kOp, grad_k_obj, "grad_k", {s.batch, s.heads, s.kv_len, s.head_dim}, "(B, H, S, D)");
  auto gv =
      output(kOp, grad_v_obj, "grad_v", {s.batch, s.heads, s.kv_len, s.v_dim}, "(B, H, S, Dv)");
  const auto o = bind::attention_options<AttentionConfig>(kOp, scale, is_causal, dropout_p, seed);
  bind::check_attention_backward_apart(kOp, q, k, v, out, lse, grad_out, qkv.mask_bytes, gq, gk,
                                       gv);
  if (gq.size() + gk.size() + gv.size() == 0) return;  // nothing to compute
  check_head_dims(kOp, s);
  check_cuda(
      kOp, cuda::attention_backward(s, operand(q), operand(k), operand(v), qkv.mask, operand(out),
                                    rows<const float>(lse), operand(grad_out), output_operand(gq),
                                    output_operand(gk), output_operand(gv), o, stream_of(stream)));
}

}  // namespace

void bind_attention(py::module_& m) {
  m.def("attention_forward", &forward_binding, py::arg("q"), py::arg("k"), py::arg("v"),
        py::arg("mask"), py::arg("out"), py::arg("lse"), py::arg("scale"),
        py::arg("is_causal") = false, py::arg("dropout_p") = 0.0, py::arg("seed") = 0,
        py::kw_only(), py::arg("stream") = 0,
        "Fused attention forward on the GPU: out = dropout(softmax(scale q kᵀ + mask)) v, lse "
        "per row.");
  m.def("attention_backward", &backward_binding, py::arg("q"), py::arg("k"), py::arg("v"),
        py::arg("mask"), py::arg("out"), py::arg("lse"), py::arg("grad_out"), py::arg("grad_q"),
        py::arg("grad_k"), py::arg("grad_v"), py::arg("scale"), py::arg("is_causal") = false,
        py::arg("dropout_p") = 0.0, py::arg("seed") = 0, py::kw_only(), py::arg("stream") = 0,
        "Fused attention backward on the GPU: grad_q, grad_k, grad_v from out, lse and "
        "grad_out.");
}

}  // namespace pyfastdl::cuda_bind
