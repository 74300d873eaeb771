// The batch normalization kernels, written once and compiled per instruction set.
//
// batchnorm.cpp, compiled once per instruction set, instantiates Kernels<Isa> with each build's
// tag type, which lives in an anonymous namespace (isa_dispatch.h), so the instantiations are
// distinct functions. For the same reason every helper is a member of
// Kernels<Isa> and nothing here instantiates a library template (std::min, std::vector, ...):
// the linker could keep the AVX-512 copy for the generic path. The math is in batchnorm.h.
//
// Two layouts of work:
//   planes   H*W > 1: a channel is N*H rows of W values (rows of H*W values when the planes are
//            contiguous). Every pass runs through the (n, c) planes in memory order, threads
//            taking contiguous ranges, with per-thread per-channel partial sums added up after
//            the pass (channel by channel, each 4 KB plane starts on a new page, where the
//            hardware prefetchers stop: passes ran 2-3x slower).
//   vectors  H = W = 1 ((N, C) inputs): the channel's values are one per row, so blocks of
//            kBlock channels are processed together, each inner loop running across channels.
// Both have a contiguous variant (Unit: unit stride along the inner loop, vectorised) and a
// strided one (any strides, broadcast inputs included).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "isa_dispatch.h"
#include "pyfastdl/batchnorm.h"
#include "pyfastdl/parallel.h"

namespace pyfastdl::batchnorm_isa {

// One build's kernels (Kernels<Isa>::table() below): the functions of pyfastdl/batchnorm.h.
struct Table {
  void (*forward_train)(BnInput, BnParam, BnParam, BnOutput, BnStat, BnStat, BnStat, float);
  void (*forward_eval)(BnInput, BnParam, BnParam, BnParam, BnParam, BnOutput, float);
  void (*backward)(BnInput, BnInput, BnParam, BnParam, BnParam, BnOutput, BnStat, BnStat, bool);
  // Specialised by each build of batchnorm.cpp (compiled once per instruction set); for_path()
  // (isa_dispatch.h) picks one.
  template <CpuPath P>
  static const Table& build();
};
PYFASTDL_DECLARE_ISA_BUILDS(Table);

}  // namespace pyfastdl::batchnorm_isa

namespace pyfastdl::batchnorm_kernels {

constexpr int kLanes = 16;
// Values summed into one set of float lanes before the partial sum goes into a double.
constexpr int64_t kChunk = 2048;
// Channels per block on the vector layout (a multiple of kLanes).
constexpr int64_t kBlock = 64;
// Values a thread should get at least before a second thread pays off.
constexpr int64_t kMinPerThread = 1 << 15;

template <class Isa>
struct Kernels {
  // ------------------------------------------------------------------------------ helpers
  static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

  template <bool Unit, class T>
  static T& at(T* p, int64_t stride, int64_t i) {
    if constexpr (Unit) return p[i];
    else return p[i * stride];
  }

  template <class T>
  static T* row(const NchwView<T>& v, int64_t n, int64_t c, int64_t h) {
    return v.data + n * v.sn + c * v.sc + h * v.sh;
  }

  // Strides of size-1 dims are meaningless (NumPy sets them freely): make them canonical, then
  // fold H into W when every present view has contiguous (H, W) planes of rows.
  template <class T>
  static void canonical(NchwView<T>& v) {
    if (v.w == 1) v.sw = 1;
    if (v.h == 1) v.sh = v.w * v.sw;
    if (v.c == 1) v.sc = 1;
  }
  template <class T>
  static bool foldable(const NchwView<T>& v) {
    return !v.data || v.sh == v.w * v.sw;
  }
  template <class T>
  static void fold(NchwView<T>& v) {
    v.w *= v.h;
    v.h = 1;
    if (v.w == 1) v.sw = 1;
    v.sh = v.w * v.sw;
  }
  static void prepare(BnInput& x, BnInput& g, BnOutput& o) {
    canonical(x);
    canonical(g);
    canonical(o);
    if (x.h > 1 && foldable(x) && foldable(g) && foldable(o)) {
      fold(x);
      fold(g);
      fold(o);
    }
  }
  template <class T>
  static bool unit_rows(const NchwView<T>& v) {
    return !v.data || v.sw == 1;
  }
  template <class T>
  static bool unit_channels(const NchwView<T>& v) {
    return !v.data || v.sc == 1;
  }

