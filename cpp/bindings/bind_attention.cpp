// Bindings of fused flash-style attention: checks shapes, dtypes and memory once, then runs the
// kernel without the GIL.
//
//   attention_forward(q, k, v, mask, out, lse, scale, is_causal, dropout_p, seed)
//   attention_backward(q, k, v, mask, out, lse, grad_out, grad_q, grad_k, grad_v,
//                      scale, is_causal, dropout_p, seed)
// q (B, H, L, D), k (B, H, S, D), v (B, H, S, Dv), grad_out and out (B, H, L, Dv): float32, any
// strides (an operand whose last dim is not unit-stride is copied); mask None or exactly
// (B, H, L, S), bool or float32, any strides (broadcast views cost nothing); lse (B, H, L).
// Outputs (out and lse of the forward, grad_q/k/v) are C-contiguous float32 and share no memory
// with the inputs or each other. Keyword impl = "auto" | "avx512" | "avx2" | "generic" picks the
// instruction-set path (registered side by side as attention_forward/avx512, ...).
#include <cmath>
#include <string>
#include <vector>

#include "attention_checks.h"
#include "bindings.h"
#include "common.h"
#include "isa_paths.h"
#include "pyfastdl/attention.h"

namespace pyfastdl::bind {
namespace {

constexpr const char* kOp = "attention";

// A float32 (B, H, rows, cols) input, copied when its last dim is not unit-stride (`keep`
// holds the copy alive).
ArrayView<float> input4(py::handle obj, const char* name, py::object& keep) {
  auto v = view<float>(obj, kOp, name, 4, 4);
  if (v.shape[3] > 1 && v.strides[3] != 1 && v.size() > 0) {
    keep = py::module_::import("numpy").attr("ascontiguousarray")(obj);
    v = view<float>(keep, kOp, name, 4, 4);
  }
  return v;
}

AttentionOperand<const float> operand(const ArrayView<float>& v) {
  return {v.data, v.strides[0], v.strides[1], v.strides[2]};
}
AttentionOperand<float> output_operand(const ArrayView<float>& v) {
  return {v.data, v.strides[0], v.strides[1], v.strides[2]};
}

// The mask: None, or a (B, H, L, S) bool or float32 array with any strides.
AttentionMask check_mask(py::handle obj, const AttentionShape& s, ArrayView<char>* bytes) {
  AttentionMask m;
  if (obj.is_none()) return m;
  if (!py::isinstance<py::array>(obj))
    fail_type(kOp, "mask must be None or a numpy.ndarray, got ",
              std::string(py::str(py::type::of(obj).attr("__name__"))));
  auto arr = py::reinterpret_borrow<py::array>(obj);
  const bool is_bool = arr.dtype().kind() == 'b';
  if (!is_bool && !arr.dtype().is(py::dtype::of<float>()))
    fail_type(kOp, "mask must be bool or float32, got ", std::string(py::str(arr.dtype())));
  std::vector<int64_t> shape;
  for (int i = 0; i < arr.ndim(); ++i) shape.push_back(static_cast<int64_t>(arr.shape(i)));
  check_attention_mask_shape(kOp, shape, s);
  const int64_t item = is_bool ? 1 : 4;
  int64_t st[4];
  for (int i = 0; i < 4; ++i)
    st[i] = attention_mask_stride(kOp, static_cast<int64_t>(arr.strides(i)), item);
  m.kind = is_bool ? AttentionMask::Kind::Bool : AttentionMask::Kind::Float;
  m.data = arr.data();
  m.sb = st[0];
  m.sh = st[1];
  m.sl = st[2];
  m.ss = st[3];
  bytes->data = static_cast<char*>(const_cast<void*>(arr.data()));
  bytes->shape = shape;
  for (int i = 0; i < 4; ++i) bytes->strides.push_back(st[i] * item);
  return m;
}

// An output: float32, the expected shape, C-contiguous, writable.
ArrayView<float> output(py::handle obj, const char* name, const std::vector<int64_t>& want,
                        const char* dims) {
  auto v = view<float>(obj, kOp, name, static_cast<int>(want.size()), static_cast<int>(want.size()),
                       /*writable=*/true);
  check_attention_output(kOp, v, name, want, dims);
  return v;
}

// q, k and v (with the contiguous stand-ins input4 may make), their shape and the mask: what
// both directions check first, in this order (the members are initialised in declaration order).
struct QkvMask {
  py::object qc, kc, vc;
  ArrayView<float> q, k, v;
  AttentionShape s;
  ArrayView<char> mask_bytes;
  AttentionMask mask;

