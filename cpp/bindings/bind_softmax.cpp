// Bindings of the softmax family: checks dtypes, shapes and targets once, then runs the kernel
// without the GIL. Rows are the last dim of 2-d (rows, C) float32 arrays with any strides.
//
//   softmax_forward(x, out)                     log_softmax_forward(x, out)
//   softmax_backward(y, grad_y, grad_x)         log_softmax_backward(y, grad_y, grad_x)
//   cross_entropy_forward(logits, target, weight, losses, lse, ignore_index, label_smoothing)
//   cross_entropy_backward(logits, target, weight, grad_losses, grad_logits, ignore_index,
//                          label_smoothing)
// target: (N,) int64; weight: None or (C,) float32; losses, lse, grad_losses: (N,) float32.
// An output may be the very same array as an input of its shape (in place); any other overlap
// between an output and an input is refused.
#include <string>

#include "bindings.h"
#include "common.h"
#include "pyfastdl/softmax.h"
#include "softmax_checks.h"

namespace pyfastdl::bind {
namespace {

// y = f(x) over rows: softmax_forward, log_softmax_forward.
template <void (*Kernel)(int64_t, int64_t, ConstRows, Rows)>
void forward_binding(const char* op, py::handle x_obj, py::handle out_obj) {
  auto x = view<float>(x_obj, op, "x", 2, 2);
  auto out = view<float>(out_obj, op, "out", 2, 2, /*writable=*/true);
  check_softmax_forward(op, x, out);
  py::gil_scoped_release release;
  Kernel(x.shape[0], x.shape[1], const_rows(x), rows_of(out));
}

// grad_x = f(y, grad_y) over rows: softmax_backward, log_softmax_backward.
template <void (*Kernel)(int64_t, int64_t, ConstRows, ConstRows, Rows)>
void backward_binding(const char* op, py::handle y_obj, py::handle gy_obj, py::handle gx_obj) {
  auto y = view<float>(y_obj, op, "y", 2, 2);
  auto gy = view<float>(gy_obj, op, "grad_y", 2, 2);
  auto gx = view<float>(gx_obj, op, "grad_x", 2, 2, /*writable=*/true);
  check_softmax_backward(op, y, gy, gx);
  py::gil_scoped_release release;
  Kernel(y.shape[0], y.shape[1], const_rows(y), const_rows(gy), rows_of(gx));
}

// Checks logits, target and weight; returns the targets description for the kernel.
CrossEntropyTargets ce_targets(const char* op, const ArrayView<float>& logits,
                               py::handle target_obj, py::handle weight_obj, int64_t ignore_index,
                               double label_smoothing) {
  const int64_t n = logits.shape[0], c = logits.shape[1];
  auto target = view<int64_t>(target_obj, op, "target", 0, 32);
  CrossEntropyTargets t = check_ce_target(op, logits, target, ignore_index, label_smoothing);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t k = t.target[i];
    if (k != ignore_index && (k < 0 || k >= c)) {
      std::ostringstream s;
      s << "[" << op << "] target " << k << " is out of range for " << c << " classes";
      throw py::index_error(s.str());
    }
  }
  if (!weight_obj.is_none()) {
    auto weight = view<float>(weight_obj, op, "weight", 1, 1);
    check_ce_weight(op, logits, weight, t);
  }
  return t;
}

void cross_entropy_forward_binding(py::handle logits_obj, py::handle target_obj,
                                   py::handle weight_obj, py::handle losses_obj, py::handle lse_obj,
                                   int64_t ignore_index, double label_smoothing) {
  const char* op = "cross_entropy";
  auto logits = view<float>(logits_obj, op, "logits", 2, 2);
  auto t = ce_targets(op, logits, target_obj, weight_obj, ignore_index, label_smoothing);
  auto losses = view<float>(losses_obj, op, "losses", 1, 1, /*writable=*/true);
  auto lse = view<float>(lse_obj, op, "lse", 1, 1, /*writable=*/true);
  check_cross_entropy_forward(op, logits, losses, lse);
  py::gil_scoped_release release;
  cross_entropy_forward(logits.shape[0], logits.shape[1], const_rows(logits), t,
                        {losses.data, losses.strides[0]}, {lse.data, lse.strides[0]});
}

void cross_entropy_backward_binding(py::handle logits_obj, py::handle target_obj,
                                    py::handle weight_obj, py::handle grad_losses_obj,
                                    py::handle grad_logits_obj, int64_t ignore_index,
                                    double label_smoothing) {
  const char* op = "cross_entropy";
  auto logits = view<float>(logits_obj, op, "logits", 2, 2);
  auto t = ce_targets(op, logits, target_obj, weight_obj, ignore_index, label_smoothing);
  auto gl = view<float>(grad_losses_obj, op, "grad_losses", 1, 1);
  auto gx = view<float>(grad_logits_obj, op, "grad_logits", 2, 2, /*writable=*/true);
  check_cross_entropy_backward(op, logits, gl, gx);
  py::gil_scoped_release release;
  cross_entropy_backward(logits.shape[0], logits.shape[1], const_rows(logits), t,
                         {gl.data, gl.strides[0]}, rows_of(gx));
}

}  // namespace

void bind_softmax(py::module_& m) {
  m.def(
      "softmax_forward",
      [](py::handle x, py::handle out) { forward_binding<softmax_forward>("softmax", x, out); },
      py::arg("x"), py::arg("out"), "out = softmax(x) over the rows of a (rows, C) float32 array.");
  m.def(
      "softmax_backward",
      [](py::handle y, py::handle gy, py::handle gx) {
        backward_binding<softmax_backward>("softmax", y, gy, gx);
      },
      py::arg("y"), py::arg("grad_y"), py::arg("grad_x"),
      "grad_x = y * (grad_y - sum(grad_y * y)) per row, y the softmax output.");
  m.def(
      "log_softmax_forward",
      [](py::handle x, py::handle out) {
        forward_binding<log_softmax_forward>("log_softmax", x, out);
      },
      py::arg("x"), py::arg("out"), "out = log_softmax(x) over the rows of a (rows, C) array.");
  m.def(
      "log_softmax_backward",
      [](py::handle y, py::handle gy, py::handle gx) {
        backward_binding<log_softmax_backward>("log_softmax", y, gy, gx);
      },
      py::arg("y"), py::arg("grad_y"), py::arg("grad_x"),
      "grad_x = grad_y - exp(y) * sum(grad_y) per row, y the log_softmax output.");
  m.def("cross_entropy_forward", &cross_entropy_forward_binding, py::arg("logits"),
        py::arg("target"), py::arg("weight"), py::arg("losses"), py::arg("lse"),
        py::arg("ignore_index") = -100, py::arg("label_smoothing") = 0.0,
        "Per-row cross-entropy losses and log-sum-exp of (N, C) logits and (N,) int64 targets.");
  m.def("cross_entropy_backward", &cross_entropy_backward_binding, py::arg("logits"),
        py::arg("target"), py::arg("weight"), py::arg("grad_losses"), py::arg("grad_logits"),
        py::arg("ignore_index") = -100, py::arg("label_smoothing") = 0.0,
        "grad_logits of the per-row cross-entropy losses, given their gradients grad_losses.");
}

}  // namespace pyfastdl::bind
