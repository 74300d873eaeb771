// GEMM micro-kernels on AVX2 + FMA (compiled with -mavx2 -mfma by pyfastdl_add_isa_kernels; chosen
// at run time by CPUID).
//
// Register tile MR x NR = 6 x 16: 12 ymm accumulators + 2 ymm of B + 1 broadcast of A = 15 of
// the 16 ymm registers. Per k step: 2 vector loads, 6 broadcasts, 12 FMAs (192 FLOPs); 12
// independent accumulators cover the FMA latency (4-5 cycles) on two FMA pipes.
// Cache blocks (L1d 32 KiB, L2 >= 512 KiB): kc = 256 (A micro-panel 6 KiB in L1, B micro-panel
// 16 KiB), nc = 384 (packed B block 384 KiB in L2), mc = 120 (packed A block 120 KiB).
// A tile costs 2 * 6 * 16 * kc FLOPs for (6 + 16) * kc * 4 bytes of packed operands.
// B = W.T (unit row stride) is packed through 8 x 8 in-register transposes.
#include <immintrin.h>

#include <algorithm>

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

// In-register transpose of an 8 x 8 block: r[t] lane u becomes r[u] lane t (32-bit and 64-bit
// interleaves within 128-bit lanes, then a 128-bit lane exchange).
inline void transpose8(__m256 r[8]) {
  __m256 a[8], b[8];
  for (int i = 0; i < 8; i += 2) {
    a[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    a[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  // b[4g + c], 128-bit lane l: column 4l + c of rows 4g .. 4g + 3.
  for (int g = 0; g < 8; g += 4) {
    b[g] = _mm256_shuffle_ps(a[g], a[g + 2], 0x44);
    b[g + 1] = _mm256_shuffle_ps(a[g], a[g + 2], 0xEE);
    b[g + 2] = _mm256_shuffle_ps(a[g + 1], a[g + 3], 0x44);
    b[g + 3] = _mm256_shuffle_ps(a[g + 1], a[g + 3], 0xEE);
  }
  for (int c = 0; c < 4; ++c) {
    r[c] = _mm256_permute2f128_ps(b[c], b[4 + c], 0x20);
    r[4 + c] = _mm256_permute2f128_ps(b[c], b[4 + c], 0x31);
  }
}

// B with unit row stride (B = W.T): 8 x 8 blocks loaded along k (the columns of B) and
// transposed in registers; the k tail of each block is packed by scalar copies.
void pack_b_avx2(int nr, int64_t n, int64_t kc, const float* b, int64_t rsb, int64_t csb,
                 float* dst) {
  if (rsb != 1 || csb == 1 || nr % 8) return pack_b_panel(nr, n, kc, b, rsb, csb, dst);
  const int64_t kc8 = kc / 8 * 8;
  __m256 r[8];
  for (int j0 = 0; j0 < nr; j0 += 8) {
    const int64_t rows = std::clamp<int64_t>(n - j0, 0, 8);
    for (int64_t k0 = 0; k0 < kc8; k0 += 8) {
      for (int t = 0; t < 8; ++t)
        r[t] = t < rows ? _mm256_loadu_ps(b + (j0 + t) * csb + k0) : _mm256_setzero_ps();
      transpose8(r);
      for (int t = 0; t < 8; ++t) _mm256_storeu_ps(dst + (k0 + t) * nr + j0, r[t]);
    }
    for (int64_t k = kc8; k < kc; ++k)
      for (int t = 0; t < 8; ++t) dst[k * nr + j0 + t] = t < rows ? b[(j0 + t) * csb + k] : 0.0f;
  }
}

}  // namespace

template <>
const KernelSet& KernelSet::build<CpuPath::Avx2>() {
  static const KernelSet set{kMR,
                             kNV * V256::width,
                             120,
                             256,
                             384,
                             &epilogue_vector<V256>,
                             &pack_a_panel,
                             &pack_b_avx2,
                             V256::width,
                             narrow_table<V256, kMR, kNV>(),
                             narrow_rows_table<V256, kMR, kNV>()};
  return set;
}

}  // namespace pyfastdl::detail
