// The FMA peak loop on 512-bit vectors (fma_loop.h; compiled with the AVX-512 flags by
// pyfastdl_add_isa_kernels, run only when CPUID allows).
#include <immintrin.h>

#include "fma_loop.h"

namespace pyfastdl::detail {
namespace {

double fma_loop(int64_t iterations, float* sink) {
  // 12 independent accumulators: enough to cover FMA latency (4 cycles) x 2 FMA pipes.
  constexpr int kChains = 12;
  __m512 acc[kChains];
  for (int j = 0; j < kChains; ++j) acc[j] = _mm512_set1_ps(static_cast<float>(j));
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (int64_t i = 0; i < iterations; ++i)
    for (int j = 0; j < kChains; ++j) acc[j] = _mm512_fmadd_ps(acc[j], a, b);
  __m512 s = acc[0];
  for (int j = 1; j < kChains; ++j) s = _mm512_add_ps(s, acc[j]);
  _mm512_storeu_ps(sink, s);
  return 2.0 * 16 * kChains * static_cast<double>(iterations);
}

}  // namespace

template <>
const FmaLoop& FmaLoop::build<CpuPath::Avx512>() {
  static const FmaLoop loop{&fma_loop};
  return loop;
}

}  // namespace pyfastdl::detail
