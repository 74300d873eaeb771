// Binding of gemm on the GPU: the checks and messages of the CPU binding (cpp/bindings/
// bind_gemm.cpp), all done before any CUDA call, then one launch of cuda::gemm (gemm_launch.h).
//
//   gemm(a, b, bias, out, *, alpha=1.0, beta=0.0, activation="none", activation_param=0.0,
//        impl="auto", stream=0)
//   out[...] = act(alpha * a @ b + beta * out + bias)
// a: (M, K) or (batch, M, K); b: (K, N) or (batch, K, N); out: (M, N), or (batch, M, N) when a
// or b is batched (a 2-d operand is broadcast over the batch); bias: None or any shape that
// broadcasts to out, read through its strides (0 where it broadcasts). Any strides (transposed
// and sliced views) are read in place, without copies. float32 only.
// impl: "auto" and "simt" run the exact fp32 kernel, "tf32" the tensor-core kernel (operands
// rounded to TF32); registered as the versions gemm/simt and gemm/tf32.
#include <cstdint>
#include <string>
#include <vector>

#include "bindings.h"
#include "device_array.h"
#include "gemm_launch.h"
#include "pyfastdl/gemm.h"

namespace pyfastdl::cuda_bind {
namespace {

constexpr const char* kOp = "gemm";

Activation parse_activation(const std::string& name) {
  if (name == "none" || name == "identity" || name == "linear") return Activation::None;
  if (name == "relu") return Activation::Relu;
  if (name == "leaky_relu") return Activation::LeakyRelu;
  if (name == "elu") return Activation::Elu;
  if (name == "gelu") return Activation::Gelu;
  if (name == "gelu_tanh") return Activation::GeluTanh;
  if (name == "sigmoid") return Activation::Sigmoid;
  if (name == "tanh") return Activation::Tanh;
  if (name == "silu") return Activation::Silu;
  fail_value(kOp,
             "activation must be one of none, relu, leaky_relu, elu, gelu, gelu_tanh, sigmoid, "
             "tanh, silu; got '",
             name, "'");
}

cuda::GemmCudaImpl parse_impl(const std::string& name) {
  if (name == "auto") return cuda::GemmCudaImpl::Auto;
  if (name == "simt") return cuda::GemmCudaImpl::Simt;
  if (name == "tf32") return cuda::GemmCudaImpl::Tf32;
  fail_value(kOp, "impl must be 'auto', 'simt' or 'tf32', got '", name, "'");
}

void gemm_binding(py::handle a_obj, py::handle b_obj, py::handle bias_obj, py::handle out_obj,
                  float alpha, float beta, const std::string& activation, float activation_param,
                  const std::string& impl_name, uintptr_t stream) {
  auto a = device_view<float>(a_obj, kOp, "a", 2, 3);
  auto b = device_view<float>(b_obj, kOp, "b", 2, 3);
  auto out = device_view<float>(out_obj, kOp, "out", 2, 3, /*writable=*/true);
  const Activation act = parse_activation(activation);
  const cuda::GemmCudaImpl impl = parse_impl(impl_name);

  const int64_t M = a.shape[a.ndim() - 2], K = a.shape[a.ndim() - 1];
  const int64_t Kb = b.shape[b.ndim() - 2], N = b.shape[b.ndim() - 1];
  if (K != Kb)
    fail_value(kOp, "a and b do not multiply: a has shape ", shape_str(a.shape), ", b has shape ",
               shape_str(b.shape), " (a's last dim must equal b's second-to-last)");
  const bool batched = a.ndim() == 3 || b.ndim() == 3;
  const int64_t batch_a = a.ndim() == 3 ? a.shape[0] : 1, batch_b = b.ndim() == 3 ? b.shape[0] : 1;
  if (a.ndim() == 3 && b.ndim() == 3 && batch_a != batch_b)
    fail_value(kOp, "batch sizes differ: a has shape ", shape_str(a.shape), ", b has shape ",
               shape_str(b.shape));
  const int64_t batch = a.ndim() == 3 ? batch_a : batch_b;  // 0 is valid
  std::vector<int64_t> want =
      batched ? std::vector<int64_t>{batch, M, N} : std::vector<int64_t>{M, N};
  if (out.shape != want)
    fail_value(kOp, "out must have shape ", shape_str(want), ", got ", shape_str(out.shape));
  bind::check_output(kOp, out, "out");
  if (bind::overlaps(out, a) || bind::overlaps(out, b))
    fail_value(kOp, "out must not share memory with a or b");

  MatrixView A{a.data, a.strides[a.ndim() - 2], a.strides[a.ndim() - 1],
               a.ndim() == 3 ? a.strides[0] : 0};
  MatrixView B{b.data, b.strides[b.ndim() - 2], b.strides[b.ndim() - 1],
               b.ndim() == 3 ? b.strides[0] : 0};
  MatrixView C{out.data, out.strides[out.ndim() - 2], out.strides[out.ndim() - 1],
               batched ? out.strides[0] : 0};
  GemmEpilogue ep;
  ep.activation = act;
  ep.activation_param = activation_param;
  if (!bias_obj.is_none()) {
    auto bias = device_view<float>(bias_obj, kOp, "bias", 0, out.ndim());
    if (bind::overlaps(out, bias)) fail_value(kOp, "out must not share memory with bias");
    // Right-align bias against out's shape; each dim must match or be 1 (then stride 0).
    int64_t st[3] = {0, 0, 0};
    const int off = out.ndim() - bias.ndim();
    for (int i = 0; i < bias.ndim(); ++i) {
      const int64_t d = bias.shape[i], want_d = out.shape[off + i];
      if (d != want_d && d != 1)
        fail_value(kOp, "bias of shape ", shape_str(bias.shape),
                   " does not broadcast to out's shape ", shape_str(out.shape));
      st[3 - out.ndim() + off + i] = d == 1 ? 0 : bias.strides[i];
    }
    ep.bias = bias.data;
    ep.bias_batch_stride = st[0];
    ep.bias_row_stride = st[1];
    ep.bias_col_stride = st[2];
  }
  if (batch == 0 || M == 0 || N == 0) return;  // nothing to write: no launch
  check_cuda(kOp, cuda::gemm(batch, M, N, K, alpha, A, B, beta, C, ep, impl, stream_of(stream)));
}

}  // namespace

void bind_gemm(py::module_& m) {
  m.def("gemm", &gemm_binding, py::arg("a"), py::arg("b"), py::arg("bias"), py::arg("out"),
        py::kw_only(), py::arg("alpha") = 1.0f, py::arg("beta") = 0.0f,
        py::arg("activation") = "none", py::arg("activation_param") = 0.0f,
        py::arg("impl") = "auto", py::arg("stream") = static_cast<uintptr_t>(0),
        "out = act(alpha * a @ b + beta * out + bias) on the GPU, float32, any strides, "
        "optionally batched; impl 'auto'/'simt' (exact fp32) or 'tf32' (tensor cores).");
  m.attr("gemm_dtypes") = py::make_tuple("float32");
  m.attr("gemm_versions") = py::make_tuple("impl", py::make_tuple("simt", "tf32"));
}

}  // namespace pyfastdl::cuda_bind
