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
#include "gemm_checks.h"
#include "gemm_launch.h"
#include "pyfastdl/gemm.h"

namespace pyfastdl::cuda_bind {
namespace {

constexpr const char* kOp = "gemm";

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
  const Activation act = bind::parse_gemm_activation(kOp, activation);
  const cuda::GemmCudaImpl impl = parse_impl(impl_name);

  const bind::GemmShape g = bind::check_gemm(kOp, a, b, out);
  GemmEpilogue ep;
  ep.activation = act;
  ep.activation_param = activation_param;
  if (!bias_obj.is_none()) {
    auto bias = device_view<float>(bias_obj, kOp, "bias", 0, out.ndim());
    bind::check_gemm_bias(kOp, out, bias, ep);
  }
  if (g.batch == 0 || g.M == 0 || g.N == 0) return;  // nothing to write: no launch
  check_cuda(kOp, cuda::gemm(g.batch, g.M, g.N, g.K, alpha, g.A, g.B, beta, g.C, ep, impl,
                             stream_of(stream)));
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
