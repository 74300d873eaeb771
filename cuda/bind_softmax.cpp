// Binding of the softmax family on the GPU: checked as the CPU binding checks them
// (cpp/bindings/bind_softmax.cpp), then launched on `stream` (cuda/softmax_launch.h). Rows are
// the last dim of 2-d (rows, C) float32 arrays with any strides.
//
//   softmax_forward(x, out, *, stream=0)          log_softmax_forward(x, out, *, stream=0)
//   softmax_backward(y, grad_y, grad_x, *, stream=0)
//   log_softmax_backward(y, grad_y, grad_x, *, stream=0)
//   cross_entropy_forward(logits, target, weight, losses, lse, ignore_index=-100,
//                         label_smoothing=0.0, *, stream=0)
//   cross_entropy_backward(logits, target, weight, grad_losses, grad_logits, ignore_index=-100,
//                          label_smoothing=0.0, *, stream=0)
// target: (N,) int64; weight: None or (C,) float32; losses, lse, grad_losses: (N,) float32.
// An output may be the very same array as an input of its shape (in place); any other overlap
// between an output and an input is refused.
// The targets live on the device, where the binding cannot read them without a synchronisation:
// an out-of-range target (neither ignore_index nor in [0, C)) is not refused as on the CPU, its
// row's loss (forward) or gradients (backward) come out NaN instead.
#include <vector>

#include "bindings.h"
#include "device_array.h"
#include "softmax_checks.h"
#include "softmax_launch.h"

