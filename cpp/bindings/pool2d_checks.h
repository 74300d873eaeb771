// Argument checks of the pooling family, shared by the CPU binding (cpp/bindings/bind_pool2d.cpp)
// and the CUDA one (cuda/bind_pool2d.cpp): each binding reads its arrays with its own reader
// (NumPy or GPU arrays), passed here as the type `Read` with
//   template <class T> static ArrayView<T> get(py::handle obj, const char* op, const char* name,
//                                              bool writable);
// reading a 4-d (N, C, H, W) array of T, and these functions check the window parameters, the
// shapes and the aliasing, and return the checked arrays.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common.h"
#include "pyfastdl/pool2d.h"  // View4, Pool2dParams (plain structs)

namespace pyfastdl::bind::pool2d_checks {

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

inline std::string repr_of(py::handle obj) { return std::string(py::repr(obj)); }

inline int64_t int_arg(py::handle obj, const char* op, const char* name, py::handle whole) {
  if (py::isinstance<py::bool_>(obj) || !py::isinstance<py::int_>(obj))
    fail_type(op, name, " must be an int or a pair of ints, got ", repr_of(whole));
  try {
    return obj.cast<int64_t>();
  } catch (const py::cast_error&) {
    fail_value(op, name, " is out of range, got ", repr_of(whole));
  }
}

// An int or a sequence of one or two ints, as (h, w).
inline void pair_arg(py::handle obj, const char* op, const char* name, int64_t out[2]) {
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

inline std::string pair_str(const int64_t v[2]) {
  return "(" + std::to_string(v[0]) + ", " + std::to_string(v[1]) + ")";
}

inline int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// Output length of one pooled dim (PyTorch's rule, as pyfastdl::pool2d_output_size; the CPU
// library is not linked into the CUDA module).
inline int64_t output_size(int64_t size, int64_t kernel, int64_t stride, int64_t padding,
                           int64_t dilation, bool ceil_mode) {
  const int64_t span =
      size + 2 * padding - dilation * (kernel - 1) - 1 + (ceil_mode ? stride - 1 : 0);
  int64_t out = floor_div(span, stride) + 1;
  // The last window must start inside the input or its left padding.
  if (ceil_mode && (out - 1) * stride >= size + padding) --out;
  return out;
}

// Checks the window parameters (the messages of the reference's pool2d_geometry) and returns
// them with the output size (OH, OW) for an input of spatial size (H, W).
inline Pool2dParams pool_params(const char* op, int64_t H, int64_t W, py::handle kernel_size,
                                py::handle stride, py::handle padding, py::handle dilation,
                                bool ceil_mode, int64_t out_size[2]) {
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

inline Pool2dParams avg_params(const char* op, int64_t H, int64_t W, py::handle kernel_size,
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

// Adaptive pooling: (H, W) of the input and (OH, OW) of the output must be non-empty.
inline void check_adaptive(const char* op, const ArrayView<float>& in, const char* in_name,
                           const ArrayView<float>& out, const char* out_name) {
  if (in.shape[2] < 1 || in.shape[3] < 1)
    fail_value(op, in_name, " must have non-zero H and W, got shape ", shape_str(in.shape));
  if (out.shape[0] != in.shape[0] || out.shape[1] != in.shape[1])
    fail_value(op, out_name, " must have the N and C of ", in_name, " ", shape_str(in.shape),
               ", got ", shape_str(out.shape));
}

// The checked arrays of one pooling call: `in` is x (forward) or grad_out (backward), `out` is
// out or grad_x; indices has data == nullptr when absent; p holds the window parameters.
struct PoolArgs {
  ArrayView<float> in, out;
  ArrayView<int64_t> indices;
  Pool2dParams p;
  View4<int64_t> indices4() const { return indices.data ? view4(indices) : View4<int64_t>{}; }
};

// The optional indices output of a max pooling forward, of shape `want`, apart from x and out.
template <class Read>
ArrayView<int64_t> indices_output(const char* op, py::handle idx_obj,
                                  const std::vector<int64_t>& want, const PoolArgs& a) {
  if (idx_obj.is_none()) return {};
  auto idx = Read::template get<int64_t>(idx_obj, op, "indices", /*writable=*/true);
  check_shape(op, idx, "indices", want);
  check_output(op, idx, "indices");
  check_apart(op, idx, "indices", a.in, "x");
  check_apart(op, idx, "indices", a.out, "out");
  return idx;
}

template <class Read>
PoolArgs max_forward_args(py::handle x_obj, py::handle out_obj, py::handle idx_obj,
                          py::handle kernel_size, py::handle stride, py::handle padding,
                          py::handle dilation, bool ceil_mode) {
  const char* op = "max_pool2d";
  PoolArgs a;
  a.in = Read::template get<float>(x_obj, op, "x", false);
  int64_t o[2];
  a.p = pool_params(op, a.in.shape[2], a.in.shape[3], kernel_size, stride, padding, dilation,
                    ceil_mode, o);
  const std::vector<int64_t> want{a.in.shape[0], a.in.shape[1], o[0], o[1]};
  a.out = Read::template get<float>(out_obj, op, "out", /*writable=*/true);
  check_shape(op, a.out, "out", want);
  check_output(op, a.out, "out");
  check_apart(op, a.out, "out", a.in, "x");
  a.indices = indices_output<Read>(op, idx_obj, want, a);
  return a;
}

template <class Read>
PoolArgs max_backward_args(py::handle gy_obj, py::handle idx_obj, py::handle gx_obj) {
  const char* op = "max_pool2d";
  PoolArgs a;
  a.in = Read::template get<float>(gy_obj, op, "grad_out", false);
  a.indices = Read::template get<int64_t>(idx_obj, op, "indices", false);
  a.out = Read::template get<float>(gx_obj, op, "grad_x", /*writable=*/true);
  const auto& gy = a.in;
  const auto& gx = a.out;
  check_shape(op, a.indices, "indices", gy.shape);
  if (gx.shape[0] != gy.shape[0] || gx.shape[1] != gy.shape[1])
    fail_value(op, "grad_x must have the N and C of grad_out ", shape_str(gy.shape), ", got ",
               shape_str(gx.shape));
  check_output(op, gx, "grad_x");
  check_apart(op, gx, "grad_x", gy, "grad_out");
  check_apart(op, gx, "grad_x", a.indices, "indices");
  return a;
}

template <class Read>
PoolArgs avg_forward_args(py::handle x_obj, py::handle out_obj, py::handle kernel_size,
                          py::handle stride, py::handle padding, bool ceil_mode,
                          bool count_include_pad, py::handle divisor_override) {
  const char* op = "avg_pool2d";
  PoolArgs a;
  a.in = Read::template get<float>(x_obj, op, "x", false);
  int64_t o[2];
  a.p = avg_params(op, a.in.shape[2], a.in.shape[3], kernel_size, stride, padding, ceil_mode,
                   count_include_pad, divisor_override, o);
  a.out = Read::template get<float>(out_obj, op, "out", /*writable=*/true);
  check_shape(op, a.out, "out", {a.in.shape[0], a.in.shape[1], o[0], o[1]});
  check_output(op, a.out, "out");
  check_apart(op, a.out, "out", a.in, "x");
  return a;
}

template <class Read>
PoolArgs avg_backward_args(py::handle gy_obj, py::handle gx_obj, py::handle kernel_size,
                           py::handle stride, py::handle padding, bool ceil_mode,
                           bool count_include_pad, py::handle divisor_override) {
  const char* op = "avg_pool2d";
  PoolArgs a;
  a.in = Read::template get<float>(gy_obj, op, "grad_out", false);
  a.out = Read::template get<float>(gx_obj, op, "grad_x", /*writable=*/true);
  int64_t o[2];
  a.p = avg_params(op, a.out.shape[2], a.out.shape[3], kernel_size, stride, padding, ceil_mode,
                   count_include_pad, divisor_override, o);
  check_shape(op, a.in, "grad_out", {a.out.shape[0], a.out.shape[1], o[0], o[1]});
  check_output(op, a.out, "grad_x");
  check_apart(op, a.out, "grad_x", a.in, "grad_out");
  return a;
}

// The forward of adaptive_avg_pool2d and of adaptive_max_pool2d (with indices when idx_obj is
// not None).
template <class Read>
PoolArgs adaptive_forward_args(const char* op, py::handle x_obj, py::handle out_obj,
                               py::handle idx_obj = py::none()) {
  PoolArgs a;
  a.in = Read::template get<float>(x_obj, op, "x", false);
  a.out = Read::template get<float>(out_obj, op, "out", /*writable=*/true);
  check_adaptive(op, a.in, "x", a.out, "out");
  check_output(op, a.out, "out");
  check_apart(op, a.out, "out", a.in, "x");
  a.indices = indices_output<Read>(op, idx_obj, a.out.shape, a);
  return a;
}

template <class Read>
PoolArgs adaptive_backward_args(py::handle gy_obj, py::handle gx_obj) {
  const char* op = "adaptive_avg_pool2d";
  PoolArgs a;
  a.in = Read::template get<float>(gy_obj, op, "grad_out", false);
  a.out = Read::template get<float>(gx_obj, op, "grad_x", /*writable=*/true);
  check_adaptive(op, a.out, "grad_x", a.in, "grad_out");
  check_output(op, a.out, "grad_x");
  check_apart(op, a.out, "grad_x", a.in, "grad_out");
  return a;
}

}  // namespace pyfastdl::bind::pool2d_checks
