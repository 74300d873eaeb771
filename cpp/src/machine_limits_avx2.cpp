// The FMA peak loop on 256-bit vectors (fma_loop.h; compiled with -mavx2 -mfma by
// pyfastdl_add_isa_kernels, run only when CPUID allows).
#include <immintrin.h>

#include "fma_loop.h"

namespace pyfastdl::detail {
namespace {

double fma_loop(int64_t iterations, float* sink) {
  // 12 independent accumulators: enough to cover FMA latency (4-5 cycles) x 2 FMA ports.
  constexpr int kChains = 12;
  __m256 acc[kChains];
  for (int j = 0; j < kChains; ++j) acc[j] = _mm256_set1_ps(static_cast<float>(j));
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (int64_t i = 0; i < iterations; ++i)
    for (int j = 0; j < kChains; ++j) acc[j] = _mm256_fmadd_ps(acc[j], a, b);
  __m256 s = acc[0];
  for (int j = 1; j < kChains; ++j) s = _mm256_add_ps(s, acc[j]);
  _mm256_storeu_ps(sink, s);
  return 2.0 * 8 * kChains * static_cast<double>(iterations);
}

}  // namespace

template <>
const FmaLoop& FmaLoop::build<CpuPath::Avx2>() {
  static const FmaLoop loop{&fma_loop};
  return loop;
}

}  // namespace pyfastdl::detail
