// Binding of the fused optimizer steps on the GPU: contiguous float32 1-D arrays of one length,
// updated in place; checked as the CPU binding checks them (cpp/bindings/bind_optimizer.cpp),
// then launched on `stream` (cuda/optimizer_launch.h).
//
//   sgd_step(param, grad, momentum_buffer, *, lr, momentum=0, dampening=0, weight_decay=0,
//            nesterov=False, maximize=False, first_step=False, stream=0)
//   adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, *, lr, beta1=0.9, beta2=0.999,
//             eps=1e-8, weight_decay=0, amsgrad=False, maximize=False, step, decoupled=False,
//             stream=0)
// momentum_buffer may be None when momentum == 0, max_exp_avg_sq when not amsgrad. No two arrays
// may share memory.
#include <cmath>
#include <vector>

#include "bindings.h"
#include "device_array.h"
#include "optimizer_launch.h"

namespace pyfastdl::cuda_bind {
namespace {

struct Operand {
  const char* name;
  ArrayView<float> view;
};

// A contiguous float32 1-D array of length n (n < 0: take its length), writable if asked.
ArrayView<float> vector_view(const char* op, py::handle obj, const char* name, int64_t n,
                             bool writable) {
  auto v = device_view<float>(obj, op, name, 1, 1, writable);
  if (n >= 0 && v.shape[0] != n)
    fail_value(op, name, " must have the length of param (", n, "), got ", v.shape[0]);
  if (v.shape[0] > 1 && v.strides[0] != 1)
    fail_value(op, name, " must be contiguous, got a stride of ", v.strides[0], " elements");
  if (writable) bind::check_output(op, v, name);
  return v;
}

void check_finite(const char* op, const char* name, double value) {
  if (!std::isfinite(value)) fail_value(op, name, " must be finite, got ", value);
}

// Every pair of operands apart (all but the gradient are written).
void check_apart(const char* op, const std::vector<Operand>& operands) {
  for (size_t i = 0; i < operands.size(); ++i)
    for (size_t j = i + 1; j < operands.size(); ++j)
      if (bind::overlaps(operands[i].view, operands[j].view))
        fail_value(op, operands[i].name, " must not share memory with ", operands[j].name);
}

void sgd_binding(py::handle param_obj, py::handle grad_obj, py::handle buf_obj, double lr,
                 double momentum, double dampening, double weight_decay, bool nesterov,
                 bool maximize, bool first_step, uintptr_t stream) {
  constexpr const char* kOp = "sgd_step";
  check_finite(kOp, "lr", lr);
  check_finite(kOp, "momentum", momentum);
  check_finite(kOp, "dampening", dampening);
  check_finite(kOp, "weight_decay", weight_decay);
  std::vector<Operand> ops;
  ops.push_back({"param", vector_view(kOp, param_obj, "param", -1, true)});
  const int64_t n = ops[0].view.shape[0];
  ops.push_back({"grad", vector_view(kOp, grad_obj, "grad", n, false)});
  float* buf = nullptr;
  if (!buf_obj.is_none()) {
    ops.push_back({"momentum_buffer", vector_view(kOp, buf_obj, "momentum_buffer", n, true)});
    buf = ops.back().view.data;
  } else if (momentum != 0.0) {
    fail_value(kOp, "momentum_buffer must be an array when momentum != 0, got None");
  }
  check_apart(kOp, ops);
  SgdOptions o;
  o.lr = lr;
  o.momentum = momentum;
  o.dampening = dampening;
  o.weight_decay = weight_decay;
  o.nesterov = nesterov;
  o.maximize = maximize;
  o.first_step = first_step;
  check_cuda(
      kOp, cuda::launch_sgd_step(n, ops[0].view.data, ops[1].view.data, buf, o, stream_of(stream)));
}

void adam_binding(py::handle param_obj, py::handle grad_obj, py::handle m_obj, py::handle v_obj,
                  py::handle vmax_obj, double lr, double beta1, double beta2, double eps,
                  double weight_decay, bool amsgrad, bool maximize, double step, bool decoupled,
                  uintptr_t stream) {
  constexpr const char* kOp = "adam_step";
  check_finite(kOp, "lr", lr);
  check_finite(kOp, "beta1", beta1);
  check_finite(kOp, "beta2", beta2);
  check_finite(kOp, "eps", eps);
  check_finite(kOp, "weight_decay", weight_decay);
  if (!(step >= 1.0) || !std::isfinite(step)) fail_value(kOp, "step must be >= 1, got ", step);
  std::vector<Operand> ops;
  ops.push_back({"param", vector_view(kOp, param_obj, "param", -1, true)});
  const int64_t n = ops[0].view.shape[0];
  ops.push_back({"grad", vector_view(kOp, grad_obj, "grad", n, false)});
  ops.push_back({"exp_avg", vector_view(kOp, m_obj, "exp_avg", n, true)});
  ops.push_back({"exp_avg_sq", vector_view(kOp, v_obj, "exp_avg_sq", n, true)});
  float* vmax = nullptr;
  if (!vmax_obj.is_none()) {
    ops.push_back({"max_exp_avg_sq", vector_view(kOp, vmax_obj, "max_exp_avg_sq", n, true)});
    vmax = ops.back().view.data;
  } else if (amsgrad) {
    fail_value(kOp, "max_exp_avg_sq must be an array when amsgrad is set, got None");
  }
  check_apart(kOp, ops);
  AdamOptions o;
  o.lr = lr;
  o.beta1 = beta1;
  o.beta2 = beta2;
  o.eps = eps;
  o.weight_decay = weight_decay;
  o.amsgrad = amsgrad;
  o.maximize = maximize;
  o.decoupled = decoupled;
  o.step = step;
  check_cuda(kOp, cuda::launch_adam_step(n, ops[0].view.data, ops[1].view.data, ops[2].view.data,
                                         ops[3].view.data, vmax, o, stream_of(stream)));
}

}  // namespace

void bind_optimizer(py::module_& m) {
  m.def("sgd_step", &sgd_binding, py::arg("param"), py::arg("grad"),
        py::arg("momentum_buffer").none(true), py::kw_only(), py::arg("lr"),
        py::arg("momentum") = 0.0, py::arg("dampening") = 0.0, py::arg("weight_decay") = 0.0,
        py::arg("nesterov") = false, py::arg("maximize") = false, py::arg("first_step") = false,
        py::arg("stream") = 0,
        "One SGD step in place (PyTorch's rule, see pyfastdl/optimizer.h): param, "
        "momentum_buffer updated from grad.");
  m.def("adam_step", &adam_binding, py::arg("param"), py::arg("grad"), py::arg("exp_avg"),
        py::arg("exp_avg_sq"), py::arg("max_exp_avg_sq").none(true), py::kw_only(), py::arg("lr"),
        py::arg("beta1") = 0.9, py::arg("beta2") = 0.999, py::arg("eps") = 1e-8,
        py::arg("weight_decay") = 0.0, py::arg("amsgrad") = false, py::arg("maximize") = false,
        py::arg("step"), py::arg("decoupled") = false, py::arg("stream") = 0,
        "One Adam (decoupled=False) or AdamW (decoupled=True) step in place (PyTorch's rule, see "
        "pyfastdl/optimizer.h): param and the moments updated from grad.");
}

}  // namespace pyfastdl::cuda_bind