  // Runs f(c0, cb) for every block of at most kBlock channels [c0, c0 + cb).
  template <class F>
  static void for_blocks(int64_t channels, int64_t per_channel, F&& f) {
    const int64_t blocks = (channels + kBlock - 1) / kBlock;
    const int threads = threads_for(channels * per_channel, kMinPerThread);
    parallel_for(blocks, threads, [&](int64_t begin, int64_t end) {
      for (int64_t b = begin; b < end; ++b) f(b * kBlock, min64(kBlock, channels - b * kBlock));
    });
  }

  // Heap arrays, allocated before any parallel region (so that bad_alloc reaches the caller).
  template <class T>
  struct Heap {
    T* p = nullptr;
    explicit Heap(int64_t n) : p(n > 0 ? new T[static_cast<size_t>(n)]() : nullptr) {}
    ~Heap() { delete[] p; }
    Heap(const Heap&) = delete;
    Heap& operator=(const Heap&) = delete;
  };

  // Runs f(n, c) for every (n, c) plane in memory order (n, then c), contiguous ranges per thread.
  template <class F>
  static void for_planes(const BnInput& x, F&& f) {
    const int64_t planes = x.n * x.c;
    const int threads = threads_for(planes * x.h * x.w, kMinPerThread);
    parallel_for(planes, threads, [&](int64_t begin, int64_t end) {
      for (int64_t p = begin; p < end; ++p) f(p / x.c, p % x.c);
    });
  }

  // Per-channel sums over the planes in memory order: f(n, c, acc) adds plane (n, c)'s share into
  // acc[0 .. width) (the calling thread's own doubles for channel c); the totals over threads are
  // added into out[c * width + i].
  template <class F>
  static void reduce_planes(const BnInput& x, int width, double* out, F&& f) {
    const int64_t planes = x.n * x.c, per_thread = x.c * width;
    const int threads = threads_for(planes * x.h * x.w, kMinPerThread);
    Heap<double> partial(per_thread * threads);  // zeroed
    parallel_for(planes, threads, [&](int64_t begin, int64_t end) {
      double* acc = partial.p + per_thread * omp_get_thread_num();
      for (int64_t p = begin; p < end; ++p) f(p / x.c, p % x.c, acc + (p % x.c) * width);
    });
    for (int t = 0; t < threads; ++t)
      for (int64_t i = 0; i < per_thread; ++i) out[i] += partial.p[t * per_thread + i];
  }

  // ------------------------------------------------------------------------------ row sums
  // Contiguous rows are summed in two Lanes accumulators (GCC vector type: one 512-bit register
  // in the AVX-512 build, two 256-bit or four 128-bit ones in the others) over chunks of at most
  // kChunk values; each chunk's float sum goes into a double. Strided rows are summed one value
  // at a time. Written with explicit vectors: left to itself, the compiler vectorised the lane
  // loops across rows (transposing with permutes) instead of along them.
  typedef float Lanes __attribute__((vector_size(kLanes * sizeof(float))));

  static void load(Lanes& v, const float* p) { std::memcpy(&v, p, sizeof v); }
  static double total(const Lanes& a, const Lanes& b, float tail) {
    float s = 0.0f;
    for (int j = 0; j < kLanes; ++j) s += a[j] + b[j];
    return static_cast<double>(s) + static_cast<double>(tail);
  }

  // Calls chunk(begin, end) over [0, len) in pieces of at most kChunk values.
  template <class F>
  static void for_chunks(int64_t len, F&& chunk) {
    for (int64_t start = 0; start < len; start += kChunk) chunk(start, min64(len, start + kChunk));
  }

  // sum(p[i] - k).
  template <bool Unit>
  static double sum_shifted(const float* p, int64_t s, int64_t len, float k) {
    double sum = 0.0;
    for_chunks(len, [&](int64_t i, int64_t end) {
      Lanes a0 = {}, a1 = {}, v0, v1;
      float tail = 0.0f;
      if constexpr (Unit) {
        for (; i + 2 * kLanes <= end; i += 2 * kLanes) {
          load(v0, p + i);
          load(v1, p + i + kLanes);
          a0 += v0 - k;
          a1 += v1 - k;
        }
      }
      for (; i < end; ++i) tail += at<Unit>(p, s, i) - k;
      sum += total(a0, a1, tail);
    });
    return sum;
  }

