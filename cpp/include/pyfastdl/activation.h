// GELU, exact and tanh approximation, forward and backward, fp32, elementwise on n contiguous
// values (the binding copies strided arrays).
//
//   exact  y = x Phi(x),  Phi(x) = erfc(-x / sqrt 2) / 2
//          dy/dx = Phi(x) + x exp(-x^2 / 2) / sqrt(2 pi)
//          erfc(a) for a >= 0 as t exp(P(t) - a^2), t = 1 / (1 + a / 2), P of degree 9 (a
//          Chebyshev fit, relative error 1.2e-7 over all a), so Phi keeps its relative
//          accuracy in the negative tail (no 1 + erf cancellation); what is left there is the
//          rounding of the float exponent, about x^2 * 1e-7 relative (2e-6 at x = -4.5).
//   tanh   y = x (1 + tanh(u)) / 2 = x s,  u = sqrt(2 / pi) (x + 0.044715 x^3),
//          s = 1 / (1 + e^(-2u))
//          dy/dx = s + 2 x s (1 - s) sqrt(2 / pi) (1 + 3 * 0.044715 x^2)
// exp is the branch-free polynomial of the softmax kernels, so the loops vectorise per ISA.
// Special values: gelu(+inf) = inf, gelu(-inf) = 0, derivative 1 and 0 there; NaN stays NaN.
// Cost: one exp, one division and ~20 flops per value forward (two exps backward); reads x
// (and dy) once, writes once. Arrays past 32K values are split over threads.
#pragma once

#include <cstdint>

#include "pyfastdl/cpu_features.h"

namespace pyfastdl {

enum class GeluApproximation : int { None = 0, Tanh = 1 };

void gelu_forward(int64_t n, const float* x, float* y, GeluApproximation approximate);
void gelu_backward(int64_t n, const float* x, const float* grad_y, float* grad_x,
                   GeluApproximation approximate);
// The same on an explicit instruction-set path (one the processor supports).
void gelu_forward(CpuPath path, int64_t n, const float* x, float* y, GeluApproximation approximate);
void gelu_backward(CpuPath path, int64_t n, const float* x, const float* grad_y, float* grad_x,
                   GeluApproximation approximate);

}  // namespace pyfastdl
