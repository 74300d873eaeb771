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
#include "pyfastdl/pool2d.h"

namespace pyfastdl::bind {
namespace {

template <class T>
View4<T> view4(const ArrayView<T>& a) {
  View4<T> v;
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
    out_size[i] = pool2d_output_size(sizes[i], p.kernel[i], p.stride[i], p.padding[i],
                                     p.dilation[i], ceil_mode);
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
                 py::handle stride, py::handle padding, py::handle dilation, bool ceil_mode) {
  const char* op = "max_pool2d";
  auto x = view<float>(x_obj, op, "x", 4, 4);
  int64_t o[2];
  const Pool2dParams p =
      pool_params(op, x.shape[2], x.shape[3], kernel_size, stride, padding, dilation, ceil_mode, o);
  const std::vector<int64_t> want{x.shape[0], x.shape[1], o[0], o[1]};
  auto out = view<float>(out_obj, op, "out", 4, 4, /*writable=*/true);
  check_shape(op, out, "out", want);
  check_output(op, out, "out");
  check_apart(op, out, "out", x, "x");
  View4<int64_t> indices;
  if (!idx_obj.is_none()) {
    auto idx = view<int64_t>(idx_obj, op, "indices", 4, 4, /*writable=*/true);
    check_shape(op, idx, "indices", want);
    check_output(op, idx, "indices");
    check_apart(op, idx, "indices", x, "x");
    check_apart(op, idx, "indices", out, "out");
    indices = view4(idx);
  }
  py::gil_scoped_release release;
  max_pool2d_forward(const4(x), view4(out), indices, p);
}

void max_backward(py::handle gy_obj, py::handle idx_obj, py::handle gx_obj) {
  const char* op = "max_pool2d";
  auto gy = view<float>(gy_obj, op, "grad_out", 4, 4);
  auto idx = view<int64_t>(idx_obj, op, "indices", 4, 4);
  auto gx = view<float>(gx_obj, op, "grad_x", 4, 4, /*writable=*/true);
  check_shape(op, idx, "indices", gy.shape);
  if (gx.shape[0] != gy.shape[0] || gx.shape[1] != gy.shape[1])
    fail_value(op, "grad_x must have the N and C of grad_out ", shape_str(gy.shape), ", got ",
               shape_str(gx.shape));
  check_output(op, gx, "grad_x");
  check_apart(op, gx, "grad_x", gy, "grad_out");
  check_apart(op, gx, "grad_x", idx, "indices");
  py::gil_scoped_release release;
  max_pool2d_backward(const4(gy), const4(idx), view4(gx));
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
                 py::handle divisor_override) {
  const char* op = "avg_pool2d";
  auto x = view<float>(x_obj, op, "x", 4, 4);
  int64_t o[2];
  const Pool2dParams p = avg_params(op, x.shape[2], x.shape[3], kernel_size, stride, padding,
                                    ceil_mode, count_include_pad, divisor_override, o);
  auto out = view<float>(out_obj, op, "out", 4, 4, /*writable=*/true);
  check_shape(op, out, "out", {x.shape[0], x.shape[1], o[0], o[1]});
  check_output(op, out, "out");
  check_apart(op, out, "out", x, "x");
  py::gil_scoped_release release;
  avg_pool2d_forward(const4(x), view4(out), p);
}

void avg_backward(py::handle gy_obj, py::handle gx_obj, py::handle kernel_size, py::handle stride,
                  py::handle padding, bool ceil_mode, bool count_include_pad,
                  py::handle divisor_override) {
  const char* op = "avg_pool2d";
  auto gy = view<float>(gy_obj, op, "grad_out", 4, 4);
  auto gx = view<float>(gx_obj, op, "grad_x", 4, 4, /*writable=*/true);
  int64_t o[2];
  const Pool2dParams p = avg_params(op, gx.shape[2], gx.shape[3], kernel_size, stride, padding,
                                    ceil_mode, count_include_pad, divisor_override, o);
  check_shape(op, gy, "grad_out", {gx.shape[0], gx.shape[1], o[0], o[1]});
  check_output(op, gx, "grad_x");
  check_apart(op, gx, "grad_x", gy, "grad_out");
  py::gil_scoped_release release;
  avg_pool2d_backward(const4(gy), view4(gx), p);
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

void adaptive_forward(py::handle x_obj, py::handle out_obj) {
  const char* op = "adaptive_avg_pool2d";
  auto x = view<float>(x_obj, op, "x", 4, 4);
  auto out = view<float>(out_obj, op, "out", 4, 4, /*writable=*/true);
  check_adaptive(op, x, "x", out, "out");
  check_output(op, out, "out");
  check_apart(op, out, "out", x, "x");
  py::gil_scoped_release release;
  adaptive_avg_pool2d_forward(const4(x), view4(out));
}

void adaptive_backward(py::handle gy_obj, py::handle gx_obj) {
  const char* op = "adaptive_avg_pool2d";
  auto gy = view<float>(gy_obj, op, "grad_out", 4, 4);
  auto gx = view<float>(gx_obj, op, "grad_x", 4, 4, /*writable=*/true);
  check_adaptive(op, gx, "grad_x", gy, "grad_out");
  check_output(op, gx, "grad_x");
  check_apart(op, gx, "grad_x", gy, "grad_out");
  py::gil_scoped_release release;
  adaptive_avg_pool2d_backward(const4(gy), view4(gx));
}

void adaptive_max_forward(py::handle x_obj, py::handle out_obj, py::handle idx_obj) {
  const char* op = "adaptive_max_pool2d";
  auto x = view<float>(x_obj, op, "x", 4, 4);
  auto out = view<float>(out_obj, op, "out", 4, 4, /*writable=*/true);
  check_adaptive(op, x, "x", out, "out");
  check_output(op, out, "out");
  check_apart(op, out, "out", x, "x");
  View4<int64_t> indices;
  if (!idx_obj.is_none()) {
    auto idx = view<int64_t>(idx_obj, op, "indices", 4, 4, /*writable=*/true);
    check_shape(op, idx, "indices", out.shape);
    check_output(op, idx, "indices");
    check_apart(op, idx, "indices", x, "x");
    check_apart(op, idx, "indices", out, "out");
    indices = view4(idx);
  }
  py::gil_scoped_release release;
  adaptive_max_pool2d_forward(const4(x), view4(out), indices);
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
