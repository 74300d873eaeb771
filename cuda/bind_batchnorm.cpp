// Binding of batch normalization on the GPU: checked as the CPU binding checks them
// (cpp/bindings/bind_batchnorm.cpp), then launched on `stream` (cuda/batchnorm_launch.h).
//
//   batchnorm_forward_train(x, weight, bias, y, mean, var, invstd, eps=1e-5, *, stream=0)
//   batchnorm_forward_eval(x, running_mean, running_var, weight, bias, y, eps=1e-5, *, stream=0)
//   batchnorm_backward(x, grad_y, mean, invstd, weight, grad_x, grad_weight, grad_bias,
//                      training=True, *, stream=0)
// x, y, grad_y, grad_x: float32 (N, C), (N, C, L) or (N, C, H, W) with any strides; every other
// argument a float32 (C,) vector. weight and bias may be None (1 and 0); var, grad_x, grad_weight
// and grad_bias may be None (not computed). y may be x itself and grad_x may be grad_y itself
// (in place); any other overlap between an output and another argument is refused.
#include <utility>

#include "batchnorm_launch.h"
#include "bindings.h"
#include "device_array.h"

namespace pyfastdl::cuda_bind {
namespace {

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

// The (N, C, ...) activation `name`; with `like`, it must have like's shape.
ArrayView<float> activation(py::handle obj, const char* name, bool writable,
                            const ArrayView<float>* like = nullptr) {
  auto v = device_view<float>(obj, kOp, name, 2, 4, writable);
  if (like && v.shape != like->shape)
    fail_value(kOp, name, " must have the shape of x ", shape_str(like->shape), ", got ",
               shape_str(v.shape));
  if (writable) bind::check_output(kOp, v, name);
  return v;
}

// A (C,) vector, or an absent one (nullptr data) when `obj` is None and `optional`.
ArrayView<float> channel_vector(py::handle obj, const char* name, int64_t channels, bool writable,
                                bool optional) {
  ArrayView<float> v;
  if (obj.is_none() && optional) return v;
  v = device_view<float>(obj, kOp, name, 1, 1, writable);  // None: TypeError
  if (v.shape[0] != channels)
    fail_value(kOp, name, " must have one value per channel: expected shape (", channels,
               ",), got ", shape_str(v.shape));
  if (writable) bind::check_output(kOp, v, name);
  return v;
}

template <class T>
ChannelVec<T> channel_vec(const ArrayView<float>& v) {
  if (!v.data) return {};
  return {v.data, v.strides[0]};
}

bool same_view(const ArrayView<float>& a, const ArrayView<float>& b) {
  return a.data == b.data && a.shape == b.shape && a.strides == b.strides;
}

// Refuses an output that shares memory with another argument (unless `same_ok` and it is the
// very same view).
void check_apart(const ArrayView<float>& out, const char* out_name, const ArrayView<float>& other,
                 const char* other_name, bool same_ok = false) {
  if (!out.data || !other.data) return;
  if (same_ok && same_view(out, other)) return;
  if (bind::overlaps(out, other))
    fail_value(kOp, out_name, " must not share memory with ", other_name,
               same_ok ? " (except as the very same array)" : "");
}

void forward_train_binding(py::handle x_obj, py::handle weight_obj, py::handle bias_obj,
                           py::handle y_obj, py::handle mean_obj, py::handle var_obj,
                           py::handle invstd_obj, double eps, uintptr_t stream) {
  auto x = activation(x_obj, "x", false);
  auto y = activation(y_obj, "y", true, &x);
  const int64_t C = x.shape[1];
  auto weight = channel_vector(weight_obj, "weight", C, false, true);
  auto bias = channel_vector(bias_obj, "bias", C, false, true);
  auto mean = channel_vector(mean_obj, "mean", C, true, false);
  auto var = channel_vector(var_obj, "var", C, true, true);
  auto invstd = channel_vector(invstd_obj, "invstd", C, true, false);
  const float e = static_cast<float>(eps);
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
  check_cuda(kOp, cuda::launch_batchnorm_forward_train(
                      nchw<const float>(x), channel_vec<const float>(weight),
                      channel_vec<const float>(bias), nchw<float>(y), channel_vec<float>(mean),
                      channel_vec<float>(var), channel_vec<float>(invstd), e, stream_of(stream)));
}

void forward_eval_binding(py::handle x_obj, py::handle rm_obj, py::handle rv_obj,
                          py::handle weight_obj, py::handle bias_obj, py::handle y_obj, double eps,
                          uintptr_t stream) {
  auto x = activation(x_obj, "x", false);
  auto y = activation(y_obj, "y", true, &x);
  const int64_t C = x.shape[1];
  auto rm = channel_vector(rm_obj, "running_mean", C, false, false);
  auto rv = channel_vector(rv_obj, "running_var", C, false, false);
  auto weight = channel_vector(weight_obj, "weight", C, false, true);
  auto bias = channel_vector(bias_obj, "bias", C, false, true);
  const float e = static_cast<float>(eps);
  check_apart(y, "y", x, "x", true);
  check_apart(y, "y", rm, "running_mean");
  check_apart(y, "y", rv, "running_var");
  check_apart(y, "y", weight, "weight");
  check_apart(y, "y", bias, "bias");
  check_cuda(kOp, cuda::launch_batchnorm_forward_eval(
                      nchw<const float>(x), channel_vec<const float>(rm),
                      channel_vec<const float>(rv), channel_vec<const float>(weight),
                      channel_vec<const float>(bias), nchw<float>(y), e, stream_of(stream)));
}

void backward_binding(py::handle x_obj, py::handle gy_obj, py::handle mean_obj,
                      py::handle invstd_obj, py::handle weight_obj, py::handle gx_obj,
                      py::handle gw_obj, py::handle gb_obj, bool training, uintptr_t stream) {
  auto x = activation(x_obj, "x", false);
  auto gy = activation(gy_obj, "grad_y", false, &x);
  ArrayView<float> gx;
  if (!gx_obj.is_none()) gx = activation(gx_obj, "grad_x", true, &x);
  const int64_t C = x.shape[1];
  auto mean = channel_vector(mean_obj, "mean", C, false, false);
  auto invstd = channel_vector(invstd_obj, "invstd", C, false, false);
  auto weight = channel_vector(weight_obj, "weight", C, false, true);
  auto gw = channel_vector(gw_obj, "grad_weight", C, true, true);
  auto gb = channel_vector(gb_obj, "grad_bias", C, true, true);
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
  check_cuda(
      kOp, cuda::launch_batchnorm_backward(
               nchw<const float>(x), nchw<const float>(gy), channel_vec<const float>(mean),
               channel_vec<const float>(invstd), channel_vec<const float>(weight), nchw<float>(gx),
               channel_vec<float>(gw), channel_vec<float>(gb), training, stream_of(stream)));
}

}  // namespace

void bind_batchnorm(py::module_& m) {
  m.def("batchnorm_forward_train", &forward_train_binding, py::arg("x"), py::arg("weight"),
        py::arg("bias"), py::arg("y"), py::arg("mean"), py::arg("var"), py::arg("invstd"),
        py::arg("eps") = 1e-5, py::kw_only(), py::arg("stream") = 0,
        "y = (x - mean) * invstd * weight + bias with the batch statistics of each channel of "
        "(N, C, ...) x; writes mean, the biased var (optional) and invstd = 1/sqrt(var + eps).");
  m.def("batchnorm_forward_eval", &forward_eval_binding, py::arg("x"), py::arg("running_mean"),
        py::arg("running_var"), py::arg("weight"), py::arg("bias"), py::arg("y"),
        py::arg("eps") = 1e-5, py::kw_only(), py::arg("stream") = 0,
        "y = (x - running_mean) / sqrt(running_var + eps) * weight + bias per channel.");
  m.def("batchnorm_backward", &backward_binding, py::arg("x"), py::arg("grad_y"), py::arg("mean"),
        py::arg("invstd"), py::arg("weight"), py::arg("grad_x"), py::arg("grad_weight"),
        py::arg("grad_bias"), py::arg("training") = true, py::kw_only(), py::arg("stream") = 0,
        "grad_x (training or eval formula), grad_weight = sum(gy * xhat), grad_bias = sum(gy) "
        "per channel; None outputs are skipped.");
}

}  // namespace pyfastdl::cuda_bind
