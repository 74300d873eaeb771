// Bindings of GELU (exact and tanh), forward and backward: float32 arrays of any shape; checks
// once, then runs the kernel without the GIL. Contiguous arrays are used in place; others go
// through contiguous copies (an output through a temporary copied back).
//
//   gelu_forward(x, y, approximate="none", *, impl="auto")
//   gelu_backward(x, grad_y, grad_x, approximate="none", *, impl="auto")
// An output may be the very array of an input (in place); any other overlap is refused.
#include <string>

#include "activation_checks.h"
#include "bindings.h"
#include "common.h"
#include "isa_paths.h"
#include "pyfastdl/activation.h"

namespace pyfastdl::bind {
namespace {

constexpr const char* kOp = "gelu";
constexpr int kMaxDims = 64;

// A C-contiguous array with obj's values: obj itself when it already is one.
py::array contiguous(py::handle obj) {
  return py::module_::import("numpy").attr("ascontiguousarray")(obj).cast<py::array>();
}

void forward_binding(py::handle x_obj, py::handle y_obj, const std::string& approximate,
                     const std::string& impl) {
  const GeluApproximation a = parse_gelu_approximate(kOp, approximate);
  const CpuPath path = parse_impl(kOp, impl);
  auto x = view<float>(x_obj, kOp, "x", 0, kMaxDims);
  auto y = view<float>(y_obj, kOp, "y", 0, kMaxDims, /*writable=*/true);
  check_gelu_forward(kOp, x, y);
  const int64_t n = x.size();
  if (is_c_contiguous(x) && is_c_contiguous(y)) {
    py::gil_scoped_release release;
    gelu_forward(path, n, x.data, y.data, a);
    return;
  }
  py::array xc = contiguous(x_obj);
  py::array_t<float> tmp(py::array::ShapeContainer(x.shape.begin(), x.shape.end()));
  const auto* xp = static_cast<const float*>(xc.data());
  float* tp = tmp.mutable_data();
  {
    py::gil_scoped_release release;
    gelu_forward(path, n, xp, tp, a);
  }
  y_obj.attr("__setitem__")(py::ellipsis(), tmp);
}

void backward_binding(py::handle x_obj, py::handle gy_obj, py::handle gx_obj,
                      const std::string& approximate, const std::string& impl) {
  const GeluApproximation a = parse_gelu_approximate(kOp, approximate);
  const CpuPath path = parse_impl(kOp, impl);
  auto x = view<float>(x_obj, kOp, "x", 0, kMaxDims);
  auto gy = view<float>(gy_obj, kOp, "grad_y", 0, kMaxDims);
  auto gx = view<float>(gx_obj, kOp, "grad_x", 0, kMaxDims, /*writable=*/true);
  check_gelu_backward(kOp, x, gy, gx);
  const int64_t n = x.size();
  if (is_c_contiguous(x) && is_c_contiguous(gy) && is_c_contiguous(gx)) {
    py::gil_scoped_release release;
    gelu_backward(path, n, x.data, gy.data, gx.data, a);
    return;
  }
  py::array xc = contiguous(x_obj), gc = contiguous(gy_obj);
  py::array_t<float> tmp(py::array::ShapeContainer(x.shape.begin(), x.shape.end()));
  const auto* xp = static_cast<const float*>(xc.data());
  const auto* gp = static_cast<const float*>(gc.data());
  float* tp = tmp.mutable_data();
  {
    py::gil_scoped_release release;
    gelu_backward(path, n, xp, gp, tp, a);
  }
  gx_obj.attr("__setitem__")(py::ellipsis(), tmp);
}

}  // namespace

void bind_activation(py::module_& m) {
  m.def("gelu_forward", &forward_binding, py::arg("x"), py::arg("y"),
        py::arg("approximate") = "none", py::kw_only(), py::arg("impl") = "auto",
        "y = gelu(x): x * Phi(x) (approximate='none') or its tanh form (approximate='tanh').");
  m.def("gelu_backward", &backward_binding, py::arg("x"), py::arg("grad_y"), py::arg("grad_x"),
        py::arg("approximate") = "none", py::kw_only(), py::arg("impl") = "auto",
        "grad_x = grad_y * gelu'(x).");
  declare_isa_versions(m, "gelu_forward");
  declare_isa_versions(m, "gelu_backward");
}

}  // namespace pyfastdl::bind
