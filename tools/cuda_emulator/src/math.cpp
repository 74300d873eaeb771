// The intrinsics with directed rounding (_rz, _ru, _rd: toward zero, up, down), computed with
// the FPU's rounding mode switched around the one operation (this file is compiled with
// -frounding-math, so g++ neither folds nor moves the arithmetic across the switches), and the
// inverse error function.
#include <cfenv>
#include <cmath>

namespace {

template <class F>
auto rounded(int mode, F f) {
  const int old = std::fegetround();
  std::fesetround(mode);
  const auto r = f();
  std::fesetround(old);
  return r;
}

}  // namespace

#define EMU_DIRECTED(mode, fe)                                 \
  float __fadd_##mode(float a, float b) {                      \
    return rounded(fe, [&] { return a + b; });                 \
  }                                                            \
  float __fsub_##mode(float a, float b) {                      \
    return rounded(fe, [&] { return a - b; });                 \
  }                                                            \
  float __fmul_##mode(float a, float b) {                      \
    return rounded(fe, [&] { return a * b; });                 \
  }                                                            \
  float __fdiv_##mode(float a, float b) {                      \
    return rounded(fe, [&] { return a / b; });                 \
  }                                                            \
  float __frcp_##mode(float a) {                               \
    return rounded(fe, [&] { return 1.0f / a; });              \
  }                                                            \
  float __fsqrt_##mode(float a) {                              \
    return rounded(fe, [&] { return std::sqrt(a); });          \
  }                                                            \
  float __fmaf_##mode(float a, float b, float c) {             \
    return rounded(fe, [&] { return std::fma(a, b, c); });     \
  }                                                            \
  double __dadd_##mode(double a, double b) {                   \
    return rounded(fe, [&] { return a + b; });                 \
  }                                                            \
  double __dmul_##mode(double a, double b) {                   \
    return rounded(fe, [&] { return a * b; });                 \
  }                                                            \
  double __fma_##mode(double a, double b, double c) {          \
    return rounded(fe, [&] { return std::fma(a, b, c); });     \
  }                                                            \
  float __double2float_##mode(double a) {                      \
    return rounded(fe, [&] { return static_cast<float>(a); }); \
  }
EMU_DIRECTED(rz, FE_TOWARDZERO)
EMU_DIRECTED(ru, FE_UPWARD)
EMU_DIRECTED(rd, FE_DOWNWARD)
#undef EMU_DIRECTED

// erf^-1(y) for y in (-1, 1): Giles' single-precision approximation ("Approximating the erfinv
// function", GPU Computing Gems, 2011), then two Newton steps in double.
double emu_erfinv(double y) {
  if (std::isnan(y) || y < -1.0 || y > 1.0) return NAN;
  if (y == 1.0) return INFINITY;
  if (y == -1.0) return -INFINITY;
  double w = -std::log((1.0 - y) * (1.0 + y)), x;
  if (w < 5.0) {
    w -= 2.5;
    double p = 2.81022636e-08;
    p = 3.43273939e-07 + p * w;
    p = -3.5233877e-06 + p * w;
    p = -4.39150654e-06 + p * w;
    p = 0.00021858087 + p * w;
    p = -0.00125372503 + p * w;
    p = -0.00417768164 + p * w;
    p = 0.246640727 + p * w;
    p = 1.50140941 + p * w;
    x = p * y;
  } else {
    w = std::sqrt(w) - 3.0;
    double p = -0.000200214257;
    p = 0.000100950558 + p * w;
    p = 0.00134934322 + p * w;
    p = -0.00367342844 + p * w;
    p = 0.00573950773 + p * w;
    p = -0.0076224613 + p * w;
    p = 0.00943887047 + p * w;
    p = 1.00167406 + p * w;
    p = 2.83297682 + p * w;
    x = p * y;
  }
  for (int i = 0; i < 2; ++i) {  // f(x) = erf(x) - y, f'(x) = 2 / sqrt(pi) exp(-x^2)
    const double err = std::erf(x) - y;
    x -= err / (1.1283791670955126 * std::exp(-x * x));
  }
  return x;
}
