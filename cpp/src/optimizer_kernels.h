// The fused optimizer updates, written once and compiled per instruction set (optimizer.cpp,
// built once per ISA), each instantiation with its build's tag type from an anonymous namespace
// (isa_dispatch.h: distinct functions, no ODR clash). One plain loop per combination of options
// (template flags, so that the loop body has no branch and a term whose factor is 0 is left out
// rather than multiplied by 0), `omp simd`, every array read and written once. The math, in the
// order of the float32 operations, is stated in pyfastdl/optimizer.h.
#pragma once

#include <cstdint>

#include "isa_dispatch.h"
#include "pyfastdl/optimizer.h"
#include "pyfastdl/parallel.h"

namespace pyfastdl::optimizer_isa {

// One build's kernels (Kernels<Isa>::table() below): the functions of pyfastdl/optimizer.h.
struct Table {
  void (*sgd_step)(int64_t, float*, const float*, float*, const SgdOptions&);
  void (*adam_step)(int64_t, float*, const float*, float*, float*, float*, const AdamOptions&,
                    double, double);
  // Specialised by each build of optimizer.cpp (compiled once per instruction set); for_path()
  // (isa_dispatch.h) picks one.
  template <CpuPath P>
  static const Table& build();
};
PYFASTDL_DECLARE_ISA_BUILDS(Table);

}  // namespace pyfastdl::optimizer_isa

namespace pyfastdl::optimizer_kernels {

// Arrays are split over threads once a thread gets at least this many values: each value moves
// 12 (SGD) to 24 (Adam, amsgrad) bytes and costs a few flops, so smaller slices lose more to the
// fork and join than they gain.
constexpr int64_t kMinElementsPerThread = 1 << 15;

// Threads split an array at multiples of this many values: every value then falls in the same
// part of a loop (its vector body or its scalar tail, which the compiler may contract into FMAs
// differently) whatever the thread count, so results do not depend on it.
constexpr int64_t kBlock = 64;

// Momentum: none, the first step (the buffer is written, never read) or a later one.
enum class Momentum : int { None = 0, First = 1, Later = 2 };

template <class Isa>
struct Kernels {
  // Runs f(begin, end) over [0, n) split at multiples of kBlock, threads as the work asks.
  template <class F>
  static void split_blocks(int64_t n, F&& f) {
    const int64_t blocks = (n + kBlock - 1) / kBlock;
    parallel_for(blocks, threads_for(n, kMinElementsPerThread), [&](int64_t bb, int64_t be) {
      f(bb * kBlock, be * kBlock < n ? be * kBlock : n);
    });
  }

  // The options as float32 factors, each rounded once from its double (as NumPy and PyTorch
  // round a Python float multiplying a float32 array).
  struct SgdFactors {
    float sign, wd, momentum, damp, lr;
  };

  template <bool kWd, Momentum kMom, bool kNesterov>
  static void sgd_range(int64_t b, int64_t e, float* __restrict p, const float* __restrict g,
                        float* __restrict buf, SgdFactors f) {
#pragma omp simd
    for (int64_t i = b; i < e; ++i) {
      const float pi = p[i];
      float d = g[i] * f.sign;
      if constexpr (kWd) d = d + f.wd * pi;
      if constexpr (kMom != Momentum::None) {
        float bi;
        if constexpr (kMom == Momentum::First) bi = d;
        else bi = buf[i] * f.momentum + f.damp * d;
        buf[i] = bi;
        if constexpr (kNesterov) d = d + f.momentum * bi;
        else d = bi;
      }
      p[i] = pi - f.lr * d;
    }
  }

  template <bool kWd, Momentum kMom, bool kNesterov>
  static void sgd_run(int64_t n, float* p, const float* g, float* buf, SgdFactors f) {
    split_blocks(
        n, [&](int64_t b, int64_t e) { sgd_range<kWd, kMom, kNesterov>(b, e, p, g, buf, f); });
  }

  template <bool kWd>
  static void sgd_momentum(int64_t n, float* p, const float* g, float* buf, SgdFactors f,
                           const SgdOptions& o) {
    if (o.momentum == 0.0) sgd_run<kWd, Momentum::None, false>(n, p, g, buf, f);
    else if (o.first_step && o.nesterov) sgd_run<kWd, Momentum::First, true>(n, p, g, buf, f);
    else if (o.first_step) sgd_run<kWd, Momentum::First, false>(n, p, g, buf, f);
    else if (o.nesterov) sgd_run<kWd, Momentum::Later, true>(n, p, g, buf, f);
    else sgd_run<kWd, Momentum::Later, false>(n, p, g, buf, f);
  }