  // s1 += sum(p[i] - m), s2 += sum((p[i] - m)^2).
  template <bool Unit>
  static void sum_centered(const float* p, int64_t s, int64_t len, float m, double& s1,
                           double& s2) {
    for_chunks(len, [&](int64_t i, int64_t end) {
      Lanes a0 = {}, a1 = {}, q0 = {}, q1 = {}, v0, v1;
      float t1 = 0.0f, t2 = 0.0f;
      if constexpr (Unit) {
        for (; i + 2 * kLanes <= end; i += 2 * kLanes) {
          load(v0, p + i);
          load(v1, p + i + kLanes);
          v0 -= m;
          v1 -= m;
          a0 += v0;
          a1 += v1;
          q0 += v0 * v0;
          q1 += v1 * v1;
        }
      }
      for (; i < end; ++i) {
        const float d = at<Unit>(p, s, i) - m;
        t1 += d;
        t2 += d * d;
      }
      s1 += total(a0, a1, t1);
      s2 += total(q0, q1, t2);
    });
  }

  // The sums behind the gradients: sg += sum(g), sgx += sum(g * (x - m)), sx += sum(x - m).
  struct GradSums {
    double sg = 0.0, sgx = 0.0, sx = 0.0;
  };
  template <bool Unit>
  static void sum_grad(const float* x, int64_t sx, const float* g, int64_t sg_stride, int64_t len,
                       float m, GradSums& sums) {
    for_chunks(len, [&](int64_t i, int64_t end) {
      Lanes g0 = {}, g1 = {}, p0 = {}, p1 = {}, d0 = {}, d1 = {}, u0, u1, v0, v1;
      float t1 = 0.0f, t2 = 0.0f, t3 = 0.0f;
      if constexpr (Unit) {
        for (; i + 2 * kLanes <= end; i += 2 * kLanes) {
          load(u0, g + i);
          load(u1, g + i + kLanes);
          load(v0, x + i);
          load(v1, x + i + kLanes);
          v0 -= m;
          v1 -= m;
          g0 += u0;
          g1 += u1;
          p0 += u0 * v0;
          p1 += u1 * v1;
          d0 += v0;
          d1 += v1;
        }
      }
      for (; i < end; ++i) {
        const float gi = at<Unit>(g, sg_stride, i);
        const float d = at<Unit>(x, sx, i) - m;
        t1 += gi;
        t2 += gi * d;
        t3 += d;
      }
      sums.sg += total(g0, g1, t1);
      sums.sgx += total(p0, p1, t2);
      sums.sx += total(d0, d1, t3);
    });
  }

  // --------------------------------------------------------------------------- row writes
  // y = ((x - m) - dm) * a + b: the mean is m + dm, m a float near the values (x - m is exact
  // for values close to m) and dm the small rest. y may be x itself: each element is read
  // before it is written.
  template <bool Unit>
  static void normalize_row(const float* x, int64_t sx, float* y, int64_t sy, int64_t len, float m,
                            float dm, float a, float b) {
    if constexpr (Unit) {
#pragma omp simd
      for (int64_t i = 0; i < len; ++i) y[i] = ((x[i] - m) - dm) * a + b;
    } else {
      for (int64_t i = 0; i < len; ++i) y[i * sy] = ((x[i * sx] - m) - dm) * a + b;
    }
  }

  // gx = A * g + B * (x - m) + C0 (training), gx = A * g (eval: B = C0 = 0, x unread).
  template <bool Unit>
  static void grad_x_row(const float* x, int64_t sx, const float* g, int64_t sg, float* o,
                         int64_t so, int64_t len, float m, float A, float B, float C0,
                         bool training) {
    if (training) {
      if constexpr (Unit) {
#pragma omp simd
        for (int64_t i = 0; i < len; ++i) o[i] = A * g[i] + (B * (x[i] - m) + C0);
      } else {
        for (int64_t i = 0; i < len; ++i) o[i * so] = A * g[i * sg] + (B * (x[i * sx] - m) + C0);
      }
    } else {
      if constexpr (Unit) {
#pragma omp simd
        for (int64_t i = 0; i < len; ++i) o[i] = A * g[i];
      } else {
        for (int64_t i = 0; i < len; ++i) o[i * so] = A * g[i * sg];
      }
    }
  }

  // ------------------------------------------------------------------- per-channel results
  // A channel's statistics: mean = m + dm (m the float the second pass centered on).
  struct Moments {
    float m, dm;
    double var, invstd;
  };

