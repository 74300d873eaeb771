// The GELU kernels, written once and compiled per instruction set (activation.cpp, built once per
// ISA), each instantiation with its build's tag type from an anonymous namespace (isa_dispatch.h:
// distinct functions, no ODR clash). Plain loops over contiguous values
// with `omp simd`; exp is the softmax kernels' branch-free polynomial (shared, instantiated
// with the same tag). The math is stated in pyfastdl/activation.h.
#pragma once

#include <cstdint>

#include "isa_dispatch.h"
#include "pyfastdl/activation.h"
#include "pyfastdl/parallel.h"
#include "softmax_rows.h"

namespace pyfastdl::activation_isa {

// One build's kernels (Kernels<Isa>::table() below): the functions of pyfastdl/activation.h.
struct Table {
  void (*gelu_forward)(int64_t, const float*, float*, GeluApproximation);
  void (*gelu_backward)(int64_t, const float*, const float*, float*, GeluApproximation);
  // Specialised by each build of activation.cpp (compiled once per instruction set); for_path()
  // (isa_dispatch.h) picks one.
  template <CpuPath P>
  static const Table& build();
};
PYFASTDL_DECLARE_ISA_BUILDS(Table);

}  // namespace pyfastdl::activation_isa

namespace pyfastdl::activation_kernels {

// Arrays are split over threads once a thread gets at least this many values.
constexpr int64_t kMinElementsPerThread = 1 << 15;

constexpr float kInvSqrt2 = 0.70710678118654752f;
constexpr float kInvSqrt2Pi = 0.39894228040143268f;
constexpr float kSqrt2OverPi = 0.79788456080286536f;
constexpr float kTanhCubic = 0.044715f;

template <class Isa>
struct Kernels {
  static inline float exp(float v) { return softmax_rows::Kernels<Isa>::exp(v); }

  // Phi(x), the standard normal CDF, through erfc of |x| / sqrt 2 (see activation.h). The
  // exponent's rounding, about |x^2 / 2| * 6e-8, is the relative error left in the far tail
  // (1e-6 at x = -4.5, 2.5e-6 at x = -9).
  static inline float normal_cdf(float x) {
    const float nx = -x;
    const float a = (x < 0.0f ? nx : x) * kInvSqrt2;
    const float t = 1.0f / (1.0f + 0.5f * a);
    float p = 0.17087277f;
    p = p * t - 0.82215223f;
    p = p * t + 1.48851587f;
    p = p * t - 1.13520398f;
    p = p * t + 0.27886807f;
    p = p * t - 0.18628806f;
    p = p * t + 0.09678418f;
    p = p * t + 0.37409196f;
    p = p * t + 1.00002368f;
    p = p * t - 1.26551223f;
    const float half_erfc = 0.5f * t * exp(p - 0.5f * x * x);
    const float upper = 1.0f - half_erfc;
    return x < 0.0f ? half_erfc : upper;
  }

  // exp(-x^2 / 2), the unnormalised normal density.
  static inline float gauss(float x) { return exp(-0.5f * x * x); }

  // s = 1 / (1 + e^(-2u)) of the tanh form, and e^(-2u) (inf for x below about -9.4, where
  // s = 0).
  static inline float tanh_sigmoid(float x, float* e_out) {
    const float e = exp(-2.0f * kSqrt2OverPi * (x + kTanhCubic * x * x * x));
    *e_out = e;
    return 1.0f / (1.0f + e);
  }

  // x * f with f in [0, 1] the factor of x (Phi or s): 0 where f underflows to 0, so that
  // gelu(-inf) = 0; NaN stays NaN.
  static inline float times(float x, float f) {
    const float y = x * f;
    return f == 0.0f ? 0.0f : y;
  }

  template <GeluApproximation A>
  static void forward_range(int64_t b, int64_t e, const float* x, float* y) {
#pragma omp simd
    for (int64_t i = b; i < e; ++i) {
      const float v = x[i];
      if constexpr (A == GeluApproximation::Tanh) {
        float ex;
        y[i] = times(v, tanh_sigmoid(v, &ex));
      } else {
        y[i] = times(v, normal_cdf(v));
      }
    }
  }

  // dy/dx = f + x * f'-part; the second term is taken as 0 where its factor (the density, or
  // s (1 - s)) underflows, so that the derivative is 1 at +inf and 0 at -inf instead of NaN.
  template <GeluApproximation A>
  static void backward_range(int64_t b, int64_t e, const float* x, const float* gy, float* gx) {
#pragma omp simd
    for (int64_t i = b; i < e; ++i) {
      const float v = x[i];
      float d;
      if constexpr (A == GeluApproximation::Tanh) {
        float ex;
        const float s = tanh_sigmoid(v, &ex);
        const float slope = s * (ex * s);  // s (1 - s), accurate when s is near 1
        const float term = 2.0f * v * slope * kSqrt2OverPi * (1.0f + 3.0f * kTanhCubic * v * v);
        d = s + (slope > 0.0f ? term : 0.0f);
      } else {
        const float g = gauss(v);
        const float term = v * kInvSqrt2Pi * g;
        d = normal_cdf(v) + (g > 0.0f ? term : 0.0f);
      }
      gx[i] = gy[i] * d;
    }
  }

  static void gelu_forward(int64_t n, const float* x, float* y, GeluApproximation a) {
    parallel_for(n, threads_for(n, kMinElementsPerThread), [&](int64_t b, int64_t e) {
      if (a == GeluApproximation::Tanh) forward_range<GeluApproximation::Tanh>(b, e, x, y);
      else forward_range<GeluApproximation::None>(b, e, x, y);
    });
  }

  static void gelu_backward(int64_t n, const float* x, const float* gy, float* gx,
                            GeluApproximation a) {
    parallel_for(n, threads_for(n, kMinElementsPerThread), [&](int64_t b, int64_t e) {
      if (a == GeluApproximation::Tanh) backward_range<GeluApproximation::Tanh>(b, e, x, gy, gx);
      else backward_range<GeluApproximation::None>(b, e, x, gy, gx);
    });
  }

  static const activation_isa::Table& table() {
    static const activation_isa::Table t{gelu_forward, gelu_backward};
    return t;
  }
};

}  // namespace pyfastdl::activation_kernels