  static void sgd_step(int64_t n, float* p, const float* g, float* buf, const SgdOptions& o) {
    const SgdFactors f{o.maximize ? -1.0f : 1.0f, static_cast<float>(o.weight_decay),
                       static_cast<float>(o.momentum), static_cast<float>(1.0 - o.dampening),
                       static_cast<float>(o.lr)};
    if (o.weight_decay != 0.0) sgd_momentum<true>(n, p, g, buf, f, o);
    else sgd_momentum<false>(n, p, g, buf, f, o);
  }

  struct AdamFactors {
    float sign, wd, decay, one_minus_beta1, beta2, one_minus_beta2, bias2_sqrt, eps, step_size;
  };

  // kWd: L2 decay in the gradient (Adam); kDecay: p *= 1 - lr * wd first (AdamW).
  template <bool kWd, bool kDecay, bool kAmsgrad>
  static void adam_range(int64_t b, int64_t e, float* __restrict p, const float* __restrict g,
                         float* __restrict m, float* __restrict v, float* __restrict vmax,
                         AdamFactors f) {
#pragma omp simd
    for (int64_t i = b; i < e; ++i) {
      float pi = p[i];
      float d = g[i] * f.sign;
      if constexpr (kDecay) pi = pi * f.decay;
      if constexpr (kWd) d = d + f.wd * pi;
      const float mi = m[i] + (d - m[i]) * f.one_minus_beta1;
      m[i] = mi;
      float vi = v[i] * f.beta2 + (d * f.one_minus_beta2) * d;
      v[i] = vi;
      if constexpr (kAmsgrad) {
        // NaN in either propagates, as in NumPy's and PyTorch's maximum
        const float old = vmax[i];
        vi = (old > vi || old != old) ? old : vi;
        vmax[i] = vi;
      }
      const float denom = __builtin_sqrtf(vi) / f.bias2_sqrt + f.eps;
      p[i] = pi - (mi / denom) * f.step_size;
    }
  }

  template <bool kWd, bool kDecay, bool kAmsgrad>
  static void adam_run(int64_t n, float* p, const float* g, float* m, float* v, float* vmax,
                       AdamFactors f) {
    split_blocks(n, [&](int64_t b, int64_t e) {
      adam_range<kWd, kDecay, kAmsgrad>(b, e, p, g, m, v, vmax, f);
    });
  }

  template <bool kAmsgrad>
  static void adam_decay(int64_t n, float* p, const float* g, float* m, float* v, float* vmax,
                         AdamFactors f, const AdamOptions& o) {
    if (o.weight_decay == 0.0) adam_run<false, false, kAmsgrad>(n, p, g, m, v, vmax, f);
    else if (o.decoupled) adam_run<false, true, kAmsgrad>(n, p, g, m, v, vmax, f);
    else adam_run<true, false, kAmsgrad>(n, p, g, m, v, vmax, f);
  }

  // bias1 = 1 - beta1^step, bias2_sqrt = sqrt(1 - beta2^step): computed in double once, by the
  // entry point (optimizer.cpp), as PyTorch computes them.
  static void adam_step(int64_t n, float* p, const float* g, float* m, float* v, float* vmax,
                        const AdamOptions& o, double bias1, double bias2_sqrt) {
    const AdamFactors f{o.maximize ? -1.0f : 1.0f,
                        static_cast<float>(o.weight_decay),
                        static_cast<float>(1.0 - o.lr * o.weight_decay),
                        static_cast<float>(1.0 - o.beta1),
                        static_cast<float>(o.beta2),
                        static_cast<float>(1.0 - o.beta2),
                        static_cast<float>(bias2_sqrt),
                        static_cast<float>(o.eps),
                        static_cast<float>(o.lr / bias1)};
    if (o.amsgrad) adam_decay<true>(n, p, g, m, v, vmax, f, o);
    else adam_decay<false>(n, p, g, m, v, vmax, f, o);
  }

  static const optimizer_isa::Table& table() {
    static const optimizer_isa::Table t{sgd_step, adam_step};
    return t;
  }
};

}  // namespace pyfastdl::optimizer_kernels
