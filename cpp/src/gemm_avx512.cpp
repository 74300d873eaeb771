// GEMM micro-kernels on AVX-512 (compiled with the AVX-512 flags by pyfastdl_add_isa_kernels;
// chosen at run time by CPUID).
//
// Register tile MR x NR = 6 x 64: 24 zmm accumulators + 4 zmm of B + 1 broadcast of A = 29 of
// the 32 zmm registers. Per k step: 4 vector loads, 6 broadcasts, 24 FMAs (768 FLOPs). On Zen 4,
// which retires one 512-bit FMA per cycle, this beat 14 x 32, 12 x 32, 8 x 32, 8 x 48 and 7 x 64
// (fewer broadcasts per FMA; M = 64 batches end in one 4-row edge tile).
// Cache blocks (Zen 4: L1d 32 KiB, L2 1 MiB per core, L3 shared), measured best among
// kc 128..512, nc 256..2048:
//   kc = 256:  an A micro-panel (6 x 256 x 4 B = 6 KiB) stays in L1 while the B micro-panels
//              (256 x 64 x 4 B = 64 KiB) stream from L2 at 4 x 64 B per 24 FMA cycles;
//   nc = 1024: the packed B block (256 x 1024 x 4 B = 1 MiB) lives in L2 + L3;
//   mc = 336:  the packed A block (336 x 256 x 4 B = 336 KiB) sits in L2.
// The Goto order instead (B micro-panel resident, kc 64..128 so that it fits L1, A streaming)
// measured 2-10% slower, and software prefetch of B inside the kernel made no difference.
// A tile costs 2 * 6 * 64 * kc FLOPs for (6 + 64) * kc * 4 bytes of packed operands.
// Packing that transposes (B = W.T with unit row stride; row-major A) loads 16 x 16 blocks along
// the contiguous dimension and transposes them in registers (64 shuffles per 256 floats) instead
// of scalar strided copies; this took B = W.T from 0.85x to parity with plain B.
#include <immintrin.h>

#include <algorithm>

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

// Shuffles in their maskz forms with a full mask, for the GCC 12 false positive noted above.
constexpr __mmask16 kAll16 = 0xFFFF;
constexpr __mmask8 kAll8 = 0xFF;

// In-register transpose of a 16 x 16 block: r[t] lane u becomes r[u] lane t. Three stages:
// 32-bit interleaves of row pairs, 64-bit interleaves of row quads (each 128-bit lane then holds
// one column of four rows), and two 128-bit lane shuffles gathering those four-row pieces.
inline void transpose16(__m512 r[16]) {
  __m512 a[16], b[16];
  for (int i = 0; i < 16; i += 2) {
    a[i] = _mm512_maskz_unpacklo_ps(kAll16, r[i], r[i + 1]);
    a[i + 1] = _mm512_maskz_unpackhi_ps(kAll16, r[i], r[i + 1]);
  }
  // b[4g + c], 128-bit lane l: column 4l + c of rows 4g .. 4g + 3.
  for (int g = 0; g < 16; g += 4) {
    const __m512d a0 = _mm512_castps_pd(a[g]), a1 = _mm512_castps_pd(a[g + 1]);
    const __m512d a2 = _mm512_castps_pd(a[g + 2]), a3 = _mm512_castps_pd(a[g + 3]);
    b[g] = _mm512_castpd_ps(_mm512_maskz_unpacklo_pd(kAll8, a0, a2));
    b[g + 1] = _mm512_castpd_ps(_mm512_maskz_unpackhi_pd(kAll8, a0, a2));
    b[g + 2] = _mm512_castpd_ps(_mm512_maskz_unpacklo_pd(kAll8, a1, a3));
    b[g + 3] = _mm512_castpd_ps(_mm512_maskz_unpackhi_pd(kAll8, a1, a3));
  }
  // Row 4l + c of the result is lane l of b[c], b[4 + c], b[8 + c], b[12 + c].
  for (int c = 0; c < 4; ++c) {
    const __m512 u0 = _mm512_maskz_shuffle_f32x4(kAll16, b[c], b[4 + c], 0x44);
    const __m512 u1 = _mm512_maskz_shuffle_f32x4(kAll16, b[c], b[4 + c], 0xEE);
    const __m512 u2 = _mm512_maskz_shuffle_f32x4(kAll16, b[8 + c], b[12 + c], 0x44);
    const __m512 u3 = _mm512_maskz_shuffle_f32x4(kAll16, b[8 + c], b[12 + c], 0xEE);
    r[c] = _mm512_maskz_shuffle_f32x4(kAll16, u0, u2, 0x88);
    r[4 + c] = _mm512_maskz_shuffle_f32x4(kAll16, u0, u2, 0xDD);
    r[8 + c] = _mm512_maskz_shuffle_f32x4(kAll16, u1, u3, 0x88);
    r[12 + c] = _mm512_maskz_shuffle_f32x4(kAll16, u1, u3, 0xDD);
  }
}

