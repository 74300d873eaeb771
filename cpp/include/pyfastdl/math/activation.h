// The epilogue activations of gemm (and of Linear layers), one float at a time, shared by host
// (g++) and device (nvcc) code. Same formulas as pyfastdl/kernels/reference/gemm.py:
//   relu        max(x, 0)                      NaN stays NaN (x < 0 is false for NaN)
//   leaky_relu  x > 0 ? x : p x                p: negative slope
//   elu         x > 0 ? x : p (e^x - 1)        p: alpha (expm1 keeps precision near 0)
//   gelu        x (1 + erf(x / sqrt 2)) / 2    exact
//   gelu_tanh   x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2
//   sigmoid     1 / (1 + e^-x)
//   tanh        tanh x
//   silu        x / (1 + e^-x)
// The enum is pyfastdl::Activation of pyfastdl/gemm.h, so CPU and GPU callers pass the same value.
#pragma once

#include <math.h>

#include "pyfastdl/gemm.h"
#include "pyfastdl/math/hd.h"

namespace pyfastdl::math {

PFD_HD inline float relu(float x) { return x < 0.0f ? 0.0f : x; }
PFD_HD inline float leaky_relu(float x, float slope) { return x > 0.0f ? x : slope * x; }
PFD_HD inline float elu(float x, float alpha) { return x > 0.0f ? x : alpha * expm1f(x); }
PFD_HD inline float gelu(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)); }
PFD_HD inline float gelu_tanh(float x) {
  const float u = 0.79788456080286536f * (x + 0.044715f * x * x * x);  // sqrt(2 / pi) * (...)
  return 0.5f * x * (1.0f + tanhf(u));
}
PFD_HD inline float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }
PFD_HD inline float silu(float x) { return x / (1.0f + expf(-x)); }

// act(x); `param` is the slope of leaky_relu and the alpha of elu, unused by the others.
PFD_HD inline float activate(Activation act, float x, float param) {
  switch (act) {
    case Activation::Relu: return relu(x);
    case Activation::LeakyRelu: return leaky_relu(x, param);
    case Activation::Elu: return elu(x, param);
    case Activation::Gelu: return gelu(x);
    case Activation::GeluTanh: return gelu_tanh(x);
    case Activation::Sigmoid: return sigmoid(x);
    case Activation::Tanh: return tanhf(x);
    case Activation::Silu: return silu(x);
    default: return x;
  }
}

}  // namespace pyfastdl::math

// GELU of the gelu_forward/gelu_backward kernels (pyfastdl/kernels/reference/activation.py),
// written so that nothing cancels in the negative tail (no 1 + erf) and the limits at +-inf hold:
//   gelu_erfc(x)       x Phi(x),  Phi(x) = erfc(-x / sqrt 2) / 2
//   gelu_grad(x)       Phi(x) + x phi(x),  phi(x) = exp(-x^2 / 2) / sqrt(2 pi)
//   gelu_tanh_sig(x)   x s,  s = 1 / (1 + e),  e = exp(t),  t = -2 sqrt(2/pi) (x + 0.044715 x^3)
//   gelu_tanh_grad(x)  s + 2 x s (e s) sqrt(2/pi) (1 + 3 * 0.044715 x^2)
// gelu(-inf) = 0, gelu(+inf) = inf, derivative 0 and 1 there (a product with a factor that
// underflowed to 0 is taken as 0, not inf * 0); NaN stays NaN. Where t >= 80 (x below about
// -9.7, -inf included) the tanh form and its derivative are below 1e-33 and returned as 0: that
// keeps e finite (no inf * 0) and x^3 overflowing harmless.
namespace pyfastdl::math {

PFD_HD inline float normal_cdf(float x) { return 0.5f * erfcf(x * -0.70710678118654752f); }

PFD_HD inline float gelu_erfc(float x) {
  const float f = normal_cdf(x);
  return f == 0.0f ? 0.0f : x * f;
}

PFD_HD inline float gelu_grad(float x) {
  const float g = expf(-0.5f * x * x);
  const float term = x * (0.39894228040143268f * g);  // x phi(x)
  return normal_cdf(x) + (g > 0.0f ? term : 0.0f);
}

// t = -2u of the tanh form (NaN for NaN x, which then flows through e and s).
PFD_HD inline float gelu_tanh_t(float x) {
  return -2.0f * 0.79788456080286536f * (x + 0.044715f * x * x * x);
}

PFD_HD inline float gelu_tanh_sig(float x) {
  const float t = gelu_tanh_t(x);
  return t >= 80.0f ? 0.0f : x / (1.0f + expf(t));
}

PFD_HD inline float gelu_tanh_grad(float x) {
  const float t = gelu_tanh_t(x);
  if (t >= 80.0f) return 0.0f;
  const float e = expf(t);
  const float s = 1.0f / (1.0f + e);
  const float slope = s * (e * s);  // s (1 - s), accurate when s is near 1
  const float term = 2.0f * x * slope * 0.79788456080286536f * (1.0f + 3.0f * 0.044715f * x * x);
  return s + (slope > 0.0f ? term : 0.0f);
}

}  // namespace pyfastdl::math
