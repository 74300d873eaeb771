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
#include "layernorm_launch.h"

namespace pyfastdl::cuda_bind {
namespace {

constexpr const char* kOp = "layer_norm";

void check_shape(const ArrayView<float>& v, const char* name, const std::vector<int64_t>& want) {
  if (v.shape != want)
    fail_value(kOp, name, " must have shape ", shape_str(want), ", got ", shape_str(v.shape));
}

template <class T, class U>
void check_apart(const ArrayView<T>& out, const char* out_name, const ArrayView<U>& in,
                 const char* in_name, bool same_ok = false) {
  if (same_ok && static_cast<const void*>(out.data) == static_cast<const void*>(in.data) &&
      out.shape == in.shape && out.strides == in.strides)
    return;
  if (bind::overlaps(out, in)) fail_value(kOp, out_name, " must not share memory with ", in_name);
}

ArrayView<float> output(py::handle obj, const char* name, int ndim,
                        const std::vector<int64_t>& want) {
  auto v = device_view<float>(obj, kOp, name, ndim, ndim, /*writable=*/true);
  check_shape(v, name, want);
  bind::check_output(kOp, v, name);
  return v;
}

// An optional (N,) parameter (data == nullptr when None).
Strided<const float> vector_arg(py::handle obj, const char* name, int64_t n) {
  if (obj.is_none()) return {nullptr, 1};
  auto v = device_view<float>(obj, kOp, name, 1, 1);
  check_shape(v, name, {n});
  return {v.data, v.strides[0]};
}

ConstRows const_rows(const ArrayView<float>& v) { return {v.data, v.strides[0], v.strides[1]}; }
Rows rows_of(const ArrayView<float>& v) { return {v.data, v.strides[0], v.strides[1]}; }

void forward_binding(py::handle x_obj, py::handle w_obj, py::handle b_obj, py::handle y_obj,
                     py::handle mean_obj, py::handle rstd_obj, double eps, uintptr_t stream) {
  auto x = device_view<float>(x_obj, kOp, "x", 2, 2);
  const int64_t m = x.shape[0], n = x.shape[1];
  const auto w = vector_arg(w_obj, "weight", n);
  const auto b = vector_arg(b_obj, "bias", n);
  auto y = output(y_obj, "y", 2, x.shape);
  auto mean = output(mean_obj, "mean", 1, {m});
  auto rstd = output(rstd_obj, "rstd", 1, {m});
  if (!(eps >= 0.0)) fail_value(kOp, "eps must be non-negative, got ", eps);
  check_apart(y, "y", x, "x", /*same_ok=*/true);
  check_apart(mean, "mean", x, "x");
  check_apart(rstd, "rstd", x, "x");
  check_apart(mean, "mean", y, "y");
  check_apart(rstd, "rstd", y, "y");
  check_apart(rstd, "rstd", mean, "mean");
  check_cuda(kOp, cuda::launch_layer_norm_forward(
                      m, n, const_rows(x), w, b, rows_of(y), {mean.data, mean.strides[0]},
                      {rstd.data, rstd.strides[0]}, static_cast<float>(eps), stream_of(stream)));
}

void backward_binding(py::handle x_obj, py::handle gy_obj, py::handle mean_obj, py::handle rstd_obj,
                      py::handle w_obj, py::handle gx_obj, py::handle gw_obj, py::handle gb_obj,
                      uintptr_t stream) {
  auto x = device_view<float>(x_obj, kOp, "x", 2, 2);
  const int64_t m = x.shape[0], n = x.shape[1];
  auto gy = device_view<float>(gy_obj, kOp, "grad_y", 2, 2);
  check_shape(gy, "grad_y", x.shape);
  auto mean = device_view<float>(mean_obj, kOp, "mean", 1, 1);
  check_shape(mean, "mean", {m});
  auto rstd = device_view<float>(rstd_obj, kOp, "rstd", 1, 1);
  check_shape(rstd, "rstd", {m});
  const auto w = vector_arg(w_obj, "weight", n);
  Rows gx_rows{nullptr, 0, 1};
  Strided<float> gw{nullptr, 1}, gb{nullptr, 1};
  std::vector<ArrayView<float>> outs;
  std::vector<const char*> names;
  if (!gx_obj.is_none()) {
    outs.push_back(output(gx_obj, "grad_x", 2, x.shape));
    names.push_back("grad_x");
    gx_rows = rows_of(outs.back());
  }
  if (!gw_obj.is_none()) {
    outs.push_back(output(gw_obj, "grad_weight", 1, {n}));
    names.push_back("grad_weight");
    gw = {outs.back().data, outs.back().strides[0]};
  }
  if (!gb_obj.is_none()) {
    outs.push_back(output(gb_obj, "grad_bias", 1, {n}));
    names.push_back("grad_bias");
    gb = {outs.back().data, outs.back().strides[0]};
  }
  for (size_t i = 0; i < outs.size(); ++i) {
    check_apart(outs[i], names[i], x, "x");
    check_apart(outs[i], names[i], gy, "grad_y");
    check_apart(outs[i], names[i], mean, "mean");
    check_apart(outs[i], names[i], rstd, "rstd");
    for (size_t k = 0; k < i; ++k) check_apart(outs[i], names[i], outs[k], names[k]);
  }
  if (!w_obj.is_none()) {
    auto wv = device_view<float>(w_obj, kOp, "weight", 1, 1);
    for (size_t i = 0; i < outs.size(); ++i) check_apart(outs[i], names[i], wv, "weight");
  }
  check_cuda(kOp, cuda::launch_layer_norm_backward(
                      m, n, const_rows(x), const_rows(gy), {mean.data, mean.strides[0]},
                      {rstd.data, rstd.strides[0]}, w, gx_rows, gw, gb, stream_of(stream)));
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
