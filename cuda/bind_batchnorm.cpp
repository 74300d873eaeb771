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
#include "batchnorm_checks.h"
#include "batchnorm_launch.h"
#include "bindings.h"
#include "device_array.h"

namespace pyfastdl::cuda_bind {
namespace {

using namespace bind::batchnorm_checks;

// This binding's reader of the arrays the checks of batchnorm_checks.h take.
struct Read {
  // The (N, C, ...) activation `name`; with `like`, it must have like's shape.
  static ArrayView<float> activation(py::handle obj, const char* name, bool writable,
                                     const ArrayView<float>* like = nullptr) {
    auto v = device_view<float>(obj, kOp, name, 2, 4, writable);
    check_activation(v, name, writable, like);
    return v;
  }

  // A (C,) vector, or an absent one (nullptr data) when `obj` is None and `optional`.
  static ArrayView<float> channel_vector(py::handle obj, const char* name, int64_t channels,
                                         bool writable, bool optional) {
    ArrayView<float> v;
    if (obj.is_none() && optional) return v;
    v = device_view<float>(obj, kOp, name, 1, 1, writable);  // None: TypeError
    check_channel_vector(v, name, channels, writable);
    return v;
  }
};

void forward_train_binding(py::handle x_obj, py::handle weight_obj, py::handle bias_obj,
                           py::handle y_obj, py::handle mean_obj, py::handle var_obj,
                           py::handle invstd_obj, double eps, uintptr_t stream) {
  const auto a =
      forward_train_args<Read>(x_obj, weight_obj, bias_obj, y_obj, mean_obj, var_obj, invstd_obj);
  check_cuda(kOp, cuda::launch_batchnorm_forward_train(
                      nchw<const float>(a.x), channel_vec<const float>(a.weight),
                      channel_vec<const float>(a.bias), nchw<float>(a.y),
                      channel_vec<float>(a.mean), channel_vec<float>(a.var),
                      channel_vec<float>(a.invstd), static_cast<float>(eps), stream_of(stream)));
}

void forward_eval_binding(py::handle x_obj, py::handle rm_obj, py::handle rv_obj,
                          py::handle weight_obj, py::handle bias_obj, py::handle y_obj, double eps,
                          uintptr_t stream) {
  const auto a = forward_eval_args<Read>(x_obj, rm_obj, rv_obj, weight_obj, bias_obj, y_obj);
  check_cuda(kOp, cuda::launch_batchnorm_forward_eval(
                      nchw<const float>(a.x), channel_vec<const float>(a.running_mean),
                      channel_vec<const float>(a.running_var), channel_vec<const float>(a.weight),
                      channel_vec<const float>(a.bias), nchw<float>(a.y), static_cast<float>(eps),
                      stream_of(stream)));
}

void backward_binding(py::handle x_obj, py::handle gy_obj, py::handle mean_obj,
                      py::handle invstd_obj, py::handle weight_obj, py::handle gx_obj,
                      py::handle gw_obj, py::handle gb_obj, bool training, uintptr_t stream) {
  const auto a =
      backward_args<Read>(x_obj, gy_obj, mean_obj, invstd_obj, weight_obj, gx_obj, gw_obj, gb_obj);
  check_cuda(kOp, cuda::launch_batchnorm_backward(
                      nchw<const float>(a.x), nchw<const float>(a.grad_y),
                      channel_vec<const float>(a.mean), channel_vec<const float>(a.invstd),
                      channel_vec<const float>(a.weight), nchw<float>(a.grad_x),
                      channel_vec<float>(a.grad_weight), channel_vec<float>(a.grad_bias), training,
                      stream_of(stream)));
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
