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
// 'im2col', 'winograd', 'direct', 'batched', 'depthwise') picks the algorithm (conv2d.h's
// Conv2dAlgo); the tests run each.
#include <pybind11/stl.h>

#include <array>
#include <string>

#include "bindings.h"
#include "common.h"
#include "conv2d_checks.h"
#include "pyfastdl/conv2d.h"

namespace pyfastdl::bind {
namespace {

using Pair = Conv2dPair;

// The C-order float32 array of `obj` (itself when already C-contiguous), checked as `name`.
py::array contiguous(py::handle obj, const char* op, const char* name) {
  auto v = view<float>(obj, op, name, 4, 4);
  auto arr = py::reinterpret_borrow<py::array>(obj);
  if (is_c_contiguous(v)) return arr;
  return py::array(py::module_::import("numpy").attr("ascontiguousarray")(arr));
}

float* data_of(const py::array& a) { return static_cast<float*>(const_cast<void*>(a.data())); }

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

Conv2dAlgo parse_algo(const char* op, const std::string& name) {
  if (name == "auto") return Conv2dAlgo::Auto;
  if (name == "im2col") return Conv2dAlgo::Im2col;
  if (name == "winograd") return Conv2dAlgo::Winograd;
  if (name == "direct") return Conv2dAlgo::Direct;
  if (name == "batched") return Conv2dAlgo::Batched;
  if (name == "depthwise") return Conv2dAlgo::Depthwise;
  fail_value(op,
             "algo must be 'auto', 'im2col', 'winograd', 'direct', 'batched' or 'depthwise', got '",
             name, "'");
}

void forward_binding(py::handle x_obj, py::handle w_obj, py::handle bias_obj, py::handle out_obj,
                     Pair stride, Pair padding, Pair dilation, int64_t groups,
                     const std::string& activation, const std::string& algo_name) {
  const char* op = "conv2d";
  const Conv2dAlgo algo = parse_algo(op, algo_name);
  auto x = view<float>(x_obj, op, "x", 4, 4);
  auto w = view<float>(w_obj, op, "weight", 4, 4);
  auto out = view<float>(out_obj, op, "out", 4, 4, /*writable=*/true);
  const Activation act = parse_conv2d_activation(op, activation);
  const Conv2dShape s = check_conv2d_forward(op, x, w, out, stride, padding, dilation, groups);
  py::object bias_keep;  // keeps a contiguous copy of the bias alive
  const float* bias = nullptr;
  if (!bias_obj.is_none()) {
    auto b = view<float>(bias_obj, op, "bias", 1, 1);
    check_conv2d_bias(op, s, out, b);
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
      check_conv2d_backward_input(op, go, w, gx, stride, padding, dilation, groups);
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
  const Conv2dShape s =
      check_conv2d_backward_weight(op, x, go, gw, stride, padding, dilation, groups);
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
        "its epilogue), Winograd F(2x2, 3x3), direct (wide rows), batched (direct, vectorised "
        "over images) or depthwise (groups = C); algo: 'auto', 'im2col', 'winograd', 'direct', "
        "'batched', 'depthwise'.");
  m.def("conv2d_backward_input", &backward_input_binding, py::arg("grad_out"), py::arg("w"),
        py::arg("grad_x"), py::arg("stride") = one, py::arg("padding") = zero,
        py::arg("dilation") = one, py::arg("groups") = 1, py::kw_only(), py::arg("algo") = "auto",
        "grad_x of conv2d for grad_out (also conv_transpose2d's forward): W^T GEMM + col2im, or "
        "Winograd, direct or batched with the flipped kernel, or depthwise; algo: 'auto', "
        "'im2col', 'winograd', 'direct', 'batched', 'depthwise'.");
  m.def("conv2d_backward_weight", &backward_weight_binding, py::arg("x"), py::arg("grad_out"),
        py::arg("grad_w"), py::arg("stride") = one, py::arg("padding") = zero,
        py::arg("dilation") = one, py::arg("groups") = 1, py::kw_only(), py::arg("algo") = "auto",
        "grad_w of conv2d summed over the batch: im2col + one GEMM per chunk of images, or "
        "Winograd, direct, batched or depthwise; algo: 'auto', 'im2col', 'winograd', 'direct', "
        "'batched', 'depthwise'.");
  // The algorithms registered side by side as versions (conv2d_forward/im2col, .../winograd,
  // .../direct, .../batched, .../depthwise).
  const auto algos = py::make_tuple("im2col", "winograd", "direct", "batched", "depthwise");
  for (const char* op : {"conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight"})
    m.attr((std::string(op) + "_versions").c_str()) = py::make_tuple("algo", algos);
}

}  // namespace pyfastdl::bind
