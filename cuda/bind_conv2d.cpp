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
#include "conv2d_launch.h"
#include "device_array.h"

namespace pyfastdl::cuda_bind {
namespace {

using Pair = std::array<int64_t, 2>;
using pyfastdl::Conv2dShape;

// Checks the parameters and the shapes of (input, weight, output) and returns the conv's shape
// (the CPU binding's shape_of, message for message).
Conv2dShape shape_of(const char* op, const ArrayView<float>& x, const ArrayView<float>& w,
                     const ArrayView<float>& out, Pair stride, Pair padding, Pair dilation,
                     int64_t groups, const char* x_name, const char* out_name) {
  if (stride[0] < 1 || stride[1] < 1)
    fail_value(op, "stride must be >= 1, got (", stride[0], ", ", stride[1], ")");
  if (padding[0] < 0 || padding[1] < 0)
    fail_value(op, "padding must be >= 0, got (", padding[0], ", ", padding[1], ")");
  if (dilation[0] < 1 || dilation[1] < 1)
    fail_value(op, "dilation must be >= 1, got (", dilation[0], ", ", dilation[1], ")");
  if (groups < 1) fail_value(op, "groups must be >= 1, got ", groups);
  Conv2dShape s;
  s.N = x.shape[0];
  s.C = x.shape[1];
  s.H = x.shape[2];
  s.W = x.shape[3];
  s.O = w.shape[0];
  s.KH = w.shape[2];
  s.KW = w.shape[3];
  if (s.C != w.shape[1] * groups || s.O % groups != 0)
    fail_value(op, x_name, " has ", s.C, " channels, weight has shape ", shape_str(w.shape),
               " and groups=", groups, ": expected ", w.shape[1] * groups,
               " channels and out channels divisible by groups");
  if (s.KH < 1 || s.KW < 1)
    fail_value(op, "kernel size must be >= 1, got weight shape ", shape_str(w.shape));
  s.stride_h = stride[0];
  s.stride_w = stride[1];
  s.pad_h = padding[0];
  s.pad_w = padding[1];
  s.dil_h = dilation[0];
  s.dil_w = dilation[1];
  s.groups = groups;
  s.OH = conv2d_output_size(s.H, s.KH, s.stride_h, s.pad_h, s.dil_h);
  s.OW = conv2d_output_size(s.W, s.KW, s.stride_w, s.pad_w, s.dil_w);
  if (s.OH < 1 || s.OW < 1)
    fail_value(op, "kernel ", shape_str({s.KH, s.KW}), " with dilation (", s.dil_h, ", ", s.dil_w,
               ") is larger than the padded input ",
               shape_str({s.H + 2 * s.pad_h, s.W + 2 * s.pad_w}));
  const std::vector<int64_t> want{s.N, s.O, s.OH, s.OW};
  if (out.shape != want)
    fail_value(op, out_name, " must have shape ", shape_str(want), ", got ", shape_str(out.shape));
  return s;
}

template <class T>
void refuse_overlap(const char* op, const ArrayView<float>& out, const char* out_name,
                    const ArrayView<T>& in, const char* in_name) {
  if (bind::overlaps(out, in)) fail_value(op, out_name, " must not share memory with ", in_name);
}

bool parse_relu(const char* op, const std::string& name) {
  if (name == "none") return false;
  if (name == "relu") return true;
  fail_value(op, "activation must be 'none' or 'relu', got '", name, "'");
}

void forward_binding(py::handle x_obj, py::handle w_obj, py::handle bias_obj, py::handle out_obj,
                     Pair stride, Pair padding, Pair dilation, int64_t groups,
                     const std::string& activation, uintptr_t stream) {
  const char* op = "conv2d";
  auto x = device_view<float>(x_obj, op, "x", 4, 4);
  auto w = device_view<float>(w_obj, op, "weight", 4, 4);
  auto out = device_view<float>(out_obj, op, "out", 4, 4, /*writable=*/true);
  const bool relu = parse_relu(op, activation);
  const Conv2dShape s = shape_of(op, x, w, out, stride, padding, dilation, groups, "x", "out");
  bind::check_output(op, out, "out");
  refuse_overlap(op, out, "out", x, "x");
  refuse_overlap(op, out, "out", w, "weight");
  ArrayView<float> b;
  if (!bias_obj.is_none()) {
    b = device_view<float>(bias_obj, op, "bias", 1, 1);
    if (b.shape[0] != s.O)
      fail_value(op, "bias must have shape (", s.O, ",), got ", shape_str(b.shape));
    refuse_overlap(op, out, "out", b, "bias");
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
      shape_of(op, gx, w, go, stride, padding, dilation, groups, "grad_x", "grad_out");
  bind::check_output(op, gx, "grad_x");
  refuse_overlap(op, gx, "grad_x", go, "grad_out");
  refuse_overlap(op, gx, "grad_x", w, "weight");
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
  const Conv2dShape s = shape_of(op, x, gw, go, stride, padding, dilation, groups, "x", "grad_out");
  bind::check_output(op, gw, "grad_w");
  refuse_overlap(op, gw, "grad_w", go, "grad_out");
  refuse_overlap(op, gw, "grad_w", x, "x");
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
