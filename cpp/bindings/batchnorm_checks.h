// Argument checks of batch normalization, shared by the CPU binding
// (cpp/bindings/bind_batchnorm.cpp) and the CUDA one (cuda/bind_batchnorm.cpp): each binding reads
// its arrays with its own reader (NumPy or GPU arrays), the type `Read` with
//   static ArrayView<float> activation(py::handle obj, const char* name, bool writable,
//                                      const ArrayView<float>* like = nullptr);
//   static ArrayView<float> channel_vector(py::handle obj, const char* name, int64_t channels,
//                                          bool writable, bool optional);
// (reading then calling check_activation / check_channel_vector), and the *_args functions read
// and check each op's arguments with it; nchw and channel_vec make the kernels' views.
#pragma once

#include <cstdint>
#include <utility>

#include "common.h"
#include "pyfastdl/batchnorm.h"  // NchwView, ChannelVec

namespace pyfastdl::bind::batchnorm_checks {

constexpr const char* kOp = "batch_norm";

template <class T>
NchwView<T> nchw(const ArrayView<float>& v) {
  NchwView<T> r;
  if (!v.data) return r;  // an absent output
  r.data = v.data;
  r.n = v.shape[0];
  r.c = v.shape[1];
  r.sn = v.strides[0];
  r.sc = v.strides[1];
  if (v.ndim() == 3) {
    r.w = v.shape[2];
    r.sw = v.strides[2];
    r.sh = r.w * r.sw;
  } else if (v.ndim() == 4) {
    r.h = v.shape[2];
    r.w = v.shape[3];
    r.sh = v.strides[2];
    r.sw = v.strides[3];
  }
  return r;
}

template <class T>
ChannelVec<T> channel_vec(const ArrayView<float>& v) {
  if (!v.data) return {};
  return {v.data, v.strides[0]};
}

// Checks the (N, C, ...) activation `name` (read with 2 to 4 dims); with `like`, it must have
// like's shape.
inline void check_activation(const ArrayView<float>& v, const char* name, bool writable,
                             const ArrayView<float>* like) {
  if (like && v.shape != like->shape)
    fail_value(kOp, name, " must have the shape of x ", shape_str(like->shape), ", got ",
               shape_str(v.shape));
  if (writable) check_output(kOp, v, name);
}

// Checks the (C,) vector `name` (read with 1 dim).
inline void check_channel_vector(const ArrayView<float>& v, const char* name, int64_t channels,
                                 bool writable) {
  if (v.shape[0] != channels)
    fail_value(kOp, name, " must have one value per channel: expected shape (", channels,
               ",), got ", shape_str(v.shape));
  if (writable) check_output(kOp, v, name);
}

inline bool same_view(const ArrayView<float>& a, const ArrayView<float>& b) {
  return a.data == b.data && a.shape == b.shape && a.strides == b.strides;
}

// Refuses an output that shares memory with another argument (unless `same_ok` and it is the
// very same view).
inline void check_apart(const ArrayView<float>& out, const char* out_name,
                        const ArrayView<float>& other, const char* other_name,
                        bool same_ok = false) {
  if (!out.data || !other.data) return;
  if (same_ok && same_view(out, other)) return;
  if (overlaps(out, other))
    fail_value(kOp, out_name, " must not share memory with ", other_name,
               same_ok ? " (except as the very same array)" : "");
}

// The aliasing rules of batchnorm_forward_train: y may be x itself, nothing else overlaps.
inline void check_forward_train_apart(const ArrayView<float>& x, const ArrayView<float>& weight,
                                      const ArrayView<float>& bias, const ArrayView<float>& y,
                                      const ArrayView<float>& mean, const ArrayView<float>& var,
                                      const ArrayView<float>& invstd) {
  check_apart(y, "y", x, "x", true);
  const std::pair<const ArrayView<float>*, const char*> inputs[] = {
      {&x, "x"}, {&weight, "weight"}, {&bias, "bias"}};
  for (const auto& [in, name] : inputs) {
    if (in != &x) check_apart(y, "y", *in, name);
    check_apart(mean, "mean", *in, name);
    check_apart(var, "var", *in, name);
    check_apart(invstd, "invstd", *in, name);
  }
  check_apart(mean, "mean", y, "y");
  check_apart(var, "var", y, "y");
  check_apart(invstd, "invstd", y, "y");
  check_apart(var, "var", mean, "mean");
  check_apart(invstd, "invstd", mean, "mean");
  check_apart(invstd, "invstd", var, "var");
}

// The aliasing rules of batchnorm_forward_eval: y may be x itself, nothing else overlaps.
inline void check_forward_eval_apart(const ArrayView<float>& x, const ArrayView<float>& rm,
                                     const ArrayView<float>& rv, const ArrayView<float>& weight,
                                     const ArrayView<float>& bias, const ArrayView<float>& y) {
  check_apart(y, "y", x, "x", true);
  check_apart(y, "y", rm, "running_mean");
  check_apart(y, "y", rv, "running_var");
  check_apart(y, "y", weight, "weight");
  check_apart(y, "y", bias, "bias");
}

// The aliasing rules of batchnorm_backward: grad_x may be grad_y itself, nothing else overlaps.
inline void check_backward_apart(const ArrayView<float>& x, const ArrayView<float>& gy,
                                 const ArrayView<float>& mean, const ArrayView<float>& invstd,
                                 const ArrayView<float>& weight, const ArrayView<float>& gx,
                                 const ArrayView<float>& gw, const ArrayView<float>& gb) {
  check_apart(gx, "grad_x", gy, "grad_y", true);
  const std::pair<const ArrayView<float>*, const char*> inputs[] = {
      {&x, "x"}, {&mean, "mean"}, {&invstd, "invstd"}, {&weight, "weight"}};
  for (const auto& [in, name] : inputs) {
    check_apart(gx, "grad_x", *in, name);
    check_apart(gw, "grad_weight", *in, name);
    check_apart(gb, "grad_bias", *in, name);
  }
  check_apart(gw, "grad_weight", gy, "grad_y");
  check_apart(gb, "grad_bias", gy, "grad_y");
  check_apart(gw, "grad_weight", gx, "grad_x");
  check_apart(gb, "grad_bias", gx, "grad_x");
  check_apart(gb, "grad_bias", gw, "grad_weight");
}

// batchnorm_forward_train's arguments, checked (absent ones: data == nullptr).
struct ForwardTrainArgs {
  ArrayView<float> x, y, weight, bias, mean, var, invstd;
};

template <class Read>
ForwardTrainArgs forward_train_args(py::handle x_obj, py::handle weight_obj, py::handle bias_obj,
                                    py::handle y_obj, py::handle mean_obj, py::handle var_obj,
                                    py::handle invstd_obj) {
  ForwardTrainArgs a;
  a.x = Read::activation(x_obj, "x", false);
  a.y = Read::activation(y_obj, "y", true, &a.x);
  const int64_t C = a.x.shape[1];
  a.weight = Read::channel_vector(weight_obj, "weight", C, false, true);
  a.bias = Read::channel_vector(bias_obj, "bias", C, false, true);
  a.mean = Read::channel_vector(mean_obj, "mean", C, true, false);
  a.var = Read::channel_vector(var_obj, "var", C, true, true);
  a.invstd = Read::channel_vector(invstd_obj, "invstd", C, true, false);
  check_forward_train_apart(a.x, a.weight, a.bias, a.y, a.mean, a.var, a.invstd);
  return a;
}

// batchnorm_forward_eval's arguments, checked (absent ones: data == nullptr).
struct ForwardEvalArgs {
  ArrayView<float> x, y, running_mean, running_var, weight, bias;
};

template <class Read>
ForwardEvalArgs forward_eval_args(py::handle x_obj, py::handle rm_obj, py::handle rv_obj,
                                  py::handle weight_obj, py::handle bias_obj, py::handle y_obj) {
  ForwardEvalArgs a;
  a.x = Read::activation(x_obj, "x", false);
  a.y = Read::activation(y_obj, "y", true, &a.x);
  const int64_t C = a.x.shape[1];
  a.running_mean = Read::channel_vector(rm_obj, "running_mean", C, false, false);
  a.running_var = Read::channel_vector(rv_obj, "running_var", C, false, false);
  a.weight = Read::channel_vector(weight_obj, "weight", C, false, true);
  a.bias = Read::channel_vector(bias_obj, "bias", C, false, true);
  check_forward_eval_apart(a.x, a.running_mean, a.running_var, a.weight, a.bias, a.y);
  return a;
}

// batchnorm_backward's arguments, checked (absent ones: data == nullptr).
struct BackwardArgs {
  ArrayView<float> x, grad_y, mean, invstd, weight, grad_x, grad_weight, grad_bias;
};

template <class Read>
BackwardArgs backward_args(py::handle x_obj, py::handle gy_obj, py::handle mean_obj,
                           py::handle invstd_obj, py::handle weight_obj, py::handle gx_obj,
                           py::handle gw_obj, py::handle gb_obj) {
  BackwardArgs a;
  a.x = Read::activation(x_obj, "x", false);
  a.grad_y = Read::activation(gy_obj, "grad_y", false, &a.x);
  if (!gx_obj.is_none()) a.grad_x = Read::activation(gx_obj, "grad_x", true, &a.x);
  const int64_t C = a.x.shape[1];
  a.mean = Read::channel_vector(mean_obj, "mean", C, false, false);
  a.invstd = Read::channel_vector(invstd_obj, "invstd", C, false, false);
  a.weight = Read::channel_vector(weight_obj, "weight", C, false, true);
  a.grad_weight = Read::channel_vector(gw_obj, "grad_weight", C, true, true);
  a.grad_bias = Read::channel_vector(gb_obj, "grad_bias", C, true, true);
  check_backward_apart(a.x, a.grad_y, a.mean, a.invstd, a.weight, a.grad_x, a.grad_weight,
                       a.grad_bias);
  return a;
}

}  // namespace pyfastdl::bind::batchnorm_checks