  // From the sums s1 = sum(x - m), s2 = sum((x - m)^2) over M values: dm = s1 / M and the
  // biased var = s2 / M - dm^2 (the correction for m's rounding; clamped at 0, NaN stays NaN).
  // Stores mean, var (when asked) and invstd of channel c. An infinite m (an infinity among the
  // values) is the mean itself: no correction (s1 holds inf - inf = NaN), and var is NaN.
  static Moments finish(int64_t c, float m, double s1, double s2, double M, float eps, BnStat mean,
                        BnStat var, BnStat invstd) {
    const double d = std::isfinite(m) ? s1 / M : 0.0;
    double v = s2 / M - d * d;
    if (v < 0.0) v = 0.0;
    const double inv = 1.0 / std::sqrt(v + static_cast<double>(eps));
    mean[c] = static_cast<float>(static_cast<double>(m) + d);
    if (var) var[c] = static_cast<float>(v);
    invstd[c] = static_cast<float>(inv);
    return {m, static_cast<float>(d), v, inv};
  }

  static float scale_of(double invstd, BnParam weight, int64_t c) {
    return static_cast<float>(invstd * (weight ? static_cast<double>(weight[c]) : 1.0));
  }

  // ------------------------------------------------------------------------ plane layout
  // Every pass runs through the planes in memory order (n, then c) with per-thread, per-channel
  // partial sums: channel by channel, every plane (4 KB for 32x32) starts on a new page, where
  // the hardware prefetchers stop, and a pass ran at a third of the speed.

  // The channels whose shifted mean k + sum(x - k) / M came out NaN or infinite (an infinity among
  // their values, and as k itself inf - inf = NaN), summed again without the shift: sum(x) / M
  // is then the mean (+-inf, or NaN for +inf and -inf together). sums: C doubles of scratch.
  template <bool Unit>
  static void unshifted_means(const BnInput& x, double M, double* sums, float* m0) {
    for (int64_t c = 0; c < x.c; ++c) sums[c] = 0.0;
    reduce_planes(x, 1, sums, [&](int64_t n, int64_t c, double* acc) {
      if (std::isfinite(m0[c])) return;
      for (int64_t h = 0; h < x.h; ++h)
        acc[0] += sum_shifted<Unit>(row(x, n, c, h), x.sw, x.w, 0.0f);
    });
    for (int64_t c = 0; c < x.c; ++c)
      if (!std::isfinite(m0[c])) m0[c] = static_cast<float>(sums[c] / M);
  }

  template <bool Unit>
  static void plane_forward_train(const BnInput& x, BnParam weight, BnParam bias, const BnOutput& y,
                                  BnStat mean, BnStat var, BnStat invstd, float eps) {
    const int64_t C = x.c;
    const double M = static_cast<double>(x.n * x.h * x.w);
    Heap<double> sums(3 * C);         // per channel: sum(x - k); sum(x - m0), sum((x - m0)^2)
    Heap<float> coefficients(4 * C);  // per channel: k, then m0; dm; a; b
    float *m0 = coefficients.p, *dm = m0 + C, *a = dm + C, *b = a + C;
    for (int64_t c = 0; c < C; ++c) m0[c] = *row(x, 0, c, 0);  // the shift k
    reduce_planes(x, 1, sums.p, [&](int64_t n, int64_t c, double* acc) {
      for (int64_t h = 0; h < x.h; ++h)
        acc[0] += sum_shifted<Unit>(row(x, n, c, h), x.sw, x.w, m0[c]);
    });
    bool redo = false;
    for (int64_t c = 0; c < C; ++c) {
      m0[c] = static_cast<float>(static_cast<double>(m0[c]) + sums.p[c] / M);
      redo |= !std::isfinite(m0[c]);
    }
    if (redo) unshifted_means<Unit>(x, M, sums.p, m0);
    double* centered = sums.p + C;
    reduce_planes(x, 2, centered, [&](int64_t n, int64_t c, double* acc) {
      for (int64_t h = 0; h < x.h; ++h)
        sum_centered<Unit>(row(x, n, c, h), x.sw, x.w, m0[c], acc[0], acc[1]);
    });
    for (int64_t c = 0; c < C; ++c) {
      const Moments mo =
          finish(c, m0[c], centered[2 * c], centered[2 * c + 1], M, eps, mean, var, invstd);
      dm[c] = mo.dm;
      a[c] = scale_of(mo.invstd, weight, c);
      b[c] = bias ? bias[c] : 0.0f;
    }
    for_planes(x, [&](int64_t n, int64_t c) {
      for (int64_t h = 0; h < x.h; ++h)
        normalize_row<Unit>(row(x, n, c, h), x.sw, row(y, n, c, h), y.sw, x.w, m0[c], dm[c], a[c],
                            b[c]);
    });
  }

