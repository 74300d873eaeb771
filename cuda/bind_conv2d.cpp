// Binding of the conv2d kernels on the GPU (conv2d.cu; conv_transpose2d runs on the same three):
//
//   conv2d_forward(x, w, bias, out, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1,
//                  activation="none", *, stream=0)
//   conv2d_backward_input(grad_out, w, grad_x, stride, padding, dilation, groups, *, stream=0)
//   conv2d_backward_weight(x, grad_out, grad_w, stride, padding, dilation, groups, *, stream=0)
//
// x (N, C, H, W), w (O, C/groups, KH, KW), bias None or (O,), out / grad_out (N, O, OH, OW), all
// float32 GPU arrays. The checks and their messages are the CPU binding's
// (cpp/bindings/bind_conv2d.cpp), all made before any CUDA call. The kernels index flat, so
// the arrays must be C-contiguous (the bias may be strided): `<op>_contiguous` tells the Python
// side to pack strided ones first. Outputs must not share memory with inputs. The CPU binding's
// `algo` has no GPU counterpart (conv2d.cu picks per shape: implicit GEMM, the narrow kernel
// for <= 16 channels per group, direct kernels for depthwise convs).
#include <pybind11/stl.h>

#include <array>
#include <string>

#include "bindings.h"
#include "conv2d_checks.h"
#include "conv2d_launch.h"
#include "device_array.h"

namespace pyfastdl::cuda_bind {
namespace {

using Pair = bind::Conv2dPair;
using pyfastdl::Conv2dShape;

void forward_binding(py::handle x_obj, py::handle w_obj, py::handle bias_obj, py::handle out_obj,
                     Pair stride, Pair padding, Pair dilation, int64_t groups,
                     const std::string& activation, uintptr_t stream) {
  const char* op = "conv2d";
  auto x = device_view<float>(x_obj, op, "x", 4, 4);
  auto w = device_view<float>(w_obj, op, "weight", 4, 4);
  auto out = device_view<float>(out_obj, op, "out", 4, 4, /*writable=*/true);
  const bool relu = bind::parse_conv2d_activation(op, activation) == Activation::Relu;
  const Conv2dShape s =
      bind::check_conv2d_forward(op, x, w, out, stride, padding, dilation, groups);
  ArrayView<float> b;
  if (!bias_obj.is_none()) {
    b = device_view<float>(bias_obj, op, "bias", 1, 1);
    bind::check_conv2d_bias(op, s, out, b);
  }
  require_contiguous(op, x, "x");
  require_contiguous(op, w, "weight");
  require_contiguous(op, out, "out");
  if (out.size() == 0) return;
  check_cuda(op, cuda::launch_conv2d_forward(s, x.data, w.data, b.data, b.data ? b.strides[0] : 0,
                                             out.data, relu, stream_of(stream)));
}

void backward_input_binding(py::handle go_obj, py::handle w_obj, py::handle gx_obj, Pair stride,
                            Pair padding, Pair dilation, int64_t groups, uintptr_t stream) {
  const char* op = "conv2d_backward_input";
  auto go = device_view<float>(go_obj, op, "grad_out", 4, 4);
  auto w = device_view<float>(w_obj, op, "weight", 4, 4);
  auto gx = device_view<float>(gx_obj, op, "grad_x", 4, 4, /*writable=*/true);
  const Conv2dShape s =
      bind::check_conv2d_backward_input(op, go, w, gx, stride, padding, dilation, groups);
  require_contiguous(op, go, "grad_out");
  require_contiguous(op, w, "weight");
  require_contiguous(op, gx, "grad_x");
  if (gx.size() == 0) return;
  check_cuda(op,
             cuda::launch_conv2d_backward_input(s, go.data, w.data, gx.data, stream_of(stream)));
}

void backward_weight_binding(py::handle x_obj, py::handle go_obj, py::handle gw_obj, Pair stride,
                             Pair padding, Pair dilation, int64_t groups, uintptr_t stream) {
  const char* op = "conv2d_backward_weight";
  auto x = device_view<float>(x_obj, op, "x", 4, 4);
  auto go = device_view<float>(go_obj, op, "grad_out", 4, 4);
  auto gw = device_view<float>(gw_obj, op, "grad_w", 4, 4, /*writable=*/true);
  const Conv2dShape s =
      bind::check_conv2d_backward_weight(op, x, go, gw, stride, padding, dilation, groups);
  require_contiguous(op, x, "x");
  require_contiguous(op, go, "grad_out");
  require_contiguous(op, gw, "grad_w");
  if (gw.size() == 0) return;
  check_cuda(op,
             cuda::launch_conv2d_backward_weight(s, x.data, go.data, gw.data, stream_of(stream)));
}

}  // namespace

void bind_conv2d(py::module_& m) {
  const Pair one{1, 1}, zero{0, 0};
  m.def("conv2d_forward", &forward_binding, py::arg("x"), py::arg("w"), py::arg("bias"),
        py::arg("out"), py::arg("stride") = one, py::arg("padding") = zero,
        py::arg("dilation") = one, py::arg("groups") = 1, py::arg("activation") = "none",
        py::kw_only(), py::arg("stream") = uintptr_t{0},
        "out = act(conv2d(x, w) + bias) on the GPU: NCHW x, OIHW w; implicit GEMM (bias and ReLU "
        "in its epilogue), a direct kernel for depthwise convs.");
  m.def("conv2d_backward_input", &backward_input_binding, py::arg("grad_out"), py::arg("w"),
        py::arg("grad_x"), py::arg("stride") = one, py::arg("padding") = zero,
        py::arg("dilation") = one, py::arg("groups") = 1, py::kw_only(),
        py::arg("stream") = uintptr_t{0},
        "grad_x of conv2d for grad_out on the GPU (also conv_transpose2d's forward): implicit "
        "GEMM over the input pixels, a direct kernel for depthwise convs.");
  m.def("conv2d_backward_weight", &backward_weight_binding, py::arg("x"), py::arg("grad_out"),
        py::arg("grad_w"), py::arg("stride") = one, py::arg("padding") = zero,
        py::arg("dilation") = one, py::arg("groups") = 1, py::kw_only(),
        py::arg("stream") = uintptr_t{0},
        "grad_w of conv2d summed over the batch on the GPU: split-K implicit GEMM with a "
        "fixed-order sum of the slices (deterministic).");
  for (const char* op : {"conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight"})
    m.attr((std::string(op) + "_contiguous").c_str()) = true;
}

}  // namespace pyfastdl::cuda_bind
