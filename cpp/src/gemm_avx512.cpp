// GEMM micro-kernels on AVX-512 (compiled with -mavx512f; chosen at run time by CPUID).
//
// Register tile MR x NR = 6 x 64: 24 zmm accumulators + 4 zmm of B + 1 broadcast of A = 29 of
// the 32 zmm registers. Per k step: 4 vector loads, 6 broadcasts, 24 FMAs (768 FLOPs). On Zen 4,
// which retires one 512-bit FMA per cycle, this beat 14 x 32, 12 x 32, 8 x 32, 8 x 48 and 7 x 64
// (fewer broadcasts per FMA, and M = 64 batches waste only 2 padded rows).
// Cache blocks (Zen 4: L1d 32 KiB, L2 1 MiB per core, L3 shared), measured best among
// kc 128..512, nc 256..2048:
//   kc = 256:  an A micro-panel (6 x 256 x 4 B = 6 KiB) stays in L1 while the B micro-panels
//              (256 x 64 x 4 B = 64 KiB) stream from L2 at 4 x 64 B per 24 FMA cycles;
//   nc = 1024: the packed B block (256 x 1024 x 4 B = 1 MiB) lives in L2 + L3;
//   mc = 336:  the packed A block (336 x 256 x 4 B = 336 KiB) sits in L2.
// A tile costs 2 * 6 * 64 * kc FLOPs for (6 + 64) * kc * 4 bytes of packed operands.
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
  // maskz forms: the unmasked ones trip a GCC 12 -Wmaybe-uninitialized false positive.
  static reg min(reg a, reg b) { return _mm512_maskz_min_ps(0xFFFF, a, b); }
  static reg max(reg a, reg b) { return _mm512_maskz_max_ps(0xFFFF, a, b); }
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
