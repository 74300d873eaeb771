// Bindings of the pooling family: checks dtypes, shapes and window parameters once, then runs the
// kernel without the GIL. Arrays are 4-d (N, C, H, W) float32 views with any strides; indices
// are int64 of the output's shape. kernel_size, stride, padding and dilation are ints or pairs
// (stride None: the kernel size); output shapes must be those the parameters give.
//
//   max_pool2d_forward(x, out, indices, kernel_size, stride, padding, dilation=1, ceil_mode=False)
//   max_pool2d_backward(grad_out, indices, grad_x)
//   avg_pool2d_forward(x, out, kernel_size, stride, padding, ceil_mode=False,
//                      count_include_pad=True, divisor_override=None)
//   avg_pool2d_backward(grad_out, grad_x, <the same parameters>)
//   adaptive_avg_pool2d_forward(x, out)            adaptive_avg_pool2d_backward(grad_out, grad_x)
//   adaptive_max_pool2d_forward(x, out, indices)   (its backward is max_pool2d_backward)
// Outputs must not share memory with inputs or with each other.
#include <string>
#include <vector>

#include "bindings.h"
#include "common.h"
#include "pool2d_checks.h"
#include "pyfastdl/pool2d.h"

namespace pyfastdl::bind {
namespace {

using namespace pool2d_checks;

// This binding's reader of the 4-d arrays the checks of pool2d_checks.h take.
struct Read {
  template <class T>
  static ArrayView<T> get(py::handle obj, const char* op, const char* name, bool writable) {
    return view<T>(obj, op, name, 4, 4, writable);
  }
};

void max_forward(py::handle x_obj, py::handle out_obj, py::handle idx_obj, py::handle kernel_size,
                 py::handle stride, py::handle padding, py::handle dilation, bool ceil_mode) {
  const auto a = max_forward_args<Read>(x_obj, out_obj, idx_obj, kernel_size, stride, padding,
                                        dilation, ceil_mode);
  py::gil_scoped_release release;
  max_pool2d_forward(const4(a.in), view4(a.out), a.indices4(), a.p);
}

void max_backward(py::handle gy_obj, py::handle idx_obj, py::handle gx_obj) {
  const auto a = max_backward_args<Read>(gy_obj, idx_obj, gx_obj);
  py::gil_scoped_release release;
  max_pool2d_backward(const4(a.in), const4(a.indices), view4(a.out));
}

void avg_forward(py::handle x_obj, py::handle out_obj, py::handle kernel_size, py::handle stride,
                 py::handle padding, bool ceil_mode, bool count_include_pad,
                 py::handle divisor_override) {
  const auto a = avg_forward_args<Read>(x_obj, out_obj, kernel_size, stride, padding, ceil_mode,
                                        count_include_pad, divisor_override);
  py::gil_scoped_release release;
  avg_pool2d_forward(const4(a.in), view4(a.out), a.p);
}

void avg_backward(py::handle gy_obj, py::handle gx_obj, py::handle kernel_size, py::handle stride,
                  py::handle padding, bool ceil_mode, bool count_include_pad,
                  py::handle divisor_override) {
  const auto a = avg_backward_args<Read>(gy_obj, gx_obj, kernel_size, stride, padding, ceil_mode,
                                         count_include_pad, divisor_override);
  py::gil_scoped_release release;
  avg_pool2d_backward(const4(a.in), view4(a.out), a.p);
}

void adaptive_forward(py::handle x_obj, py::handle out_obj) {
  const char* op = "adaptive_avg_pool2d";
  const auto a = adaptive_forward_args<Read>(op, x_obj, out_obj);
  py::gil_scoped_release release;
  adaptive_avg_pool2d_forward(const4(a.in), view4(a.out));
}

void adaptive_backward(py::handle gy_obj, py::handle gx_obj) {
  const auto a = adaptive_backward_args<Read>(gy_obj, gx_obj);
  py::gil_scoped_release release;
  adaptive_avg_pool2d_backward(const4(a.in), view4(a.out));
}

void adaptive_max_forward(py::handle x_obj, py::handle out_obj, py::handle idx_obj) {
  const char* op = "adaptive_max_pool2d";
  const auto a = adaptive_forward_args<Read>(op, x_obj, out_obj, idx_obj);
  py::gil_scoped_release release;
  adaptive_max_pool2d_forward(const4(a.in), view4(a.out), a.indices4());
}

}  // namespace

void bind_pool2d(py::module_& m) {
  m.def("max_pool2d_forward", &max_forward, py::arg("x"), py::arg("out"), py::arg("indices"),
        py::arg("kernel_size"), py::arg("stride"), py::arg("padding"), py::arg("dilation") = 1,
        py::arg("ceil_mode") = false,
        "out = max over each window of (N, C, H, W) float32 x; indices (int64 or None) = the "
        "flat h * W + w of each max.");
  m.def("max_pool2d_backward", &max_backward, py::arg("grad_out"), py::arg("indices"),
        py::arg("grad_x"),
        "grad_x = grad_out scattered to the indices of each plane (0 elsewhere).");
  m.def("avg_pool2d_forward", &avg_forward, py::arg("x"), py::arg("out"), py::arg("kernel_size"),
        py::arg("stride"), py::arg("padding"), py::arg("ceil_mode") = false,
        py::arg("count_include_pad") = true, py::arg("divisor_override") = py::none(),
        "out = sum over each window of (N, C, H, W) float32 x / the window's divisor.");
  m.def("avg_pool2d_backward", &avg_backward, py::arg("grad_out"), py::arg("grad_x"),
        py::arg("kernel_size"), py::arg("stride"), py::arg("padding"), py::arg("ceil_mode") = false,
        py::arg("count_include_pad") = true, py::arg("divisor_override") = py::none(),
        "grad_x = sum over the windows holding each element of grad_out / divisor.");
  m.def("adaptive_avg_pool2d_forward", &adaptive_forward, py::arg("x"), py::arg("out"),
        "out = mean of x over the adaptive windows; (OH, OW) is out's shape.");
  m.def("adaptive_avg_pool2d_backward", &adaptive_backward, py::arg("grad_out"), py::arg("grad_x"),
        "grad_x of adaptive_avg_pool2d_forward.");
  m.def("adaptive_max_pool2d_forward", &adaptive_max_forward, py::arg("x"), py::arg("out"),
        py::arg("indices"),
        "out = max of x over the adaptive windows, indices (int64 or None) its flat h * W + w; "
        "the backward is max_pool2d_backward.");
}

}  // namespace pyfastdl::bind
