// Binding of the pooling family on the GPU: the argument checks and messages of the CPU binding
// (cpp/bindings/bind_pool2d.cpp), done on the host before any CUDA call, then one launch of
// cuda/pool2d.cu on `stream`. Arrays are 4-d (N, C, H, W) float32 GPU views with any strides
// (no packing: every kernel takes strides); indices are int64 of the output's shape.
//
//   max_pool2d_forward(x, out, indices, kernel_size, stride, padding, dilation=1, ceil_mode=False)
//   max_pool2d_backward(grad_out, indices, grad_x)
//   avg_pool2d_forward(x, out, kernel_size, stride, padding, ceil_mode=False,
//                      count_include_pad=True, divisor_override=None)
//   avg_pool2d_backward(grad_out, grad_x, <the same parameters>)
//   adaptive_avg_pool2d_forward(x, out)            adaptive_avg_pool2d_backward(grad_out, grad_x)
//   adaptive_max_pool2d_forward(x, out, indices)   (its backward is max_pool2d_backward)
//   upsample_nearest2d_forward(x, out, scale_h=None, scale_w=None, exact=False)
//   upsample_nearest2d_backward(grad_out, grad_x, scale_h=None, scale_w=None, exact=False)
//   upsample_bilinear2d_forward(x, out, align_corners=False, scale_h=None, scale_w=None)
//   upsample_bilinear2d_backward(grad_out, grad_x, align_corners=False, scale_h=None,
//                                scale_w=None)
// each with a keyword `stream` (a cudaStream_t as an integer). The upsampling kernels have no CPU
// binding: their checks follow the same pattern (4-d float32, the N and C of the input, outputs
// apart from inputs; sizes are out's or grad_out's) and the source rules of
// pyfastdl/kernels/reference/pool2d.py. Outputs must not share memory with inputs or each other.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "bindings.h"
#include "device_array.h"
#include "pool2d_checks.h"
#include "pool2d_launch.h"

