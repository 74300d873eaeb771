// GEMM micro-kernels on AVX2 + FMA (compiled with -mavx2 -mfma; chosen at run time by CPUID).
//
// Register tile MR x NR = 6 x 16: 12 ymm accumulators + 2 ymm of B + 1 broadcast of A = 15 of
// the 16 ymm registers. Per k step: 2 vector loads, 6 broadcasts, 12 FMAs (192 FLOPs); 12
// independent accumulators cover the FMA latency (4-5 cycles) on two FMA pipes.
// Cache blocks (L1d 32 KiB, L2 >= 512 KiB): kc = 256 (A micro-panel 6 KiB in L1, B micro-panel
// 16 KiB), nc = 384 (packed B block 384 KiB in L2), mc = 120 (packed A block 120 KiB).
// A tile costs 2 * 6 * 16 * kc FLOPs for (6 + 16) * kc * 4 bytes of packed operands.
#include <immintrin.h>

#include "gemm_internal.h"

namespace pyfastdl::detail {
namespace {

struct V256 {
  using reg = __m256;
  static constexpr int width = 8;
  static reg zero() { return _mm256_setzero_ps(); }
  static reg load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, reg x) { _mm256_storeu_ps(p, x); }
  static reg set1(float x) { return _mm256_set1_ps(x); }
  static reg fma(reg a, reg b, reg c) { return _mm256_fmadd_ps(a, b, c); }
  static reg mul(reg a, reg b) { return _mm256_mul_ps(a, b); }
  static reg add(reg a, reg b) { return _mm256_add_ps(a, b); }
  static reg min(reg a, reg b) { return _mm256_min_ps(a, b); }
  static reg max(reg a, reg b) { return _mm256_max_ps(a, b); }
};

constexpr int kMR = 6, kNV = 2;

}  // namespace

const KernelSet& kernels_avx2() {
  static const KernelSet set{kMR,
                             kNV * V256::width,
                             120,
                             256,
                             384,
                             &microkernel_packed<V256, kMR, kNV>,
                             &microkernel_strided<V256, kMR, kNV>,
                             &epilogue_vector<V256>};
  return set;
}

}  // namespace pyfastdl::detail
