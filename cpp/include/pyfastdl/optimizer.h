// The optimizer updates, fused: SGD and Adam/AdamW steps on n contiguous float32 values, in place,
// every array read and written once (PyTorch's update rules, in float32 as PyTorch computes them
// for float32 parameters; the scalar factors are computed in double, then rounded once).
//
//   sgd_step     d = maximize ? -g : g
//                d = d + weight_decay * p                              (weight_decay != 0)
//                buf = d                                     (momentum != 0, first step)
//                buf = momentum * buf + (1 - dampening) * d  (momentum != 0, later steps)
//                d = nesterov ? d + momentum * buf : buf     (momentum != 0)
//                p = p - lr * d
//   adam_step    d = maximize ? -g : g
//                p = p * (1 - lr * weight_decay)    (decoupled, AdamW; weight_decay != 0)
//                d = d + weight_decay * p           (not decoupled, Adam; weight_decay != 0)
//                m = m + (1 - beta1) * (d - m)
//                v = beta2 * v + ((1 - beta2) * d) * d
//                v_max = max(v_max, v), then v_max stands for v below        (amsgrad)
//                denom = sqrt(v) / sqrt(1 - beta2^step) + eps
//                p = p - (m / denom) * (lr / (1 - beta1^step))
// A term whose factor is 0 is skipped, not multiplied (0 * inf would make NaN). The loops are
// plain elementwise code the compiler vectorises per build; arrays past 32K values are split over
// threads. The arrays must not overlap.
#pragma once

#include <cstdint>

#include "pyfastdl/cpu_features.h"

namespace pyfastdl {

struct SgdOptions {
  double lr = 0.0, momentum = 0.0, dampening = 0.0, weight_decay = 0.0;
  bool nesterov = false, maximize = false;
  bool first_step = false;  // momentum_buffer is written, not read (it may hold anything)
};

struct AdamOptions {
  double lr = 0.0, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
  bool amsgrad = false, maximize = false, decoupled = false;
  double step = 1.0;  // the step's number t = 1, 2, ... (the bias corrections' exponent)
};

// momentum_buffer may be null when momentum == 0.
void sgd_step(int64_t n, float* param, const float* grad, float* momentum_buffer,
              const SgdOptions& options);
// max_exp_avg_sq may be null unless amsgrad.
void adam_step(int64_t n, float* param, const float* grad, float* exp_avg, float* exp_avg_sq,
               float* max_exp_avg_sq, const AdamOptions& options);
// The same on an explicit instruction-set path (one the processor supports).
void sgd_step(CpuPath path, int64_t n, float* param, const float* grad, float* momentum_buffer,
              const SgdOptions& options);
void adam_step(CpuPath path, int64_t n, float* param, const float* grad, float* exp_avg,
               float* exp_avg_sq, float* max_exp_avg_sq, const AdamOptions& options);

}  // namespace pyfastdl
