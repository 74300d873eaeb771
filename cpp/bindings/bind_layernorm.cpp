// Bindings of layer normalization: checks dtypes, shapes and overlaps once, then runs the kernel
// without the GIL. x, y, grad_y, grad_x: 2-d (M, N) float32 with any strides; mean, rstd: (M,);
// weight, bias, grad_weight, grad_bias: (N,) or None (a strided weight or bias is copied).
//
//   layer_norm_forward(x, weight, bias, y, mean, rstd, eps=1e-5, *, impl="auto")
//   layer_norm_backward(x, grad_y, mean, rstd, weight, grad_x, grad_weight, grad_bias, *,
//                       impl="auto")
// y may be the very array x (in place); no other output may share memory with an input.
#include <string>
#include <vector>

#include "bindings.h"
#include "common.h"
#include "isa_paths.h"
#include "layernorm_checks.h"
#include "pyfastdl/layernorm.h"

namespace pyfastdl::bind {
namespace {

using namespace layernorm_checks;

// This binding's reader of the float32 arrays the checks of layernorm_checks.h take.
ArrayView<float> read(py::handle obj, const char* name, int ndim, bool writable) {
  return view<float>(obj, kOp, name, ndim, ndim, writable);
}

// An optional (N,) parameter as a contiguous pointer (copied into `copy` when strided).
const float* contiguous(const ArrayView<float>& v, int64_t n, std::vector<float>& copy) {
  if (!v.data || v.strides[0] == 1 || n <= 1) return v.data;
  copy.resize(static_cast<size_t>(n));
  for (int64_t j = 0; j < n; ++j) copy[static_cast<size_t>(j)] = v.data[j * v.strides[0]];
  return copy.data();
}

void forward_binding(py::handle x_obj, py::handle w_obj, py::handle b_obj, py::handle y_obj,
                     py::handle mean_obj, py::handle rstd_obj, double eps,
                     const std::string& impl) {
  const CpuPath path = parse_impl(kOp, impl);
  const auto a = forward_args(read, x_obj, w_obj, b_obj, y_obj, mean_obj, rstd_obj, eps);
  std::vector<float> wc, bc;
  const float* w = contiguous(a.weight, a.n, wc);
  const float* b = contiguous(a.bias, a.n, bc);
  py::gil_scoped_release release;
  layer_norm_forward(path, a.m, a.n, const_rows(a.x), w, b, rows_of(a.y),
                     {a.mean.data, a.mean.strides[0]}, {a.rstd.data, a.rstd.strides[0]},
                     static_cast<float>(eps));
}

void backward_binding(py::handle x_obj, py::handle gy_obj, py::handle mean_obj, py::handle rstd_obj,
                      py::handle w_obj, py::handle gx_obj, py::handle gw_obj, py::handle gb_obj,
                      const std::string& impl) {
  const CpuPath path = parse_impl(kOp, impl);
  const auto a =
      backward_args(read, x_obj, gy_obj, mean_obj, rstd_obj, w_obj, gx_obj, gw_obj, gb_obj);
  std::vector<float> wc;
  const float* w = contiguous(a.weight, a.n, wc);
  py::gil_scoped_release release;
  layer_norm_backward(path, a.m, a.n, const_rows(a.x), const_rows(a.grad_y),
                      {a.mean.data, a.mean.strides[0]}, {a.rstd.data, a.rstd.strides[0]}, w,
                      a.grad_x, a.grad_weight, a.grad_bias);
}

}  // namespace

void bind_layernorm(py::module_& m) {
  m.def("layer_norm_forward", &forward_binding, py::arg("x"), py::arg("weight"), py::arg("bias"),
        py::arg("y"), py::arg("mean"), py::arg("rstd"), py::arg("eps") = 1e-5, py::kw_only(),
        py::arg("impl") = "auto",
        "y = (x - mean) * rstd * weight + bias over the rows of (M, N) x; writes mean, rstd (M,).");
  m.def("layer_norm_backward", &backward_binding, py::arg("x"), py::arg("grad_y"), py::arg("mean"),
        py::arg("rstd"), py::arg("weight"), py::arg("grad_x"), py::arg("grad_weight"),
        py::arg("grad_bias"), py::kw_only(), py::arg("impl") = "auto",
        "grad_x, grad_weight, grad_bias of layer_norm_forward (None outputs are skipped).");
  declare_isa_versions(m, "layer_norm_forward");
  declare_isa_versions(m, "layer_norm_backward");
}

}  // namespace pyfastdl::bind
