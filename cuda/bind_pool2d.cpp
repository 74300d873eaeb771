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
#include "pool2d_launch.h"

namespace pyfastdl::cuda_bind {
namespace {

using bind::check_output;
using bind::overlaps;

View4<float> view4(const ArrayView<float>& a) {
  View4<float> v;
  v.data = a.data;
  for (int i = 0; i < 4; ++i) {
    v.shape[i] = a.shape[i];
    v.stride[i] = a.strides[i];
  }
  return v;
}

View4<int64_t> view4(const ArrayView<int64_t>& a) {
  View4<int64_t> v;
  v.data = a.data;
  for (int i = 0; i < 4; ++i) {
    v.shape[i] = a.shape[i];
    v.stride[i] = a.strides[i];
  }
  return v;
}

template <class T>
View4<const T> const4(const ArrayView<T>& a) {
  View4<const T> v;
  v.data = a.data;
  for (int i = 0; i < 4; ++i) {
    v.shape[i] = a.shape[i];
    v.stride[i] = a.strides[i];
  }
  return v;
}

std::string repr_of(py::handle obj) { return std::string(py::repr(obj)); }

int64_t int_arg(py::handle obj, const char* op, const char* name, py::handle whole) {
  if (py::isinstance<py::bool_>(obj) || !py::isinstance<py::int_>(obj))
    fail_type(op, name, " must be an int or a pair of ints, got ", repr_of(whole));
  try {
    return obj.cast<int64_t>();
  } catch (const py::cast_error&) {
    fail_value(op, name, " is out of range, got ", repr_of(whole));
  }
}

// An int or a sequence of one or two ints, as (h, w).
void pair_arg(py::handle obj, const char* op, const char* name, int64_t out[2]) {
  if (py::isinstance<py::tuple>(obj) || py::isinstance<py::list>(obj)) {
    auto seq = py::reinterpret_borrow<py::sequence>(obj);
    if (seq.size() == 1 || seq.size() == 2) {
      const py::object first = seq[0];
      out[0] = int_arg(first, op, name, obj);
      if (seq.size() == 2) {
        const py::object second = seq[1];
        out[1] = int_arg(second, op, name, obj);
      } else {
        out[1] = out[0];
      }
      return;
    }
    fail_type(op, name, " must be an int or a pair of ints, got ", repr_of(obj));
  }
  out[0] = out[1] = int_arg(obj, op, name, obj);
}

std::string pair_str(const int64_t v[2]) {
  return "(" + std::to_string(v[0]) + ", " + std::to_string(v[1]) + ")";
}

int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// Output length of one pooled dim (PyTorch's rule, pyfastdl::pool2d_output_size; the CPU library
// is not linked into this module).
int64_t output_size(int64_t size, int64_t kernel, int64_t stride, int64_t padding, int64_t dilation,
                    bool ceil_mode) {
  const int64_t span =
      size + 2 * padding - dilation * (kernel - 1) - 1 + (ceil_mode ? stride - 1 : 0);
  int64_t out = floor_div(span, stride) + 1;
  // The last window must start inside the input or its left padding.
  if (ceil_mode && (out - 1) * stride >= size + padding) --out;
  return out;
}

// Checks the window parameters (the messages of the reference's pool2d_geometry) and returns
// them with the output size (OH, OW) for an input of spatial size (H, W).
Pool2dParams pool_params(const char* op, int64_t H, int64_t W, py::handle kernel_size,
                         py::handle stride, py::handle padding, py::handle dilation, bool ceil_mode,
                         int64_t out_size[2]) {
  Pool2dParams p;
  pair_arg(kernel_size, op, "kernel_size", p.kernel);
  const bool no_stride = stride.is_none() ||
                         ((py::isinstance<py::tuple>(stride) || py::isinstance<py::list>(stride)) &&
                          py::len(stride) == 0);
  if (no_stride) {
    p.stride[0] = p.kernel[0];
    p.stride[1] = p.kernel[1];
  } else {
    pair_arg(stride, op, "stride", p.stride);
  }
  pair_arg(padding, op, "padding", p.padding);
  pair_arg(dilation, op, "dilation", p.dilation);
  p.ceil_mode = ceil_mode;
  const std::pair<const char*, const int64_t*> positive[] = {
      {"kernel_size", p.kernel}, {"stride", p.stride}, {"dilation", p.dilation}};
  for (const auto& [name, v] : positive)
    if (v[0] < 1 || v[1] < 1) fail_value(op, name, " must be positive, got ", pair_str(v));
  if (p.padding[0] < 0 || p.padding[1] < 0 || p.padding[0] > p.kernel[0] / 2 ||
      p.padding[1] > p.kernel[1] / 2)
    fail_value(op, "padding must be non-negative and at most half of kernel_size ",
               pair_str(p.kernel), ", got ", pair_str(p.padding));
  const int64_t sizes[2] = {H, W};
  for (int i = 0; i < 2; ++i)
    out_size[i] =
        output_size(sizes[i], p.kernel[i], p.stride[i], p.padding[i], p.dilation[i], ceil_mode);
  if (out_size[0] < 1 || out_size[1] < 1)
    fail_value(op, "output size is too small: input (H, W) = (", H, ", ", W, "), kernel_size ",
               pair_str(p.kernel), ", stride ", pair_str(p.stride), ", padding ",
               pair_str(p.padding), ", dilation ", pair_str(p.dilation), " give an output of ",
               pair_str(out_size));
  return p;
}

template <class T>
void check_shape(const char* op, const ArrayView<T>& v, const char* name,
                 const std::vector<int64_t>& want) {
  if (v.shape != want)
    fail_value(op, name, " must have shape ", shape_str(want), ", got ", shape_str(v.shape));
}

template <class T, class U>
void check_apart(const char* op, const ArrayView<T>& out, const char* out_name,
                 const ArrayView<U>& other, const char* other_name) {
  if (overlaps(out, other)) fail_value(op, out_name, " must not share memory with ", other_name);
}

void max_forward(py::handle x_obj, py::handle out_obj, py::handle idx_obj, py::handle kernel_size,
                 py::handle stride, py::handle padding, py::handle dilation, bool ceil_mode,
                 uintptr_t stream) {
  const char* op = "max_pool2d";
  auto x = device_view<float>(x_obj, op, "x", 4, 4);
  int64_t o[2];
  const Pool2dParams p =
      pool_params(op, x.shape[2], x.shape[3], kernel_size, stride, padding, dilation, ceil_mode, o);
  const std::vector<int64_t> want{x.shape[0], x.shape[1], o[0], o[1]};
  auto out = device_view<float>(out_obj, op, "out", 4, 4, /*writable=*/true);
  check_shape(op, out, "out", want);
  check_output(op, out, "out");
  check_apart(op, out, "out", x, "x");
  View4<int64_t> indices;
  if (!idx_obj.is_none()) {
    auto idx = device_view<int64_t>(idx_obj, op, "indices", 4, 4, /*writable=*/true);
    check_shape(op, idx, "indices", want);
    check_output(op, idx, "indices");
    check_apart(op, idx, "indices", x, "x");
    check_apart(op, idx, "indices", out, "out");
    indices = view4(idx);
  }
  if (out.size() == 0) return;
  check_cuda(op, cuda::max_pool2d_forward(const4(x), view4(out), indices, p, stream_of(stream)));
}

void max_backward(py::handle gy_obj, py::handle idx_obj, py::handle gx_obj, uintptr_t stream) {
  const char* op = "max_pool2d";
  auto gy = device_view<float>(gy_obj, op, "grad_out", 4, 4);
  auto idx = device_view<int64_t>(idx_obj, op, "indices", 4, 4);
  auto gx = device_view<float>(gx_obj, op, "grad_x", 4, 4, /*writable=*/true);
  check_shape(op, idx, "indices", gy.shape);
  if (gx.shape[0] != gy.shape[0] || gx.shape[1] != gy.shape[1])
    fail_value(op, "grad_x must have the N and C of grad_out ", shape_str(gy.shape), ", got ",
               shape_str(gx.shape));
  check_output(op, gx, "grad_x");
  check_apart(op, gx, "grad_x", gy, "grad_out");
  check_apart(op, gx, "grad_x", idx, "indices");
  if (gx.size() == 0) return;
  check_cuda(op, cuda::max_pool2d_backward(const4(gy), const4(idx), view4(gx), stream_of(stream)));
}

Pool2dParams avg_params(const char* op, int64_t H, int64_t W, py::handle kernel_size,
                        py::handle stride, py::handle padding, bool ceil_mode,
                        bool count_include_pad, py::handle divisor_override, int64_t o[2]) {
  Pool2dParams p = pool_params(op, H, W, kernel_size, stride, padding, py::int_(1), ceil_mode, o);
  p.count_include_pad = count_include_pad;
  if (!divisor_override.is_none()) {
    p.divisor_override = int_arg(divisor_override, op, "divisor_override", divisor_override);
    if (p.divisor_override == 0) fail_value(op, "divisor_override must be non-zero, got 0");
  }
  return p;
}

void avg_forward(py::handle x_obj, py::handle out_obj, py::handle kernel_size, py::handle stride,
                 py::handle padding, bool ceil_mode, bool count_include_pad,
                 py::handle divisor_override, uintptr_t stream) {
  const char* op = "avg_pool2d";
  auto x = device_view<float>(x_obj, op, "x", 4, 4);
  int64_t o[2];
  const Pool2dParams p = avg_params(op, x.shape[2], x.shape[3], kernel_size, stride, padding,
                                    ceil_mode, count_include_pad, divisor_override, o);
  auto out = device_view<float>(out_obj, op, "out", 4, 4, /*writable=*/true);
  check_shape(op, out, "out", {x.shape[0], x.shape[1], o[0], o[1]});
  check_output(op, out, "out");
  check_apart(op, out, "out", x, "x");
  if (out.size() == 0) return;
  check_cuda(op, cuda::avg_pool2d_forward(const4(x), view4(out), p, stream_of(stream)));
}

void avg_backward(py::handle gy_obj, py::handle gx_obj, py::handle kernel_size, py::handle stride,
                  py::handle padding, bool ceil_mode, bool count_include_pad,
                  py::handle divisor_override, uintptr_t stream) {
  const char* op = "avg_pool2d";
  auto gy = device_view<float>(gy_obj, op, "grad_out", 4, 4);
  auto gx = device_view<float>(gx_obj, op, "grad_x", 4, 4, /*writable=*/true);
  int64_t o[2];
  const Pool2dParams p = avg_params(op, gx.shape[2], gx.shape[3], kernel_size, stride, padding,
                                    ceil_mode, count_include_pad, divisor_override, o);
  check_shape(op, gy, "grad_out", {gx.shape[0], gx.shape[1], o[0], o[1]});
  check_output(op, gx, "grad_x");
  check_apart(op, gx, "grad_x", gy, "grad_out");
  if (gx.size() == 0) return;
  check_cuda(op, cuda::avg_pool2d_backward(const4(gy), view4(gx), p, stream_of(stream)));
}

// Adaptive pooling: (H, W) of the input and (OH, OW) of the output must be non-empty.
void check_adaptive(const char* op, const ArrayView<float>& in, const char* in_name,
                    const ArrayView<float>& out, const char* out_name) {
  if (in.shape[2] < 1 || in.shape[3] < 1)
    fail_value(op, in_name, " must have non-zero H and W, got shape ", shape_str(in.shape));
  if (out.shape[0] != in.shape[0] || out.shape[1] != in.shape[1])
    fail_value(op, out_name, " must have the N and C of ", in_name, " ", shape_str(in.shape),
               ", got ", shape_str(out.shape));
}

void adaptive_forward(py::handle x_obj, py::handle out_obj, uintptr_t stream) {
  const char* op = "adaptive_avg_pool2d";
  auto x = device_view<float>(x_obj, op, "x", 4, 4);
  auto out = device_view<float>(out_obj, op, "out", 4, 4, /*writable=*/true);
  check_adaptive(op, x, "x", out, "out");
  check_output(op, out, "out");
  check_apart(op, out, "out", x, "x");
  if (out.size() == 0) return;
  check_cuda(op, cuda::adaptive_avg_pool2d_forward(const4(x), view4(out), stream_of(stream)));
}

void adaptive_backward(py::handle gy_obj, py::handle gx_obj, uintptr_t stream) {
  const char* op = "adaptive_avg_pool2d";
  auto gy = device_view<float>(gy_obj, op, "grad_out", 4, 4);
  auto gx = device_view<float>(gx_obj, op, "grad_x", 4, 4, /*writable=*/true);
  check_adaptive(op, gx, "grad_x", gy, "grad_out");
  check_output(op, gx, "grad_x");
  check_apart(op, gx, "grad_x", gy, "grad_out");
  if (gx.size() == 0) return;
  check_cuda(op, cuda::adaptive_avg_pool2d_backward(const4(gy), view4(gx), stream_of(stream)));
}

void adaptive_max_forward(py::handle x_obj, py::handle out_obj, py::handle idx_obj,
                          uintptr_t stream) {
  const char* op = "adaptive_max_pool2d";
  auto x = device_view<float>(x_obj, op, "x", 4, 4);
  auto out = device_view<float>(out_obj, op, "out", 4, 4, /*writable=*/true);
  check_adaptive(op, x, "x", out, "out");
  check_output(op, out, "out");
  check_apart(op, out, "out", x, "x");
  View4<int64_t> indices;
  if (!idx_obj.is_none()) {
    auto idx = device_view<int64_t>(idx_obj, op, "indices", 4, 4, /*writable=*/true);
    check_shape(op, idx, "indices", out.shape);
    check_output(op, idx, "indices");
    check_apart(op, idx, "indices", x, "x");
    check_apart(op, idx, "indices", out, "out");
    indices = view4(idx);
  }
  if (out.size() == 0) return;
  check_cuda(op,
             cuda::adaptive_max_pool2d_forward(const4(x), view4(out), indices, stream_of(stream)));
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