// Loads `rows` rows (rows <= 16, the others zero) of `len` contiguous floats (len <= 16, the rest
// of each row zero) that start `ld` floats apart, and transposes them.
inline void load_transposed(const float* src, int64_t ld, int64_t rows, int64_t len, __m512 r[16]) {
  const __mmask16 mask = static_cast<__mmask16>((1u << len) - 1);
  for (int t = 0; t < 16; ++t)
    r[t] = t < rows ? _mm512_maskz_loadu_ps(mask, src + t * ld) : _mm512_setzero_ps();
  transpose16(r);
}

// B with unit row stride (B = W.T, a Linear layer's forward): the columns of B are contiguous
// in k, so 16 x 16 blocks are loaded along k and transposed in registers into 16 packed rows.
void pack_b_avx512(int nr, int64_t n, int64_t kc, const float* b, int64_t rsb, int64_t csb,
                   float* dst) {
  if (rsb != 1 || csb == 1 || nr % 16) return pack_b_panel(nr, n, kc, b, rsb, csb, dst);
  __m512 r[16];
  for (int j0 = 0; j0 < nr; j0 += 16) {
    const int64_t rows = std::clamp<int64_t>(n - j0, 0, 16);
    for (int64_t k0 = 0; k0 < kc; k0 += 16) {
      const int64_t len = std::min<int64_t>(16, kc - k0);
      load_transposed(b + j0 * csb + k0, csb, rows, len, r);
      for (int t = 0; t < len; ++t) _mm512_storeu_ps(dst + (k0 + t) * nr + j0, r[t]);
    }
  }
}

// A with unit column stride (row-major A): MR rows of 16 k are transposed in registers; each
// result row holds the MR values of one k (the zero rows above m give the padding). A with unit
// row stride (A = X.T): one masked load and store of the MR values per k.
void pack_a_avx512(int mr, int64_t m, int64_t kc, const float* a, int64_t rsa, int64_t csa,
                   float* dst) {
  if (mr > 16 || (csa != 1 && rsa != 1) || (csa == 1 && rsa == 1))
    return pack_a_panel(mr, m, kc, a, rsa, csa, dst);
  const __mmask16 keep = static_cast<__mmask16>((1u << mr) - 1);
  if (rsa == 1) {
    const __mmask16 valid = static_cast<__mmask16>((1u << m) - 1);
    for (int64_t k = 0; k < kc; ++k)
      _mm512_mask_storeu_ps(dst + k * mr, keep, _mm512_maskz_loadu_ps(valid, a + k * csa));
    return;
  }
  __m512 r[16];
  for (int64_t k0 = 0; k0 < kc; k0 += 16) {
    const int64_t len = std::min<int64_t>(16, kc - k0);
    load_transposed(a + k0, rsa, m, len, r);
    for (int t = 0; t < len; ++t) _mm512_mask_storeu_ps(dst + (k0 + t) * mr, keep, r[t]);
  }
}

}  // namespace

template <>
const KernelSet& KernelSet::build<CpuPath::Avx512>() {
  static const KernelSet set{kMR,
                             kNV * V512::width,
                             336,
                             256,
                             1024,
                             &epilogue_vector<V512>,
                             &pack_a_avx512,
                             &pack_b_avx512,
                             V512::width,
                             narrow_table<V512, kMR, kNV>(),
                             narrow_rows_table<V512, kMR, kNV>()};
  return set;
}

}  // namespace pyfastdl::detail
