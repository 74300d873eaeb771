// GEMM micro-kernels on AVX-512 (compiled with -mavx512f; chosen at run time by CPUID).
//
// Register tile MR x NR = 14 x 32: 28 zmm accumulators + 2 zmm of B + 1 broadcast of A = 31 of
// the 32 zmm registers. Per k step: 2 vector loads, 14 broadcasts, 28 FMAs (896 FLOPs), so the
// loads stay well under one per FMA and the FMA pipe is the bottleneck, as it must be.
// Cache blocks (Zen 4 / Skylake-SP class: L1d 32 KiB, L2 1 MiB per core):
//   kc = 384:  a packed A micro-panel (14 x 384 x 4 B = 21 KiB) stays in L1 while the jr loop
//              runs over the B panels (a long K block also halves the C tile reloads);
//   nc = 1024: the packed B block (384 x 1024 x 4 B = 1.5 MiB) lives in L2 + L3; each B micro-
//              panel (48 KiB) streams through L1 once per A micro-panel, well within L2
//              bandwidth (2 x 64 B per 28 FMA cycles). Measured best among 128..512 x 256..2048;
//   mc = 336:  the packed A block (336 x 384 x 4 B = 504 KiB) sits in L2, one micro-panel at a
//              time in L1.
// A tile costs 2 * 14 * 32 * kc FLOPs for (14 + 32) * kc * 4 bytes of packed operands.
#include <immintrin.h>

#include "gemm_internal.h"

namespace pyfastdl::detail {
namespace {

struct V512 {
  using reg = __m512;
  static constexpr int width = 16;
  static reg zero() { return _mm512_setzero_ps(); }
  static reg load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, reg x) { _mm512_storeu_ps(p, x); }
  static reg set1(float x) { return _mm512_set1_ps(x); }
  static reg fma(reg a, reg b, reg c) { return _mm512_fmadd_ps(a, b, c); }
  static reg mul(reg a, reg b) { return _mm512_mul_ps(a, b); }
  static reg add(reg a, reg b) { return _mm512_add_ps(a, b); }
  static reg min(reg a, reg b) { return _mm512_min_ps(a, b); }
  static reg max(reg a, reg b) { return _mm512_max_ps(a, b); }
};

constexpr int kMR = 6, kNV = 4;

}  // namespace

const KernelSet& kernels_avx512() {
  static const KernelSet set{kMR,
                             kNV * V512::width,
                             336,
                             256,
                             1024,
                             &microkernel_packed<V512, kMR, kNV>,
                             &microkernel_strided<V512, kMR, kNV>,
                             &epilogue_vector<V512>};
  return set;
}

}  // namespace pyfastdl::detail