namespace pyfastdl::cuda_bind {
namespace {

using bind::check_output;
using bind::overlaps;

using namespace bind::pool2d_checks;

// This binding's reader of the 4-d arrays the checks of pool2d_checks.h take.
struct Read {
  template <class T>
  static ArrayView<T> get(py::handle obj, const char* op, const char* name, bool writable) {
    return device_view<T>(obj, op, name, 4, 4, writable);
  }
};

void max_forward(py::handle x_obj, py::handle out_obj, py::handle idx_obj, py::handle kernel_size,
                 py::handle stride, py::handle padding, py::handle dilation, bool ceil_mode,
                 uintptr_t stream) {
  const char* op = "max_pool2d";
  const auto a = max_forward_args<Read>(x_obj, out_obj, idx_obj, kernel_size, stride, padding,
                                        dilation, ceil_mode);
  if (a.out.size() == 0) return;
  check_cuda(op, cuda::max_pool2d_forward(const4(a.in), view4(a.out), a.indices4(), a.p,
                                          stream_of(stream)));
}

void max_backward(py::handle gy_obj, py::handle idx_obj, py::handle gx_obj, uintptr_t stream) {
  const char* op = "max_pool2d";
  const auto a = max_backward_args<Read>(gy_obj, idx_obj, gx_obj);
  if (a.out.size() == 0) return;
  check_cuda(op, cuda::max_pool2d_backward(const4(a.in), const4(a.indices), view4(a.out),
                                           stream_of(stream)));
}

void avg_forward(py::handle x_obj, py::handle out_obj, py::handle kernel_size, py::handle stride,
                 py::handle padding, bool ceil_mode, bool count_include_pad,
                 py::handle divisor_override, uintptr_t stream) {
  const char* op = "avg_pool2d";
  const auto a = avg_forward_args<Read>(x_obj, out_obj, kernel_size, stride, padding, ceil_mode,
                                        count_include_pad, divisor_override);
  if (a.out.size() == 0) return;
  check_cuda(op, cuda::avg_pool2d_forward(const4(a.in), view4(a.out), a.p, stream_of(stream)));
}

void avg_backward(py::handle gy_obj, py::handle gx_obj, py::handle kernel_size, py::handle stride,
                  py::handle padding, bool ceil_mode, bool count_include_pad,
                  py::handle divisor_override, uintptr_t stream) {
  const char* op = "avg_pool2d";
  const auto a = avg_backward_args<Read>(gy_obj, gx_obj, kernel_size, stride, padding, ceil_mode,
                                         count_include_pad, divisor_override);
  if (a.out.size() == 0) return;
  check_cuda(op, cuda::avg_pool2d_backward(const4(a.in), view4(a.out), a.p, stream_of(stream)));
}

void adaptive_forward(py::handle x_obj, py::handle out_obj, uintptr_t stream) {
  const char* op = "adaptive_avg_pool2d";
  const auto a = adaptive_forward_args<Read>(op, x_obj, out_obj);
  if (a.out.size() == 0) return;
  check_cuda(op, cuda::adaptive_avg_pool2d_forward(const4(a.in), view4(a.out), stream_of(stream)));
}

void adaptive_backward(py::handle gy_obj, py::handle gx_obj, uintptr_t stream) {
  const char* op = "adaptive_avg_pool2d";
  const auto a = adaptive_backward_args<Read>(gy_obj, gx_obj);
  if (a.out.size() == 0) return;
  check_cuda(op, cuda::adaptive_avg_pool2d_backward(const4(a.in), view4(a.out), stream_of(stream)));
}

void adaptive_max_forward(py::handle x_obj, py::handle out_obj, py::handle idx_obj,
                          uintptr_t stream) {
  const char* op = "adaptive_max_pool2d";
  const auto a = adaptive_forward_args<Read>(op, x_obj, out_obj, idx_obj);
  if (a.out.size() == 0) return;
  check_cuda(op, cuda::adaptive_max_pool2d_forward(const4(a.in), view4(a.out), a.indices4(),
                                                   stream_of(stream)));
}

// ------------------------------------------------------------------------------ upsampling
// The two arrays of an upsampling call: its input (x or grad_out) and its output (out or
// grad_x), with the same N and C.
struct Resample {
  ArrayView<float> in, out;
};

Resample resample_arrays(const char* op, py::handle in_obj, const char* in_name, py::handle out_obj,
                         const char* out_name) {
  Resample r;
  r.in = device_view<float>(in_obj, op, in_name, 4, 4);
  r.out = device_view<float>(out_obj, op, out_name, 4, 4, /*writable=*/true);
  if (r.out.shape[0] != r.in.shape[0] || r.out.shape[1] != r.in.shape[1])
    fail_value(op, out_name, " must have the N and C of ", in_name, " ", shape_str(r.in.shape),
               ", got ", shape_str(r.out.shape));
  check_output(op, r.out, out_name);
  check_apart(op, r.out, out_name, r.in, in_name);
  return r;
}

// A resampling with a non-empty result must have a non-empty source (x or grad_x's H and W).
void check_source(const char* op, const ArrayView<float>& src, const char* name,
                  const ArrayView<float>& result) {
  if (result.size() > 0 && (src.shape[2] < 1 || src.shape[3] < 1))
    fail_value(op, name, " must have non-zero H and W, got shape ", shape_str(src.shape));
}

// scale_h / scale_w: None or a number (the scale factor the caller resized by).
bool scale_arg(py::handle obj, const char* op, const char* name, double* value) {
  if (obj.is_none()) return false;
  if (py::isinstance<py::bool_>(obj) ||
      !(py::isinstance<py::int_>(obj) || py::isinstance<py::float_>(obj) ||
        py::hasattr(obj, "__float__")))
    fail_type(op, name, " must be a number or None, got ", repr_of(obj));
  *value = py::float_(py::reinterpret_borrow<py::object>(obj)).cast<double>();
  return true;
}

// The float32 source step of reference.pool2d._scale: 1 / scale_factor when one > 0 is given,
// else in / out.
float nearest_scale(int64_t in, int64_t out, bool given, double factor) {
  if (given && factor > 0) return static_cast<float>(1.0 / factor);
  return static_cast<float>(in) / static_cast<float>(out);
}

cuda::NearestAxis nearest_axis(int64_t in, int64_t out, py::handle scale, const char* op,
                               const char* name, bool exact) {
  double factor = 0.0;
  const bool given = scale_arg(scale, op, name, &factor);
  cuda::NearestAxis a;
  a.in = in;
  a.out = out;
  a.exact = exact;
  a.scale = out > 0 ? nearest_scale(in, out, given, factor) : 0.0f;
  return a;
}

// reference.pool2d.linear_weights: (in - 1) / (out - 1) with align_corners (0 for one output),
// else 1 / scale_factor when a non-zero one is given, else in / out; all float32.
cuda::LinearAxis linear_axis(int64_t in, int64_t out, py::handle scale, const char* op,
                             const char* name, bool align_corners) {
  double factor = 0.0;
  const bool given = scale_arg(scale, op, name, &factor);
  cuda::LinearAxis a;
  a.in = in;
  a.out = out;
  a.align_corners = align_corners;
  if (out < 1) return a;
  if (align_corners)
    a.scale = out > 1 ? static_cast<float>(in - 1) / static_cast<float>(out - 1) : 0.0f;
  else if (given && factor != 0.0) a.scale = static_cast<float>(1.0 / factor);
  else a.scale = static_cast<float>(in) / static_cast<float>(out);
  return a;
}

void nearest_forward(py::handle x_obj, py::handle out_obj, py::handle scale_h, py::handle scale_w,
                     bool exact, uintptr_t stream) {
  const char* op = "upsample_nearest2d";
  auto [x, out] = resample_arrays(op, x_obj, "x", out_obj, "out");
  check_source(op, x, "x", out);
  const auto rows = nearest_axis(x.shape[2], out.shape[2], scale_h, op, "scale_h", exact);
  const auto cols = nearest_axis(x.shape[3], out.shape[3], scale_w, op, "scale_w", exact);
  if (out.size() == 0) return;
  check_cuda(
      op, cuda::upsample_nearest2d_forward(const4(x), view4(out), rows, cols, stream_of(stream)));
}

void nearest_backward(py::handle gy_obj, py::handle gx_obj, py::handle scale_h, py::handle scale_w,
                      bool exact, uintptr_t stream) {
  const char* op = "upsample_nearest2d";
  auto [gy, gx] = resample_arrays(op, gy_obj, "grad_out", gx_obj, "grad_x");
  check_source(op, gx, "grad_x", gy);
  const auto rows = nearest_axis(gx.shape[2], gy.shape[2], scale_h, op, "scale_h", exact);
  const auto cols = nearest_axis(gx.shape[3], gy.shape[3], scale_w, op, "scale_w", exact);
  if (gx.size() == 0) return;
  check_cuda(
      op, cuda::upsample_nearest2d_backward(const4(gy), view4(gx), rows, cols, stream_of(stream)));
}

void bilinear_forward(py::handle x_obj, py::handle out_obj, bool align_corners, py::handle scale_h,
                      py::handle scale_w, uintptr_t stream) {
  const char* op = "upsample_bilinear2d";
  auto [x, out] = resample_arrays(op, x_obj, "x", out_obj, "out");
  check_source(op, x, "x", out);
  const auto rows = linear_axis(x.shape[2], out.shape[2], scale_h, op, "scale_h", align_corners);
  const auto cols = linear_axis(x.shape[3], out.shape[3], scale_w, op, "scale_w", align_corners);
  if (out.size() == 0) return;
  check_cuda(
      op, cuda::upsample_bilinear2d_forward(const4(x), view4(out), rows, cols, stream_of(stream)));
}

void bilinear_backward(py::handle gy_obj, py::handle gx_obj, bool align_corners, py::handle scale_h,
                       py::handle scale_w, uintptr_t stream) {
  const char* op = "upsample_bilinear2d";
  auto [gy, gx] = resample_arrays(op, gy_obj, "grad_out", gx_obj, "grad_x");
  check_source(op, gx, "grad_x", gy);
  const auto rows = linear_axis(gx.shape[2], gy.shape[2], scale_h, op, "scale_h", align_corners);
  const auto cols = linear_axis(gx.shape[3], gy.shape[3], scale_w, op, "scale_w", align_corners);
  if (gx.size() == 0) return;
  check_cuda(
      op, cuda::upsample_bilinear2d_backward(const4(gy), view4(gx), rows, cols, stream_of(stream)));
}

}  // namespace

void bind_pool2d(py::module_& m) {
  const auto stream = py::arg("stream") = uintptr_t{0};
  m.def("max_pool2d_forward", &max_forward, py::arg("x"), py::arg("out"), py::arg("indices"),
        py::arg("kernel_size"), py::arg("stride"), py::arg("padding"), py::arg("dilation") = 1,
        py::arg("ceil_mode") = false, py::kw_only(), stream,
        "out = max over each window of (N, C, H, W) float32 x; indices (int64 or None) = the "
        "flat h * W + w of each max.");
  m.def("max_pool2d_backward", &max_backward, py::arg("grad_out"), py::arg("indices"),
        py::arg("grad_x"), py::kw_only(), stream,
        "grad_x = grad_out scattered to the indices of each plane (0 elsewhere), deterministic.");
  m.def("avg_pool2d_forward", &avg_forward, py::arg("x"), py::arg("out"), py::arg("kernel_size"),
        py::arg("stride"), py::arg("padding"), py::arg("ceil_mode") = false,
        py::arg("count_include_pad") = true, py::arg("divisor_override") = py::none(),
        py::kw_only(), stream,
        "out = sum over each window of (N, C, H, W) float32 x / the window's divisor.");
  m.def("avg_pool2d_backward", &avg_backward, py::arg("grad_out"), py::arg("grad_x"),
        py::arg("kernel_size"), py::arg("stride"), py::arg("padding"), py::arg("ceil_mode") = false,
        py::arg("count_include_pad") = true, py::arg("divisor_override") = py::none(),
        py::kw_only(), stream,
        "grad_x = sum over the windows holding each element of grad_out / divisor.");
  m.def("adaptive_avg_pool2d_forward", &adaptive_forward, py::arg("x"), py::arg("out"),
        py::kw_only(), stream,
        "out = mean of x over the adaptive windows; (OH, OW) is out's shape.");
  m.def("adaptive_avg_pool2d_backward", &adaptive_backward, py::arg("grad_out"), py::arg("grad_x"),
        py::kw_only(), stream, "grad_x of adaptive_avg_pool2d_forward.");
  m.def("adaptive_max_pool2d_forward", &adaptive_max_forward, py::arg("x"), py::arg("out"),
        py::arg("indices"), py::kw_only(), stream,
        "out = max of x over the adaptive windows, indices (int64 or None) its flat h * W + w; "
        "the backward is max_pool2d_backward.");
  m.def("upsample_nearest2d_forward", &nearest_forward, py::arg("x"), py::arg("out"),
        py::arg("scale_h") = py::none(), py::arg("scale_w") = py::none(), py::arg("exact") = false,
        py::kw_only(), stream,
        "out[oh, ow] = x[src(oh), src(ow)] ('nearest', or 'nearest-exact' with exact); sizes are "
        "out's.");
  m.def("upsample_nearest2d_backward", &nearest_backward, py::arg("grad_out"), py::arg("grad_x"),
        py::arg("scale_h") = py::none(), py::arg("scale_w") = py::none(), py::arg("exact") = false,
        py::kw_only(), stream,
        "grad_x[h, w] = sum of grad_out over the outputs that copied x[h, w].");
  m.def("upsample_bilinear2d_forward", &bilinear_forward, py::arg("x"), py::arg("out"),
        py::arg("align_corners") = false, py::arg("scale_h") = py::none(),
        py::arg("scale_w") = py::none(), py::kw_only(), stream,
        "out = the bilinear interpolation of x at the source points of out's grid.");
  m.def("upsample_bilinear2d_backward", &bilinear_backward, py::arg("grad_out"), py::arg("grad_x"),
        py::arg("align_corners") = false, py::arg("scale_h") = py::none(),
        py::arg("scale_w") = py::none(), py::kw_only(), stream,
        "grad_x = Rh^T grad_out Rw, Rh and Rw the interpolation matrices of each dim.");
}

}  // namespace pyfastdl::cuda_bind
