// Measures the FMA peak and the memory bandwidth (see machine_limits.h), and the generic build of
// the FMA peak loop (fma_loop.h; the AVX2 and AVX-512 ones are in machine_limits_avx2.cpp,
// machine_limits_avx512.cpp).
#include "pyfastdl/machine_limits.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <vector>

#include "fma_loop.h"
#include "isa_dispatch.h"
#include "pyfastdl/parallel.h"

namespace pyfastdl {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

double fma_loop(int64_t iterations, float* sink) {
  return for_path<detail::FmaLoop>().run(iterations, sink);
}

}  // namespace

namespace detail {
namespace {
double generic_fma_loop(int64_t iterations, float* sink) {
  // 8 independent scalar chains; the compiler may vectorise them, which is fine for a floor.
  float acc[8] = {0, 1, 2, 3, 4, 5, 6, 7};
  const float a = 0.999999f, b = 1e-7f;
  for (int64_t i = 0; i < iterations; ++i)
    for (float& x : acc) x = x * a + b;
  float s = 0;
  for (float x : acc) s += x;
  *sink = s;
  return 2.0 * 8 * static_cast<double>(iterations);
}
}  // namespace

template <>
const FmaLoop& FmaLoop::build<CpuPath::Generic>() {
  static const FmaLoop loop{&generic_fma_loop};
  return loop;
}
}  // namespace detail

double measure_fma_peak_gflops(int threads, double seconds) {
  threads = std::max(1, in_forked_child() ? 1 : threads);
  int64_t iterations = 1 << 20;
  double best = 0;
  const auto start = Clock::now();
  do {
    std::vector<double> flops(threads, 0.0);
    std::vector<float> sinks(threads * 16, 0.0f);
    const auto t0 = Clock::now();
#pragma omp parallel num_threads(threads)
    {
      const int t = omp_get_thread_num();
      flops[t] = fma_loop(iterations, &sinks[t * 16]);
    }
    const double dt = seconds_since(t0);
    double total = 0;
    for (double f : flops) total += f;
    best = std::max(best, total / dt * 1e-9);
    if (dt < 0.02) iterations *= 2;  // too short to time well
  } while (seconds_since(start) < seconds);
  return best;
}

double measure_triad_bandwidth_gbs(int threads, int64_t elements, double seconds) {
  threads = std::max(1, in_forked_child() ? 1 : threads);
  elements = std::max<int64_t>(elements, 1024);
  std::unique_ptr<float[]> a(new float[elements]), b(new float[elements]), c(new float[elements]);
  // First touch by the threads that will use each part (matters on multi-socket machines).
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t i = 0; i < elements; ++i) {
    a[i] = 0.0f;
    b[i] = 1.0f;
    c[i] = 2.0f;
  }
  const float s = 0.5f;
  double best = 0;
  const auto start = Clock::now();
  do {
    const auto t0 = Clock::now();
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t i = 0; i < elements; ++i) a[i] = b[i] + s * c[i];
    const double dt = seconds_since(t0);
    best = std::max(best, 3.0 * sizeof(float) * static_cast<double>(elements) / dt * 1e-9);
  } while (seconds_since(start) < seconds);
  volatile float keep = a[elements / 2];
  (void)keep;
  return best;
}

}  // namespace pyfastdl
