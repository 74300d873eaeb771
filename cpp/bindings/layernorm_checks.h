// Argument checks of layer normalization, shared by the CPU binding
// (cpp/bindings/bind_layernorm.cpp) and the CUDA one (cuda/bind_layernorm.cpp): each binding reads
// its arrays with its own reader (NumPy or GPU arrays), passed here as
// `read(obj, name, ndim, writable)` returning a float32 bind::ArrayView of ndim dims, and these
// functions check shapes and aliasing and return the checked views.
#pragma once

#include <cstdint>
#include <vector>

#include "common.h"
#include "pyfastdl/softmax.h"  // ConstRows, Rows, Strided

namespace pyfastdl::bind::layernorm_checks {

constexpr const char* kOp = "layer_norm";

inline void check_shape(const ArrayView<float>& v, const char* name,
                        const std::vector<int64_t>& want) {
  if (v.shape != want)
    fail_value(kOp, name, " must have shape ", shape_str(want), ", got ", shape_str(v.shape));
}

template <class T, class U>
void check_apart(const ArrayView<T>& out, const char* out_name, const ArrayView<U>& in,
                 const char* in_name, bool same_ok = false) {
  if (same_ok && static_cast<const void*>(out.data) == static_cast<const void*>(in.data) &&
      out.shape == in.shape && out.strides == in.strides)
    return;
  if (overlaps(out, in)) fail_value(kOp, out_name, " must not share memory with ", in_name);
}

template <class Read>
ArrayView<float> output(Read& read, py::handle obj, const char* name, int ndim,
                        const std::vector<int64_t>& want) {
  auto v = read(obj, name, ndim, /*writable=*/true);
  check_shape(v, name, want);
  check_output(kOp, v, name);
  return v;
}

// An optional (N,) parameter (data == nullptr when None).
template <class Read>
ArrayView<float> vector_arg(Read& read, py::handle obj, const char* name, int64_t n) {
  if (obj.is_none()) return {};
  auto v = read(obj, name, 1, false);
  check_shape(v, name, {n});
  return v;
}

inline ConstRows const_rows(const ArrayView<float>& v) {
  return {v.data, v.strides[0], v.strides[1]};
}
inline Rows rows_of(const ArrayView<float>& v) { return {v.data, v.strides[0], v.strides[1]}; }

// layer_norm_forward's arguments, checked; weight and bias have data == nullptr when None.
struct ForwardArgs {
  int64_t m = 0, n = 0;
  ArrayView<float> x, weight, bias, y, mean, rstd;
};

template <class Read>
ForwardArgs forward_args(Read read, py::handle x_obj, py::handle w_obj, py::handle b_obj,
                         py::handle y_obj, py::handle mean_obj, py::handle rstd_obj, double eps) {
  ForwardArgs a;
  a.x = read(x_obj, "x", 2, false);
  a.m = a.x.shape[0];
  a.n = a.x.shape[1];
  a.weight = vector_arg(read, w_obj, "weight", a.n);
  a.bias = vector_arg(read, b_obj, "bias", a.n);
  a.y = output(read, y_obj, "y", 2, a.x.shape);
  a.mean = output(read, mean_obj, "mean", 1, {a.m});
  a.rstd = output(read, rstd_obj, "rstd", 1, {a.m});
  if (!(eps >= 0.0)) fail_value(kOp, "eps must be non-negative, got ", eps);
  check_apart(a.y, "y", a.x, "x", /*same_ok=*/true);
  check_apart(a.mean, "mean", a.x, "x");
  check_apart(a.rstd, "rstd", a.x, "x");
  check_apart(a.mean, "mean", a.y, "y");
  check_apart(a.rstd, "rstd", a.y, "y");
  check_apart(a.rstd, "rstd", a.mean, "mean");
  return a;
}

// layer_norm_backward's arguments, checked; weight has data == nullptr when None, and the
// outputs are the kernel's views (data == nullptr when None).
struct BackwardArgs {
  int64_t m = 0, n = 0;
  ArrayView<float> x, grad_y, mean, rstd, weight;
  Rows grad_x{nullptr, 0, 1};
  Strided<float> grad_weight{nullptr, 1}, grad_bias{nullptr, 1};
};

template <class Read>
BackwardArgs backward_args(Read read, py::handle x_obj, py::handle gy_obj, py::handle mean_obj,
                           py::handle rstd_obj, py::handle w_obj, py::handle gx_obj,
                           py::handle gw_obj, py::handle gb_obj) {
  BackwardArgs a;
  a.x = read(x_obj, "x", 2, false);
  const int64_t m = a.x.shape[0], n = a.x.shape[1];
  a.m = m;
  a.n = n;
  a.grad_y = read(gy_obj, "grad_y", 2, false);
  check_shape(a.grad_y, "grad_y", a.x.shape);
  a.mean = read(mean_obj, "mean", 1, false);
  check_shape(a.mean, "mean", {m});
  a.rstd = read(rstd_obj, "rstd", 1, false);
  check_shape(a.rstd, "rstd", {m});
  a.weight = vector_arg(read, w_obj, "weight", n);
  std::vector<ArrayView<float>> outs;
  std::vector<const char*> names;
  if (!gx_obj.is_none()) {
    outs.push_back(output(read, gx_obj, "grad_x", 2, a.x.shape));
    names.push_back("grad_x");
    a.grad_x = rows_of(outs.back());
  }
  if (!gw_obj.is_none()) {
    outs.push_back(output(read, gw_obj, "grad_weight", 1, {n}));
    names.push_back("grad_weight");
    a.grad_weight = {outs.back().data, outs.back().strides[0]};
  }
  if (!gb_obj.is_none()) {
    outs.push_back(output(read, gb_obj, "grad_bias", 1, {n}));
    names.push_back("grad_bias");
    a.grad_bias = {outs.back().data, outs.back().strides[0]};
  }
  for (size_t i = 0; i < outs.size(); ++i) {
    check_apart(outs[i], names[i], a.x, "x");
    check_apart(outs[i], names[i], a.grad_y, "grad_y");
    check_apart(outs[i], names[i], a.mean, "mean");
    check_apart(outs[i], names[i], a.rstd, "rstd");
    for (size_t k = 0; k < i; ++k) check_apart(outs[i], names[i], outs[k], names[k]);
  }
  if (a.weight.data)
    for (size_t i = 0; i < outs.size(); ++i) check_apart(outs[i], names[i], a.weight, "weight");
  return a;
}

}  // namespace pyfastdl::bind::layernorm_checks