  template <bool Unit>
  static void plane_forward_eval(const BnInput& x, BnParam rm, BnParam rv, BnParam weight,
                                 BnParam bias, const BnOutput& y, float eps) {
    for_planes(x, [&](int64_t n, int64_t c) {
      const double inv = 1.0 / std::sqrt(static_cast<double>(rv[c]) + static_cast<double>(eps));
      const float a = scale_of(inv, weight, c), m = rm[c], b = bias ? bias[c] : 0.0f;
      for (int64_t h = 0; h < x.h; ++h)
        normalize_row<Unit>(row(x, n, c, h), x.sw, row(y, n, c, h), y.sw, x.w, m, 0.0f, a, b);
    });
  }

  // grad_weight, grad_bias of channel c and the coefficients of grad_x = A*gy + B*(x - m) + C0,
  // from the sums over the channel (centered on m, the float mean handed over by the forward).
  // Training: the mean is refined to m + dm, dm = sum(x - m) / M, which restores the digits the
  // float mean lost (for values like 1e4 + 1e-2 * randn they are most of xhat's), so that
  // sum(g * xhat) = invstd * (sgx - dm * sg) and B * (x - m - dm) = B * (x - m) - B * dm.
  // The factored form A * ((g - G) + Bp * ((x - m) - dm)), G = sg / M, Bp = B / A, is the same
  // gx, term by term the reference's; grad_x_factored uses it where a coefficient is not finite
  // (an infinite weight, invstd, x or gy): there the expanded form's A * g + C0 or B * dm is
  // inf - inf or 0 * inf = NaN where the reference has +-inf.
  struct GradCoefficients {
    float A, B, C0, G, Bp, dm;
  };
  static GradCoefficients finish_grad(int64_t c, const GradSums& s, double invstd, double w,
                                      double M, bool training, BnStat grad_weight,
                                      BnStat grad_bias) {
    // The refinement only where it is finite: with an infinite x it is +-inf (or NaN), which
    // would turn every xhat of the channel into inf - inf; the mean as handed over is used then.
    const double dm0 = training ? s.sx / M : 0.0;
    const double dm = std::isfinite(dm0) ? dm0 : 0.0;
    // An infinite sum(g) (an infinite g) leaves sum(g (x - m)) = +-inf as it is: the correction
    // dm * sg would make it inf - inf, or 0 * inf with dm = 0.
    const double sgx = std::isfinite(s.sg) ? s.sgx - dm * s.sg : s.sgx;
    if (grad_weight) grad_weight[c] = static_cast<float>(sgx * invstd);
    if (grad_bias) grad_bias[c] = static_cast<float>(s.sg);
    const double A = w * invstd;
    if (!training) return {static_cast<float>(A), 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
    const double Bp = -invstd * invstd * sgx / M, B = A * Bp;
    return {static_cast<float>(A),
            static_cast<float>(B),
            static_cast<float>(-A * s.sg / M - B * dm),
            static_cast<float>(s.sg / M),
            static_cast<float>(Bp),
            static_cast<float>(dm)};
  }

  // True where a channel's grad_x takes the factored form (training, a coefficient not finite).
  static bool factored(const GradCoefficients& k, bool training) {
    return training && !(std::isfinite(k.A) && std::isfinite(k.B) && std::isfinite(k.C0));
  }

  // gx = A * ((g - G) + Bp * ((x - m) - dm)), the factored form of grad_x_row's training gx.
  template <bool Unit>
  static void grad_x_factored(const float* x, int64_t sx, const float* g, int64_t sg, float* o,
                              int64_t so, int64_t len, float m, const GradCoefficients& k) {
    for (int64_t i = 0; i < len; ++i)
      at<Unit>(o, so, i) =
          k.A * ((at<Unit>(g, sg, i) - k.G) + k.Bp * ((at<Unit>(x, sx, i) - m) - k.dm));
  }

  template <bool Unit>
  static void plane_backward(const BnInput& x, const BnInput& g, BnParam mean, BnParam invstd,
                             BnParam weight, const BnOutput& o, BnStat grad_weight,
                             BnStat grad_bias, bool training) {
    const int64_t C = x.c;
    const double M = static_cast<double>(x.n * x.h * x.w);
    Heap<double> sums(3 * C);  // per channel: sg, sgx, sx
    if (grad_weight || grad_bias || (o.data && training))
      reduce_planes(x, 3, sums.p, [&](int64_t n, int64_t c, double* acc) {
        GradSums s;
        for (int64_t h = 0; h < x.h; ++h)
          sum_grad<Unit>(row(x, n, c, h), x.sw, row(g, n, c, h), g.sw, x.w, mean[c], s);
        acc[0] += s.sg;
        acc[1] += s.sgx;
        acc[2] += s.sx;
      });
    Heap<GradCoefficients> coefficients(C);
    GradCoefficients* K = coefficients.p;
    for (int64_t c = 0; c < C; ++c) {
      GradSums s;
      s.sg = sums.p[3 * c];
      s.sgx = sums.p[3 * c + 1];
      s.sx = sums.p[3 * c + 2];
      K[c] = finish_grad(c, s, invstd[c], weight ? weight[c] : 1.0, M, training, grad_weight,
                         grad_bias);
    }
    if (!o.data) return;
    for_planes(x, [&](int64_t n, int64_t c) {
      const GradCoefficients& k = K[c];
      const bool f = factored(k, training);
      for (int64_t h = 0; h < x.h; ++h) {
        if (f)
          grad_x_factored<Unit>(row(x, n, c, h), x.sw, row(g, n, c, h), g.sw, row(o, n, c, h), o.sw,
                                x.w, mean[c], k);
        else
          grad_x_row<Unit>(row(x, n, c, h), x.sw, row(g, n, c, h), g.sw, row(o, n, c, h), o.sw, x.w,
                           mean[c], k.A, k.B, k.C0, training);
      }
    });
  }

  // ----------------------------------------------------------------------- vector layout
  // (N, C): element (n, c) of v is v.data[n * v.sn + c * v.sc]; blocks of channels at a time.
  template <bool Unit>
  static void vector_forward_train(const BnInput& x, BnParam weight, BnParam bias,
                                   const BnOutput& y, BnStat mean, BnStat var, BnStat invstd,
                                   float eps) {
    const int64_t N = x.n;
    for_blocks(x.c, N, [&](int64_t c0, int64_t cb) {
      double s1[kBlock], s2[kBlock];
      float k[kBlock], m[kBlock], dm[kBlock], a[kBlock], b[kBlock];
      const float* x0 = x.data + c0 * x.sc;
      for (int64_t j = 0; j < cb; ++j) {
        k[j] = at<Unit>(x0, x.sc, j);
        s1[j] = 0.0;
        s2[j] = 0.0;
      }
      for (int64_t n = 0; n < N; ++n) {
        const float* r = x0 + n * x.sn;
        for (int64_t j = 0; j < cb; ++j) s1[j] += static_cast<double>(at<Unit>(r, x.sc, j) - k[j]);
      }
      bool redo = false;
      for (int64_t j = 0; j < cb; ++j) {
        m[j] = static_cast<float>(static_cast<double>(k[j]) + s1[j] / static_cast<double>(N));
        s1[j] = 0.0;
        redo |= !std::isfinite(m[j]);
      }
      // As unshifted_means: sum(x) / N for the channels whose shifted mean is not finite.
      if (redo) {
        for (int64_t n = 0; n < N; ++n) {
          const float* r = x0 + n * x.sn;
          for (int64_t j = 0; j < cb; ++j)
            if (!std::isfinite(m[j])) s1[j] += static_cast<double>(at<Unit>(r, x.sc, j));
        }
        for (int64_t j = 0; j < cb; ++j) {
          if (!std::isfinite(m[j])) m[j] = static_cast<float>(s1[j] / static_cast<double>(N));
          s1[j] = 0.0;
        }
      }
      for (int64_t n = 0; n < N; ++n) {
        const float* r = x0 + n * x.sn;
        for (int64_t j = 0; j < cb; ++j) {
          const float d = at<Unit>(r, x.sc, j) - m[j];
          s1[j] += static_cast<double>(d);
          s2[j] += static_cast<double>(d) * static_cast<double>(d);
        }
      }
      for (int64_t j = 0; j < cb; ++j) {
        const int64_t c = c0 + j;
        const Moments mo =
            finish(c, m[j], s1[j], s2[j], static_cast<double>(N), eps, mean, var, invstd);
        dm[j] = mo.dm;
        a[j] = scale_of(mo.invstd, weight, c);
        b[j] = bias ? bias[c] : 0.0f;
      }
      vector_normalize<Unit>(x, y, c0, cb, m, dm, a, b);
    });
  }

  template <bool Unit>
  static void vector_normalize(const BnInput& x, const BnOutput& y, int64_t c0, int64_t cb,
                               const float* m, const float* dm, const float* a, const float* b) {
    const float* x0 = x.data + c0 * x.sc;
    float* y0 = y.data + c0 * y.sc;
    for (int64_t n = 0; n < x.n; ++n) {
      const float* r = x0 + n * x.sn;
      float* q = y0 + n * y.sn;
      if constexpr (Unit) {
#pragma omp simd
        for (int64_t j = 0; j < cb; ++j) q[j] = ((r[j] - m[j]) - dm[j]) * a[j] + b[j];
      } else {
        for (int64_t j = 0; j < cb; ++j) q[j * y.sc] = ((r[j * x.sc] - m[j]) - dm[j]) * a[j] + b[j];
      }
    }
  }

  template <bool Unit>
  static void vector_forward_eval(const BnInput& x, BnParam rm, BnParam rv, BnParam weight,
                                  BnParam bias, const BnOutput& y, float eps) {
    for_blocks(x.c, x.n, [&](int64_t c0, int64_t cb) {
      float m[kBlock], dm[kBlock], a[kBlock], b[kBlock];
      for (int64_t j = 0; j < cb; ++j) {
        const int64_t c = c0 + j;
        const double inv = 1.0 / std::sqrt(static_cast<double>(rv[c]) + static_cast<double>(eps));
        m[j] = rm[c];
        dm[j] = 0.0f;
        a[j] = scale_of(inv, weight, c);
        b[j] = bias ? bias[c] : 0.0f;
      }
      vector_normalize<Unit>(x, y, c0, cb, m, dm, a, b);
    });
  }

  template <bool Unit>
  static void vector_backward(const BnInput& x, const BnInput& g, BnParam mean, BnParam invstd,
                              BnParam weight, const BnOutput& o, BnStat grad_weight,
                              BnStat grad_bias, bool training) {
    const int64_t N = x.n;
    const bool need_sums = grad_weight || grad_bias || (o.data && training);
    for_blocks(x.c, N, [&](int64_t c0, int64_t cb) {
      double sg[kBlock], sgx[kBlock], sx[kBlock];
      float m[kBlock], A[kBlock], B[kBlock], C0[kBlock];
      GradCoefficients K[kBlock];
      bool any_factored = false;
      const float* x0 = x.data + c0 * x.sc;
      const float* g0 = g.data + c0 * g.sc;
      for (int64_t j = 0; j < cb; ++j) {
        m[j] = mean[c0 + j];
        sg[j] = 0.0;
        sgx[j] = 0.0;
        sx[j] = 0.0;
      }
      if (need_sums)
        for (int64_t n = 0; n < N; ++n) {
          const float* r = x0 + n * x.sn;
          const float* q = g0 + n * g.sn;
          for (int64_t j = 0; j < cb; ++j) {
            const double gj = at<Unit>(q, g.sc, j);
            const double d = at<Unit>(r, x.sc, j) - m[j];
            sg[j] += gj;
            sgx[j] += gj * d;
            sx[j] += d;
          }
        }
      for (int64_t j = 0; j < cb; ++j) {
        const int64_t c = c0 + j;
        const double inv = invstd[c], w = weight ? weight[c] : 1.0;
        GradSums sums;
        sums.sg = sg[j];
        sums.sgx = sgx[j];
        sums.sx = sx[j];
        const GradCoefficients k =
            finish_grad(c, sums, inv, w, static_cast<double>(N), training, grad_weight, grad_bias);
        A[j] = k.A;
        B[j] = k.B;
        C0[j] = k.C0;
        K[j] = k;
        any_factored |= factored(k, training);
      }
      if (!o.data) return;
      float* o0 = o.data + c0 * o.sc;
      if (any_factored) {  // a channel with a coefficient not finite: the block, factored
        for (int64_t j = 0; j < cb; ++j)
          grad_x_factored<false>(x0 + j * x.sc, x.sn, g0 + j * g.sc, g.sn, o0 + j * o.sc, o.sn, N,
                                 m[j], K[j]);
        return;
      }
      // Eval: gx = A * gy alone, x unread (B * (x - m) with B = 0 is NaN for an infinite x).
      if (!training) {
        for (int64_t n = 0; n < N; ++n) {
          const float* q = g0 + n * g.sn;
          float* p = o0 + n * o.sn;
          for (int64_t j = 0; j < cb; ++j) at<Unit>(p, o.sc, j) = A[j] * at<Unit>(q, g.sc, j);
        }
        return;
      }
      for (int64_t n = 0; n < N; ++n) {
        const float* r = x0 + n * x.sn;
        const float* q = g0 + n * g.sn;
        float* p = o0 + n * o.sn;
        if constexpr (Unit) {
#pragma omp simd
          for (int64_t j = 0; j < cb; ++j) p[j] = A[j] * q[j] + (B[j] * (r[j] - m[j]) + C0[j]);
        } else {
          for (int64_t j = 0; j < cb; ++j)
            p[j * o.sc] = A[j] * q[j * g.sc] + (B[j] * (r[j * x.sc] - m[j]) + C0[j]);
        }
      }
    });
  }

  // ----------------------------------------------------------------------------- entries
  static void forward_train(BnInput x, BnParam weight, BnParam bias, BnOutput y, BnStat mean,
                            BnStat var, BnStat invstd, float eps) {
    if (x.c <= 0) return;
    if (x.n * x.h * x.w == 0) {  // no values: the statistics are undefined
      const float nan = std::numeric_limits<float>::quiet_NaN();
      for (int64_t c = 0; c < x.c; ++c) {
        mean[c] = nan;
        invstd[c] = nan;
        if (var) var[c] = nan;
      }
      return;
    }
    BnInput none;
    prepare(x, none, y);
    if (x.h * x.w == 1) {
      if (unit_channels(x) && unit_channels(y))
        vector_forward_train<true>(x, weight, bias, y, mean, var, invstd, eps);
      else vector_forward_train<false>(x, weight, bias, y, mean, var, invstd, eps);
    } else if (unit_rows(x) && unit_rows(y)) {
      plane_forward_train<true>(x, weight, bias, y, mean, var, invstd, eps);
    } else {
      plane_forward_train<false>(x, weight, bias, y, mean, var, invstd, eps);
    }
  }

  static void forward_eval(BnInput x, BnParam rm, BnParam rv, BnParam weight, BnParam bias,
                           BnOutput y, float eps) {
    if (x.c <= 0 || x.n * x.h * x.w == 0) return;
    BnInput none;
    prepare(x, none, y);
    if (x.h * x.w == 1) {
      if (unit_channels(x) && unit_channels(y))
        vector_forward_eval<true>(x, rm, rv, weight, bias, y, eps);
      else vector_forward_eval<false>(x, rm, rv, weight, bias, y, eps);
    } else if (unit_rows(x) && unit_rows(y)) {
      plane_forward_eval<true>(x, rm, rv, weight, bias, y, eps);
    } else {
      plane_forward_eval<false>(x, rm, rv, weight, bias, y, eps);
    }
  }

  static void backward(BnInput x, BnInput g, BnParam mean, BnParam invstd, BnParam weight,
                       BnOutput o, BnStat grad_weight, BnStat grad_bias, bool training) {
    if (x.c <= 0) return;
    if (x.n * x.h * x.w == 0) {  // empty sums
      for (int64_t c = 0; c < x.c; ++c) {
        if (grad_weight) grad_weight[c] = 0.0f;
        if (grad_bias) grad_bias[c] = 0.0f;
      }
      return;
    }
    prepare(x, g, o);
    if (x.h * x.w == 1) {
      if (unit_channels(x) && unit_channels(g) && unit_channels(o))
        vector_backward<true>(x, g, mean, invstd, weight, o, grad_weight, grad_bias, training);
      else vector_backward<false>(x, g, mean, invstd, weight, o, grad_weight, grad_bias, training);
    } else if (unit_rows(x) && unit_rows(g) && unit_rows(o)) {
      plane_backward<true>(x, g, mean, invstd, weight, o, grad_weight, grad_bias, training);
    } else {
      plane_backward<false>(x, g, mean, invstd, weight, o, grad_weight, grad_bias, training);
    }
  }

  static const batchnorm_isa::Table& table() {
    static const batchnorm_isa::Table t{forward_train, forward_eval, backward};
    return t;
  }
};

}  // namespace pyfastdl::batchnorm_kernels
