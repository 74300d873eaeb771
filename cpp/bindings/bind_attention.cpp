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

void check_shape(const ArrayView<float>& v, const char* name, const std::vector<int64_t>& want,
                 const char* dims) {
  if (v.shape != want)
    fail_value(kOp, name, " must have shape ", shape_str(want), " ", dims, ", got ",
               shape_str(v.shape));
}

// q, k, v agree: returns (B, H, L, S, D, Dv).
AttentionShape check_qkv(const ArrayView<float>& q, const ArrayView<float>& k,
                         const ArrayView<float>& v) {
  AttentionShape s;
  s.batch = q.shape[0];
  s.heads = q.shape[1];
  s.q_len = q.shape[2];
  s.head_dim = q.shape[3];
  if (k.shape[0] != s.batch || k.shape[1] != s.heads || k.shape[3] != s.head_dim)
    fail_value(kOp, "k must have shape (", s.batch, ", ", s.heads, ", S, ", s.head_dim,
               ") to match q ", shape_str(q.shape), ", got ", shape_str(k.shape));
  s.kv_len = k.shape[2];
  if (v.shape[0] != s.batch || v.shape[1] != s.heads || v.shape[2] != s.kv_len)
    fail_value(kOp, "v must have shape (", s.batch, ", ", s.heads, ", ", s.kv_len,
               ", Dv) to match k ", shape_str(k.shape), ", got ", shape_str(v.shape));
  s.v_dim = v.shape[3];
  return s;
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
  const std::vector<int64_t> want{s.batch, s.heads, s.q_len, s.kv_len};
  if (shape != want)
    fail_value(kOp, "mask must have shape ", shape_str(want), " (B, H, L, S), got ",
               shape_str(shape));
  const int64_t item = is_bool ? 1 : 4;
  int64_t st[4];
  for (int i = 0; i < 4; ++i) {
    st[i] = static_cast<int64_t>(arr.strides(i));
    if (st[i] % item != 0)
      fail_value(kOp, "mask has a stride of ", st[i], " bytes, not a multiple of the item size");
    st[i] /= item;
  }
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

AttentionOptions options(double scale, bool is_causal, double dropout_p, int64_t seed) {
  if (!(dropout_p >= 0.0 && dropout_p < 1.0))
    fail_value(kOp, "dropout_p must be in [0, 1), got ", dropout_p);
  if (seed < 0) fail_value(kOp, "seed must be in [0, 2**63), got ", seed);
  AttentionOptions o;
  o.scale = static_cast<float>(scale);
  o.is_causal = is_causal;
  o.dropout_p = dropout_p;
  o.seed = static_cast<uint64_t>(seed);
  return o;
}

// An output: float32, the expected shape, C-contiguous, writable.
ArrayView<float> output(py::handle obj, const char* name, const std::vector<int64_t>& want,
                        const char* dims) {
  auto v = view<float>(obj, kOp, name, static_cast<int>(want.size()), static_cast<int>(want.size()),
                       /*writable=*/true);
  check_shape(v, name, want, dims);
  if (v.size() > 0 && !is_c_contiguous(v)) fail_value(kOp, name, " must be C-contiguous");
  return v;
}

template <class T>
void check_apart(const ArrayView<float>& out, const char* out_name, const ArrayView<T>& other,
                 const char* other_name) {
  if (overlaps(out, other)) fail_value(kOp, out_name, " must not share memory with ", other_name);
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
        s(check_qkv(q, k, v)),
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
  const AttentionOptions o = options(scale, is_causal, dropout_p, seed);
  for (const auto* in : {&q, &k, &v}) {
    const char* name = in == &q ? "q" : in == &k ? "k" : "v";
    check_apart(out, "out", *in, name);
    check_apart(lse, "lse", *in, name);
  }
  check_apart(out, "out", qkv.mask_bytes, "mask");
  check_apart(lse, "lse", qkv.mask_bytes, "mask");
  check_apart(lse, "lse", out, "out");
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
  check_shape(out, "out", {s.batch, s.heads, s.q_len, s.v_dim}, "(B, H, L, Dv)");
  auto lse = view<float>(lse_obj, kOp, "lse", 3, 3);
  check_shape(lse, "lse", {s.batch, s.heads, s.q_len}, "(B, H, L)");
  auto grad_out = input4(grad_out_obj, "grad_out", gc);
  check_shape(grad_out, "grad_out", {s.batch, s.heads, s.q_len, s.v_dim}, "(B, H, L, Dv)");
  auto gq = output(grad_q_obj, "grad_q", {s.batch, s.heads, s.q_len, s.head_dim}, "(B, H, L, D)");
  auto gk = output(grad_k_obj, "grad_k", {s.batch, s.heads, s.kv_len, s.head_dim}, "(B, H, S, D)");
  auto gv = output(grad_v_obj, "grad_v", {s.batch, s.heads, s.kv_len, s.v_dim}, "(B, H, S, Dv)");
  const AttentionOptions o = options(scale, is_causal, dropout_p, seed);
  const std::pair<const ArrayView<float>*, const char*> inputs[] = {
      {&q, "q"}, {&k, "k"}, {&v, "v"}, {&out, "out"}, {&lse, "lse"}, {&grad_out, "grad_out"}};
  const std::pair<const ArrayView<float>*, const char*> grads[] = {
      {&gq, "grad_q"}, {&gk, "grad_k"}, {&gv, "grad_v"}};
  for (const auto& [g, g_name] : grads) {
    for (const auto& [in, in_name] : inputs) check_apart(*g, g_name, *in, in_name);
    check_apart(*g, g_name, qkv.mask_bytes, "mask");
  }
  check_apart(gq, "grad_q", gk, "grad_k");
  check_apart(gq, "grad_q", gv, "grad_v");
  check_apart(gk, "grad_k", gv, "grad_v");
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
