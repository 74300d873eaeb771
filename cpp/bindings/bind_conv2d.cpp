// Bindings of the conv2d kernels: check dtypes, shapes and parameters once, then run the kernel
// without the GIL (see pyfastdl/conv2d.h and the reference kernels/reference/_conv2d.py).
//
//   conv2d_forward(x, w, bias, out, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1,
//                  activation="none", *, algo="auto")
//   conv2d_backward_input(grad_out, w, grad_x, stride, padding, dilation, groups, *, algo="auto")
//   conv2d_backward_weight(x, grad_out, grad_w, stride, padding, dilation, groups, *, algo="auto")
// x (N, C, H, W), w (O, C/groups, kH, kW), bias None or (O,), out / grad_out (N, O, OH, OW), all
// float32. Strided inputs are copied to C order first; a strided output is computed in a C-order
// temporary and copied into place. Outputs must not share memory with inputs. algo ('auto',
// 'im2col', 'winograd', 'direct', 'batched') picks the algorithm (conv2d.h's Conv2dAlgo); the
// tests run each.
#include <pybind11/stl.h>

#include <array>
#include <string>

#include "bindings.h"
#include "common.h"
#include "pyfastdl/conv2d.h"

namespace pyfastdl::bind {
namespace {

using Pair = std::array<int64_t, 2>;

// The C-order float32 array of `obj` (itself when already C-contiguous), checked as `name`.
py::array contiguous(py::handle obj, const char* op, const char* name) {
  auto v = view<float>(obj, op, name, 4, 4);
  auto arr = py::reinterpret_borrow<py::array>(obj);
  if (is_c_contiguous(v)) return arr;
  return py::array(py::module_::import("numpy").attr("ascontiguousarray")(arr));
}

float* data_of(const py::array& a) { return static_cast<float*>(const_cast<void*>(a.data())); }

// Checks the parameters and the shapes of (input, weight, output) and returns the conv's shape.
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

// Runs `kernel(dst)` into `out_obj`: directly when it is C-contiguous, else through a temporary.
template <class Kernel>
void into_output(py::handle out_obj, const ArrayView<float>& out, Kernel&& kernel) {
  if (is_c_contiguous(out)) {
    py::gil_scoped_release release;
    kernel(out.data);
    return;
  }
  py::array_t<float> tmp(out.shape);
  {
    py::gil_scoped_release release;
    kernel(tmp.mutable_data());
  }
  out_obj.attr("__setitem__")(py::ellipsis(), tmp);
}

template <class T>
void refuse_overlap(const char* op, const ArrayView<float>& out, const char* out_name,
                    const ArrayView<T>& in, const char* in_name) {
  if (overlaps(out, in)) fail_value(op, out_name, " must not share memory with ", in_name);
}

Conv2dAlgo parse_algo(const char* op, const std::string& name) {
  if (name == "auto") return Conv2dAlgo::Auto;
  if (name == "im2col") return Conv2dAlgo::Im2col;
  if (name == "winograd") return Conv2dAlgo::Winograd;
  if (name == "direct") return Conv2dAlgo::Direct;
  if (name == "batched") return Conv2dAlgo::Batched;
  fail_value(op, "algo must be 'auto', 'im2col', 'winograd', 'direct' or 'batched', got '", name,
             "'");
}

Activation parse_activation(const char* op, const std::string& name) {
  if (name == "none") return Activation::None;
  if (name == "relu") return Activation::Relu;
  fail_value(op, "activation must be 'none' or 'relu', got '", name, "'");
}

void forward_binding(py::handle x_obj, py::handle w_obj, py::handle bias_obj, py::handle out_obj,
                     Pair stride, Pair padding, Pair dilation, int64_t groups,
                     const std::string& activation, const std::string& algo_name) {
  const char* op = "conv2d";
  const Conv2dAlgo algo = parse_algo(op, algo_name);
  auto x = view<float>(x_obj, op, "x", 4, 4);
  auto w = view<float>(w_obj, op, "weight", 4, 4);
  auto out = view<float>(out_obj, op, "out", 4, 4, /*writable=*/true);
  const Activation act = parse_activation(op, activation);
  const Conv2dShape s = shape_of(op, x, w, out, stride, padding, dilation, groups, "x", "out");
  check_output(op, out, "out");
  refuse_overlap(op, out, "out", x, "x");
  refuse_overlap(op, out, "out", w, "weight");
  py::object bias_keep;  // keeps a contiguous copy of the bias alive
  const float* bias = nullptr;
  if (!bias_obj.is_none()) {
    auto b = view<float>(bias_obj, op, "bias", 1, 1);
    if (b.shape[0] != s.O)
      fail_value(op, "bias must have shape (", s.O, ",), got ", shape_str(b.shape));
    refuse_overlap(op, out, "out", b, "bias");
    auto bc = py::array(py::module_::import("numpy").attr("ascontiguousarray")(bias_obj));
    bias = data_of(bc);
    bias_keep = bc;
  }
  py::array xc = contiguous(x_obj, op, "x"), wc = contiguous(w_obj, op, "weight");
  into_output(out_obj, out, [&](float* dst) {
    conv2d_forward(s, data_of(xc), data_of(wc), bias, dst, act, algo);
  });
}

void backward_input_binding(py::handle go_obj, py::handle w_obj, py::handle gx_obj, Pair stride,
                            Pair padding, Pair dilation, int64_t groups,
                            const std::string& algo_name) {
  const char* op = "conv2d_backward_input";
  const Conv2dAlgo algo = parse_algo(op, algo_name);
  auto go = view<float>(go_obj, op, "grad_out", 4, 4);
  auto w = view<float>(w_obj, op, "weight", 4, 4);
  auto gx = view<float>(gx_obj, op, "grad_x", 4, 4, /*writable=*/true);
  const Conv2dShape s =
      shape_of(op, gx, w, go, stride, padding, dilation, groups, "grad_x", "grad_out");
  check_output(op, gx, "grad_x");
  refuse_overlap(op, gx, "grad_x", go, "grad_out");
  refuse_overlap(op, gx, "grad_x", w, "weight");
  py::array goc = contiguous(go_obj, op, "grad_out"), wc = contiguous(w_obj, op, "weight");
  into_output(gx_obj, gx,
              [&](float* dst) { conv2d_backward_input(s, data_of(goc), data_of(wc), dst, algo); });
}

void backward_weight_binding(py::handle x_obj, py::handle go_obj, py::handle gw_obj, Pair stride,
                             Pair padding, Pair dilation, int64_t groups,
                             const std::string& algo_name) {
  const char* op = "conv2d_backward_weight";
  const Conv2dAlgo algo = parse_algo(op, algo_name);
  auto x = view<float>(x_obj, op, "x", 4, 4);
  auto go = view<float>(go_obj, op, "grad_out", 4, 4);
  auto gw = view<float>(gw_obj, op, "grad_w", 4, 4, /*writable=*/true);
  const Conv2dShape s = shape_of(op, x, gw, go, stride, padding, dilation, groups, "x", "grad_out");
  check_output(op, gw, "grad_w");
  refuse_overlap(op, gw, "grad_w", go, "grad_out");
  refuse_overlap(op, gw, "grad_w", x, "x");
  py::array xc = contiguous(x_obj, op, "x"), goc = contiguous(go_obj, op, "grad_out");
  into_output(gw_obj, gw,
              [&](float* dst) { conv2d_backward_weight(s, data_of(xc), data_of(goc), dst, algo); });
}

}  // namespace

void bind_conv2d(py::module_& m) {
  const Pair one{1, 1}, zero{0, 0};
  m.def("conv2d_forward", &forward_binding, py::arg("x"), py::arg("w"), py::arg("bias"),
        py::arg("out"), py::arg("stride") = one, py::arg("padding") = zero,
        py::arg("dilation") = one, py::arg("groups") = 1, py::arg("activation") = "none",
        py::kw_only(), py::arg("algo") = "auto",
        "out = act(conv2d(x, w) + bias): NCHW x, OIHW w; im2col + packed GEMM (bias and ReLU in "
        "its epilogue), Winograd F(2x2, 3x3), direct (wide rows) or batched (direct, vectorised "
        "over images); algo: 'auto', 'im2col', 'winograd', 'direct', 'batched'.");
  m.def("conv2d_backward_input", &backward_input_binding, py::arg("grad_out"), py::arg("w"),
        py::arg("grad_x"), py::arg("stride") = one, py::arg("padding") = zero,
        py::arg("dilation") = one, py::arg("groups") = 1, py::kw_only(), py::arg("algo") = "auto",
        "grad_x of conv2d for grad_out (also conv_transpose2d's forward): W^T GEMM + col2im, or "
        "Winograd, direct or batched with the flipped kernel; algo: 'auto', 'im2col', 'winograd', "
        "'direct', 'batched'.");
  m.def("conv2d_backward_weight", &backward_weight_binding, py::arg("x"), py::arg("grad_out"),
        py::arg("grad_w"), py::arg("stride") = one, py::arg("padding") = zero,
        py::arg("dilation") = one, py::arg("groups") = 1, py::kw_only(), py::arg("algo") = "auto",
        "grad_w of conv2d summed over the batch: im2col + one GEMM per chunk of images, or "
        "Winograd, direct or batched; algo: 'auto', 'im2col', 'winograd', 'direct', 'batched'.");
  // The algorithms registered side by side as versions (conv2d_forward/im2col, .../winograd,
  // .../direct, .../batched).
  for (const char* op : {"conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight"})
    m.attr((std::string(op) + "_versions").c_str()) =
        py::make_tuple("algo", py::make_tuple("im2col", "winograd", "direct", "batched"));
}

}  // namespace pyfastdl::bind