  QkvMask(py::handle q_obj, py::handle k_obj, py::handle v_obj, py::handle mask_obj)
      : q(input4(q_obj, "q", qc)),
        k(input4(k_obj, "k", kc)),
        v(input4(v_obj, "v", vc)),
        s(check_attention_qkv<AttentionShape>(kOp, q, k, v)),
        mask(check_mask(mask_obj, s, &mask_bytes)) {}
};

void forward_binding(py::handle q_obj, py::handle k_obj, py::handle v_obj, py::handle mask_obj,
                     py::handle out_obj, py::handle lse_obj, double scale, bool is_causal,
                     double dropout_p, int64_t seed, const std::string& impl) {
  const CpuPath path = parse_impl(kOp, impl);
  const QkvMask qkv(q_obj, k_obj, v_obj, mask_obj);
  const auto &q = qkv.q, &k = qkv.k, &v = qkv.v;
  const AttentionShape& s = qkv.s;
  auto out = output(out_obj, "out", {s.batch, s.heads, s.q_len, s.v_dim}, "(B, H, L, Dv)");
  auto lse = output(lse_obj, "lse", {s.batch, s.heads, s.q_len}, "(B, H, L)");
  const auto o = attention_options<AttentionOptions>(kOp, scale, is_causal, dropout_p, seed);
  check_attention_forward_apart(kOp, q, k, v, qkv.mask_bytes, out, lse);
  const AttentionRows<float> lse_rows{lse.data, lse.strides[0], lse.strides[1], lse.strides[2]};
  py::gil_scoped_release release;
  attention_forward(path, s, operand(q), operand(k), operand(v), qkv.mask, output_operand(out),
                    lse_rows, o);
}

void backward_binding(py::handle q_obj, py::handle k_obj, py::handle v_obj, py::handle mask_obj,
                      py::handle out_obj, py::handle lse_obj, py::handle grad_out_obj,
                      py::handle grad_q_obj, py::handle grad_k_obj, py::handle grad_v_obj,
                      double scale, bool is_causal, double dropout_p, int64_t seed,
                      const std::string& impl) {
  const CpuPath path = parse_impl(kOp, impl);
  const QkvMask qkv(q_obj, k_obj, v_obj, mask_obj);
  const auto &q = qkv.q, &k = qkv.k, &v = qkv.v;
  const AttentionShape& s = qkv.s;
  py::object oc, gc;
  auto out = input4(out_obj, "out", oc);
  check_attention_shape(kOp, out, "out", {s.batch, s.heads, s.q_len, s.v_dim}, "(B, H, L, Dv)");
  auto lse = view<float>(lse_obj, kOp, "lse", 3, 3);
  check_attention_shape(kOp, lse, "lse", {s.batch, s.heads, s.q_len}, "(B, H, L)");
  auto grad_out = input4(grad_out_obj, "grad_out", gc);
  check_attention_shape(kOp, grad_out, "grad_out", {s.batch, s.heads, s.q_len, s.v_dim},
                        "(B, H, L, Dv)");
  auto gq = output(grad_q_obj, "grad_q", {s.batch, s.heads, s.q_len, s.head_dim}, "(B, H, L, D)");
  auto gk = output(grad_k_obj, "grad_k", {s.batch, s.heads, s.kv_len, s.head_dim}, "(B, H, S, D)");
  auto gv = output(grad_v_obj, "grad_v", {s.batch, s.heads, s.kv_len, s.v_dim}, "(B, H, S, Dv)");
  const auto o = attention_options<AttentionOptions>(kOp, scale, is_causal, dropout_p, seed);
  check_attention_backward_apart(kOp, q, k, v, out, lse, grad_out, qkv.mask_bytes, gq, gk, gv);
  const AttentionRows<const float> lse_rows{lse.data, lse.strides[0], lse.strides[1],
                                            lse.strides[2]};
  py::gil_scoped_release release;
  attention_backward(path, s, operand(q), operand(k), operand(v), qkv.mask, operand(out), lse_rows,
                     operand(grad_out), output_operand(gq), output_operand(gk), output_operand(gv),
                     o);
}

}  // namespace

void bind_attention(py::module_& m) {
  m.def("attention_forward", &forward_binding, py::arg("q"), py::arg("k"), py::arg("v"),
        py::arg("mask"), py::arg("out"), py::arg("lse"), py::arg("scale"),
        py::arg("is_causal") = false, py::arg("dropout_p") = 0.0, py::arg("seed") = 0,
        py::kw_only(), py::arg("impl") = "auto",
        "Fused attention forward: out = dropout(softmax(scale q kᵀ + mask)) v, lse per row.");
  m.def("attention_backward", &backward_binding, py::arg("q"), py::arg("k"), py::arg("v"),
        py::arg("mask"), py::arg("out"), py::arg("lse"), py::arg("grad_out"), py::arg("grad_q"),
        py::arg("grad_k"), py::arg("grad_v"), py::arg("scale"), py::arg("is_causal") = false,
        py::arg("dropout_p") = 0.0, py::arg("seed") = 0, py::kw_only(), py::arg("impl") = "auto",
        "Fused attention backward: grad_q, grad_k, grad_v from out, lse and grad_out.");
  // The instruction-set paths this processor supports, registered side by side as versions.
  declare_isa_versions(m, "attention_forward");
  declare_isa_versions(m, "attention_backward");
}

}  // namespace pyfastdl::bind
