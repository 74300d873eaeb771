// Bindings of the fused optimizer updates: contiguous float32 1-D arrays of one length, updated in
// place; checks once, then runs the kernel without the GIL.
//
//   sgd_step(param, grad, momentum_buffer, *, lr, momentum=0, dampening=0, weight_decay=0,
//            nesterov=False, maximize=False, first_step=False, impl="auto")
//   adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, *, lr, beta1=0.9, beta2=0.999,
//             eps=1e-8, weight_decay=0, amsgrad=False, maximize=False, step, decoupled=False,
//             impl="auto")
// momentum_buffer may be None when momentum == 0, max_exp_avg_sq when not amsgrad. No two arrays
// may share memory (the optimizer's state and the gradient are distinct arrays).
#include <cmath>
#include <string>
#include <vector>

#include "bindings.h"
#include "common.h"
#include "isa_paths.h"
#include "optimizer_checks.h"
#include "pyfastdl/optimizer.h"

namespace pyfastdl::bind {
namespace {

// This binding's reader of the float32 1-D arrays the checks of optimizer_checks.h take.
auto read_vector(const char* op) {
  return [op](py::handle obj, const char* name, bool writable) {
    return view<float>(obj, op, name, 1, 1, writable);
  };
}

void sgd_binding(py::handle param_obj, py::handle grad_obj, py::handle buf_obj, double lr,
                 double momentum, double dampening, double weight_decay, bool nesterov,
                 bool maximize, bool first_step, const std::string& impl) {
  constexpr const char* kOp = "sgd_step";
  const CpuPath path = parse_impl(kOp, impl);
  const SgdOptions o = optimizer_checks::sgd_options(lr, momentum, dampening, weight_decay,
                                                     nesterov, maximize, first_step);
  const auto ops =
      optimizer_checks::sgd_operands(read_vector(kOp), param_obj, grad_obj, buf_obj, momentum);
  const int64_t n = ops[0].view.shape[0];
  float* p = ops[0].view.data;
  const float* g = ops[1].view.data;
  float* buf = ops.size() > 2 ? ops[2].view.data : nullptr;
  py::gil_scoped_release release;
  sgd_step(path, n, p, g, buf, o);
}

void adam_binding(py::handle param_obj, py::handle grad_obj, py::handle m_obj, py::handle v_obj,
                  py::handle vmax_obj, double lr, double beta1, double beta2, double eps,
                  double weight_decay, bool amsgrad, bool maximize, double step, bool decoupled,
                  const std::string& impl) {
  constexpr const char* kOp = "adam_step";
  const CpuPath path = parse_impl(kOp, impl);
  const AdamOptions o = optimizer_checks::adam_options(lr, beta1, beta2, eps, weight_decay, amsgrad,
                                                       maximize, step, decoupled);
  const auto ops = optimizer_checks::adam_operands(read_vector(kOp), param_obj, grad_obj, m_obj,
                                                   v_obj, vmax_obj, amsgrad);
  const int64_t n = ops[0].view.shape[0];
  float* p = ops[0].view.data;
  const float* g = ops[1].view.data;
  float* m = ops[2].view.data;
  float* v = ops[3].view.data;
  float* vmax = ops.size() > 4 ? ops[4].view.data : nullptr;
  py::gil_scoped_release release;
  adam_step(path, n, p, g, m, v, vmax, o);
}

}  // namespace

void bind_optimizer(py::module_& m) {
  m.def("sgd_step", &sgd_binding, py::arg("param"), py::arg("grad"),
        py::arg("momentum_buffer").none(true), py::kw_only(), py::arg("lr"),
        py::arg("momentum") = 0.0, py::arg("dampening") = 0.0, py::arg("weight_decay") = 0.0,
        py::arg("nesterov") = false, py::arg("maximize") = false, py::arg("first_step") = false,
        py::arg("impl") = "auto",
        "One SGD step in place (PyTorch's rule, see pyfastdl/optimizer.h): param, "
        "momentum_buffer updated from grad.");
  m.def("adam_step", &adam_binding, py::arg("param"), py::arg("grad"), py::arg("exp_avg"),
        py::arg("exp_avg_sq"), py::arg("max_exp_avg_sq").none(true), py::kw_only(), py::arg("lr"),
        py::arg("beta1") = 0.9, py::arg("beta2") = 0.999, py::arg("eps") = 1e-8,
        py::arg("weight_decay") = 0.0, py::arg("amsgrad") = false, py::arg("maximize") = false,
        py::arg("step"), py::arg("decoupled") = false, py::arg("impl") = "auto",
        "One Adam (decoupled=False) or AdamW (decoupled=True) step in place (PyTorch's rule, see "
        "pyfastdl/optimizer.h): param and the moments updated from grad.");
  declare_isa_versions(m, "sgd_step");
  declare_isa_versions(m, "adam_step");
}

}  // namespace pyfastdl::bind