namespace pyfastdl::cuda_bind {
namespace {

using bind::const_rows;
using bind::rows_of;

// y = f(x) over rows: softmax_forward, log_softmax_forward.
void forward_binding(const char* op, bool log, py::handle x_obj, py::handle out_obj,
                     uintptr_t stream) {
  auto x = device_view<float>(x_obj, op, "x", 2, 2);
  auto out = device_view<float>(out_obj, op, "out", 2, 2, /*writable=*/true);
  bind::check_softmax_forward(op, x, out);
  check_cuda(op, cuda::launch_softmax_forward(x.shape[0], x.shape[1], const_rows(x), rows_of(out),
                                              log, stream_of(stream)));
}

// grad_x = f(y, grad_y) over rows: softmax_backward, log_softmax_backward.
void backward_binding(const char* op, bool log, py::handle y_obj, py::handle gy_obj,
                      py::handle gx_obj, uintptr_t stream) {
  auto y = device_view<float>(y_obj, op, "y", 2, 2);
  auto gy = device_view<float>(gy_obj, op, "grad_y", 2, 2);
  auto gx = device_view<float>(gx_obj, op, "grad_x", 2, 2, /*writable=*/true);
  bind::check_softmax_backward(op, y, gy, gx);
  check_cuda(op,
             cuda::launch_softmax_backward(y.shape[0], y.shape[1], const_rows(y), const_rows(gy),
                                           rows_of(gx), log, stream_of(stream)));
}

// Checks logits, target and weight; returns the targets description for the kernel (the
// targets' range is not checked: see the file comment).
CrossEntropyTargets ce_targets(const char* op, const ArrayView<float>& logits,
                               py::handle target_obj, py::handle weight_obj, int64_t ignore_index,
                               double label_smoothing) {
  auto target = device_view<int64_t>(target_obj, op, "target", 0, 32);
  CrossEntropyTargets t = bind::check_ce_target(op, logits, target, ignore_index, label_smoothing);
  if (!weight_obj.is_none()) {
    auto weight = device_view<float>(weight_obj, op, "weight", 1, 1);
    bind::check_ce_weight(op, logits, weight, t);
  }
  return t;
}

void cross_entropy_forward_binding(py::handle logits_obj, py::handle target_obj,
                                   py::handle weight_obj, py::handle losses_obj, py::handle lse_obj,
                                   int64_t ignore_index, double label_smoothing, uintptr_t stream) {
  const char* op = "cross_entropy";
  auto logits = device_view<float>(logits_obj, op, "logits", 2, 2);
  auto t = ce_targets(op, logits, target_obj, weight_obj, ignore_index, label_smoothing);
  auto losses = device_view<float>(losses_obj, op, "losses", 1, 1, /*writable=*/true);
  auto lse = device_view<float>(lse_obj, op, "lse", 1, 1, /*writable=*/true);
  bind::check_cross_entropy_forward(op, logits, losses, lse);
  check_cuda(
      op, cuda::launch_cross_entropy_forward(logits.shape[0], logits.shape[1], const_rows(logits),
                                             t, {losses.data, losses.strides[0]},
                                             {lse.data, lse.strides[0]}, stream_of(stream)));
}

void cross_entropy_backward_binding(py::handle logits_obj, py::handle target_obj,
                                    py::handle weight_obj, py::handle grad_losses_obj,
                                    py::handle grad_logits_obj, int64_t ignore_index,
                                    double label_smoothing, uintptr_t stream) {
  const char* op = "cross_entropy";
  auto logits = device_view<float>(logits_obj, op, "logits", 2, 2);
  auto t = ce_targets(op, logits, target_obj, weight_obj, ignore_index, label_smoothing);
  auto gl = device_view<float>(grad_losses_obj, op, "grad_losses", 1, 1);
  auto gx = device_view<float>(grad_logits_obj, op, "grad_logits", 2, 2, /*writable=*/true);
  bind::check_cross_entropy_backward(op, logits, gl, gx);
  check_cuda(op, cuda::launch_cross_entropy_backward(
                     logits.shape[0], logits.shape[1], const_rows(logits), t,
                     {gl.data, gl.strides[0]}, rows_of(gx), stream_of(stream)));
}

}  // namespace

void bind_softmax(py::module_& m) {
  m.def(
      "softmax_forward",
      [](py::handle x, py::handle out, uintptr_t stream) {
        forward_binding("softmax", false, x, out, stream);
      },
      py::arg("x"), py::arg("out"), py::kw_only(), py::arg("stream") = 0,
      "out = softmax(x) over the rows of a (rows, C) float32 array.");
  m.def(
      "softmax_backward",
      [](py::handle y, py::handle gy, py::handle gx, uintptr_t stream) {
        backward_binding("softmax", false, y, gy, gx, stream);
      },
      py::arg("y"), py::arg("grad_y"), py::arg("grad_x"), py::kw_only(), py::arg("stream") = 0,
      "grad_x = y * (grad_y - sum(grad_y * y)) per row, y the softmax output.");
  m.def(
      "log_softmax_forward",
      [](py::handle x, py::handle out, uintptr_t stream) {
        forward_binding("log_softmax", true, x, out, stream);
      },
      py::arg("x"), py::arg("out"), py::kw_only(), py::arg("stream") = 0,
      "out = log_softmax(x) over the rows of a (rows, C) array.");
  m.def(
      "log_softmax_backward",
      [](py::handle y, py::handle gy, py::handle gx, uintptr_t stream) {
        backward_binding("log_softmax", true, y, gy, gx, stream);
      },
      py::arg("y"), py::arg("grad_y"), py::arg("grad_x"), py::kw_only(), py::arg("stream") = 0,
      "grad_x = grad_y - exp(y) * sum(grad_y) per row, y the log_softmax output.");
  m.def("cross_entropy_forward", &cross_entropy_forward_binding, py::arg("logits"),
        py::arg("target"), py::arg("weight"), py::arg("losses"), py::arg("lse"),
        py::arg("ignore_index") = -100, py::arg("label_smoothing") = 0.0, py::kw_only(),
        py::arg("stream") = 0,
        "Per-row cross-entropy losses and log-sum-exp of (N, C) logits and (N,) int64 targets.");
  m.def("cross_entropy_backward", &cross_entropy_backward_binding, py::arg("logits"),
        py::arg("target"), py::arg("weight"), py::arg("grad_losses"), py::arg("grad_logits"),
        py::arg("ignore_index") = -100, py::arg("label_smoothing") = 0.0, py::kw_only(),
        py::arg("stream") = 0,
        "grad_logits of the per-row cross-entropy losses, given their gradients grad_losses.");
}

}  // namespace pyfastdl::cuda_bind
