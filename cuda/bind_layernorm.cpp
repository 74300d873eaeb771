// Binding of layer normalization on the GPU: checked as the CPU binding checks them
// (cpp/bindings/bind_layernorm.cpp), then launched on `stream` (cuda/layernorm_launch.h).
// x, y, grad_y, grad_x: 2-d (M, N) float32 with any strides; mean, rstd: (M,); weight, bias,
// grad_weight, grad_bias: (N,) (any stride) or None.
//
//   layer_norm_forward(x, weight, bias, y, mean, rstd, eps=1e-5, *, stream=0)
//   layer_norm_backward(x, grad_y, mean, rstd, weight, grad_x, grad_weight, grad_bias, *,
//                       stream=0)
// y may be the very array x (in place); no other output may share memory with an input.
#include <string>
#include <vector>

#include "bindings.h"
#include "device_array.h"
#include "layernorm_checks.h"
#include "layernorm_launch.h"

namespace pyfastdl::cuda_bind {
namespace {

using namespace bind::layernorm_checks;

// This binding's reader of the float32 arrays the checks of layernorm_checks.h take.
ArrayView<float> read(py::handle obj, const char* name, int ndim, bool writable) {
  return device_view<float>(obj, kOp, name, ndim, ndim, writable);
}

// An optional (N,) parameter as the kernel's view (data == nullptr when None).
Strided<const float> strided(const ArrayView<float>& v) {
  if (!v.data) return {nullptr, 1};
  return {v.data, v.strides[0]};
}

void forward_binding(py::handle x_obj, py::handle w_obj, py::handle b_obj, py::handle y_obj,
                     py::handle mean_obj, py::handle rstd_obj, double eps, uintptr_t stream) {
  const auto a = forward_args(read, x_obj, w_obj, b_obj, y_obj, mean_obj, rstd_obj, eps);
  check_cuda(kOp, cuda::launch_layer_norm_forward(
                      a.m, a.n, const_rows(a.x), strided(a.weight), strided(a.bias), rows_of(a.y),
                      {a.mean.data, a.mean.strides[0]}, {a.rstd.data, a.rstd.strides[0]},
                      static_cast<float>(eps), stream_of(stream)));
}

void backward_binding(py::handle x_obj, py::handle gy_obj, py::handle mean_obj, py::handle rstd_obj,
                      py::handle w_obj, py::handle gx_obj, py::handle gw_obj, py::handle gb_obj,
                      uintptr_t stream) {
  const auto a =
      backward_args(read, x_obj, gy_obj, mean_obj, rstd_obj, w_obj, gx_obj, gw_obj, gb_obj);
  check_cuda(kOp, cuda::launch_layer_norm_backward(
                      a.m, a.n, const_rows(a.x), const_rows(a.grad_y),
                      {a.mean.data, a.mean.strides[0]}, {a.rstd.data, a.rstd.strides[0]},
                      strided(a.weight), a.grad_x, a.grad_weight, a.grad_bias, stream_of(stream)));
}

}  // namespace

void bind_layernorm(py::module_& m) {
  m.def("layer_norm_forward", &forward_binding, py::arg("x"), py::arg("weight"), py::arg("bias"),
        py::arg("y"), py::arg("mean"), py::arg("rstd"), py::arg("eps") = 1e-5, py::kw_only(),
        py::arg("stream") = 0,
        "y = (x - mean) * rstd * weight + bias over the rows of (M, N) x; writes mean, rstd (M,).");
  m.def("layer_norm_backward", &backward_binding, py::arg("x"), py::arg("grad_y"), py::arg("mean"),
        py::arg("rstd"), py::arg("weight"), py::arg("grad_x"), py::arg("grad_weight"),
        py::arg("grad_bias"), py::kw_only(), py::arg("stream") = 0,
        "grad_x, grad_weight, grad_bias of layer_norm_forward (None outputs are skipped).");
}

}  // namespace pyfastdl::cuda_bind
