// Argument checks of the fused optimizer steps, shared by the CPU binding
// (cpp/bindings/bind_optimizer.cpp) and the CUDA one (cuda/bind_optimizer.cpp): each binding reads
// its arrays with its own reader (NumPy or GPU arrays), passed here as `get(obj, name, writable)`
// returning a float32 1-D bind::ArrayView, and these functions check the rest.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "common.h"
#include "pyfastdl/optimizer.h"  // SgdOptions, AdamOptions

namespace pyfastdl::bind::optimizer_checks {

struct Operand {
  const char* name;
  ArrayView<float> view;
};

// Checks that a 1-D view is contiguous and of length n (n < 0: any length), writable if asked.
inline void check_vector(const char* op, const ArrayView<float>& v, const char* name, int64_t n,
                         bool writable) {
  if (n >= 0 && v.shape[0] != n)
    fail_value(op, name, " must have the length of param (", n, "), got ", v.shape[0]);
  if (v.shape[0] > 1 && v.strides[0] != 1)
    fail_value(op, name, " must be contiguous, got a stride of ", v.strides[0], " elements");
  if (writable) check_output(op, v, name);
}

// A contiguous float32 1-D array of length n (n < 0: take its length), writable if asked.
template <class Get>
ArrayView<float> vector_view(Get& get, const char* op, py::handle obj, const char* name, int64_t n,
                             bool writable) {
  auto v = get(obj, name, writable);
  check_vector(op, v, name, n, writable);
  return v;
}

inline void check_finite(const char* op, const char* name, double value) {
  if (!std::isfinite(value)) fail_value(op, name, " must be finite, got ", value);
}

// Every pair of operands apart (all but the gradient are written).
inline void check_apart(const char* op, const std::vector<Operand>& operands) {
  for (size_t i = 0; i < operands.size(); ++i)
    for (size_t j = i + 1; j < operands.size(); ++j)
      if (overlaps(operands[i].view, operands[j].view))
        fail_value(op, operands[i].name, " must not share memory with ", operands[j].name);
}

// sgd_step's options, checked (all finite).
inline SgdOptions sgd_options(double lr, double momentum, double dampening, double weight_decay,
                              bool nesterov, bool maximize, bool first_step) {
  constexpr const char* kOp = "sgd_step";
  check_finite(kOp, "lr", lr);
  check_finite(kOp, "momentum", momentum);
  check_finite(kOp, "dampening", dampening);
  check_finite(kOp, "weight_decay", weight_decay);
  SgdOptions o;
  o.lr = lr;
  o.momentum = momentum;
  o.dampening = dampening;
  o.weight_decay = weight_decay;
  o.nesterov = nesterov;
  o.maximize = maximize;
  o.first_step = first_step;
  return o;
}

// sgd_step's arrays: param, grad and (when not None) momentum_buffer, checked and apart.
template <class Get>
std::vector<Operand> sgd_operands(Get get, py::handle param_obj, py::handle grad_obj,
                                  py::handle buf_obj, double momentum) {
  constexpr const char* kOp = "sgd_step";
  std::vector<Operand> ops;
  ops.push_back({"param", vector_view(get, kOp, param_obj, "param", -1, true)});
  const int64_t n = ops[0].view.shape[0];
  ops.push_back({"grad", vector_view(get, kOp, grad_obj, "grad", n, false)});
  if (!buf_obj.is_none()) {
    ops.push_back({"momentum_buffer", vector_view(get, kOp, buf_obj, "momentum_buffer", n, true)});
  } else if (momentum != 0.0) {
    fail_value(kOp, "momentum_buffer must be an array when momentum != 0, got None");
  }
  check_apart(kOp, ops);
  return ops;
}

// adam_step's options, checked (all finite, step >= 1).
inline AdamOptions adam_options(double lr, double beta1, double beta2, double eps,
                                double weight_decay, bool amsgrad, bool maximize, double step,
                                bool decoupled) {
  constexpr const char* kOp = "adam_step";
  check_finite(kOp, "lr", lr);
  check_finite(kOp, "beta1", beta1);
  check_finite(kOp, "beta2", beta2);
  check_finite(kOp, "eps", eps);
  check_finite(kOp, "weight_decay", weight_decay);
  if (!(step >= 1.0) || !std::isfinite(step)) fail_value(kOp, "step must be >= 1, got ", step);
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
  return o;
}

// adam_step's arrays: param, grad, exp_avg, exp_avg_sq and (when not None) max_exp_avg_sq,
// checked and apart.
template <class Get>
std::vector<Operand> adam_operands(Get get, py::handle param_obj, py::handle grad_obj,
                                   py::handle m_obj, py::handle v_obj, py::handle vmax_obj,
                                   bool amsgrad) {
  constexpr const char* kOp = "adam_step";
  std::vector<Operand> ops;
  ops.push_back({"param", vector_view(get, kOp, param_obj, "param", -1, true)});
  const int64_t n = ops[0].view.shape[0];
  ops.push_back({"grad", vector_view(get, kOp, grad_obj, "grad", n, false)});
  ops.push_back({"exp_avg", vector_view(get, kOp, m_obj, "exp_avg", n, true)});
  ops.push_back({"exp_avg_sq", vector_view(get, kOp, v_obj, "exp_avg_sq", n, true)});
  if (!vmax_obj.is_none()) {
    ops.push_back({"max_exp_avg_sq", vector_view(get, kOp, vmax_obj, "max_exp_avg_sq", n, true)});
  } else if (amsgrad) {
    fail_value(kOp, "max_exp_avg_sq must be an array when amsgrad is set, got None");
  }
  check_apart(kOp, ops);
  return ops;
}

}  // namespace pyfastdl::bind::optimizer_checks
