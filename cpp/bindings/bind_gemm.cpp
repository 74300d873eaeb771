// Binding of gemm: checks shapes, dtypes and aliasing once, then calls the kernel without the GIL.
//
//   gemm(a, b, bias, out, *, alpha=1.0, beta=0.0, activation="none", activation_param=0.0,
//        impl="auto")
//   out[...] = act(alpha * a @ b + beta * out + bias)
// a: (M, K) or (batch, M, K); b: (K, N) or (batch, K, N); out: (M, N), or (batch, M, N) when a
// or b is batched (a 2-d operand is broadcast over the batch); bias: None or any shape that
// broadcasts to out. Any strides (transposed and sliced views) are accepted without copies.
#include <algorithm>
#include <string>

#include "bindings.h"
#include "common.h"
#include "gemm_checks.h"
#include "pyfastdl/cpu_features.h"
#include "pyfastdl/gemm.h"

namespace pyfastdl::bind {
namespace {

constexpr const char* kOp = "gemm";

GemmImpl parse_impl(const std::string& name) {
  if (name == "auto") return GemmImpl::Auto;
  CpuPath path;
  if (!parse_cpu_path(name.c_str(), &path))
    fail_value(kOp, "impl must be 'auto', 'avx512', 'avx2' or 'generic', got '", name, "'");
  if (static_cast<int>(path) > static_cast<int>(cpu_path_supported()))
    fail_value(kOp, "impl '", name, "' is not supported by this processor");
  return path == CpuPath::Avx512 ? GemmImpl::Avx512
         : path == CpuPath::Avx2 ? GemmImpl::Avx2
                                 : GemmImpl::Generic;
}

void gemm_binding(py::handle a_obj, py::handle b_obj, py::handle bias_obj, py::handle out_obj,
                  float alpha, float beta, const std::string& activation, float activation_param,
                  const std::string& impl_name) {
  auto a = view<float>(a_obj, kOp, "a", 2, 3);
  auto b = view<float>(b_obj, kOp, "b", 2, 3);
  auto out = view<float>(out_obj, kOp, "out", 2, 3, /*writable=*/true);
  const Activation act = parse_gemm_activation(kOp, activation);
  const GemmImpl impl = parse_impl(impl_name);

  const GemmShape g = check_gemm(kOp, a, b, out);
  GemmEpilogue ep;
  ep.activation = act;
  ep.activation_param = activation_param;
  if (!bias_obj.is_none()) {
    auto bias = view<float>(bias_obj, kOp, "bias", 0, out.ndim());
    check_gemm_bias(kOp, out, bias, ep);
  }
  py::gil_scoped_release release;
  gemm(g.batch, g.M, g.N, g.K, alpha, g.A, g.B, beta, g.C, ep, impl);
}

}  // namespace

void bind_gemm(py::module_& m) {
  m.def("gemm", &gemm_binding, py::arg("a"), py::arg("b"), py::arg("bias"), py::arg("out"),
        py::kw_only(), py::arg("alpha") = 1.0f, py::arg("beta") = 0.0f,
        py::arg("activation") = "none", py::arg("activation_param") = 0.0f,
        py::arg("impl") = "auto",
        "out = act(alpha * a @ b + beta * out + bias), float32, any strides, optionally batched.");
  // The instruction-set paths this processor supports, registered side by side as versions
  // (gemm/generic, gemm/avx2, gemm/avx512).
  py::list paths;
  for (int p = 0; p <= static_cast<int>(cpu_path_supported()); ++p)
    paths.append(cpu_path_name(static_cast<CpuPath>(p)));
  m.attr("gemm_versions") = py::make_tuple("impl", py::tuple(paths));
}

}  // namespace pyfastdl::bind
